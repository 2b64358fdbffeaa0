"""Rollouts: actors play and hand trajectories to the learner, behind a small executor interface.

* :class:`SeatEnv` turns a two-seat Arena env into a one-seat game for the learner: at each reset
  it draws an enemy from the enemy pool's last broadcast distribution (the game's own CPU, a
  bot, the learner's latest weights, a past snapshot or another agent's) and picks a seat.
* :class:`Collector` plays ``experience_length`` steps at a time and returns one trajectory (the
  dict described in :mod:`arena.training.learner`) plus the games that finished.
* **Both seats train against the latest self.** When the enemy is the learner's latest weights,
  the worker plays the enemy seat with a second actor over the same model and records that seat
  too (its own observations, rewards and shaping), so those frames give two trajectories. Past
  snapshots, bots and the CPU are frozen: only the learner's seat is recorded against them.
* Executors run collectors: :class:`InlineExecutor` in this process (one env; tests, debugging)
  and :class:`ProcessExecutor` in spawned worker processes (one emulator and one torch thread
  each). Both speak :class:`RolloutExecutor`, as the Ray backend's actors do (:mod:`arena.backends.ray`).

Workers never wait for the learner: they keep playing with the weights they have and pick up
new ones between trajectories, so trajectories may be a version or two behind (``version``).
With ``WorkerConfig.synchronous`` (a2c) a worker plays one segment per weight version and
waits for the next weights, so every trajectory of an update was played with the current ones.

**Memory stays flat.** A worker keeps the enemies it has built (bots, snapshots' models) in a
least-recently-used cache of :data:`MAX_CACHED_ENEMIES`; with the pool drawing from a bounded
number of past snapshots (:data:`arena.training.pool.MAX_PAST_SNAPSHOTS`), a long run's
hundreds of snapshots never pile up in a worker. An evicted enemy drawn again is loaded again
(milliseconds, against seconds for a game).
"""

from __future__ import annotations

import os
import queue
import random
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from arena.errors import ArenaError, one_line
from arena.training.pool import (
    sample as sample_enemy,  # one sampler for the pool and the workers
)

if TYPE_CHECKING:
    from arena.plugins.manager import Arena

MAX_CACHED_ENEMIES = 4  # enemies a worker keeps built (least recently drawn goes first)
ALONE = "alone"  # a one-player game's enemy label: the learner played its turn alone

# -- envs as the learner sees them -----------------------------------------------------------------


