"""Matchmaking: how many games until the ratings put 20 simulated entrants in the right order.

    python bench/matchmaking.py            # 100 seeds, 1000 games each (~5 min on 2 cores)
    python bench/matchmaking.py --quick    # 20 seeds, 600 games (~20 s)

The simulation (issue 3, "Matchmaking and the scheduler")
  * 20 entrants with known true skills on an evenly spaced ladder: ``25 + (r - 9.5) * beta / 3``
    for ranks r = 0..19 (beta = 25/6, the TrueSkill default, so 12.3 .. 37.7; an entrant beats
    its neighbour below 59% of the time). Entrant ids are shuffled per seed, so an index says
    nothing about rank. With this spacing random pairing needs about 430 games, the issue's
    reference figure.
  * A game between a and b is drawn from TrueSkill's own performance model: the performance
    difference is ``skill_a - skill_b + N(0, 2 beta^2)``, a draw when it is within the model's
    draw margin (draw probability 0.10: about 10% draws between equals), else a win for the
    higher performance.
  * Ratings are online 1v1 TrueSkill (``arena.ratings.trueskill.TrueSkill().update``) from the prior
    (25, 25/3), each game rated when it finishes.
  * Workers (default 4): ``refill`` mode plays like ``arena leaderboard run``: 4 games in flight,
    the oldest finishes, is rated, and its worker gets the next game, chosen with the other 3 in
    flight. ``batch`` mode schedules 4 games at once, rates all 4, repeats.
  * After every game: Kendall tau between the rated mu and the true skills
    (``scipy.stats.kendalltau``, tau-b; computed with numpy on every game and checked against
    scipy at the budgets and the end of every run).

Schedulers, each on the same seeds (same ladders):
  * ``next_games``: arena.ratings.matchmaking (rank-weighted expected information gain), refill mode,
    and again in batch mode;
  * ``sigma-first + quality``: the issue's suggested rule, literally: the free entrant with the
    highest sigma (ties: fewest games, then rng), then its best TrueSkill-quality free opponent
    not already paired with it;
  * ``random``: ``arena.ratings.matchmaking.random_games``, uniform pairs;
  * ``quality argmax``: ``arena.ratings.matchmaking.quality_argmax_games``, the k best-quality pairs not
    in flight.

Reported per scheduler: games until tau >= 0.9 *for good* (the first game count from which tau
stays >= 0.9 up to the horizon; a run that is below 0.9 at the end counts as the horizon and is
listed as "never"), mean with standard error, median and 90th percentile over seeds, the share
of seeds there within 200 games; mean tau after 100, 200 and 400 games; the fewest games any
entrant had played after 200 games (mean over seeds; starvation shows as ~0).

A second table adds an entrant late: 19 entrants play 300 games (scheduler under test), then the
20th joins at the prior with nothing replayed. Games after it joined until tau over all 20 is
>= 0.9 for good, how many of the next 20 games it played, and how far its rank is from its true
rank 20 and 40 games after it joined.

Target (issue 3): tau >= 0.9 within 200 games with the scheduler, where random pairing needs
about 430. Prints tables and writes ``bench/results/matchmaking.json``. No timing is asserted;
the scheduler's time per call is shown for information.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import sys
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from baselines import quality_argmax_games, random_games  # noqa: E402  (bench/baselines.py)
from scipy.stats import kendalltau  # noqa: E402

from arena.ratings.matchmaking import (  # noqa: E402
    match_quality,
    next_games,
)
from arena.ratings.trueskill import TrueSkill  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "matchmaking.json"
MODEL = TrueSkill()
TARGET_TAU = 0.9
BUDGETS = (100, 200, 400)
TARGET_GAMES = 200

SCHEDULERS = {
    # name: (scheduler, mode)
    "next_games": ("next_games", "refill"),
    "next_games batches": ("next_games", "batch"),
    "sigma-first + quality": ("sigma_first", "refill"),
    "random": ("random", "refill"),
    "quality argmax": ("quality", "refill"),
}
LATE = ("next_games", "random")


# --------------------------------------------------------------------------------------------
# The simulated league


def ladder(n: int, spacing: float, rng: np.random.Generator) -> np.ndarray:
    """True skills ``mu0 + (r - (n-1)/2) * spacing``, shuffled over the entrant ids."""
    skill = MODEL.mu + spacing * (np.arange(n) - (n - 1) / 2)
    return skill[rng.permutation(n)]


def play(skill_a: float, skill_b: float, rng: np.random.Generator) -> int:
    """One game from TrueSkill's performance model: +1 a wins, 0 draw, -1 b wins."""
    diff = skill_a - skill_b + rng.normal(0.0, math.sqrt(2.0) * MODEL.beta)
    if abs(diff) < MODEL.draw_margin:
        return 0
    return 1 if diff > 0 else -1


