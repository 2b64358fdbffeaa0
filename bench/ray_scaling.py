"""Rollouts on Ray against local processes, and what a 120-worker run like phillip's would do.

In ONE run, for each worker count (default 1 and 2 on this machine's cores), ``arena train`` of
ALGO (default ``rac``, default hyperparameters) against ``enemies/cpu.json`` on Pong, for a fixed
budget of agent steps, with its rollout workers first as local processes, then as Ray actors
(a Ray instance started for the run, on the same cores), then as local processes again. Each Ray
row's ratio is its steady frames/s over the mean of the two local rows around it (target: at
least 0.9). Steady frames/s come from ``metrics.jsonl``: frames and wall time between the third
and the last update, so Ray's start-up (several seconds) is not in them; "frames/s" is the whole
run.

Each run's executor is timed from the outside: the learner's seconds per update are the loop's
wall time less the time spent waiting in ``gather``; a broadcast's seconds are those spent in
``broadcast`` (the weights to every worker). From these the script writes an estimate of a run
with 120 workers: what the workers could deliver, what one learner can take, where it stops
scaling, and what the broadcasts cost. Results: ``bench/results/ray_scaling.json``.

Usage::

    python bench/ray_scaling.py                      # rac, 1 and 2 workers, ~6 min on 2 cores
    python bench/ray_scaling.py --steps 60000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PHILLIP_WORKERS = 120


class TimedExecutor:
    """Wraps a rollout executor and times its loop, its waits in ``gather`` and its broadcasts."""

    def __init__(self, inner):
        self.inner = inner
        self.gather_s = self.broadcast_s = 0.0
        self.broadcasts = 0
        self.loop_started = self.loop_ended = 0.0

    def start(self, weights, version, distribution):
        self.inner.start(weights, version, distribution)
        self.loop_started = time.perf_counter()

    def broadcast(self, weights, version, distribution):
        t = time.perf_counter()
        self.inner.broadcast(weights, version, distribution)
        self.broadcast_s += time.perf_counter() - t
        self.broadcasts += 1

    def gather(self, count):
        t = time.perf_counter()
        results = self.inner.gather(count)
        self.gather_s += time.perf_counter() - t
        return results

    def close(self):
        self.loop_ended = self.loop_ended or time.perf_counter()
        self.inner.close()


def train_row(algo: str, workers: int, steps: int, backend: str) -> dict:
    from arena.backends import Backend
    from arena.training.plan import plan_training
    from arena.training.run import make_executor, run_training

    timed: list[TimedExecutor] = []

    def factory(plan, config):
        timed.append(TimedExecutor(make_executor(plan, config, backend=Backend(backend))))
        return timed[-1]

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ARENA_EXPERIMENTS"] = tmp
        os.environ["ARENA_HOME"] = tmp
        plan = plan_training(algo, enemies="cpu.json", steps=steps, workers=workers, eval_every=0, name="bench")
        wall0 = time.perf_counter()
        result = run_training(plan, executor_factory=factory)
        wall = time.perf_counter() - wall0
        rows = [json.loads(line) for line in (plan.folder / "metrics.jsonl").read_text().splitlines()]
    executor = timed[0]
    loop = (executor.loop_ended or time.perf_counter()) - executor.loop_started
    first, last = rows[min(2, len(rows) - 2)], rows[-1]
    steady = (last["frames"] - first["frames"]) / (last["wall_s"] - first["wall_s"])
    learner_s = max(loop - executor.gather_s, 0.0) / max(result.updates, 1)
    return {
        "backend": backend,
        "workers": workers,
        "frames": result.frames,
        "steps": result.steps,
        "updates": result.updates,
        "seconds": wall,
        "fps": result.frames / wall,
        "steady_fps": steady,
        "learner_s_per_update": learner_s,
        "steps_per_update": result.steps / max(result.updates, 1),
        "broadcast_s": executor.broadcast_s / max(executor.broadcasts, 1),
    }


def estimate(rows: list[dict], act_every: int) -> list[str]:
    """A 120-worker run from what one machine measured (stated as arithmetic, not measured)."""
    local = [r for r in rows if r["backend"] == "local"]
    ray = [r for r in rows if r["backend"] == "ray"]
    most = max(r["workers"] for r in rows)
    per_worker = max(r["steady_fps"] / r["workers"] for r in local if r["workers"] == most)
    learner = [r for r in rows if r["workers"] == most]
    capacity_steps = min(r["steps_per_update"] / r["learner_s_per_update"] for r in learner if r["learner_s_per_update"] > 0)
    capacity_frames = capacity_steps * act_every
    broadcast = max(r["broadcast_s"] for r in ray) if ray else float("nan")
    per_broadcast_worker = broadcast / most
    wanted = PHILLIP_WORKERS * per_worker
    knee = capacity_frames / per_worker
    lines = [
        f"measured: a worker delivers {per_worker:,.0f} frames/s on a core of its own ({most} workers, local);",
        f"the learner takes {capacity_steps:,.0f} agent steps/s ({capacity_frames:,.0f} frames/s at act_every {act_every}) when it never waits;",
        f"a Ray broadcast to {most} workers takes {broadcast * 1e3:.1f} ms ({per_broadcast_worker * 1e3:.2f} ms a worker).",
        f"{PHILLIP_WORKERS} workers would deliver {wanted:,.0f} frames/s: {wanted / capacity_frames:.1f}x what one learner takes,",
        f"so the run stops scaling at about {knee:.1f} workers, where the learner is busy all the time (its share: 100%),",
        "with the learner on this machine's CPU as measured here (a GPU learner takes more; not measured here);",
        "past that, the workers' extra frames only make trajectories older (more policy lag), not training faster.",
        f"Broadcasting to {PHILLIP_WORKERS} workers at {per_broadcast_worker * 1e3:.2f} ms each: "
        f"{PHILLIP_WORKERS * per_broadcast_worker * 1e3:.0f} ms an update (the object store sends the weights once; "
        "each worker's call is the per-worker cost).",
    ]
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="rac")
    parser.add_argument("--workers", type=int, action="append", default=None, help="worker counts [default: 1 and cores]")
    parser.add_argument("--steps", type=int, default=30_000, help="agent steps per training row")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for ray_scaling.json [bench/results]")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ["ARENA_INLINE_ROLLOUT"] = "0"  # one worker is a worker process too

    from arena.plugins.envs import timing
    from arena.plugins.manager import get_arena

    act_every = timing(get_arena().envs.get("pong").parse_options([])).act_every
    cores = os.cpu_count() or 1
    counts = args.workers or sorted({1, cores})
    rows = []
    for workers in counts:
        before = train_row(args.algo, workers, args.steps, "local")
        on_ray = train_row(args.algo, workers, args.steps, "ray")
        after = train_row(args.algo, workers, args.steps, "local")
        on_ray["x_local"] = on_ray["steady_fps"] / ((before["steady_fps"] + after["steady_fps"]) / 2)
        rows += [before, on_ray, after]

    print(f"\nRollouts on Ray against local processes: {args.algo}, {args.steps:,} agent steps a row, {cores} cores\n")
    header = (
        f"{'backend':<8} {'workers':>7} {'frames':>9} {'seconds':>8} {'frames/s':>9} {'steady f/s':>10} "
        f"{'x local':>7} {'learner s/upd':>13} {'broadcast ms':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r['x_local']:7.2f}" if "x_local" in r else f"{'':>7}"
        print(
            f"{r['backend']:<8} {r['workers']:>7} {r['frames']:>9,} {r['seconds']:>8.1f} {r['fps']:>9,.0f} "
            f"{r['steady_fps']:>10,.0f} {ratio} {r['learner_s_per_update']:>13.3f} {r['broadcast_s'] * 1e3:>12.2f}"
        )
    met = all(r["x_local"] >= 0.9 for r in rows if "x_local" in r)
    print(f"\ntarget (Ray at least 0.9x local processes, steady frames/s): {'met' if met else 'NOT met'}")
    lines = estimate(rows, act_every)
    print("\nA 120-worker run like phillip's, estimated from these figures:")
    for line in lines:
        print(f"  {line}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / "ray_scaling.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                "load": os.getloadavg(),
                "rows": rows,
                "target_met": met,
                "estimate": lines,
            },
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