class SeatEnv:
    """One seat of a two-seat Arena env, against an enemy drawn at every reset.

    ``step`` returns ``(obs, reward, terminated, truncated, info)``; when a game ends, ``info``
    holds ``enemy`` (the pool label), ``score``, ``opponent_score`` and ``outcome`` (1 win,
    0.5 draw, 0 loss). In a one-player game (``EnvSpec.single_player``) no enemy is drawn: the
    learner plays the first seat's turn alone, ``enemy`` is :data:`ALONE` and there is no
    ``opponent_score`` or ``outcome``.

    **Mirrored games.** With ``mirror_self`` set (by the worker), a game against the latest self
    is *mirrored*: ``mirrored`` is true from its reset on, nobody inside the env plays the enemy
    seat, and the caller passes that seat's action to ``step(action, enemy_action)`` (so the
    enemy plays the newest weights throughout, as the learner's seat does, where an unmirrored
    latest self is frozen for the game). The enemy seat's observation is ``enemy_obs`` (from the
    reset, then after each step) and each step's ``(observation, reward, terminated, truncated)``
    for it is ``enemy_step``.
    """

    cache_size = MAX_CACHED_ENEMIES

    def __init__(self, arena: Arena, env_name: str, options: Any, seed: int):
        self.arena = arena
        self.spec = arena.envs.get(env_name)
        self.options = options
        self.rng = random.Random(seed)
        self.distribution: list[tuple[str, str, float]] = [("cpu", "cpu", 1.0)]
        self.latest_weights: dict | None = None  # the learner's, for "self"
        self.self_model_factory: Callable[[], Any] | None = None  # set by the worker
        self.mirror_self = False  # the caller plays the latest self's seat (see the class docstring)
        self.mirrored = False
        self.enemy_obs: Any = None
        self.enemy_step: tuple[Any, float, bool, bool] | None = None
        self.potential: Callable | None = self.spec.potential
        self.frames = 0
        self._env = None
        self._env_key: Any = ()
        self._agents: dict[str, Any] = {}  # spec -> built enemy, least recently drawn first
        self._self_agent = None
        self._game = 0
        self._seed = seed

    def _env_for(self, cpu_level: int | None):
        if self._env is None or self._env_key != cpu_level:
            if self._env is not None:
                self._env.close()  # one emulator per process
                self._env = None
            self._env = self.spec.make(self.options, cpu_level)
            self._env_key = cpu_level
        return self._env

    def _enemy(self, spec: str):
        from arena.plugins.agents import resolve

        if spec == "self":
            return self._latest_self()
        agent = self._agents.pop(spec, None)
        if agent is None:
            agent = resolve(spec, self.arena.agents, self.spec, self.options)
        self._agents[spec] = agent  # to the back: the most recently drawn
        while len(self._agents) > self.cache_size:  # a past snapshot is a whole model: keep a few
            del self._agents[next(iter(self._agents))]
        return agent

    def _latest_self(self):
        # The learner's newest weights, frozen for this game.
        from arena.training.learner import Actor, load_weights
        from arena.training.trained import TrainedAgent

        if self._self_agent is None:
            self._self_agent = TrainedAgent(Actor(self.self_model_factory(), self.spec.num_actions), 1, "self")
        if self.latest_weights is not None:
            load_weights(self._self_agent.actor.model, self.latest_weights)
            self._self_agent.actor.refresh()
        return self._self_agent

    def reset(self):
        from arena.plugins.agents import BuiltinCpu

        self.enemy_step = None
        seats = self.spec.seats
        if self.spec.single_player:
            return self._reset_alone()
        self.label, spec = sample_enemy(self.rng, self.distribution)
        self.mirrored = self.mirror_self and spec == "self"
        enemy = None if self.mirrored else self._enemy(spec)
        if self.mirrored:
            env = self._env_for(None)
            self.seat = self.rng.choice(seats)
            self.enemy, self.enemy_seat = None, seats[1 - seats.index(self.seat)]
        elif isinstance(enemy, BuiltinCpu):
            env = self._env_for(self.spec.check_cpu_level(enemy.level))
            self.enemy, self.enemy_seat = None, self.spec.cpu_seat
            self.seat = seats[1 - seats.index(self.spec.cpu_seat)]
        else:
            env = self._env_for(None)
            self.seat = self.rng.choice(seats)
            self.enemy, self.enemy_seat = enemy, seats[1 - seats.index(self.seat)]
        self._game += 1
        game_seed = self._seed * 1_000_003 + self._game
        observations, _ = env.reset(seed=game_seed)
        self.spec.check_observations(self.options, observations)
        if self.enemy is not None:
            self.enemy.reset(game_seed + 1)
        if self.enemy is not None or self.mirrored:
            self.enemy_obs = observations[self.enemy_seat]
        self._frames_seen = env.frames
        self.frames += env.frames
        return observations[self.seat]

    def _reset_alone(self):
        # A one-player game (EnvSpec.single_player): nobody else's turn is worth playing, since it
        # changes nothing in the learner's; the learner plays the first seat's turn alone.
        env = self._env_for(None)
        self.label, self.mirrored, self.enemy = ALONE, False, None
        self.seat, self.enemy_seat = self.spec.seats
        self._game += 1
        observations, _ = env.reset(seed=self._seed * 1_000_003 + self._game, options={"alone": True})
        self.spec.check_observations(self.options, observations)
        self._frames_seen = env.frames
        self.frames += env.frames
        return observations[self.seat]

    def step(self, action: int, enemy_action: int | None = None):
        env = self._env
        actions = {self.seat: action}
        if self.mirrored:
            if enemy_action is None:
                raise ValueError("a mirrored game needs the enemy seat's action: step(action, enemy_action)")
            actions[self.enemy_seat] = enemy_action
        elif self.enemy is not None:
            actions[self.enemy_seat] = self.enemy.act(self.enemy_obs)
        observations, rewards, terminations, truncations, _ = env.step(actions)
        self.frames += env.frames - self._frames_seen
        self._frames_seen = env.frames
        terminated, truncated = terminations[self.seat], truncations[self.seat]
        if self.mirrored:
            them = self.enemy_seat
            their_end = bool(terminations[them])
            # the game is over for both seats when it is over for one
            their_cut = bool(truncations[them]) or ((terminated or truncated) and not their_end)
            self.enemy_obs = observations[them]
            self.enemy_step = (observations[them], float(rewards[them]), their_end, their_cut)
        info = {}
        if terminated or truncated:
            scores = env.scores()
            own, other = scores[self.seat], scores[self.enemy_seat]
            info = {
                "enemy": self.label,
                "score": own,
                "opponent_score": other,
                "outcome": 1.0 if own > other else 0.0 if own < other else 0.5,
            }
            if self.label == ALONE:
                info.update(opponent_score=None, outcome=None)  # nobody to win against
        elif self.enemy is not None:
            self.enemy_obs = observations[self.enemy_seat]
        return observations[self.seat], rewards[self.seat], terminated, truncated, info

    def close(self):
        if self._env is not None:
            self._env.close()
            self._env = None