class Tau:
    """Kendall tau-b of rated mu against fixed true skills (no ties in the truth), vectorised.

    Equal to ``scipy.stats.kendalltau(mu, skill).statistic``; 0 while every mu is equal.
    """

    def __init__(self, skill: np.ndarray) -> None:
        self.skill = skill
        self.iu = np.triu_indices(len(skill), 1)
        self.truth = np.sign(skill[:, None] - skill[None, :])[self.iu]

    def __call__(self, mu: np.ndarray) -> float:
        d = np.sign(mu[:, None] - mu[None, :])[self.iu]
        n0, n1 = len(d), int(np.count_nonzero(d == 0))
        if n1 == n0:
            return 0.0
        return float(np.dot(d, self.truth) / math.sqrt(n0 * (n0 - n1)))

    def check(self, mu: np.ndarray) -> float:
        """|ours - scipy| at this point."""
        ref = kendalltau(mu, self.skill).statistic
        ref = 0.0 if np.isnan(ref) else float(ref)
        return abs(self(mu) - ref)


def sigma_first_quality(mu, sigma, games, k, rng, in_flight):
    """The issue's suggested rule: highest-sigma free entrant (ties: fewest games, then rng),
    then its best-quality free opponent not already paired with it in flight or in this batch."""
    n = len(mu)
    q = match_quality(mu, sigma, model=MODEL)
    load = np.zeros(n, dtype=np.int64)
    used = np.zeros((n, n), dtype=bool)
    for a, b in in_flight:
        load[a] += 1
        load[b] += 1
        used[a, b] = used[b, a] = True
    tie = rng.random(n)
    out = []
    ids = np.arange(n)
    for _ in range(k):
        i = int(np.lexsort((tie, games, -sigma, load))[0])
        j = int(np.lexsort((tie, games, -q[i], load, used[i], ids == i))[0])
        out.append((i, j))
        load[i] += 1
        load[j] += 1
        used[i, j] = used[j, i] = True
    return out


def schedule(kind, mu, sigma, games, k, rng, in_flight):
    if kind == "next_games":
        return next_games(mu, sigma, games, k, rng=rng, model=MODEL, in_flight=in_flight)
    if kind == "sigma_first":
        return sigma_first_quality(mu, sigma, games, k, rng, in_flight)
    if kind == "random":
        return random_games(len(mu), k, rng=rng)
    if kind == "quality":
        return quality_argmax_games(mu, sigma, k, rng=rng, model=MODEL, in_flight=in_flight)
    raise ValueError(kind)


class League:
    """Online ratings of entrants ``0..n-1`` (of which the first ``active`` play) and a worker
    pool of ``workers`` games in flight."""

    def __init__(self, skill, kind, mode, workers, rng_games, rng_sched, active=None):
        self.skill = skill
        self.kind, self.mode, self.workers = kind, mode, workers
        self.rng_games, self.rng_sched = rng_games, rng_sched
        n = len(skill)
        self.mu = np.full(n, MODEL.mu)
        self.sigma = np.full(n, MODEL.sigma)
        self.games = np.zeros(n, dtype=np.int64)
        self.active = n if active is None else active
        self.flying: deque[tuple[int, int]] = deque()
        self.sched_s = 0.0
        self.sched_calls = 0

    def _schedule(self, k):
        m = self.active
        t = time.perf_counter()
        pairs = schedule(self.kind, self.mu[:m], self.sigma[:m], self.games[:m], k, self.rng_sched,
                         list(self.flying))  # fmt: skip
        self.sched_s += time.perf_counter() - t
        self.sched_calls += 1
        self.flying.extend(pairs)

    def add_entrant(self):
        """The next entrant joins at the prior; games in flight finish as planned."""
        self.active += 1

    def step(self) -> tuple[int, int]:
        """Finish (play and rate) the oldest game in flight and refill; returns the pair."""
        if not self.flying:
            self._schedule(self.workers)
        a, b = self.flying.popleft()
        o = play(self.skill[a], self.skill[b], self.rng_games)
        r = MODEL.update(self.mu[a], self.sigma[a], self.mu[b], self.sigma[b], o)
        self.mu[a], self.sigma[a], self.mu[b], self.sigma[b] = (float(x) for x in r)
        self.games[a] += 1
        self.games[b] += 1
        if self.mode == "refill":
            self._schedule(self.workers - len(self.flying))
        return a, b


