"""Evaluation games: a training run's snapshots play the game's CPU and the pool in a background
process, and every game is recorded in the experiment's leaderboard."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from arena.errors import one_line
from arena.training.plan import TrainPlan

if TYPE_CHECKING:
    from arena.plugins.manager import Arena


class Evaluator:
    """Evaluation games in a background process, recorded in the experiment's leaderboard.

    One round at a time: if the previous round is still playing, the new one is skipped (and
    said so) rather than queued, so evaluation never holds training back.
    """

    def __init__(self, plan: TrainPlan, arena: Arena, log: Callable[[str], None]):
        self.plan = plan
        self.arena = arena
        self.log = log
        self.thread: threading.Thread | None = None
        self.previous: str | None = None
        self.results: list[dict] = []

    def opponents(self) -> list[str]:
        env_spec = self.arena.envs.get(self.plan.env)
        out = []
        if env_spec.has_cpu:
            level = env_spec.check_cpu_level(None)
            out.append("cpu" if not env_spec.cpu_levels else f"cpu:{level}")
        for entry in self.plan.pool.entries:
            if (
                entry.spec != "self"
                and entry.spec not in out
                and not (entry.spec == "cpu" and not env_spec.cpu_levels and "cpu" in out)
            ):
                out.append(entry.spec)
        return out

    def submit(self, snapshot: Path, wait: bool = False) -> None:
        if self.plan.eval_games == 0:
            return
        if self.thread is not None and self.thread.is_alive():
            if not wait:
                self.log(f"evaluation of {snapshot.name} skipped: the previous round is still playing")
                return
            self.thread.join()
        me = _display_path(snapshot)
        if me == self.previous:
            return  # this snapshot was evaluated already (the final save rewrote the last evaluated one)
        from arena.training.snapshot import file_hash

        opponents = self.opponents() + ([self.previous] if self.previous else [])
        self.previous = me
        # The hash makes the games' uids unique per weights: after --init --force the same snapshot
        # paths come back with other weights, and their games must not be dropped as repeats.
        self.thread = threading.Thread(
            target=self._play, args=(me, opponents, file_hash(snapshot)), daemon=True, name="arena-eval"
        )
        self.thread.start()
        if wait:
            self.thread.join()

    def _play(self, me: str, opponents: list[str], weights: str = "") -> None:
        from arena.games.play import GamePool, plan_games
        from arena.ratings.recorder import Recorder
        from arena.ratings.store import MatchStore

        try:
            tasks = []
            for opponent in opponents:
                for task in plan_games(
                    self.arena, me, opponent, self.plan.env, self.plan.eval_games, len(tasks), self.plan.env_options
                ):
                    tasks.append(
                        dataclasses.replace(
                            task, index=len(tasks), uid=f"train:{self.plan.name}:{me}@{weights}:{opponent}:{task.index}"
                        )
                    )
            log_path = self.plan.folder / "logs" / "eval.jsonl"
            with MatchStore() as store, Recorder(self.plan.name, log_path, store, arena=self.arena) as recorder:
                with GamePool(1, self.arena, processes=True) as pool:
                    for task in tasks:
                        pool.submit(task)
                    while len(pool):
                        record = recorder.write(pool.next_result())
                        self.results.append(record)
                        if record.ok:
                            self.log(f"eval {record.a} {record.score_a}-{record.score_b} {record.b}")
                        else:
                            self.log(f"eval {record.a} vs {record.b}: error {record.error}")
        except Exception as exc:  # evaluation must never take training down
            self.log(f"evaluation failed: {type(exc).__name__}: {one_line(exc)}")

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
