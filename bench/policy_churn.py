"""Policy churn: how far an experiment's policy moves between snapshots, read off one game.

A 10-game evaluation of one snapshot scatters by ~8 points a game, so it cannot tell a policy
that drifts from one that learns. This measures the drift directly, with no game outcome in it:

1. The experiment's last snapshot (the reference) plays one game against the game's own CPU,
   sampling its policy as ``arena match`` does; every observation and action is recorded.
2. Each earlier snapshot, ``--back`` frames before the last (the nearest one saved), is run along
   the same game: the same observations, the reference's own previous actions and game starts,
   its own recurrent state. So every snapshot is asked about the same situations.
3. Per snapshot: the mean KL(reference || snapshot) over the game's steps, how often the two
   policies' most likely actions differ, and the snapshot's mean entropy.

Small numbers far back mean a policy that settled; a KL that rises and falls again with distance
is a policy that wanders and returns. Measured on Pong (bench/README.md, fifth round): `rac` at
1,024-step updates moved 0.53 nats in 200k frames where `ppo` moved 0.055.

Usage::

    python bench/policy_churn.py experiments/NAME [experiments/OTHER ...]
    python bench/policy_churn.py experiments/NAME --back 20000,100000 --points 5 --seed 20000

Results go to ``bench/results/policy_churn.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_BACK = (20_000, 40_000, 100_000, 200_000, 400_000)


def reference_game(arena, snapshot, seed: int, points: int | None) -> list[tuple[np.ndarray, int, bool]]:
    """``(observation, action, first step of a game)`` for each step of one game of the snapshot
    against the CPU, sampled as in a match (no exploration floor)."""
    from arena.training.learner import Actor
    from arena.training.rollout import SeatEnv
    from arena.training.trained import build_model

    meta = snapshot.meta
    spec = arena.envs.get(meta["env"])
    overrides = dict(meta["env_options"], **({"points": points} if points else {}))
    env = SeatEnv(arena, meta["env"], spec.parse_options(**overrides), seed)  # its pool: the CPU alone
    model, _ = build_model(snapshot, arena)
    actor = Actor(model, meta["num_actions"], epsilon=0.0, seed=seed)
    steps, obs, done = [], env.reset(), False
    try:
        while not done:
            action, _ = actor.step(obs)
            steps.append((np.asarray(obs, np.float32).reshape(-1), action, not steps))
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    finally:
        env.close()
    return steps


def policy_along(arena, snapshot, steps) -> np.ndarray:
    """The snapshot's action probabilities at each recorded step, fed the recorded history."""
    from arena.training.learner import Actor
    from arena.training.trained import build_model

    model, _ = build_model(snapshot, arena)
    actor = Actor(model, snapshot.meta["num_actions"])
    out = []
    for obs, action, first in steps:
        if first:
            actor.reset()
        logits, _, state = actor._forward(obs)
        z = np.exp(logits - logits.max())
        out.append(z / z.sum())
        # advance as if it had played the reference's action
        actor.state, actor.prev_action, actor.start = state, action, False
    return np.asarray(out, np.float64)


def churn(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Mean KL(reference || other), argmax disagreement and other's entropy, over the steps."""
    tiny = 1e-12
    kl = (reference * (np.log(reference + tiny) - np.log(other + tiny))).sum(1).mean()
    return {
        "kl": float(kl),
        "argmax_differs": float((reference.argmax(1) != other.argmax(1)).mean()),
        "entropy": float(-(other * np.log(other + tiny)).sum(1).mean()),
    }


def nearest_snapshots(folder: Path, back: list[int]) -> tuple[object, list[tuple[int, object]]]:
    """The last snapshot, and for each distance the saved snapshot nearest that many frames earlier."""
    from arena.errors import ArenaError
    from arena.training.snapshot import list_snapshots, load_snapshot

    paths = list_snapshots(folder)
    if not paths:
        raise ArenaError(f"no snapshots in {folder}: train the experiment first")
    snaps = [load_snapshot(p) for p in paths]
    frames = [int(s.meta.get("counters", {}).get("frames", 0)) for s in snaps]
    last = snaps[-1]
    picked = []
    for distance in back:
        index = min(range(len(snaps)), key=lambda i: abs(frames[i] - (frames[-1] - distance)))
        picked.append((frames[-1] - frames[index], snaps[index]))
    return last, picked


def measure(folder: Path, back: list[int], seed: int, points: int | None, arena=None) -> dict:
    from arena.plugins.manager import get_arena

    arena = arena or get_arena()
    last, picked = nearest_snapshots(folder, back)
    steps = reference_game(arena, last, seed, points)
    reference = policy_along(arena, last, steps)
    rows = [
        dict(frames_back=distance, snapshot=str(snap.path), **churn(reference, policy_along(arena, snap, steps)))
        for distance, snap in picked
    ]
    return {
        "experiment": str(folder),
        "reference": str(last.path),
        "steps": len(steps),
        "reference_entropy": churn(reference, reference)["entropy"],
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", type=Path, help="experiment folders (their snapshots/ are read)")
    parser.add_argument(
        "--back", default=",".join(map(str, DEFAULT_BACK)), help="frames before the last snapshot, comma-separated"
    )
    parser.add_argument("--seed", type=int, default=20000, help="seed of the reference game (the evaluation's are 10000-10009)")
    parser.add_argument(
        "--points", type=int, default=None, help="end the reference game at this many points (default: the experiment's)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "policy_churn.json")
    args = parser.parse_args(argv)
    from arena.errors import ArenaError

    try:
        back = [int(part) for part in args.back.split(",")]
    except ValueError:
        parser.error(f"--back takes comma-separated frame counts like 20000,100000, got '{args.back}'")
    results = []
    for folder in args.experiments:
        try:
            result = measure(folder, back, args.seed, args.points)
        except ArenaError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        results.append(result)
        print(
            f"\n{folder}: reference {Path(result['reference']).name}, one game of {result['steps']:,} steps, entropy {result['reference_entropy']:.3f}"
        )
        print(f"  {'frames back':>11}  {'KL(last||then)':>14}  {'argmax differs':>14}  {'entropy then':>12}")
        for row in result["rows"]:
            print(f"  {row['frames_back']:>11,}  {row['kl']:>14.4f}  {row['argmax_differs']:>13.1%}  {row['entropy']:>12.3f}")
    out = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "seed": args.seed, "points": args.points, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return out


if __name__ == "__main__":
    main()