# -- playing trajectories --------------------------------------------------------------------------


def _observation(obs) -> np.ndarray:
    """An observation as a trajectory stores it: float32, except images (``[H, W, C]`` uint8),
    which stay uint8 (a 1,024-step batch of 84x84x4 is 29 MB so, 115 MB as float32); the network
    converts them."""
    obs = np.asarray(obs)
    return obs if obs.ndim == 3 and obs.dtype == np.uint8 else np.asarray(obs, dtype=np.float32)


class _Seat:
    """One seat's play cut into trajectories of ``length`` steps, with that seat's training reward."""

    def __init__(self, actor: Any, length: int, gamma: float, potential: Callable | None, shaping: float):
        self.actor = actor
        self.length = length
        self.gamma = gamma
        self.potential = potential
        self.shaping = shaping
        self.obs: np.ndarray | None = None
        self.phi = 0.0
        self.game_reward = 0.0
        self.traj: dict | None = None  # the trajectory being filled, ``t`` steps so far
        self.t = 0
        self.version = 0  # the weights' version at the trajectory's first step

    def begin(self, obs) -> None:
        """A game starts: a fresh recurrent state and the first observation's potential."""
        self.obs = _observation(obs)
        self.actor.reset()
        self.phi = self.potential(self.obs) if self.potential else 0.0
        self.game_reward = 0.0

    def pause(self) -> None:
        """The seat sits out the next game (a mirrored seat against another enemy): the
        trajectory waits, and its next step starts a game as :meth:`begin` will."""
        self.actor.reset()

    def act(self, version: int) -> int:
        actor = self.actor
        if self.traj is None:
            T = self.length
            self.traj = {
                "obs": np.empty((T + 1, *self.obs.shape), self.obs.dtype),
                "prev_actions": np.empty(T + 1, np.int64),
                "starts": np.empty(T + 1, bool),
                "actions": np.empty(T, np.int64),
                "rewards": np.empty(T, np.float32),
                "terminated": np.zeros(T, bool),
                "truncated": np.zeros(T, bool),
                "trunc_values": np.zeros(T, np.float32),
                "logp": np.empty(T, np.float32),
                "state": np.array(actor.state, dtype=np.float32).reshape(-1),
            }
            self.version = version
        traj, t = self.traj, self.t
        traj["obs"][t] = self.obs
        traj["prev_actions"][t] = actor.prev_action
        traj["starts"][t] = actor.start
        action, logp = actor.step(self.obs)
        traj["actions"][t] = action
        traj["logp"][t] = logp
        return action

    def observe(self, obs, reward: float, terminated: bool, truncated: bool) -> None:
        """The step's outcome for this seat; after a game's end, :meth:`begin` or :meth:`pause`."""
        obs = _observation(obs)
        traj, t = self.traj, self.t
        self.game_reward += reward
        if self.potential:
            phi_next = 0.0 if terminated else self.potential(obs)
            reward += self.shaping * (self.gamma * phi_next - self.phi)
            self.phi = phi_next
        traj["rewards"][t] = reward
        if terminated or truncated:
            traj["terminated"][t] = terminated
            traj["truncated"][t] = truncated
            if truncated and not terminated:
                traj["trunc_values"][t] = self.actor.value(obs)
        self.obs = obs
        self.t += 1

    @property
    def full(self) -> bool:
        return self.t == self.length

    def finish(self) -> dict:
        """The full trajectory, closed with the observation the next one starts from."""
        traj, actor = self.traj, self.actor
        traj["obs"][self.length] = self.obs
        traj["prev_actions"][self.length] = actor.prev_action
        traj["starts"][self.length] = actor.start
        self.traj, self.t = None, 0
        return traj

    def drop(self) -> None:
        """Forget the trajectory being filled (the game goes on; the next step starts a new one)."""
        self.traj, self.t = None, 0