def first_for_good(taus: np.ndarray) -> int | None:
    """The first game count from which tau >= target through the end; None if below at the end."""
    below = np.flatnonzero(taus < TARGET_TAU)
    if below.size == 0:
        return 1
    if below[-1] == len(taus) - 1:
        return None
    return int(below[-1]) + 2


def run_one(name, seed, n, spacing, workers, horizon):
    kind, mode = SCHEDULERS[name]
    rng = np.random.default_rng(seed)
    skill = ladder(n, spacing, rng)
    league = League(skill, kind, mode, workers, np.random.default_rng([seed, 1]),
                    np.random.default_rng([seed, 2]))  # fmt: skip
    tau = Tau(skill)
    taus = np.empty(horizon)
    check = 0.0
    min_games_200 = None
    for g in range(horizon):
        league.step()
        taus[g] = tau(league.mu)
        if g + 1 in BUDGETS or g + 1 == horizon:
            check = max(check, tau.check(league.mu))
        if g + 1 == TARGET_GAMES:
            min_games_200 = int(league.games.min())
    return {
        "reach": first_for_good(taus),
        "taus": taus,
        "min_games_200": min_games_200,
        "scipy_check": check,
        "sched_ms": 1e3 * league.sched_s / max(league.sched_calls, 1),
    }


def run_late(name, seed, n, spacing, workers, warmup, after):
    """19 entrants play ``warmup`` games, then the last one joins; ``after`` more games."""
    kind, _ = SCHEDULERS[name]
    rng = np.random.default_rng(seed)
    skill = ladder(n, spacing, rng)
    league = League(skill, kind, "refill", workers, np.random.default_rng([seed, 3]),
                    np.random.default_rng([seed, 4]), active=n - 1)  # fmt: skip
    for _ in range(warmup):
        league.step()
    league.add_entrant()
    new = n - 1
    true_rank = int(np.argsort(np.argsort(-skill))[new])
    tau = Tau(skill)
    tau_at_join = tau(league.mu)
    taus = np.empty(after)
    its_games = 0
    rank_error = {}
    for g in range(after):
        a, b = league.step()
        its_games += new in (a, b) and g < 20
        taus[g] = tau(league.mu)
        if g + 1 in (20, 40):
            rank = int(np.argsort(np.argsort(-league.mu))[new])
            rank_error[g + 1] = abs(rank - true_rank)
    return {
        "reach": first_for_good(taus),
        "tau_at_join": tau_at_join,
        "new_games_of_next_20": int(its_games),
        "rank_error_20": rank_error[20],
        "rank_error_40": rank_error[40],
    }


def _call(args):
    fn, a = args
    return fn(*a)


# --------------------------------------------------------------------------------------------
# Report


def summarize(name, runs, horizon):
    reach = [r["reach"] for r in runs]
    never = sum(r is None for r in reach)
    counted = np.array([horizon if r is None else r for r in reach], dtype=float)
    stderr = counted.std(ddof=1) / math.sqrt(len(counted)) if len(counted) > 1 else 0.0
    taus = np.stack([r["taus"] for r in runs])
    return {
        "scheduler": name,
        "mode": SCHEDULERS[name][1],
        "seeds": len(runs),
        "games_to_tau": {
            "mean": float(counted.mean()),
            "stderr": float(stderr),
            "median": float(np.median(counted)),
            "p90": float(np.percentile(counted, 90)),
            "within_200": float(np.mean(counted <= TARGET_GAMES)),
            "never": never,
            "note": "runs that never got there count as the horizon (a lower bound)",
            "per_seed": reach,
        },
        "mean_tau_for_good_from": first_for_good(taus.mean(axis=0)),
        "tau_at": {str(b): float(taus[:, b - 1].mean()) for b in BUDGETS if b <= horizon},
        "tau_curve_every_10": taus[:, 9::10].mean(axis=0).round(4).tolist(),
        "min_games_any_entrant_after_200": float(np.mean([r["min_games_200"] for r in runs])),
        "min_games_any_entrant_after_200_worst_seed": int(min(r["min_games_200"] for r in runs)),
        "scheduler_ms_per_call": float(np.mean([r["sched_ms"] for r in runs])),
        "max_abs_diff_vs_scipy_kendalltau": float(max(r["scipy_check"] for r in runs)),
    }


