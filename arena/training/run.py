"""``arena train``: experiments that train an algorithm by self-play against an enemy pool.

:func:`arena.training.plan.plan_training` checks everything the user gave and decides the
experiment's name and folder without writing anything (``--dry-run`` prints the plan).
:func:`run_training` runs it:

* the experiment folder ``experiments/NAME/`` holds ``params.json``, ``snapshots/``,
  ``metrics.jsonl``, TensorBoard event files in ``tb/`` and ``logs/``;
* rollout workers (:mod:`arena.training.rollout`) play against enemies drawn from the pool and send
  trajectories; the learner updates, broadcasts new weights and the enemies' distribution;
* every ``snapshot_every`` updates a snapshot is written (rerunning the same command resumes from
  the newest); every ``eval_every`` updates the snapshot plays evaluation games against the game's
  own CPU and the pool on validation seeds, recorded in the leaderboard named after the experiment,
  and the snapshot with the best validation score is published (:mod:`arena.training.evaluation`);
* Ctrl-C lands between updates: the update under way finishes (a second Ctrl-C stops at once,
  unsaved), so a snapshot's counters are exactly the steps its learner trained on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.errors import ArenaError, Interrupted, one_line
from arena.games.record import GameRecord
from arena.text import counted
from arena.training.evaluation import EVAL_FRAMES, EvalProgress, Evaluator, _display_path, standing
from arena.training.experiment import Experiment
from arena.training.plan import TrainPlan

if TYPE_CHECKING:
    from arena.plugins.manager import Arena

RECENT_GAMES = 20  # the progress bar's "recent reward" averages this many games
RATE_SPAN = 10.0  # seconds: the progress bar's frames/s is over the updates of about this long


class Rate:
    """Frames per second over the updates of the last ``span`` seconds: the progress bar's figure.
    One update's own rate swings 2x with when the workers' trajectories happen to arrive."""

    def __init__(self, span: float = RATE_SPAN):
        self.span = span
        self.marks: deque[tuple[float, int]] = deque()

    def add(self, now: float, frames: int) -> float:
        """Mark ``frames`` played in all at time ``now``; the rate since the oldest mark kept."""
        self.marks.append((now, frames))
        while len(self.marks) > 2 and now - self.marks[1][0] >= self.span:
            self.marks.popleft()
        then, before = self.marks[0]
        return (frames - before) / (now - then) if now > then else 0.0


# -- running ---------------------------------------------------------------------------------------


@dataclass
class Progress:
    """What the learner reports after each update (also the metrics line)."""

    updates: int = 0
    steps: int = 0
    frames: int = 0
    games: int = 0
    wall_s: float = 0.0
    fps: float = 0.0
    reward: float | None = None
    score: float | None = None  # the learner's mean score over the recent games
    win_rates: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class TrainResult:
    """What a run did: ``steps``, ``frames``, ``updates`` and ``games`` count the whole experiment
    (a resumed one included); ``frames_this_run`` and ``wall_s`` this run alone."""

    name: str
    folder: Path
    steps: int
    frames: int
    updates: int
    games: int
    wall_s: float
    final_snapshot: Path | None
    resumed_from: Path | None
    evaluations: list[GameRecord]
    frames_this_run: int = 0
    published: Path | None = None  # what ``experiments/NAME`` plays: the best validated snapshot
    standing: list[str] = field(default_factory=list)  # where the published agent stands, in plain lines


def make_executor(plan: TrainPlan, config: Any, backend: Any = None):
    """The rollout workers: this process (one worker), spawned processes, or Ray actors when
    ``backend`` (an :class:`arena.backends.Backend`) is Ray's."""
    from arena.training.rollout import InlineExecutor, ProcessExecutor

    if backend is not None and backend.name == "ray":
        from arena.backends.ray import RayExecutor
        from arena.plugins.manager import get_arena

        resources = get_arena().envs.get(plan.env).ray_resources
        # Each worker queues enough segments that together they cover an update, as local workers
        # fill their shared queue: they play on while the learner steps.
        depth = max(2, -(-plan.params.min_collect // plan.workers))
        return RayExecutor(config, plan.workers, address=backend.address, depth=depth, resources=resources)
    if plan.workers == 1 and os.environ.get("ARENA_INLINE_ROLLOUT", "1") == "1":
        return InlineExecutor(config)
    # Room for a whole update's trajectories: workers keep playing while the learner takes its
    # gradient steps, instead of stopping after a few (rac's clipped update is 16 steps long).
    return ProcessExecutor(config, plan.workers, queue_size=max(2 * plan.workers, plan.params.min_collect))


def run_training(
    plan: TrainPlan,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_eval: Callable[[EvalProgress], None] | None = None,
    log: Callable[[str], None] | None = None,
    arena: Arena | None = None,
    executor_factory: Callable[[TrainPlan, Any], Any] = make_executor,
    eval_frames: int = EVAL_FRAMES,
    record: bool = False,
) -> TrainResult:
    """Run the planned experiment to ``plan.steps`` agent steps (resuming from its newest
    snapshot if the plan says so), then play the final evaluation, publish the best validated
    snapshot and draw the learning curves. ``on_progress`` hears of every update (first of where
    the run starts), ``on_eval`` of every evaluation game; ``eval_frames`` caps a round (0: no cap);
    ``record`` keeps each evaluation game's input movie beside the experiment's evaluation log."""
    from arena.games.replay import check_records
    from arena.plugins.manager import get_arena

    arena = arena or get_arena()
    if record:
        check_records(arena.envs.get(plan.env))
    run = _Run(plan, arena, log, eval_frames=eval_frames, on_eval=on_eval, record=record)
    try:
        if run.counters["steps"] >= plan.steps:
            run.say(
                f"{plan.name} already trained {run.counters['steps']:,} of {plan.steps:,} steps; pass a larger --steps to go on"
            )
            run.finish_evaluations(plan.resume_from)
            return run.result(plan.resume_from)
        final = run.train(executor_factory(plan, run.worker_config()), on_progress)
        run.finish_evaluations(final)
        run.draw_curves()
        return run.result(final)
    finally:
        run.evaluator.cancel()  # nothing left to play after a normal end; after Ctrl-C, quietly stopped
        run.close()


@contextlib.contextmanager
def _finish_first(run: _Run) -> Iterator[None]:
    """Ctrl-C inside lands when the block is done: an update is trained on and counted whole. A
    second Ctrl-C stops at once, and ``run.torn`` says the learner is mid-update (not saved)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    caught: list[int] = []

    def handler(signum, frame) -> None:
        if caught:
            run.torn = True
            raise KeyboardInterrupt
        caught.append(signum)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class _Run:
    """One run of an experiment: its learner, enemy pool and counters, and what it writes."""

    def __init__(
        self,
        plan: TrainPlan,
        arena: Arena,
        log: Callable[[str], None] | None,
        *,
        eval_frames: int = EVAL_FRAMES,
        on_eval: Callable[[EvalProgress], None] | None = None,
        record: bool = False,
    ):
        import torch

        from arena.training.learner import count_parameters
        from arena.training.pool import EnemyPool

        self.plan, self.arena, self.log = plan, arena, log
        self.experiment = Experiment(plan)
        self.experiment.prepare()
        self.log_file = open(self.experiment.logs / "train.log", "a", encoding="utf-8")
        learner_cls = plan.algorithm.learner_class()
        self.learner = learner_cls(plan.params, plan.obs_size, plan.num_actions, plan.fps, act_every=plan.timing.act_every)
        self.pool = EnemyPool(plan.pool)
        self.counters = {"steps": 0, "frames": 0, "games": 0, "wall_s": 0.0}
        self.recent: deque[float] = deque(maxlen=RECENT_GAMES)
        self.recent_scores: deque[float] = deque(maxlen=RECENT_GAMES)
        self.rate = Rate()
        self.resumed_from: Path | None = None
        self.torn = False  # a second Ctrl-C stopped an update half-way
        self.evaluator = Evaluator(plan, arena, self.say, frames=eval_frames, on_progress=on_eval, record=record)
        if plan.resume_from is not None:
            self._resume()
        else:
            weights = count_parameters(self.learner.model)
            self.say(
                f"started {plan.name}: {plan.algorithm.name}, {weights:,} weights on {self.learner.device}, {plan.workers} workers"
            )
        cores = os.cpu_count() or 1
        torch.set_num_threads(1 if plan.workers >= cores else max(1, cores - plan.workers))
        self.checked: dict[Path, bool] = {}  # snapshots checked as enemies
        self.wall_before, self.frames_before = self.counters["wall_s"], self.counters["frames"]

    def _resume(self) -> None:

        plan = self.plan
        snapshot = self._newest_loadable()
        self.resumed_from = snapshot.path
        self.learner.load_state_dict(snapshot.learner)
        self.counters.update({k: snapshot.meta.get("counters", {}).get(k, v) for k, v in self.counters.items()})
        if snapshot.meta.get("pool"):
            self.pool.load_state_dict(snapshot.meta["pool"])
        self.recent.extend(snapshot.meta.get("recent") or [])  # the bar's reward goes on where it was
        self.recent_scores.extend(snapshot.meta.get("recent_scores") or [])
        self.experiment.trim_metrics(self.counters["steps"])
        self.evaluator.trim(self.counters["steps"])
        c = self.counters
        self.say(
            f"resumed {plan.name} from {snapshot.path.name}: {c['steps']:,} steps, {c['frames']:,} frames, {counted(self.learner.updates, 'update')};"
            f" learner on {self.learner.device}, {plan.workers} workers"
        )

    def _newest_loadable(self):
        """The snapshot to resume from: the plan's (the newest), or the newest older one that loads
        when it is damaged (a disk full, a copy cut short); each damaged one is said and skipped."""
        from arena.training.snapshot import list_snapshots, load_snapshot

        candidates = [p for p in list_snapshots(self.experiment.snapshots) if p.name <= self.plan.resume_from.name]
        for path in reversed(candidates):
            try:
                return load_snapshot(path)
            except ArenaError as exc:
                self.say(f"skipping {path}: {one_line(exc)}")
        raise ArenaError(f"every snapshot in {self.experiment.snapshots} is damaged; --init --force starts the experiment over")

    def say(self, message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self.log_file.write(f"{stamp} {message}\n")
        self.log_file.flush()
        if self.log is not None:
            self.log(message)

    @property
    def synchronous(self) -> bool:
        """The learner updates on exactly one trajectory from each worker (a2c)."""
        return bool(getattr(type(self.learner), "synchronous", False))

    def worker_config(self):
        from arena.training.rollout import ArenaEnvMaker, WorkerConfig

        plan = self.plan
        config = WorkerConfig(
            learner=plan.algorithm.learner,
            params=plan.params,
            obs_size=plan.obs_size,
            num_actions=plan.num_actions,
            gamma=self.learner.gamma,
            make_env=ArenaEnvMaker(plan.env, plan.env_options),
            seed=plan.params.seed + self.learner.updates,  # a resumed run plays new games
            log_dir=str(self.experiment.logs),
        )
        if self.synchronous and "synchronous" in {f.name for f in dataclasses.fields(WorkerConfig)}:
            config = dataclasses.replace(config, synchronous=True)  # workers wait for each update's weights
        return config

    def distribution(self) -> list:
        from arena.training.snapshot import list_snapshots

        return self.pool.distribution([str(p) for p in list_snapshots(self.experiment.snapshots) if self._loadable(p)])

    def _loadable(self, path: Path) -> bool:
        """A past snapshot can play as an enemy: checked once per file; a damaged one is skipped
        with a line in the log, never handed to the workers."""
        from arena.training.snapshot import load_snapshot

        if path not in self.checked:
            try:
                load_snapshot(path)
                self.checked[path] = True
            except ArenaError as exc:
                self.say(f"skipping {path} as an enemy: {one_line(exc)}")
                self.checked[path] = False
        return self.checked[path]

    def save(self) -> Path:
        from arena.training.snapshot import save_snapshot, snapshot_name

        meta = self.experiment.meta(dict(self.counters, updates=self.learner.updates))
        meta["pool"] = self.pool.state_dict()
        meta["recent"] = list(self.recent)
        meta["recent_scores"] = list(self.recent_scores)
        path = save_snapshot(self.experiment.snapshots / snapshot_name(self.counters["steps"]), meta, self.learner.state_dict())
        self.checked[path] = True  # written and read back just now (it may replace a damaged file)
        return path

    # -- the loop ----------------------------------------------------------------------------------

    def train(self, executor: Any, on_progress: Callable[[Progress], None] | None) -> Path:
        """Update until the step budget is spent; the final snapshot's path."""
        from arena.training.tensorboard import EventWriter

        plan, learner = self.plan, self.learner
        # resumed: TensorBoard drops what earlier event files logged past the snapshot
        purge = self.counters["steps"] + 1 if plan.resume_from is not None else None
        tb = EventWriter(self.experiment.folder / "tb", purge_step=purge)
        started = time.perf_counter()
        try:
            if plan.resume_from is None:
                self.save()  # step 0: "self" has a past from the start, and a crash before the first snapshot resumes
            if on_progress is not None:
                on_progress(self._progress(note="starting workers"))  # a resumed bar starts where the run is
            executor.start(learner.policy_weights(), learner.updates, self.distribution())
            self.evaluator.replay()  # a round a kill or Ctrl-C cut short
            with open(self.experiment.metrics_path, "a", encoding="utf-8") as metrics_file:
                window = time.perf_counter()
                self.rate.add(window, self.counters["frames"])
                while self.counters["steps"] < plan.steps:
                    # Ctrl-C while gathering drops what was gathered: nothing of it is counted yet.
                    results = executor.gather(plan.workers if self.synchronous else learner.wants())
                    with _finish_first(self):
                        progress, row = self._update(executor, results, started, window)
                        window = time.perf_counter()
                        metrics_file.write(json.dumps(row) + "\n")
                        metrics_file.flush()
                        scalars = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "steps"}
                        tb.add_scalars(progress.steps, scalars)
                        self._snapshot_and_evaluate()
                    if on_progress is not None:
                        on_progress(progress)
            final = self.save()
            c = self.counters
            self.say(
                f"finished {plan.name}: {c['steps']:,} steps, {c['frames']:,} frames, {counted(c['games'], 'game')}; snapshot {final}"
            )
            return final
        except ArenaError as exc:
            self.say(f"stopped: {one_line(exc)}")
            raise
        except KeyboardInterrupt:
            self.evaluator.cancel()  # quietly: its round is finished on resume
            executor.close()
            c = self.counters
            if self.torn:
                self.say(
                    f"interrupted during update {learner.updates + 1}: not saved; "
                    "rerun the same command to resume from the newest snapshot"
                )
            else:
                path = self.save()
                self.say(
                    f"interrupted at {c['steps']:,} steps ({counted(learner.updates, 'update')}, all trained on): saved {path}; "
                    "rerun the same command to resume"
                )
            raise Interrupted from None
        finally:
            executor.close()
            tb.close()

    def _progress(self, fps: float = 0.0, metrics: dict[str, float] | None = None, note: str = "") -> Progress:
        c = self.counters
        return Progress(
            updates=self.learner.updates,
            steps=c["steps"],
            frames=c["frames"],
            games=c["games"],
            wall_s=c["wall_s"],
            fps=fps,
            reward=sum(self.recent) / len(self.recent) if self.recent else None,
            score=sum(self.recent_scores) / len(self.recent_scores) if self.recent_scores else None,
            win_rates=self.pool.win_rates(),
            metrics=metrics or {},
            note=note,
        )

    def _update(self, executor: Any, results: list, started: float, window: float) -> tuple[Progress, dict[str, Any]]:
        """Count the gathered trajectories and their games, update, broadcast: one update's
        progress and its metrics line."""
        learner, counters = self.learner, self.counters
        frames = self._count(results)
        learner.set_progress(counters["steps"] / self.plan.steps)
        try:
            metrics = learner.update([r.trajectory for r in results])
        except ArenaError:
            raise  # the algorithm's own one-line message
        except Exception as exc:
            raise self._algorithm_failed("its update", exc) from exc
        metrics["lr"] = learner.optimizer.param_groups[0]["lr"]
        executor.broadcast(learner.policy_weights(), learner.updates, self.distribution())
        now = time.perf_counter()
        counters["wall_s"] = self.wall_before + now - started
        fps = frames / max(now - window, 1e-9)
        progress = self._progress(self.rate.add(now, counters["frames"]), metrics)
        row = {
            "updates": progress.updates, "steps": progress.steps, "frames": progress.frames, "games": progress.games,
            "wall_s": round(progress.wall_s, 3), "fps": round(fps, 1), "reward": progress.reward, "score": progress.score,
            "lag": learner.updates - 1 - min(r.version for r in results),
            **{f"win_rate/{label}": rate for label, (rate, _) in progress.win_rates.items()},
            **{key: round(value, 6) for key, value in metrics.items()},
        }  # fmt: skip
        return progress, row

    def _algorithm_failed(self, where: str, exc: Exception) -> ArenaError:
        """A bug in the algorithm's code: its traceback goes to logs/train.log, the console gets one
        line naming the algorithm, its plugin and the log."""
        import traceback

        log = self.experiment.logs / "train.log"
        self.log_file.write(traceback.format_exc())
        self.log_file.flush()
        name = self.plan.algorithm.name
        plugin = self.arena.algorithms.owner(name) if name in self.arena.algorithms else "?"
        return ArenaError(
            f"algorithm '{name}' (plugin '{plugin}') failed in {where}: {type(exc).__name__}: {one_line(exc)}; "
            f"the traceback is in {_display_path(log)}"
        )

    def _count(self, results: list) -> int:
        """Add the trajectories' steps, frames and finished games to the counters and the pool;
        the frames they took."""
        frames = 0
        for result in results:
            self.counters["steps"] += result.steps
            self.counters["frames"] += result.frames
            frames += result.frames
            for game in result.games:
                self.counters["games"] += 1
                self.recent.append(game["reward"])
                if game.get("score") is not None:
                    self.recent_scores.append(game["score"])
                if game.get("outcome") is not None:
                    self.pool.record(game["enemy"], game["outcome"])
        return frames

    def _snapshot_and_evaluate(self) -> None:
        plan, updates = self.plan, self.learner.updates
        evaluate = bool(plan.eval_every) and updates % plan.eval_every == 0
        if updates % plan.snapshot_every == 0 or evaluate:
            path = self.save()
            if evaluate:
                self.evaluator.submit(path, self._counts())

    def _counts(self) -> dict[str, Any]:
        return dict(self.counters, updates=self.learner.updates)

    # -- after the loop ----------------------------------------------------------------------------

    def finish_evaluations(self, final: Path | None) -> None:
        """Finish a round cut short, play the final snapshot's round and the final games, and publish the best."""
        evaluator, plan = self.evaluator, self.plan
        try:
            evaluator.wait()
            evaluator.replay(wait=True)
            if final is not None and plan.eval_every and plan.eval_games and not evaluator.evaluated(final):
                me = _display_path(final)
                against = ", ".join(evaluator.opponents())
                if evaluator.previous not in (None, me):
                    against += f" and the previous snapshot evaluated, {evaluator.previous}"
                self.say(f"final evaluation of {final.name}: {counted(plan.eval_games, 'game')} each against {against}")
                evaluator.submit(final, self._counts(), wait=True, final=True)
            if plan.eval_every and plan.eval_games:
                try:
                    evaluator.choose(plan.workers)
                except Exception as exc:  # the rounds' own scores still choose
                    self.say(f"final choice failed: {type(exc).__name__}: {one_line(exc)}")
        except KeyboardInterrupt:
            evaluator.cancel()
            self.say(
                f"interrupted during the final evaluation: training is saved in {final}; "
                "rerun the same command to finish the evaluation"
            )
            raise Interrupted from None
        evaluator.rounds.publish()

    def draw_curves(self) -> None:
        try:
            from arena.training.curves import write_curves

            write_curves(self.experiment.folder)
        except Exception as exc:  # a plot must never fail a finished run
            self.say(f"could not draw learning curves: {one_line(exc)}")

    def result(self, final: Path | None) -> TrainResult:
        from arena.training.snapshot import published_snapshot

        c = self.counters
        return TrainResult(
            name=self.plan.name,
            folder=self.plan.folder,
            steps=c["steps"],
            frames=c["frames"],
            updates=self.learner.updates,
            games=c["games"],
            wall_s=c["wall_s"] - self.wall_before,
            frames_this_run=c["frames"] - self.frames_before,
            final_snapshot=final,
            resumed_from=self.resumed_from,
            evaluations=list(self.evaluator.results),
            published=published_snapshot(self.plan.folder),
            standing=standing(self.plan, self.evaluator.rounds, c["frames"], c["steps"]),
        )

    def close(self) -> None:
        self.log_file.close()
