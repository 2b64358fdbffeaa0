"""One game between two agents in a worker process (:func:`play_game`), and the pool of worker
processes that plays many (:class:`GamePool`).

Plugins are resolved once per worker process; the per-step loop only calls ``env.step`` and
``agent.act``. Each worker keeps one emulator alive across games (stable-retro allows one per
process) and sides alternate so each agent plays both seats.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any

from arena.errors import ArenaError, one_line
from arena.games.record import GameRecord
from arena.games.replay import CannotRecord, start_recording
from arena.plugins.agents import BuiltinCpu, resolve
from arena.plugins.manager import Arena, get_arena, share_warnings


@dataclass(frozen=True)
class GameTask:
    """One game to play: everything a worker needs, picklable."""

    index: int
    env: str
    options: Any
    seed: int
    a: str
    b: str
    a_seat: str
    seats: dict[str, str]  # seat -> spec of the agent there ("cpu" for the game's own CPU)
    cpu_level: int | None  # None: two agents; else the CPU plays env_spec.cpu_seat
    uid: str | None = None  # the match log's key for this game (see arena.ratings.store)
    replay: str | None = None  # record the game's input movie here (see arena.games.replay)
    max_frames: int | None = None  # cut the game off here and score it as it stands (None: the env's own cap)


def agent_seed(game_seed: int, seat_index: int) -> int:
    return game_seed * 1000 + seat_index + 1


def check_pair(arena: Arena, a: str, b: str, env: str, options: Any) -> dict[str, Any]:
    """Resolve both specs against the env (one-line errors for bad ones); role -> what plays."""
    env_spec = arena.envs.get(env)
    built = {role: resolve(spec, arena.agents, env_spec, options) for role, spec in (("a", a), ("b", b))}
    if all(isinstance(what, BuiltinCpu) for what in built.values()):
        raise ArenaError(f"only one side can be the game's own CPU; got '{a}' vs '{b}': pick a bot or agent for one side")
    return built


def game_task(arena: Arena, built: dict[str, Any], a: str, b: str, env: str, options: Any, *, index: int, seed: int) -> GameTask:
    """One game of ``a`` vs ``b``: ``a`` takes the first seat on even ``index``, the second on odd.

    The game's own CPU can only play its own seat, so against ``cpu`` the sides never swap.
    """
    env_spec = arena.envs.get(env)
    first, second = env_spec.seats
    cpus = [role for role, what in built.items() if isinstance(what, BuiltinCpu)]
    if cpus:
        cpu_role = cpus[0]
        cpu_level = env_spec.check_cpu_level(built[cpu_role].level)
        other = env_spec.seats[1 - env_spec.seats.index(env_spec.cpu_seat)]
        role_seat = {cpu_role: env_spec.cpu_seat, ("b" if cpu_role == "a" else "a"): other}
    else:
        cpu_level = None
        role_seat = {"a": first, "b": second} if index % 2 == 0 else {"a": second, "b": first}
    seats = {role_seat["a"]: a, role_seat["b"]: b}
    return GameTask(
        index=index,
        env=env,
        options=options,
        seed=seed,
        a=a,
        b=b,
        a_seat=role_seat["a"],
        seats={seat: seats[seat] for seat in env_spec.seats},
        cpu_level=cpu_level,
    )


def plan_games(arena: Arena, a: str, b: str, env: str, games: int, seed: int, options: Any) -> list[GameTask]:
    """Validate both specs against the env and lay out the games, alternating sides."""
    if games < 1:
        raise ArenaError(f"--games must be at least 1, got {games}")
    if seed < 0:
        raise ArenaError(f"--seed must be 0 or more, got {seed}")
    arena.envs.get(env).check_installed(options)
    built = check_pair(arena, a, b, env, options)
    return [game_task(arena, built, a, b, env, options, index=i, seed=seed + i) for i in range(games)]


class _WorkerState:
    """What one process keeps between games: one env and the agents, built once."""

    def __init__(self, arena: Arena):
        self.arena = arena
        self.env_key: tuple | None = None
        self.env: Any = None
        self.agents: dict[tuple, Any] = {}

    def env_for(self, task: GameTask):
        key = (task.env, task.options, task.cpu_level)
        if key != self.env_key:
            if self.env is not None:
                self.env.close()  # one emulator per process
                self.env, self.env_key = None, None
            self.env = self.arena.envs.get(task.env).make(task.options, task.cpu_level)
            self.env_key = key
        return self.env

    def agent_for(self, task: GameTask, role: str):
        spec = task.a if role == "a" else task.b
        key = (role, spec, task.env, task.options)
        if key not in self.agents:
            env_spec = self.arena.envs.get(task.env)
            self.agents[key] = resolve(spec, self.arena.agents, env_spec, task.options)
        return self.agents[key]


def play_game(task: GameTask, state: _WorkerState) -> GameRecord:
    """Play one game; a failure is a record with status ``error``. Raises only
    :class:`~arena.games.replay.CannotRecord` (``task.replay`` with an env that cannot record):
    every game would fail alike, so nothing should be recorded."""
    started = time.perf_counter()
    hashes: dict[str, str] = {}
    try:
        env = state.env_for(task)
        b_seat = next(seat for seat in task.seats if seat != task.a_seat)
        players = {}
        for role, seat in (("a", task.a_seat), ("b", b_seat)):
            if seat in env.possible_agents:
                agent = state.agent_for(task, role)
                agent.reset(agent_seed(task.seed, list(task.seats).index(seat)))
                players[seat] = agent.act
                if getattr(agent, "hash", None):
                    hashes[f"{role}_hash"] = agent.hash  # which weights played, for the match log
        if task.replay is not None:
            start_recording(env, task.env, task.replay)
        observations, _ = env.reset(seed=task.seed)
        state.arena.envs.get(task.env).check_observations(task.options, observations)
        truncated = False
        while env.agents:
            if task.max_frames is not None and env.frames >= task.max_frames:
                truncated = True
                break
            actions = {seat: players[seat](observations[seat]) for seat in env.agents}
            observations, _, _, truncations, _ = env.step(actions)
            truncated = truncated or any(truncations.values())  # a game in turns: either cut off
        scores = env.scores()
        score_a, score_b = scores[task.a_seat], scores[b_seat]
        outcome = dict(
            score=dict(scores),
            score_a=score_a,
            score_b=score_b,
            winner="a" if score_a > score_b else "b" if score_b > score_a else "draw",
            frames=env.frames,
            truncated=truncated,
        )
        if task.replay is not None and os.path.isfile(task.replay):
            outcome["replay"] = task.replay
        if getattr(env, "level", None) is not None:
            outcome["level"] = env.level
        return _record(task, started, **outcome, **hashes)
    except Exception as exc:  # recorded, never counted as a win or a loss
        if isinstance(exc, CannotRecord):
            if state.env is not None:
                state.env.close()
                state.env, state.env_key = None, None
            raise
        if isinstance(exc, ArenaError):
            return _record(task, started, status="error", error=one_line(exc), **hashes)
        error = f"{type(exc).__name__}: {one_line(exc)}"
        return _record(task, started, status="error", error=error, traceback=traceback.format_exc(), **hashes)


def _record(task: GameTask, started: float | None, **outcome: Any) -> GameRecord:
    values: dict[str, Any] = dict(
        uid=task.uid,
        game=task.index,
        env=task.env,
        options=asdict(task.options),
        seed=task.seed,
        a=task.a,
        b=task.b,
        a_seat=task.a_seat,
        sides=dict(task.seats),
        wall_s=None if started is None else round(time.perf_counter() - started, 4),
        pid=os.getpid(),
    )
    return GameRecord(**{**values, **outcome})


_worker: _WorkerState | None = None


def _init_worker() -> None:
    global _worker
    # Ctrl-C is the parent's to handle: it stops the workers itself, without their tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One core per game: keep numeric libraries from oversubscribing the machine.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _worker = _WorkerState(get_arena())


def _run_in_worker(task: GameTask) -> GameRecord:
    return play_game(task, _worker)


class GamePool:
    """Plays submitted games and hands back their records as they finish.

    ``workers == 1`` plays in this process with ``arena`` (plugins registered in-process work);
    more workers are fresh spawned processes that load plugins from entry points, one emulator
    each. At most one game per worker is in flight, so a worker that dies (emulator crash, out of
    memory) loses only the games it was playing: those come back as error records, and queued
    games go on in a fresh pool. Use it as a context manager: leaving it by an exception (Ctrl-C)
    kills the workers instead of waiting for their games.
    """

    def __init__(self, workers: int, arena: Arena | None = None, processes: bool | None = None):
        self.workers = max(1, workers)
        # One worker plays in this process unless asked otherwise (training's evaluation games
        # run in a process of their own, away from the learner).
        self.processes = self.workers > 1 if processes is None else processes
        self._arena = arena
        self._queue: deque[GameTask] = deque()
        self._pending: dict = {}
        self._pool: ProcessPoolExecutor | None = None
        self._inline: _WorkerState | None = None

    def submit(self, task: GameTask) -> None:
        self._queue.append(task)

    def __len__(self) -> int:
        """Games submitted whose records have not been handed back yet."""
        return len(self._queue) + len(self._pending)

    def next_result(self) -> GameRecord:
        """Block until a game finishes and return its record."""
        if not len(self):
            raise RuntimeError("no game submitted")
        if not self.processes:
            if self._inline is None:
                self._inline = _WorkerState(self._arena or get_arena())
            return play_game(self._queue.popleft(), self._inline)
        self._fill()
        done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
        future = next(iter(done))
        task = self._pending.pop(future)
        try:
            return future.result()
        except BrokenProcessPool:
            self._pool = None  # the next _fill starts a fresh pool for the queued games
            return _lost(task, "the worker process died (emulator crash or out of memory)")

    def _fill(self) -> None:
        import multiprocessing

        while self._queue and len(self._pending) < self.workers:
            if self._pool is None:
                share_warnings()  # the workers load the plugins again: no second copy of this process's warnings
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
                )
            task = self._queue.popleft()
            try:
                self._pending[self._pool.submit(_run_in_worker, task)] = task
            except BrokenProcessPool:
                self._queue.appendleft(task)  # never started: it goes to the fresh pool
                self._pool = None

    def close(self, kill: bool = False) -> None:
        if self._inline is not None and self._inline.env is not None:
            self._inline.env.close()
            self._inline = None
        if self._pool is not None:
            if kill:
                for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=not kill, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> GamePool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)


def run_games(tasks: list[GameTask], workers: int, arena: Arena | None = None, backend=None) -> Iterator[GameRecord]:
    """Play ``tasks`` on a game pool (local processes, or ``backend``'s: :mod:`arena.backends`)
    and yield each record as its game finishes."""
    if backend is None:
        pool = GamePool(workers, arena)
    else:
        envs = (arena or get_arena()).envs
        pool = backend.game_pool(workers, arena, resources=envs.get(tasks[0].env).ray_resources if tasks else ())
    with pool:
        for task in tasks:
            pool.submit(task)
        while len(pool):
            yield pool.next_result()


def _lost(task: GameTask, why: str) -> GameRecord:
    return _record(task, None, status="error", error=why, pid=None)
