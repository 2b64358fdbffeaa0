"""Learner cost: what one update of each algorithm costs on a CPU core, against what one emulator
core delivers, and the throughput ceiling that puts on training with a worker on every core.

On a machine where every core runs a rollout worker, the learner's gradient steps take CPU time
the emulators would otherwise use. Per frame, the workers spend ``1 / raw`` core-seconds (``raw``:
one core's emulator frames/s) and the learner ``1 / learner`` (``learner``: the frames/s one core
of learner keeps up with), so the best steady training rate is ``raw * learner / (raw + learner)``
per core: a **ceiling** of ``learner / (raw + learner)`` of the raw env rate, before the workers'
acting and the trajectories' transfer take their share. ``train_throughput.py`` measures what
training reaches; this script says which update could reach a target at all.

In ONE run, taking turns (``--rounds`` rounds; medians):

* ``raw env``: one process stepping Pong against the cartridge's CPU with random actions (as
  ``train_throughput.py``'s raw rows), frames/s;
* each learner variant: ``Learner.update`` on a fresh batch of synthetic trajectories of Pong's
  shape (its 8 features and 3 actions, ``experience_length`` steps each, ``wants()`` of them, so
  an update's work is the real one), ms per update, on one torch thread as in training.

Variants: every built-in algorithm at its defaults, and ``rac`` with fewer sweeps or larger
minibatches (``--variant "rac sweeps=2"``, repeatable, replaces the defaults' list). The
frames/s figures use Pong's default ``act_every`` (frames per agent step).

Usage::

    python bench/learner_cost.py                 # ~1 min
    python bench/learner_cost.py --variant "rac" --variant "rac sweeps=1" --rounds 3

Results go to ``bench/results/learner_cost.json``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"  # as the learner runs when every core has a worker

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_VARIANTS = (
    "rac",
    "rac sweeps=2",
    "rac sweeps=1",
    "rac batches=1 batch_size=32",
    "ppo",
    "ac",
    "a2c",
    "dqn",
    "rdqn",
)


def parse_variant(text: str) -> tuple[str, dict[str, str]]:
    name, *pairs = text.split()
    return name, dict(pair.split("=", 1) for pair in pairs)


def make_learner(name: str, sets: dict[str, str], obs_size: int, num_actions: int, act_every: int):
    from arena.plugins.manager import get_arena
    from arena.training.params import parse_params

    spec = get_arena().algorithms.get(name)
    params = parse_params(spec.params_class(), [f"{k}={v}" for k, v in sets.items()], owner=name, plugin=name)
    return spec.learner_class()(params, obs_size, num_actions, act_every=act_every, device="cpu")


def trajectories(learner, obs_size: int, num_actions: int, rng: np.random.Generator) -> list[dict]:
    """``wants()`` trajectories of the shape workers send: random observations and actions, no game
    boundaries (a Pong game lasts thousands of steps), the behaviour policy uniform."""
    steps, state = learner.params.experience_length, learner.model.state_size

    def one() -> dict:
        return {
            "obs": rng.standard_normal((steps + 1, obs_size)).astype(np.float32),
            "prev_actions": rng.integers(0, num_actions, steps + 1),
            "starts": np.zeros(steps + 1, bool),
            "actions": rng.integers(0, num_actions, steps),
            "rewards": (rng.standard_normal(steps) * 0.01).astype(np.float32),
            "terminated": np.zeros(steps, bool),
            "truncated": np.zeros(steps, bool),
            "trunc_values": np.zeros(steps, np.float32),
            "logp": np.full(steps, -np.log(num_actions), np.float32),
            "state": np.zeros(state, np.float32),
        }

    return [one() for _ in range(learner.wants())]


def time_updates(learner, batches: list[list[dict]]) -> float:
    """Seconds per :meth:`Learner.update`, over ``batches``."""
    start = time.perf_counter()
    for batch in batches:
        learner.update(batch)
    return (time.perf_counter() - start) / len(batches)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", dest="variants", action="append", default=None, metavar='"ALGO KEY=VALUE ..."')
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=3, help="updates a variant per round")
    parser.add_argument("--raw-seconds", type=float, default=3.0, help="seconds of emulator a round")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_throughput import raw_rate  # this folder's throughput bench: the same raw env

    from arena.plugins.envs import timing
    from arena.plugins.manager import get_arena

    env_spec = get_arena().envs.get("pong")
    act_every = timing(env_spec.parse_options([])).act_every
    env = env_spec.make(env_spec.parse_options([]), 0)
    seat = env.possible_agents[0]
    obs_size, num_actions = int(env.observation_space(seat).shape[0]), int(env.action_space(seat).n)
    env.close()

    rng = np.random.default_rng(0)
    variants = {}
    for text in args.variants or DEFAULT_VARIANTS:
        name, sets = parse_variant(text)
        learner = make_learner(name, sets, obs_size, num_actions, act_every)
        batches = [trajectories(learner, obs_size, num_actions, rng) for _ in range(args.updates)]
        for batch in batches[:2]:  # warm up; dqn fills its replay past learning_starts
            learner.update(batch)
        steps = sum(len(t["actions"]) for t in batches[0])
        variants[text] = (learner, batches, steps)

    raw_fps, seconds = [], {text: [] for text in variants}
    for _ in range(args.rounds):
        raw_fps.append(raw_rate(1, act_every, args.raw_seconds)["fps"])
        for text, (learner, batches, _steps) in variants.items():
            seconds[text].append(time_updates(learner, batches))
    raw = statistics.median(raw_fps)

    rows = []
    for text, (_learner, _batches, steps) in variants.items():
        per_update = statistics.median(seconds[text])
        frames_per_s = steps * act_every / per_update
        rows.append(
            {
                "variant": text,
                "ms_per_update": per_update * 1000,
                "steps_per_update": steps,
                "learner_fps": frames_per_s,
                "x_env_core": frames_per_s / raw,
                "ceiling": frames_per_s / (raw + frames_per_s),
            }
        )
    print(f"\nLearner cost on one CPU thread; Pong features ({obs_size} numbers, {num_actions} actions), act_every {act_every}")
    print(f"raw env: {raw:,.0f} frames/s on one core (median of {args.rounds} rounds of {args.raw_seconds:g} s)\n")
    header = f"{'variant':<30} {'ms/update':>10} {'steps/update':>12} {'learner f/s':>12} {'x env core':>10} {'ceiling':>8}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['variant']:<30} {row['ms_per_update']:>10.1f} {row['steps_per_update']:>12,} {row['learner_fps']:>12,.0f}"
            f" {row['x_env_core']:>10.2f} {row['ceiling']:>8.2f}"
        )
    print(
        "\nceiling: the most of the raw env rate training can reach with a worker on every core, the learner's"
        " steps sharing the cores (acting and transfer not counted)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "learner_cost.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "args": vars(args),
                "load": os.getloadavg(),
                "torch": torch.__version__,
                "raw_fps": raw,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
