"""Rollouts: actors play and hand trajectories to the learner, behind a small executor interface.

* :class:`SeatEnv` turns a two-seat Arena env into a one-seat game for the learner: at each reset
  it draws an enemy from the enemy pool's last broadcast distribution (the game's own CPU, a
  bot, the learner's latest weights, a past snapshot or another agent's) and picks a seat.
* :class:`Collector` plays ``experience_length`` steps at a time and returns one trajectory (the
  dict described in :mod:`arena.training.learner`) plus the games that finished.
* Executors run collectors: :class:`InlineExecutor` in this process (one env; tests, debugging)
  and :class:`ProcessExecutor` in spawned worker processes (one emulator and one torch thread
  each). Both speak :class:`RolloutExecutor`; a Ray backend can implement the same four methods.

Workers never wait for the learner: they keep playing with the weights they have and pick up
new ones between trajectories, so trajectories may be a version or two behind (``version``).
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

# -- envs as the learner sees them -----------------------------------------------------------------


class SeatEnv:
    """One seat of a two-seat Arena env, against an enemy drawn at every reset.

    ``step`` returns ``(obs, reward, terminated, truncated, info)``; when a game ends, ``info``
    holds ``enemy`` (the pool label), ``score``, ``opponent_score`` and ``outcome`` (1 win,
    0.5 draw, 0 loss).
    """

    def __init__(self, arena: Arena, env_name: str, options: Any, seed: int):
        self.arena = arena
        self.spec = arena.envs.get(env_name)
        self.options = options
        self.rng = random.Random(seed)
        self.distribution: list[tuple[str, str, float]] = [("cpu", "cpu", 1.0)]
        self.latest_weights: dict | None = None  # the learner's, for "self"
        self.self_model_factory: Callable[[], Any] | None = None  # set by the worker
        self.potential: Callable | None = self.spec.potential
        self.frames = 0
        self._env = None
        self._env_key: Any = ()
        self._agents: dict[str, Any] = {}
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
        if spec not in self._agents:
            self._agents[spec] = resolve(spec, self.arena.agents, self.spec, self.options)
        return self._agents[spec]

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

        self.label, spec = sample_enemy(self.rng, self.distribution)
        enemy = self._enemy(spec)
        seats = self.spec.seats
        if isinstance(enemy, BuiltinCpu):
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
            self._enemy_obs = observations[self.enemy_seat]
        self._frames_seen = env.frames
        self.frames += env.frames
        return observations[self.seat]

    def step(self, action: int):
        env = self._env
        actions = {self.seat: action}
        if self.enemy is not None:
            actions[self.enemy_seat] = self.enemy.act(self._enemy_obs)
        observations, rewards, terminations, truncations, _ = env.step(actions)
        self.frames += env.frames - self._frames_seen
        self._frames_seen = env.frames
        terminated, truncated = terminations[self.seat], truncations[self.seat]
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
        elif self.enemy is not None:
            self._enemy_obs = observations[self.enemy_seat]
        return observations[self.seat], rewards[self.seat], terminated, truncated, info

    def close(self):
        if self._env is not None:
            self._env.close()
            self._env = None


# -- playing trajectories --------------------------------------------------------------------------


class Collector:
    """Plays an actor in a seat env and cuts the play into trajectories of ``length`` steps.

    The training reward is the game's reward plus ``shaping * (gamma * phi(s') - phi(s))`` with
    ``phi`` the env's potential (zero after a game ends), which leaves the best policy unchanged.
    """

    def __init__(self, env: Any, actor: Any, length: int, gamma: float, shaping: float):
        self.env = env
        self.actor = actor
        self.length = length
        self.gamma = gamma
        self.potential = env.potential if shaping else None
        self.shaping = shaping
        self.obs = None
        self.game_reward = 0.0

    def _begin(self):
        self.obs = np.asarray(self.env.reset(), dtype=np.float32)
        self.actor.reset()
        self.phi = self.potential(self.obs) if self.potential else 0.0

    def collect(self) -> tuple[dict, list[dict]]:
        if self.obs is None:
            self._begin()
        T, actor = self.length, self.actor
        size = self.obs.shape[0]
        traj = {
            "obs": np.empty((T + 1, size), np.float32),
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
        games = []
        for t in range(T):
            traj["obs"][t] = self.obs
            traj["prev_actions"][t] = actor.prev_action
            traj["starts"][t] = actor.start
            action, logp = actor.step(self.obs)
            obs, reward, terminated, truncated, info = self.env.step(action)
            obs = np.asarray(obs, dtype=np.float32)
            traj["actions"][t] = action
            traj["logp"][t] = logp
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
                    traj["trunc_values"][t] = actor.value(obs)
                info = dict(info, reward=self.game_reward)
                games.append(info)
                self.game_reward = 0.0
                self._begin()
            else:
                self.obs = obs
        traj["obs"][T] = self.obs
        traj["prev_actions"][T] = actor.prev_action
        traj["starts"][T] = actor.start
        return traj, games


# -- executors -------------------------------------------------------------------------------------


@dataclass
class RolloutResult:
    """What a worker hands back for one trajectory."""

    trajectory: dict
    games: list[dict]
    frames: int  # emulator frames this trajectory took (resets included)
    steps: int
    worker: int
    version: int


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs to build its env and actor; picklable."""

    learner: str  # "module:Class" of the algorithm's learner
    params: Any
    obs_size: int
    num_actions: int
    gamma: float
    make_env: Callable[[int, int], Any]  # (worker index, seed) -> SeatEnv-like
    seed: int = 0
    log_dir: str | None = None