class Collector:
    """Plays an actor in a seat env and cuts the play into trajectories of ``length`` steps.

    The training reward is the game's reward plus ``shaping * (gamma * phi(s') - phi(s))`` with
    ``phi`` the env's potential (zero after a game ends), which leaves the best policy unchanged.

    With an ``enemy_actor``, the enemy seat of mirrored games (see :class:`SeatEnv`) is played by
    it and recorded as a second stream of trajectories, with that seat's own rewards and shaping:
    :meth:`take_enemy_trajectories` hands back the full ones. That stream holds only mirrored
    games, so it fills once a segment when every game is mirrored and more slowly otherwise.
    """

    def __init__(self, env: Any, actor: Any, length: int, gamma: float, shaping: float, enemy_actor: Any = None):
        self.env = env
        self.actor = actor
        self.length = length
        self.gamma = gamma
        self.potential = env.potential if shaping else None
        self.shaping = shaping
        self.version = 0  # the weights' version, set by the worker
        self._seat = _Seat(actor, length, gamma, self.potential, shaping)
        self._enemy = _Seat(enemy_actor, length, gamma, self.potential, shaping) if enemy_actor is not None else None
        self._enemy_done: list[tuple[dict, int]] = []

    def _begin(self) -> None:
        self._seat.begin(self.env.reset())
        if self._enemy is not None:
            if self._mirrored():
                self._enemy.begin(self.env.enemy_obs)
            elif self._enemy.obs is not None:
                self._enemy.pause()

    def _mirrored(self) -> bool:
        return self._enemy is not None and getattr(self.env, "mirrored", False)

    def collect(self) -> tuple[dict, list[dict]]:
        if self._seat.obs is None:
            self._begin()
        seat, enemy, games = self._seat, self._enemy, []
        for _ in range(self.length):
            action = seat.act(self.version)
            mirrored = self._mirrored()
            if mirrored:
                obs, reward, terminated, truncated, info = self.env.step(action, enemy.act(self.version))
                enemy.observe(*self.env.enemy_step)
            else:
                obs, reward, terminated, truncated, info = self.env.step(action)
            seat.observe(obs, reward, terminated, truncated)
            if terminated or truncated:
                games.append(dict(info, reward=seat.game_reward))
                self._begin()
            if mirrored and enemy.full:  # closed after a game's end with the next game's start, as the seat's
                self._enemy_done.append((enemy.finish(), enemy.version))
        return seat.finish(), games

    def take_enemy_trajectories(self) -> list[tuple[dict, int]]:
        """The enemy seat's full trajectories since the last call, each with the weights' version
        at its first step (oldest first)."""
        done, self._enemy_done = self._enemy_done, []
        return done

    def drop_enemy_trajectory(self) -> None:
        """Forget the enemy seat's unfinished trajectory (synchronous workers: new weights)."""
        if self._enemy is not None:
            self._enemy.drop()


