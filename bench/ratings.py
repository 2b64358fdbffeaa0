"""Rating speed, side by side with the ``trueskill`` package, in one run.

    python bench/ratings.py            # full sizes
    python bench/ratings.py --quick    # smaller samples, same table

Measures
  1. exact 1v1 updates per second: ``update_1v1`` on one big batch, the single-game path
     (``TrueSkill.rate``), and ``trueskill.rate_1vs1`` (its default backend);
  2. recomputing 100k games among 200 entrants: ``TrueSkill.recompute`` on all of them, and
     trueskill game by game on the first few thousand, extrapolated linearly to 100k;
  3. all-pairs win probabilities for 200 entrants: ``win_probability_matrix`` against a plain
     Python double loop (trueskill has no win probability to compare with).

Prints a table and writes ``bench/results/ratings.json``. Targets (issue 3, "Speed"): at least
500k updates per second, recompute in at most 1 s, the matrix in a few milliseconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import trueskill  # noqa: E402

from arena.ratings.trueskill import (  # noqa: E402
    DRAW,
    LOSS,
    WIN,
    Rating,
    TrueSkill,
    update_1v1,
    win_probability_matrix,
)
from arena.ratings.trueskill import waves as rating_waves  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ratings.json"


def best_of(fn, repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds (the machine is shared: the minimum is the
    least disturbed)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def random_batch(rng, n: int):
    mu = rng.uniform(0.0, 50.0, (2, n))
    sigma = rng.uniform(0.5, 8.5, (2, n))
    outcome = rng.choice([WIN, DRAW, LOSS], n, p=[0.45, 0.10, 0.45])
    return mu[0], sigma[0], mu[1], sigma[1], outcome


def ts_rate(env, ra, rb, outcome):
    if outcome == LOSS:
        rb, ra = trueskill.rate_1vs1(rb, ra, env=env)
    else:
        ra, rb = trueskill.rate_1vs1(ra, rb, drawn=outcome == DRAW, env=env)
    return ra, rb


def league_log(rng, n_players: int, n_games: int) -> np.ndarray:
    """Random pairings among entrants of spread-out skill; 10% draws."""
    skill = rng.normal(0.0, 1.0, n_players)
    a = rng.integers(0, n_players, n_games)
    b = (a + rng.integers(1, n_players, n_games)) % n_players
    p = 1.0 / (1.0 + np.exp(-2.0 * (skill[a] - skill[b])))
    u = rng.random(n_games)
    o = np.where(u < 0.1, DRAW, np.where(u < 0.1 + 0.9 * p, WIN, LOSS))
    return np.stack([a, b, o], axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller samples (about 10 s)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = ap.parse_args(argv)
    q = args.quick
    rng = np.random.default_rng(0)
    model = TrueSkill()
    env = trueskill.TrueSkill()  # the package's defaults, default backend
    rows = []

    # 1. updates per second -------------------------------------------------------------------
    n_batch = 200_000 if q else 1_000_000
    batch = random_batch(rng, n_batch)
    t_batch = best_of(lambda: update_1v1(*batch), 3 if q else 5)
    ours_batch = n_batch / t_batch

    n_single = 3_000 if q else 20_000
    pairs = random_batch(rng, n_single)
    singles = [(Rating(pairs[0][i], pairs[1][i]), Rating(pairs[2][i], pairs[3][i]), int(pairs[4][i])) for i in range(n_single)]

    def run_single():
        for a, b, o in singles:
            model.rate(a, b, o)

    ours_single = n_single / best_of(run_single, 2)

    n_ts = 1_000 if q else 5_000
    ts_pairs = [(env.create_rating(a.mu, a.sigma), env.create_rating(b.mu, b.sigma), o) for a, b, o in singles[:n_ts]]

    def run_ts():
        for ra, rb, o in ts_pairs:
            ts_rate(env, ra, rb, o)

    theirs_single = n_ts / best_of(run_ts, 2)
    # (measure, ours, baseline, target, met, note)
    rows.append(
        (
            "updates/s, one vectorised batch",
            ours_batch,
            theirs_single,
            ">= 500k/s",
            ours_batch >= 500_000,
            f"update_1v1 on {n_batch:,} games in one call",
        )
    )
    rows.append(
        (
            "updates/s, single-game path",
            ours_single,
            theirs_single,
            "",
            None,
            "TrueSkill.rate, one game per call (numpy on length-1 arrays)",
        )
    )

    # 2. recompute 100k games among 200 entrants ----------------------------------------------
    n_players, n_games = 200, 100_000
    log = league_log(rng, n_players, n_games)
    levels = rating_waves(n_players, log[:, 0], log[:, 1])
    t_waves = best_of(lambda: rating_waves(n_players, log[:, 0], log[:, 1]), 3)
    t_recompute = best_of(lambda: model.recompute(n_players, log), 3 if q else 5)

    n_sub = 2_000 if q else 10_000
    sub = log[:n_sub].tolist()

    def ts_recompute():
        ratings = [env.create_rating() for _ in range(n_players)]
        for a, b, o in sub:
            ratings[a], ratings[b] = ts_rate(env, ratings[a], ratings[b], o)
        return ratings

    t = time.perf_counter()
    ts_sub = ts_recompute()
    t_ts_sub = time.perf_counter() - t
    t_ts_full = t_ts_sub * n_games / n_sub
    ours_sub = model.recompute(n_players, log[:n_sub])
    agree = max(max(abs(ours_sub.mu[i] - r.mu), abs(ours_sub.sigma[i] - r.sigma)) for i, r in enumerate(ts_sub))
    rows.append(
        (
            "recompute 100k games, 200 entrants (s)",
            t_recompute,
            t_ts_full,
            "<= 1 s",
            t_recompute <= 1.0,
            f"{int(levels.max())} waves ({t_waves * 1e3:.0f} ms to build them); trueskill timed "
            f"on the first {n_sub:,} games ({t_ts_sub:.2f} s) and EXTRAPOLATED "
            f"x{n_games // n_sub}; "
            f"max |ours - trueskill| on those games {agree:.1e} (its default backend's erfc)",
        )
    )

    # 3. all-pairs win probabilities for 200 entrants -----------------------------------------
    mu = rng.uniform(0.0, 50.0, n_players)
    sigma = rng.uniform(0.5, 8.5, n_players)
    t_matrix = best_of(lambda: win_probability_matrix(mu, sigma, model.beta), 50)
    mu_l, s2_l, two_b2 = mu.tolist(), (sigma**2).tolist(), 2 * model.beta**2

    def python_loops():
        return [
            [0.5 * math.erfc(-(mu_l[i] - mu_l[j]) / math.sqrt(2 * (two_b2 + s2_l[i] + s2_l[j]))) for j in range(n_players)]
            for i in range(n_players)
        ]

    t_loops = best_of(python_loops, 3)
    assert np.allclose(win_probability_matrix(mu, sigma, model.beta), python_loops(), atol=1e-12)
    rows.append(
        (
            "win-probability matrix, 200 entrants (ms)",
            t_matrix * 1e3,
            t_loops * 1e3,
            "a few ms",
            t_matrix <= 0.005,
            "trueskill has no win probability: the baseline is a Python double loop (math.erfc)",
        )
    )

    # report ----------------------------------------------------------------------------------
    def fmt(name, x):
        if name.startswith("updates"):
            return f"{x:,.0f}"
        return f"{x:.3f}" if x < 10 else f"{x:.1f}"

    header = f"{'measure':<42} {'arena.ratings.trueskill':>13} {'baseline':>13} {'speed-up':>9} {'target':>10} {'met':>4}"
    print(header)
    print("-" * len(header))
    for name, ours, theirs, target, met, _ in rows:
        ratio = ours / theirs if name.startswith("updates") else theirs / ours
        print(
            f"{name:<42} {fmt(name, ours):>13} {fmt(name, theirs):>13} {ratio:>8.0f}x {target:>10} "
            f"{'' if met is None else ('yes' if met else 'NO'):>4}"
        )
    print()
    print("baseline: trueskill.rate_1vs1 (default backend) except for the matrix row")
    for name, *_, note in rows:
        print(f"  {name}: {note}")

    result = {
        "quick": q,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "trueskill": trueskill.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "updates_per_s": {
            "batch": ours_batch,
            "batch_size": n_batch,
            "single_game": ours_single,
            "trueskill_rate_1vs1": theirs_single,
            "batch_vs_trueskill": ours_batch / theirs_single,
            "single_vs_trueskill": ours_single / theirs_single,
            "target": 500_000,
        },
        "recompute": {
            "players": n_players,
            "games": n_games,
            "waves": int(levels.max()),
            "waves_build_s": t_waves,
            "seconds": t_recompute,
            "trueskill_subset_games": n_sub,
            "trueskill_subset_s": t_ts_sub,
            "trueskill_extrapolated_s": t_ts_full,
            "trueskill_extrapolated": True,
            "speedup": t_ts_full / t_recompute,
            "max_abs_diff_vs_trueskill_on_subset": agree,
            "target_s": 1.0,
        },
        "win_probability_matrix": {
            "players": n_players,
            "ms": t_matrix * 1e3,
            "python_loops_ms": t_loops * 1e3,
            "speedup": t_loops / t_matrix,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