class RolloutExecutor(Protocol):
    """Where trajectories come from. Local processes now; a Ray backend implements the same."""

    def start(self, weights: dict, version: int, distribution: list) -> None:
        """Start the workers with the first weights and enemy distribution."""

    def broadcast(self, weights: dict, version: int, distribution: list) -> None:
        """Hand new weights and enemy distribution to every worker (they switch between trajectories)."""

    def gather(self, count: int) -> list[RolloutResult]:
        """Block until ``count`` trajectories have arrived and return them, oldest first."""

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

        self.model = model()
        self.actor = Actor(self.model, config.num_actions, epsilon=config.params.epsilon, seed=config.seed * 7919 + index)
        self.env = config.make_env(index, config.seed * 7919 + index)
        self.env.self_model_factory = model
        self.collector = Collector(self.env, self.actor, config.params.experience_length, config.gamma, config.params.shaping)
        self.version = -1

    def update(self, weights: dict, version: int, distribution: list) -> None:
        from arena.training.learner import load_weights

        load_weights(self.model, weights)
        self.actor.refresh()
        self.env.latest_weights = weights
        if distribution:
            self.env.distribution = distribution
        self.version = version

    def collect(self) -> RolloutResult:
        frames = self.env.frames
        trajectory, games = self.collector.collect()
        steps = len(trajectory["actions"])
        return RolloutResult(trajectory, games, self.env.frames - frames, steps, self.index, self.version)

    def close(self):
        self.env.close()


class InlineExecutor:
    """Plays in this process: one env, trajectories collected on demand."""

    def __init__(self, config: WorkerConfig):
        self.config = config
        self.worker: _Worker | None = None

    def start(self, weights, version, distribution) -> None:
        self.worker = _Worker(self.config, 0)
        self.worker.update(weights, version, distribution)

    def broadcast(self, weights, version, distribution) -> None:
        self.worker.update(weights, version, distribution)

    def gather(self, count: int) -> list[RolloutResult]:
        return [self.worker.collect() for _ in range(count)]

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def _parent_alive() -> bool:
    import multiprocessing

    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


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
            while True:  # play with what we have; switch to the newest weights between trajectories
                try:
                    message = inbox.get_nowait()
                except queue.Empty:
                    break
                if message is None:
                    worker.close()
                    return
                worker.update(*message)
            result = worker.collect()
            while True:  # a full outbox means the learner is busy; a dead learner means stop
                try:
                    outbox.put(("result", result), timeout=1.0)
                    break
                except queue.Full:
                    if not _parent_alive():
                        return
            if not _parent_alive():
                return  # the learner was killed (kill -9 leaves no one to tell us)
    except ArenaError as exc:  # the user's to fix: the learner raises it as it is
        outbox.put(("arena-error", index, one_line(exc), ""))
    except BaseException as exc:  # a crash: the learner reports it and stops cleanly
        outbox.put(("error", index, f"{type(exc).__name__}: {one_line(exc)}", traceback.format_exc()))


class ProcessExecutor:
    """Spawned worker processes, one emulator and one torch thread each.

    Each worker has an inbox (weights, newest wins) and all share a bounded outbox, so workers
    that outrun the learner block instead of filling memory. A worker that dies or raises stops
    training with a one-line error (the experiment keeps its last snapshot and resumes).
    """

    def __init__(self, config: WorkerConfig, workers: int, queue_size: int | None = None):
        self.config = config
        self.workers = workers
        self.queue_size = queue_size or max(4, 2 * workers)
        self._processes: list = []
        self._inboxes: list = []
        self._outbox = None

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

    def broadcast(self, weights, version, distribution) -> None:
        for inbox in self._inboxes:
            inbox.put((weights, version, distribution))

    def gather(self, count: int) -> list[RolloutResult]:
        results: list[RolloutResult] = []
        while len(results) < count:
            try:
                message = self._outbox.get(timeout=1.0)
            except queue.Empty:
                for index, process in enumerate(self._processes):
                    if not process.is_alive():
                        raise ArenaError(
                            f"rollout worker {index} died (exit code {process.exitcode}: emulator crash or out of memory); "
                            "rerun the same command to resume from the last snapshot"
                        ) from None
                continue
            if message[0] == "arena-error":
                raise ArenaError(message[2])
            if message[0] == "error":
                _, index, error, trace = message
                if trace and self.config.log_dir:
                    with open(os.path.join(self.config.log_dir, f"worker-{index}.log"), "a", encoding="utf-8") as log:
                        log.write(trace)
                raise ArenaError(f"rollout worker {index} failed: {error}")
            results.append(message[1])
        return results

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
        self._processes, self._inboxes = [], []


def _worker_entry(config, index, inbox, outbox):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _worker_main(config, index, inbox, outbox)