# -- executors -------------------------------------------------------------------------------------


@dataclass
class RolloutResult:
    """What a worker hands back for one trajectory.

    A segment in which the latest self's seat filled a trajectory gives two: the learner's
    seat's (with the segment's frames and games) and then the enemy seat's (``frames`` 0, no
    games: frames and games are counted once)."""

    trajectory: dict
    games: list[dict]
    frames: int  # emulator frames this trajectory took (resets included); 0 for the enemy seat's
    steps: int
    worker: int
    version: int  # the weights' version it was played with (its first step's)


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs to build its env and actor; picklable.

    ``synchronous``: the worker plays one segment per weight version, then waits for the next
    weights (a2c: every trajectory of an update comes from the current weights). The learner
    then gathers one segment from each worker per update (see :meth:`RolloutExecutor.gather`).
    """

    learner: str  # "module:Class" of the algorithm's learner
    params: Any
    obs_size: int | tuple[int, ...]  # a tuple (H, W, C) for images
    num_actions: int
    gamma: float
    make_env: Callable[[int, int], Any]  # (worker index, seed) -> SeatEnv-like
    seed: int = 0
    log_dir: str | None = None
    synchronous: bool = False


class RolloutExecutor(Protocol):
    """Where trajectories come from: this process, local processes, or Ray actors
    (:class:`arena.backends.ray.RayExecutor`)."""

    def start(self, weights: dict, version: int, distribution: list) -> None:
        """Start the workers with the first weights and enemy distribution."""

    def broadcast(self, weights: dict, version: int, distribution: list) -> None:
        """Hand new weights and enemy distribution to every worker (they switch between trajectories)."""

    def gather(self, count: int) -> list[RolloutResult]:
        """Block until ``count`` trajectories have arrived and return them, oldest first.

        Synchronous workers: ``count`` segments instead, at most one per worker since the last
        broadcast, each one or two trajectories (two against the latest self), all of them
        played with the weights last broadcast."""

    def close(self) -> None:
        """Stop the workers."""


@dataclass(frozen=True)
class ArenaEnvMaker:
    """Builds a worker's :class:`SeatEnv` (in the worker, with the plugins loaded there)."""

    env: str
    options: Any

    def __call__(self, index: int, seed: int) -> SeatEnv:
        from arena.plugins.manager import get_arena

        return SeatEnv(get_arena(), self.env, self.options, seed)


def _learner_class(path: str):
    import importlib

    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


class _Worker:
    """One env and one actor, shared by both executors."""

    def __init__(self, config: WorkerConfig, index: int):
        import torch

        from arena.training.learner import Actor

        self.index = index
        cls = _learner_class(config.learner)
        torch.manual_seed(config.seed * 7919 + index)

        def model():
            return cls.make_model(config.params, config.obs_size, config.num_actions)

        self.synchronous = config.synchronous
        self.model = model()
        seed = config.seed * 7919 + index
        epsilon = config.params.epsilon
        self.actor = Actor(self.model, config.num_actions, epsilon=epsilon, seed=seed)
        # The latest self's seat: the same model (so the same weights, always the newest), its own
        # recurrent state and random stream, exploring as the learner's seat does.
        self.enemy_actor = Actor(self.model, config.num_actions, epsilon=epsilon, seed=seed + 1_000_003)
        self.env = config.make_env(index, seed)
        self.env.self_model_factory = model
        self.env.mirror_self = True
        self.collector = Collector(
            self.env, self.actor, config.params.experience_length, config.gamma, config.params.shaping, self.enemy_actor
        )
        self.version = -1

    def update(self, weights: dict, version: int, distribution: list) -> None:
        from arena.training.learner import load_weights

        load_weights(self.model, weights)
        self.actor.refresh()
        self.enemy_actor.refresh()
        self.env.latest_weights = weights
        if distribution:
            self.env.distribution = distribution
        if self.synchronous:  # what the enemy seat played so far was the old weights
            self.collector.drop_enemy_trajectory()
        self.version = self.collector.version = version

    def collect(self) -> list[RolloutResult]:
        """One segment: the learner's seat's trajectory, then the enemy seat's if one filled up."""
        frames = self.env.frames
        trajectory, games = self.collector.collect()
        steps = len(trajectory["actions"])
        results = [RolloutResult(trajectory, games, self.env.frames - frames, steps, self.index, self.version)]
        for enemy_trajectory, version in self.collector.take_enemy_trajectories():
            results.append(RolloutResult(enemy_trajectory, [], 0, len(enemy_trajectory["actions"]), self.index, version))
        return results

    def close(self):
        self.env.close()


