"""Playing games between two agents: one game (:func:`play_game`) and a series (:func:`run_match`).

Plugins are resolved once per worker process; the per-step loop only calls ``env.step`` and
``agent.act``. Each worker keeps one emulator alive across games (stable-retro allows one per
process) and sides alternate so each agent plays both seats.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import time
import traceback
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from arena.agents import BuiltinCpu, resolve
from arena.errors import ArenaError, one_line
from arena.plugins import Arena, get_arena


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
    uid: str | None = None  # the match log's key for this game (see arena.store)


@dataclass
class MatchSummary:
    a: str
    b: str
    games: int
    errors: int
    wins_a: int
    wins_b: int
    draws: int
    mean_diff: float | None
    ci95: tuple[float, float] | None
    frames: int
    wall_s: float
    records: list[dict] = field(default_factory=list, repr=False)
    log_path: Path | None = None


def agent_seed(game_seed: int, seat_index: int) -> int:
    return game_seed * 1000 + seat_index + 1


def check_pair(arena: Arena, a: str, b: str, env: str, options: Any) -> dict[str, Any]:
    """Resolve both specs against the env (one-line errors for bad ones); role -> what plays."""
    env_spec = arena.envs.get(env)
    built = {role: resolve(spec, arena.opponents, env_spec, options) for role, spec in (("a", a), ("b", b))}
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
            self.agents[key] = resolve(spec, self.arena.opponents, env_spec, task.options)
        return self.agents[key]


def play_game(task: GameTask, state: _WorkerState) -> dict:
    """Play one game; never raises: a failure is a record with status ``error``."""
    started = time.perf_counter()
    record: dict[str, Any] = {
        "uid": task.uid,
        "game": task.index,
        "env": task.env,
        "options": asdict(task.options),
        "seed": task.seed,
        "a": task.a,
        "b": task.b,
        "a_seat": task.a_seat,
        "sides": dict(task.seats),
    }
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
                    record[f"{role}_hash"] = agent.hash  # which weights played, for the match log
        observations, _ = env.reset(seed=task.seed)
        truncated = False
        while env.agents:
            actions = {seat: players[seat](observations[seat]) for seat in env.agents}
            observations, _, _, truncations, _ = env.step(actions)
            truncated = any(truncations.values())
        scores = env.scores()
        score_a, score_b = scores[task.a_seat], scores[b_seat]
        record.update(
            status="ok",
            error=None,
            score=scores,
            score_a=score_a,
            score_b=score_b,
            winner="a" if score_a > score_b else "b" if score_b > score_a else "draw",
            frames=env.frames,
            truncated=truncated,
        )
    except Exception as exc:  # recorded, never counted as a win or a loss
        if isinstance(exc, ArenaError):
            error = one_line(exc)
        else:
            error = f"{type(exc).__name__}: {one_line(exc)}"
            record["traceback"] = traceback.format_exc()
        record.update(status="error", error=error, score=None, score_a=None, score_b=None, winner=None, frames=None, truncated=None)
    record["wall_s"] = round(time.perf_counter() - started, 4)
    record["pid"] = os.getpid()
    record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record


_worker: _WorkerState | None = None


def _init_worker() -> None:
    global _worker
    # Ctrl-C is the parent's to handle: it stops the workers itself, without their tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One core per game: keep numeric libraries from oversubscribing the machine.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _worker = _WorkerState(get_arena())


def _run_in_worker(task: GameTask) -> dict:
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

    def next_result(self) -> dict:
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

    def __enter__(self) -> "GamePool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)


def run_games(tasks: list[GameTask], workers: int, arena: Arena | None = None) -> Iterator[dict]:
    """Play ``tasks`` on a :class:`GamePool` and yield each record as its game finishes."""
    with GamePool(workers, arena) as pool:
        for task in tasks:
            pool.submit(task)
        while len(pool):
            yield pool.next_result()


def _lost(task: GameTask, why: str) -> dict:
    return {
        "uid": task.uid, "game": task.index, "env": task.env, "options": asdict(task.options), "seed": task.seed,
        "a": task.a, "b": task.b, "a_seat": task.a_seat, "sides": dict(task.seats),
        "status": "error", "error": why, "score": None, "score_a": None, "score_b": None,
        "winner": None, "frames": None, "truncated": None, "wall_s": None,
    }  # fmt: skip


# Two-sided 97.5% quantiles of Student's t for 1-30 degrees of freedom; 1.96 beyond.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def mean_ci95(values: list[float]) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and its 95% t-interval; the interval is None with fewer than two values."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    half = t * sd / math.sqrt(n)
    return mean, (mean - half, mean + half)


def summarize(a: str, b: str, records: list[dict], wall_s: float) -> MatchSummary:
    ok = [r for r in records if r["status"] == "ok"]
    mean, ci = mean_ci95([r["score_a"] - r["score_b"] for r in ok])
    return MatchSummary(
        a=a,
        b=b,
        games=len(records),
        errors=len(records) - len(ok),
        wins_a=sum(r["winner"] == "a" for r in ok),
        wins_b=sum(r["winner"] == "b" for r in ok),
        draws=sum(r["winner"] == "draw" for r in ok),
        mean_diff=mean,
        ci95=ci,
        frames=sum(r["frames"] for r in ok),
        wall_s=wall_s,
        records=sorted(records, key=lambda r: r["game"]),
    )


def default_log_path(a: str, b: str) -> Path:
    from arena.paths import data_dir

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    slug = "-vs-".join(re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:40] for s in (a, b))
    return data_dir() / "matches" / f"{stamp}-{slug}-{os.getpid()}.jsonl"


@dataclass(frozen=True)
class MatchPlan:
    """A validated match: the games to play and how many workers play them."""

    a: str
    b: str
    env: str
    tasks: tuple[GameTask, ...]
    workers: int


def plan_match(
    a: str,
    b: str,
    *,
    env: str = "pong",
    games: int = 2,
    seed: int = 0,
    workers: int | None = None,
    options: Any = None,
    arena: Arena | None = None,
) -> MatchPlan:
    """Check everything the user gave (raising :class:`ArenaError`) before any game starts."""
    arena = arena or get_arena()
    env_spec = arena.envs.get(env)
    options = options if options is not None else env_spec.parse_options()
    if workers is not None and workers < 1:
        raise ArenaError(f"--workers must be at least 1, got {workers}")
    tasks = plan_games(arena, a, b, env, games, seed, options)
    return MatchPlan(a, b, env, tuple(tasks), min(workers or os.cpu_count() or 1, len(tasks)))


def run_match(
    plan: MatchPlan,
    *,
    log_path: Path | None = None,
    arena: Arena | None = None,
    on_game: Callable[[dict], None] | None = None,
    store: Any = None,
    leaderboard: str | None = None,
) -> MatchSummary:
    """Play the planned games, log each as it finishes, and summarise.

    Every game goes to a JSON-lines file and, with ``store`` (an :class:`arena.store.MatchStore`),
    into the match log under ``leaderboard`` (default: the env's own leaderboard).
    """
    log_path = Path(log_path) if log_path else default_log_path(plan.a, plan.b)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = []
    run_id = uuid.uuid4().hex[:12]
    tasks = [replace(task, uid=f"match:{run_id}:{task.index}") for task in plan.tasks]
    with open(log_path, "a", encoding="utf-8") as log:
        for record in run_games(tasks, plan.workers, arena):
            record["log_path"] = str(log_path)
            slim = {k: v for k, v in record.items() if k != "traceback"}
            log.write(json.dumps(slim) + "\n")
            log.flush()  # a crash loses at most the games still in flight
            if store is not None:
                store.record(leaderboard or plan.env, record, uid=record["uid"])
            records.append(record)
            if on_game is not None:
                on_game(record)
    summary = summarize(plan.a, plan.b, records, time.perf_counter() - started)
    summary.log_path = log_path
    return summary
