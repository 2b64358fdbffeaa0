"""``arena train``: experiments that train an algorithm by self-play against an enemy pool.

:func:`plan_training` checks everything the user gave and decides the experiment's name and
folder without writing anything (``--dry-run`` prints the plan). :func:`run_training` runs it:

* the experiment folder ``experiments/NAME/`` holds ``params.json``, ``snapshots/``,
  ``metrics.jsonl``, TensorBoard event files in ``tb/`` and ``logs/``;
* rollout workers (:mod:`arena.training.rollout`) play against opponents drawn from the pool and send
  trajectories; the learner updates, broadcasts new weights and the opponent distribution;
* every ``snapshot_every`` updates a snapshot is written (rerunning the same command resumes from
  the newest); every ``eval_every`` updates the snapshot plays evaluation games against the game's
  own CPU and the pool, recorded in the leaderboard named after the experiment.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.errors import ArenaError, one_line
from arena.training.evaluation import Evaluator, _display_path
from arena.training.experiment import Experiment
from arena.training.plan import TrainPlan

RECENT_GAMES = 20  # the progress bar's "recent reward" averages this many games


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
    win_rates: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


@dataclass
class TrainResult:
    name: str
    folder: Path
    steps: int
    frames: int
    updates: int
    games: int
    wall_s: float
    final_snapshot: Path | None
    resumed_from: Path | None
    evaluations: list[dict]


def make_executor(plan: TrainPlan, config: Any):
    from arena.training.rollout import InlineExecutor, ProcessExecutor

    if plan.workers == 1 and os.environ.get("ARENA_INLINE_ROLLOUT", "1") == "1":
        return InlineExecutor(config)
    # Room for a whole update's trajectories: workers keep playing while the learner takes its
    # gradient steps, instead of stopping after a few (rac's clipped update is 16 steps long).
    return ProcessExecutor(config, plan.workers, queue_size=max(2 * plan.workers, plan.params.min_collect))


def run_training(
    plan: TrainPlan,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    log: Callable[[str], None] | None = None,
    arena: Any = None,
    executor_factory: Callable[[TrainPlan, Any], Any] = make_executor,
) -> TrainResult:
    import torch

    from arena.plugins.manager import get_arena
    from arena.training.learner import count_parameters
    from arena.training.pool import EnemyPool
    from arena.training.rollout import ArenaEnvMaker, WorkerConfig
    from arena.training.snapshot import (
        list_snapshots,
        load_snapshot,
        save_snapshot,
        snapshot_name,
    )
    from arena.training.tensorboard import EventWriter

    arena = arena or get_arena()
    experiment = Experiment(plan)
    experiment.prepare()
    log_file = open(experiment.logs / "train.log", "a", encoding="utf-8")

    def say(message: str) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log_file.write(f"{stamp} {message}\n")
        log_file.flush()
        if log is not None:
            log(message)

    learner_cls = plan.algorithm.learner_class()
    learner = learner_cls(plan.params, plan.obs_size, plan.num_actions, plan.fps, act_every=plan.timing.act_every)
    pool = EnemyPool(plan.pool)
    counters = {"steps": 0, "frames": 0, "games": 0, "wall_s": 0.0}
    if plan.resume_from is not None:
        snapshot = load_snapshot(plan.resume_from)
        learner.load_state_dict(snapshot.learner)
        counters.update({k: snapshot.meta.get("counters", {}).get(k, v) for k, v in counters.items()})
        if snapshot.meta.get("pool"):
            pool.load_state_dict(snapshot.meta["pool"])
        experiment.trim_metrics(counters["steps"])
        say(
            f"resumed {plan.name} from {plan.resume_from.name}: {counters['steps']:,} steps, {counters['frames']:,} frames, {learner.updates} updates"
        )
    else:
        say(
            f"started {plan.name}: {plan.algorithm.name}, {count_parameters(learner.model):,} weights on {learner.device}, {plan.workers} workers"
        )
    torch.set_num_threads(1 if plan.workers >= (os.cpu_count() or 1) else max(1, (os.cpu_count() or 1) - plan.workers))

    def distribution():
        return pool.distribution([str(p) for p in list_snapshots(experiment.snapshots)])

    def save() -> Path:
        meta = experiment.meta(dict(counters, updates=learner.updates))
        meta["pool"] = pool.state_dict()
        return save_snapshot(experiment.snapshots / snapshot_name(counters["steps"]), meta, learner.state_dict())

    config = WorkerConfig(
        learner=plan.algorithm.learner,
        params=plan.params,
        obs_size=plan.obs_size,
        num_actions=plan.num_actions,
        gamma=learner.gamma,
        make_env=ArenaEnvMaker(plan.env, plan.env_options),
        seed=plan.params.seed + learner.updates,  # a resumed run plays new games
        log_dir=str(experiment.logs),
    )
    evaluator = Evaluator(plan, arena, say)
    recent = deque(maxlen=RECENT_GAMES)
    final: Path | None = None
    started = time.perf_counter()
    wall_before = counters["wall_s"]
    if counters["steps"] >= plan.steps:
        say(f"{plan.name} already trained {counters['steps']:,} of {plan.steps:,} steps; pass a larger --steps to go on")
        log_file.close()
        return _result(plan, counters, learner, plan.resume_from, evaluator, wall_before)
    executor = executor_factory(plan, config)
    # resumed: TensorBoard drops what earlier event files logged past the snapshot
    tb = EventWriter(experiment.folder / "tb", purge_step=counters["steps"] + 1 if plan.resume_from is not None else None)
    try:
        if plan.resume_from is None:
            save()  # step 0: "self" has a past from the start, and a crash before the first snapshot resumes
        executor.start(learner.policy_weights(), learner.updates, distribution())
        with open(experiment.metrics_path, "a", encoding="utf-8") as metrics_file:
            window_start, window_frames = time.perf_counter(), 0
            while counters["steps"] < plan.steps:
                results = executor.gather(learner.wants())
                for result in results:
                    counters["steps"] += result.steps
                    counters["frames"] += result.frames
                    window_frames += result.frames
                    for game in result.games:
                        counters["games"] += 1
                        recent.append(game["reward"])
                        if game.get("outcome") is not None:
                            pool.record(game["enemy"], game["outcome"])
                learner.set_progress(counters["steps"] / plan.steps)
                metrics = learner.update([r.trajectory for r in results])
                metrics["lr"] = learner.optimizer.param_groups[0]["lr"]
                executor.broadcast(learner.policy_weights(), learner.updates, distribution())
                now = time.perf_counter()
                counters["wall_s"] = wall_before + now - started
                fps = window_frames / max(now - window_start, 1e-9)
                window_start, window_frames = now, 0
                progress = Progress(
                    updates=learner.updates,
                    steps=counters["steps"],
                    frames=counters["frames"],
                    games=counters["games"],
                    wall_s=counters["wall_s"],
                    fps=fps,
                    reward=sum(recent) / len(recent) if recent else None,
                    win_rates=pool.win_rates(),
                    metrics=metrics,
                )
                row = {
                    "updates": progress.updates, "steps": progress.steps, "frames": progress.frames, "games": progress.games,
                    "wall_s": round(progress.wall_s, 3), "fps": round(fps, 1), "reward": progress.reward,
                    "lag": learner.updates - 1 - min(r.version for r in results),
                    **{f"win_rate/{label}": rate for label, (rate, _) in progress.win_rates.items()},
                    **{key: round(value, 6) for key, value in metrics.items()},
                }  # fmt: skip
                metrics_file.write(json.dumps(row) + "\n")
                metrics_file.flush()
                tb.add_scalars(
                    progress.steps, {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in ("steps",)}
                )
                evaluate = bool(plan.eval_every) and learner.updates % plan.eval_every == 0
                if learner.updates % plan.snapshot_every == 0 or evaluate:
                    path = save()
                    if evaluate:
                        evaluator.submit(path)
                if on_progress is not None:
                    on_progress(progress)
        final = save()
        say(
            f"finished {plan.name}: {counters['steps']:,} steps, {counters['frames']:,} frames, {counters['games']} games; snapshot {final}"
        )
    except ArenaError as exc:
        say(f"stopped: {one_line(exc)}")
        raise
    except KeyboardInterrupt:
        executor.close()
        path = save()
        say(f"interrupted: saved {path}; rerun the same command to resume")
        raise
    finally:
        executor.close()
        tb.close()
    if plan.eval_every and _display_path(final) != evaluator.previous:
        say("final evaluation: " + ", ".join(evaluator.opponents() + ([evaluator.previous] if evaluator.previous else [])))
        evaluator.submit(final, wait=True)
    evaluator.wait()
    try:
        from arena.training.curves import write_curves

        write_curves(experiment.folder)
    except Exception as exc:  # a plot must never fail a finished run
        say(f"could not draw learning curves: {one_line(exc)}")
    log_file.close()
    return _result(plan, counters, learner, final, evaluator, wall_before)


def _result(plan, counters, learner, final, evaluator, wall_before) -> TrainResult:
    return TrainResult(
        name=plan.name,
        folder=plan.folder,
        steps=counters["steps"],
        frames=counters["frames"],
        updates=learner.updates,
        games=counters["games"],
        wall_s=counters["wall_s"] - wall_before,
        final_snapshot=final,
        resumed_from=plan.resume_from,
        evaluations=list(evaluator.results),
    )