def gather_segments(executor: Any, count: int, next_segment: Callable[[], list[RolloutResult] | None]) -> list[RolloutResult]:
    """``gather`` for executors whose workers run elsewhere: segments from ``next_segment`` (None
    when none has come yet) until ``count`` trajectories, or ``count`` segments when synchronous;
    trajectories past ``count`` wait in ``executor._pending`` for the next call."""
    synchronous = executor.config.synchronous
    if synchronous:
        _check_owed(count, executor._owed, executor.workers)
        executor._owed -= count
    results, executor._pending = executor._pending, []
    segments = 0
    while (segments if synchronous else len(results)) < count:
        segment = next_segment()
        if segment is not None:
            results += segment
            segments += 1
    if not synchronous:
        results, executor._pending = results[:count], results[count:]
    return results


def _check_owed(count: int, owed: int, workers: int) -> None:
    # Synchronous workers wait for new weights after one segment: asking for more would block forever.
    if count > owed:
        raise ValueError(
            f"synchronous workers play one segment per broadcast: {owed} of {workers} left before the next, asked for {count}"
        )


class InlineExecutor:
    """Plays in this process: one env, trajectories collected on demand."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self.worker: _Worker | None = None
        self._pending: list[RolloutResult] = []  # the second seat's trajectory past the count asked for
        self._owed = 0  # synchronous: segments left to play on the current weights

    def start(self, weights, version, distribution) -> None:
        self.worker = _Worker(self.config, 0)
        self.worker.update(weights, version, distribution)
        self._owed = 1

    def broadcast(self, weights, version, distribution) -> None:
        self.worker.update(weights, version, distribution)
        self._owed = 1

    def gather(self, count: int) -> list[RolloutResult]:
        if self.config.synchronous:
            _check_owed(count, self._owed, 1)
            self._owed -= count
            return [r for _ in range(count) for r in self.worker.collect()]
        results = self._pending
        while len(results) < count:
            results += self.worker.collect()
        results, self._pending = results[:count], results[count:]
        return results

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _parent_alive() -> bool:
    import multiprocessing

    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


def _next_weights(worker: _Worker, inbox, wait: bool) -> bool:
    """Switch the worker to the newest weights in its inbox, first waiting for some if ``wait``;
    False when it should stop (told to, or the learner is gone)."""
    while True:
        try:
            message = inbox.get(timeout=1.0) if wait else inbox.get_nowait()
        except queue.Empty:
            if not wait:
                return True
            if not _parent_alive():
                return False
            continue
        if message is None:
            return False
        worker.update(*message)
        wait = False  # then take whatever newer weights are queued behind them


def _worker_main(config: WorkerConfig, index: int, inbox, outbox) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the learner's to handle
    import torch

    torch.set_num_threads(1)
    try:
        worker = _Worker(config, index)
        message = inbox.get()
        if message is None:
            return
        worker.update(*message)
        while True:
            results = worker.collect()
            while True:  # a full outbox means the learner is busy; a dead learner means stop
                try:
                    outbox.put(("results", results), timeout=1.0)
                    break
                except queue.Full:
                    if not _parent_alive():
                        return
            if not _parent_alive():
                return  # the learner was killed (kill -9 leaves no one to tell us)
            # Play on with what we have (newest weights first), or wait for new ones when synchronous.
            if not _next_weights(worker, inbox, wait=config.synchronous):
                worker.close()
                return
    except ArenaError as exc:  # the user's to fix: the learner raises it as it is
        outbox.put(("arena-error", index, one_line(exc), ""))
    except BaseException as exc:  # a crash: the learner reports it and stops cleanly
        outbox.put(("error", index, f"{type(exc).__name__}: {one_line(exc)}", traceback.format_exc()))


class ProcessExecutor:
    """Spawned worker processes, one emulator and one torch thread each.

    Each worker has an inbox (weights, newest wins) and all share a bounded outbox of segments
    (one or two trajectories each), so workers that outrun the learner block instead of filling
    memory. A worker that dies or raises stops training with a one-line error (the experiment
    keeps its last snapshot and resumes).
    """

    def __init__(self, config: WorkerConfig, workers: int, queue_size: int | None = None):
        self.config = config
        self.workers = workers
        self.queue_size = queue_size or max(4, 2 * workers)
        self._processes: list = []
        self._inboxes: list = []
        self._outbox = None
        self._pending: list[RolloutResult] = []  # arrived past the count asked for: the next gather's first
        self._owed = 0  # synchronous: segments the workers still play on the current weights

    def start(self, weights, version, distribution) -> None:
        import multiprocessing

        from arena.plugins.manager import share_warnings

        share_warnings()  # the workers load the plugins again: no second copy of this process's warnings
        context = multiprocessing.get_context("spawn")
        self._outbox = context.Queue(self.queue_size)
        # One core per worker: numpy's and torch's thread pools read these when they load, which
        # in a spawned child happens while unpickling its arguments, before any of its code runs.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")
        for index in range(self.workers):
            inbox = context.Queue()
            process = context.Process(
                target=_worker_entry, args=(self.config, index, inbox, self._outbox), daemon=True, name=f"arena-rollout-{index}"
            )
            process.start()
            inbox.put((weights, version, distribution))
            self._processes.append(process)
            self._inboxes.append(inbox)
        self._owed = self.workers

    def broadcast(self, weights, version, distribution) -> None:
        for inbox in self._inboxes:
            inbox.put((weights, version, distribution))
        self._owed = self.workers

    def gather(self, count: int) -> list[RolloutResult]:
        return gather_segments(self, count, self._next_segment)

    def _next_segment(self) -> list[RolloutResult] | None:
        try:
            message = self._outbox.get(timeout=1.0)
        except queue.Empty:
            for index, process in enumerate(self._processes):
                if not process.is_alive():
                    raise ArenaError(
                        f"rollout worker {index} died (exit code {process.exitcode}: emulator crash or out of memory); "
                        "rerun the same command to resume from the last snapshot"
                    ) from None
            return None
        if message[0] == "arena-error":
            raise ArenaError(message[2])
        if message[0] == "error":
            _, index, error, trace = message
            if trace and self.config.log_dir:
                with open(os.path.join(self.config.log_dir, f"worker-{index}.log"), "a", encoding="utf-8") as log:
                    log.write(trace)
            raise ArenaError(f"rollout worker {index} failed: {error}")
        return message[1]

    def close(self) -> None:
        for inbox in self._inboxes:
            try:
                inbox.put(None)
            except (ValueError, OSError):
                pass
        deadline = time.monotonic() + 3.0
        # Workers may be blocked putting into a full outbox: drain it so they can see the stop.
        while any(p.is_alive() for p in self._processes) and time.monotonic() < deadline:
            try:
                self._outbox.get(timeout=0.05)
            except (queue.Empty, ValueError, OSError):
                pass
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=2)
        for inbox in self._inboxes:
            # weights a stopped worker never read must not hold this process at exit (a queue's
            # feeder thread waits to flush them into a pipe nobody reads)
            inbox.cancel_join_thread()
        self._processes, self._inboxes = [], []


def _worker_entry(config, index, inbox, outbox):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _worker_main(config, index, inbox, outbox)
