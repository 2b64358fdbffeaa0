"""Acting speed: one rollout-worker step (``Actor.step``, batch 1) from features vs from pixels,
through the numpy acting path vs the torch forward, for each built-in algorithm's network.

A rollout worker spends its time in the emulator and in choosing actions one at a time. For
each algorithm (its default parameters) and each observation:

- **features**: Pong's 8 numbers (``obs_size=8``): the MLP (and GRU for rac/rdqn).
- **pixels**: ``-o obs=pixels``, 84x84x4 uint8 (``obs_size=(84, 84, 4)``): Nature DQN's encoder,
  then the same heads.

each path is timed: **numpy** (``Model.numpy_step``, what workers use) and **torch** (the same
model's ``forward`` on ``[1, 1, ...]`` tensors, with ``numpy_step`` switched off). As in the
workers, one thread everywhere (``torch.set_num_threads(1)`` and ``OMP/MKL/OPENBLAS_NUM_THREADS=1``,
set before numpy loads). Observations are random (a pool of 64, cycled); the policy's sampling is
included, as it is in ``Actor.step``.

Every variant runs ``--steps`` steps per round, all variants taking turns, for ``--rounds``
rounds; the table shows medians of microseconds per step, and ratios within an algorithm:
``x features numpy`` (the cost of pixels over the features path workers used so far) and
``numpy speedup`` (torch's time over numpy's on the same observation).

One more row times the env side of pixels without an emulator: ``SeatScreens.push`` of a random
210x160 RGB screen for two seats (grayscale 84x84 by area averaging, mirror, 4-frame stack).

Usage::

    python bench/acting_speed.py            # ~20 s; --quick: ~6 s
    python bench/acting_speed.py --steps 300 --rounds 7

Results go to ``bench/results/acting_speed.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # as rollout workers run: before numpy and torch load

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALGORITHMS = ("ac", "rac", "dqn", "rdqn", "a2c", "ppo")
OBSERVATIONS = {"features": 8, "pixels": (84, 84, 4)}
NUM_ACTIONS = 3  # Pong's


def make_actor(name: str, obs_size, numpy_path: bool):
    from arena.plugins.manager import get_arena
    from arena.training.learner import Actor

    spec = get_arena().algorithms.get(name)
    model = spec.learner_class().make_model(spec.params_class()(), obs_size, NUM_ACTIONS)
    actor = Actor(model, NUM_ACTIONS, epsilon=0.01, seed=0)
    if not numpy_path:
        actor._numpy = None  # the torch forward, as for a model without numpy_step
    return actor


def observations(obs_size, count: int = 64) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if isinstance(obs_size, int):
        return list(rng.normal(size=(count, obs_size)).astype(np.float32))
    return list(rng.integers(0, 256, (count, *obs_size), dtype=np.uint8))


def time_steps(step, inputs: list, steps: int) -> float:
    """Microseconds per call of ``step`` over ``steps`` calls, cycling through ``inputs``."""
    count = len(inputs)
    start = time.perf_counter()
    for i in range(steps):
        step(inputs[i % count])
    return (time.perf_counter() - start) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per variant per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="100 steps, 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds = 100, 3

    import torch

    torch.set_num_threads(1)
    from arena.screens import SeatScreens

    variants = {}
    for name in ALGORITHMS:
        for obs_name, obs_size in OBSERVATIONS.items():
            inputs = observations(obs_size)
            for path in ("numpy", "torch"):
                actor = make_actor(name, obs_size, path == "numpy")
                variants[name, obs_name, path] = (lambda obs, actor=actor: actor.step(obs), inputs)
    screens = SeatScreens({"left": (1,), "right": ()})
    rng = np.random.default_rng(1)
    raw = list(rng.integers(0, 256, (8, 210, 160, 3), dtype=np.uint8))
    screens.reset(raw[0])
    variants["(env side)", "pixels", "SeatScreens.push"] = (screens.push, raw)

    for step, inputs in variants.values():  # warm up: first calls allocate
        time_steps(step, inputs, 10)
    samples: dict[tuple, list[float]] = {key: [] for key in variants}
    for _ in range(args.rounds):
        for key, (step, inputs) in variants.items():
            samples[key].append(time_steps(step, inputs, args.steps))
    us = {key: statistics.median(values) for key, values in samples.items()}

    rows = []
    for (name, obs_name, path), value in us.items():
        base = us.get((name, "features", "numpy"))
        torch_us = us.get((name, obs_name, "torch"))
        rows.append(
            {
                "algorithm": name,
                "obs": obs_name,
                "path": path,
                "us_per_step": round(value, 1),
                "steps_per_s": round(1e6 / value),
                "x_features_numpy": round(value / base, 2) if base else None,
                "numpy_speedup": round(torch_us / value, 2) if path == "numpy" else None,
                "range_us": [round(min(samples[name, obs_name, path]), 1), round(max(samples[name, obs_name, path]), 1)],
            }
        )

    header = ("algorithm", "obs", "path", "us/step", "steps/s", "x features numpy", "numpy speedup", "(min-max us)")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row["algorithm"],
                row["obs"],
                row["path"],
                f"{row['us_per_step']:,.1f}",
                f"{row['steps_per_s']:,}",
                "-" if row["x_features_numpy"] is None else f"{row['x_features_numpy']:.2f}",
                "-" if row["numpy_speedup"] is None else f"{row['numpy_speedup']:.2f}",
                f"{row['range_us'][0]:,.0f}-{row['range_us'][1]:,.0f}",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for index, line in enumerate(lines):
        cells = [cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))]
        print("| " + " | ".join(cells) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) if i < 3 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|")

    RESULTS.mkdir(exist_ok=True)
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "load": os.getloadavg()},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__},
        "steps": args.steps,
        "rounds": args.rounds,
        "rows": rows,
    }
    (RESULTS / "acting_speed.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS / 'acting_speed.json'}")


if __name__ == "__main__":
    main()