def print_table(rows, horizon, workers):
    header = (
        f"{'scheduler':<22} {'mode':<7} {'games to tau>=0.9 for good':>27} {'median':>7} "
        f"{'p90':>6} {'<=200':>6} {'never':>6} {'mean tau':>9} {'tau@100':>8} {'tau@200':>8} "
        f"{'tau@400':>8} {'min games@200':>14} {'ms/call':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        g = r["games_to_tau"]
        mean = f"{g['mean']:.0f} +- {g['stderr']:.0f}" + (" (>=)" if g["never"] else "")
        taus = [f"{r['tau_at'].get(str(b), float('nan')):>8.3f}" for b in BUDGETS]
        curve = r["mean_tau_for_good_from"]
        print(
            f"{r['scheduler']:<22} {r['mode']:<7} {mean:>27} {g['median']:>7.0f} {g['p90']:>6.0f} "
            f"{g['within_200']:>6.0%} {g['never']:>6d} {'never' if curve is None else curve:>9} "
            f"{' '.join(taus)} "
            f"{r['min_games_any_entrant_after_200']:>14.1f} {r['scheduler_ms_per_call']:>8.2f}"
        )
    print(
        f"\n{workers} workers; horizon {horizon} games. 'games to tau>=0.9 for good': per seed, "
        f"the first game count from which tau stays >= {TARGET_TAU} to the horizon; mean +- "
        f"standard error, '>=' where runs that never got there count as {horizon}. '<=200': "
        f"share of seeds there within 200 games. 'mean tau': the game count from which the "
        f"seed-averaged tau stays >= {TARGET_TAU}. 'min games@200': the fewest games any entrant "
        f"had after 200 (mean over seeds)."
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 seeds, 600 games (~20 s)")
    ap.add_argument("--seeds", type=int, help="seeds per scheduler [100; quick 20]")
    ap.add_argument("--games", type=int, help="horizon in games per run [1000; quick 600]")
    ap.add_argument("--entrants", type=int, default=20)
    ap.add_argument("--spacing", type=float, default=MODEL.beta / 3, help="ladder step [beta/3]")
    ap.add_argument("--workers", type=int, default=4, help="games in flight [4]")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes [all cores]")
    ap.add_argument("--only", help="comma-separated schedulers to run [all], e.g. next_games,random")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON results file")
    args = ap.parse_args(argv)
    names = list(SCHEDULERS) if not args.only else [x.strip() for x in args.only.split(",")]
    if unknown := [x for x in names if x not in SCHEDULERS]:
        ap.error(f"unknown scheduler(s) {unknown}; choose from {list(SCHEDULERS)}")
    seeds = args.seeds or (20 if args.quick else 100)
    horizon = args.games or (600 if args.quick else 1000)
    n, spacing, workers = args.entrants, args.spacing, args.workers
    t0 = time.perf_counter()

    jobs = [(run_one, (name, s, n, spacing, workers, horizon)) for name in names
            for s in range(seeds)]  # fmt: skip
    late_after = 200
    late = [name for name in LATE if name in names]
    late_jobs = [(run_late, (name, s, n, spacing, workers, 300, late_after)) for name in late
                 for s in range(seeds)]  # fmt: skip
    if args.jobs > 1:
        with mp.get_context("spawn").Pool(args.jobs) as pool:
            results = pool.map(_call, jobs + late_jobs, chunksize=1)
    else:
        results = [_call(j) for j in jobs + late_jobs]
    runs, late_runs = results[: len(jobs)], results[len(jobs) :]

    rows = [summarize(name, runs[i * seeds : (i + 1) * seeds], horizon)
            for i, name in enumerate(names)]  # fmt: skip
    worst_check = max(r["max_abs_diff_vs_scipy_kendalltau"] for r in rows)
    assert worst_check < 1e-9, f"numpy tau differs from scipy.stats.kendalltau by {worst_check}"

    print(
        f"{n} entrants, ladder step {spacing:.3f} (beta/{MODEL.beta / spacing:.2f}), "
        f"{seeds} seeds, draws inside the draw margin (p=0.10), online TrueSkill\n"
    )
    print_table(rows, horizon, workers)

    met = None
    if "next_games" in names:
        ours_row = rows[names.index("next_games")]
        ours = ours_row["games_to_tau"]
        met = ours["mean"] <= TARGET_GAMES and ours["never"] == 0
        line = (
            f"\ntarget: tau >= {TARGET_TAU} for good within {TARGET_GAMES} games (mean over "
            f"seeds). next_games: {ours['mean']:.0f} +- {ours['stderr']:.0f} -> "
            f"{'MET' if met else 'NOT MET'} (median {ours['median']:.0f}; seed-averaged tau >= "
            f"{TARGET_TAU} from game {ours_row['mean_tau_for_good_from']})"
        )
        if "random" in names:
            rand = rows[names.index("random")]["games_to_tau"]
            line += f"; random pairing {rand['mean']:.0f} (issue: about 430), {rand['mean'] / ours['mean']:.2f}x as many games"
        print(line)

    late_rows = []
    for i, name in enumerate(late):
        chunk = late_runs[i * seeds : (i + 1) * seeds]
        reach = [r["reach"] for r in chunk]
        counted = np.array([late_after if r is None else r for r in reach], dtype=float)
        late_rows.append({
            "scheduler": name,
            "games_to_tau_after_join": {
                "mean": float(counted.mean()),
                "median": float(np.median(counted)),
                "never": sum(r is None for r in reach),
                "per_seed": reach,
            },
            "new_entrant_games_of_next_20": float(
                np.mean([r["new_games_of_next_20"] for r in chunk])
            ),
            "rank_error_after_20": float(np.mean([r["rank_error_20"] for r in chunk])),
            "rank_error_after_40": float(np.mean([r["rank_error_40"] for r in chunk])),
            "tau_at_join": float(np.mean([r["tau_at_join"] for r in chunk])),
        })  # fmt: skip
    if late_rows:
        print(
            f"\nLate entrant: {n - 1} entrants play 300 games, then entrant {n} joins at the prior "
            f"(nothing replayed); {late_after} more games"
        )
        header = (
            f"{'scheduler':<12} {'games until tau>=0.9 for good':>30} {'median':>7} {'never':>6} "
            f"{'its games of next 20':>21} {'|rank error| @20':>17} {'@40':>6}"
        )
        print(header)
        print("-" * len(header))
        for r in late_rows:
            g = r["games_to_tau_after_join"]
            mean = f"{g['mean']:.0f}" + (" (>=)" if g["never"] else "")
            print(
                f"{r['scheduler']:<12} {mean:>30} {g['median']:>7.0f} {g['never']:>6d} "
                f"{r['new_entrant_games_of_next_20']:>21.1f} {r['rank_error_after_20']:>17.2f} "
                f"{r['rank_error_after_40']:>6.2f}"
            )
    wall = time.perf_counter() - t0
    print(f"\n{wall:.0f} s")

    result = {
        "quick": args.quick,
        "config": {
            "entrants": n,
            "ladder_spacing": spacing,
            "skills": f"{MODEL.mu} + (r - {(n - 1) / 2}) * {spacing:.6f}, shuffled",
            "outcomes": ("perf diff = skill_a - skill_b + N(0, 2 beta^2); draw inside the draw margin"),
            "model": repr(MODEL),
            "workers": workers,
            "seeds": seeds,
            "horizon": horizon,
            "target_tau": TARGET_TAU,
            "target_games": TARGET_GAMES,
        },
        "schedulers": rows,
        "target_met": met,
        "late_entrant": {"warmup_games": 300, "after_games": late_after, "rows": late_rows},
        "wall_s": wall,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
