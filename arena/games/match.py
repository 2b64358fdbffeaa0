"""A match: a series of games between two agents (:func:`plan_match`, :func:`run_match`), sides
alternating so each agent plays both seats, and its summary with a 95% interval.

The games themselves are played by :mod:`arena.games.play`; where they are written is the caller's
choice (a :class:`GameSink`: ``arena match`` passes a :class:`~arena.ratings.recorder.Recorder`).
"""

from __future__ import annotations

import math
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from arena import paths
from arena.errors import ArenaError
from arena.games.play import GameTask, plan_games, run_games
from arena.games.record import GameRecord
from arena.games.replay import check_records, replay_path
from arena.plugins.manager import Arena, get_arena

if TYPE_CHECKING:
    from arena.backends import Backend


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
    records: list[GameRecord] = field(default_factory=list, repr=False)
    log_path: Path | None = None


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


def summarize(a: str, b: str, records: list[GameRecord], wall_s: float) -> MatchSummary:
    ok = [r for r in records if r.ok]
    mean, ci = mean_ci95([r.score_a - r.score_b for r in ok])
    return MatchSummary(
        a=a,
        b=b,
        games=len(records),
        errors=len(records) - len(ok),
        wins_a=sum(r.winner == "a" for r in ok),
        wins_b=sum(r.winner == "b" for r in ok),
        draws=sum(r.winner == "draw" for r in ok),
        mean_diff=mean,
        ci95=ci,
        frames=sum(r.frames for r in ok),
        wall_s=wall_s,
        records=sorted(records, key=lambda r: r.game),
    )


def default_log_path(a: str, b: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    slug = "-vs-".join(re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:40] for s in (a, b))
    return paths.data_dir() / "matches" / f"{stamp}-{slug}-{os.getpid()}.jsonl"


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


class GameSink(Protocol):
    """Where a match's games go (:class:`arena.ratings.recorder.Recorder` is the one Arena uses)."""

    log_path: Path

    def check(self, env: str, options: dict[str, Any]) -> None: ...

    def write(self, game: GameRecord) -> GameRecord: ...


def run_match(
    plan: MatchPlan,
    *,
    recorder: GameSink | None = None,
    arena: Arena | None = None,
    on_game: Callable[[GameRecord], None] | None = None,
    record: bool = False,
    backend: Backend | None = None,
) -> MatchSummary:
    """Play the planned games and summarise; with ``recorder``, write each game as it finishes.

    The recorder checks the games before the first one starts (a leaderboard's definition may
    refuse them), so a refused match plays and writes nothing. With ``record`` each game's input
    movie goes beside the recorder's log (:func:`arena.games.replay.replay_path`). ``backend``
    says where the games run (:mod:`arena.backends`; default: local processes).
    """
    if record:
        check_records((arena or get_arena()).envs.get(plan.env))
    if record and recorder is None:
        raise ArenaError("recording replays needs a game log to keep them beside: pass a recorder")
    if recorder is not None and plan.tasks:
        recorder.check(plan.env, asdict(plan.tasks[0].options))
    started = time.perf_counter()
    records = []
    run_id = uuid.uuid4().hex[:12]
    tasks = [replace(task, uid=f"match:{run_id}:{task.index}") for task in plan.tasks]
    if record:
        tasks = [replace(task, replay=str(replay_path(recorder.log_path, task.uid))) for task in tasks]
    for record in run_games(tasks, plan.workers, arena, backend):
        if recorder is not None:
            record = recorder.write(record).replace(traceback=record.traceback)
        records.append(record)
        if on_game is not None:
            on_game(record)
    summary = summarize(plan.a, plan.b, records, time.perf_counter() - started)
    summary.log_path = recorder.log_path if recorder is not None else None
    return summary
