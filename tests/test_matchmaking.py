"""Matchmaking: which games a leaderboard plays next (arena.ratings.matchmaking).

Everything is seeded, so every test is deterministic. The simulations play games drawn from
TrueSkill's own performance model among entrants of known skill (see bench/matchmaking.py for
the full-size version).
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from arena.ratings.matchmaking import (
    converged,
    expected_entropy_drop,
    information_gain,
    match_quality,
    misrank_expectation,
    next_games,
)
from arena.ratings.trueskill import Rating, TrueSkill

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from baselines import quality_argmax_games, random_games

MODEL = TrueSkill()
PRIOR_MU, PRIOR_SIGMA = MODEL.mu, MODEL.sigma


# ---------------------------------------------------------------------------------------------
# A small simulated league


def ladder(n: int, rng: np.random.Generator, spacing: float = MODEL.beta / 3) -> np.ndarray:
    """True skills evenly spaced around the prior mean, shuffled over the entrant ids."""
    skill = PRIOR_MU + spacing * (np.arange(n) - (n - 1) / 2)
    return skill[rng.permutation(n)]


def play(skill_a: float, skill_b: float, rng: np.random.Generator) -> int:
    """TrueSkill's performance model: a draw inside the draw margin."""
    diff = skill_a - skill_b + rng.normal(0.0, math.sqrt(2.0) * MODEL.beta)
    if abs(diff) < MODEL.draw_margin:
        return 0
    return 1 if diff > 0 else -1


class League:
    """Online ratings; games are scheduled ``k`` at a time, then played and rated in order."""

    def __init__(self, skill, *, seed: int, pinned=None, k: int = 4):
        n = len(skill)
        self.skill = np.asarray(skill, dtype=float)
        self.mu = np.full(n, PRIOR_MU)
        self.sigma = np.full(n, PRIOR_SIGMA)
        self.games = np.zeros(n, dtype=int)
        self.pinned = np.zeros(n, dtype=bool) if pinned is None else np.asarray(pinned)
        self.k = k
        self.rng_games = np.random.default_rng([seed, 1])
        self.rng_sched = np.random.default_rng([seed, 2])
        self.log: list[tuple[int, int]] = []

    def add(self, skill: float) -> int:
        """A new entrant at the prior; nothing is replayed."""
        self.skill = np.append(self.skill, skill)
        self.mu = np.append(self.mu, PRIOR_MU)
        self.sigma = np.append(self.sigma, PRIOR_SIGMA)
        self.games = np.append(self.games, 0)
        self.pinned = np.append(self.pinned, False)
        return len(self.skill) - 1

    def schedule(self, strategy: str) -> list[tuple[int, int]]:
        if strategy == "ours":
            return next_games(self.mu, self.sigma, self.games, self.k, rng=self.rng_sched,
                              pinned=self.pinned)  # fmt: skip
        if strategy == "random":
            return random_games(len(self.mu), self.k, rng=self.rng_sched, pinned=self.pinned)
        if strategy == "quality":
            return quality_argmax_games(self.mu, self.sigma, self.k, rng=self.rng_sched,
                                        pinned=self.pinned)  # fmt: skip
        raise ValueError(strategy)

    def play(self, n_games: int, strategy: str = "ours") -> None:
        target = len(self.log) + n_games
        while len(self.log) < target:
            for a, b in self.schedule(strategy)[: target - len(self.log)]:
                o = play(self.skill[a], self.skill[b], self.rng_games)
                ra, rb = Rating(self.mu[a], self.sigma[a]), Rating(self.mu[b], self.sigma[b])
                ra, rb = MODEL.rate(ra, rb, o, pin_a=self.pinned[a], pin_b=self.pinned[b])
                self.mu[a], self.sigma[a] = ra.mu, ra.sigma
                self.mu[b], self.sigma[b] = rb.mu, rb.sigma
                self.games[a] += 1
                self.games[b] += 1
                self.log.append((a, b))

    def kendall_tau(self) -> float:
        """Kendall tau-b of mu against the true skills (scipy.stats.kendalltau's number, without
        the seconds it takes to import scipy.stats)."""
        iu = np.triu_indices(len(self.mu), 1)
        d = np.sign(self.mu[:, None] - self.mu[None, :])[iu]
        truth = np.sign(self.skill[:, None] - self.skill[None, :])[iu]
        n0, n1 = len(d), np.count_nonzero(d == 0)
        return 0.0 if n1 == n0 else float(np.dot(d, truth) / math.sqrt(n0 * (n0 - n1)))


def settled(n: int, seed: int, sigma=(1.5, 3.0)):
    """Ratings of a league that has played a while: mu on a ladder, moderate sigmas."""
    rng = np.random.default_rng(seed)
    mu = ladder(n, rng) + rng.normal(0.0, 0.5, n)
    s = rng.uniform(*sigma, n)
    games = rng.integers(15, 40, n)
    return mu, s, games


# ---------------------------------------------------------------------------------------------
# Who goes first


@pytest.mark.parametrize("seed", range(8))
def test_the_highest_sigma_entrant_is_picked_first(seed):
    mu, sigma, games = settled(12, seed)
    rng = np.random.default_rng(seed)
    who = int(rng.integers(12))  # anywhere on the ladder, the top and bottom included
    sigma[who] = 2.0 * sigma.max()
    first = next_games(mu, sigma, games, 4, rng=seed)[0]
    assert first[0] == who


def test_a_newcomer_at_the_prior_goes_first_and_plays_an_established_opponent():
    mu, sigma, games = settled(10, seed=3)
    mu = np.append(mu, PRIOR_MU)
    sigma = np.append(sigma, PRIOR_SIGMA)
    games = np.append(games, 0)
    pairs = next_games(mu, sigma, games, 4, rng=0)
    assert pairs[0][0] == 10
    assert sum(10 in p for p in pairs) == 1  # a batch spreads over distinct entrants
    opponent = pairs[0][1]
    assert abs(mu[opponent] - PRIOR_MU) < 3.0  # near its current mu


def test_ties_go_to_the_fewest_games_then_the_rng():
    n = 8
    mu, sigma = np.full(n, PRIOR_MU), np.full(n, PRIOR_SIGMA)
    games = np.array([4, 4, 4, 1, 4, 4, 4, 4])
    for seed in range(10):
        assert next_games(mu, sigma, games, 1, rng=seed)[0][0] == 3
    # all equal: the rng decides, and different seeds spread the first game around
    firsts = {next_games(mu, sigma, np.zeros(n), 1, rng=seed)[0] for seed in range(30)}
    assert len(firsts) > 5


# ---------------------------------------------------------------------------------------------
# What a batch looks like


def test_never_pairs_an_entrant_with_itself():
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 20):
        for k in (1, 2, 7, 25):
            mu = rng.normal(25, 8, n)
            sigma = rng.uniform(0.5, 8.5, n)
            games = rng.integers(0, 50, n)
            pairs = next_games(mu, sigma, games, k, rng=rng)
            assert len(pairs) == k
            assert all(a != b and 0 <= a < n and 0 <= b < n for a, b in pairs)


@pytest.mark.parametrize("n", [4, 5, 9, 20])
def test_a_batch_covers_distinct_entrants_when_there_are_enough(n):
    for seed in range(5):
        mu, sigma, games = settled(n, seed)
        for k in range(1, n // 2 + 1):
            pairs = next_games(mu, sigma, games, k, rng=seed)
            players = [x for p in pairs for x in p]
            assert len(set(players)) == 2 * k


def test_pairs_in_flight_are_not_repeated():
    mu, sigma, games = settled(4, seed=1)
    for seed in range(10):
        pairs = next_games(mu, sigma, games, 2, rng=seed, in_flight=[(0, 1), (3, 2)])
        assert not {frozenset(p) for p in pairs} & {frozenset((0, 1)), frozenset((2, 3))}


def test_a_game_in_flight_counts_as_information_on_its_way():
    mu, sigma, games = settled(10, seed=2)
    mu[[0, 1]], sigma[[0, 1]], games[[0, 1]] = 25.0, 6.0, 3  # two identical uncertain entrants
    for seed in range(5):
        first = next_games(mu, sigma, games, 1, rng=seed)[0][0]
        assert first in (0, 1)  # either, by the rng
        # 0 is playing right now, so its game counts as information on its way: 1 goes first
        busy = int(np.argmin(np.abs(mu[2:] - 25.0))) + 2
        assert next_games(mu, sigma, games, 1, rng=seed, in_flight=[(0, busy)])[0][0] == 1


def test_a_newcomer_in_flight_still_gets_another_game_at_once():
    mu, sigma, games = settled(10, seed=3)
    mu = np.append(mu, PRIOR_MU)
    sigma = np.append(sigma, PRIOR_SIGMA)
    games = np.append(games, 0)
    opponent = next_games(mu, sigma, games, 1, rng=0)[0][1]
    again = next_games(mu, sigma, games, 1, rng=0, in_flight=[(10, opponent)])[0]
    assert again[0] == 10 and again[1] != opponent


def test_more_games_than_pairs_repeats_pairs_only_when_all_are_used():
    mu, sigma, games = settled(3, seed=2)
    pairs = next_games(mu, sigma, games, 5, rng=0)
    assert len(pairs) == 5
    assert {frozenset(p) for p in pairs[:3]} == {frozenset(p) for p in [(0, 1), (0, 2), (1, 2)]}


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_two_entrants_always_play_each_other(k):
    rng = np.random.default_rng(k)
    for _ in range(20):
        mu = rng.normal(25, 10, 2)
        sigma = rng.uniform(0.3, 9.0, 2)
        in_flight = [(0, 1)] * int(rng.integers(0, 3))
        pairs = next_games(mu, sigma, rng.integers(0, 9, 2), k, rng=rng, in_flight=in_flight)
        assert len(pairs) == k
        assert all(p in ((0, 1), (1, 0)) for p in pairs)


def test_forbidden_pairs_are_never_played():
    mu, sigma, games = settled(4, seed=5)
    forbidden = [(0, 1), (1, 0), (2, 3)]
    for seed in range(10):
        for a, b in next_games(mu, sigma, games, 6, rng=seed, forbidden=forbidden):
            assert {a, b} not in ({0, 1}, {2, 3})
    everything = [(a, b) for a in range(4) for b in range(4) if a != b]
    assert next_games(mu, sigma, games, 3, rng=0, forbidden=everything) == []


def test_nothing_to_schedule():
    assert next_games([25.0], [8.0], [0], 4, rng=0) == []
    assert next_games([], [], [], 4, rng=0) == []
    assert next_games([25.0, 20.0], [8.0, 8.0], [0, 0], 0, rng=0) == []
    all_pinned = [0, 1, 2]
    assert next_games([25.0, 20.0, 30.0], [1.0] * 3, [0] * 3, 2, rng=0, pinned=all_pinned) == []


# ---------------------------------------------------------------------------------------------
# Pinned reference entrants


def test_pinned_entrants_are_never_the_uncertain_one_but_do_get_played():
    n = 12
    skill = ladder(n, np.random.default_rng(4))
    pinned = np.zeros(n, dtype=bool)
    pinned[[0, 1]] = True
    league = League(skill, seed=4, pinned=pinned)
    league.mu[pinned] = skill[pinned]  # references at their known ratings, like `cpu`
    league.sigma[pinned] = 1.0
    league.play(200)
    assert all(not pinned[a] for a, _ in league.log)
    assert not any(pinned[a] and pinned[b] for a, b in league.log)  # nothing to learn from those
    assert league.games[pinned].min() >= 8
    assert np.all(league.mu[pinned] == skill[pinned]) and np.all(league.sigma[pinned] == 1.0)


def test_a_pinned_entrant_is_not_the_uncertain_one_even_with_the_largest_sigma():
    for seed in range(5):
        mu, sigma, games = settled(10, seed)
        sigma[3] = PRIOR_SIGMA  # pinned with a large sigma, and no games
        games[3] = 0
        for k in (1, 4, 9):
            pairs = next_games(mu, sigma, games, k, rng=seed, pinned=[3])
            assert all(a != 3 for a, _ in pairs)


def test_a_lone_unpinned_entrant_plays_the_pinned_ones():
    mu = np.array([20.0, 25.0, 30.0])
    sigma = np.array([1.0, 8.0, 1.0])
    pairs = next_games(mu, sigma, [50, 0, 50], 4, rng=0, pinned={0, 2})
    assert all(a == 1 and b in (0, 2) for a, b in pairs)


# ---------------------------------------------------------------------------------------------
# Starvation and newcomers, over simulated runs


def test_no_entrant_is_starved_but_quality_argmax_starves_them():
    n = 20
    skill = ladder(n, np.random.default_rng(11))
    ours = League(skill, seed=11)
    ours.play(200)
    assert ours.games.min() >= 5  # 20 on average; a settled top or bottom entrant gets fewer
    assert len({frozenset(p) for p in ours.log}) >= 60  # spread over many pairs

    argmax = League(skill, seed=11)
    argmax.play(200, "quality")
    assert np.count_nonzero(argmax.games == 0) >= 10  # the contrast: half never play at all
    assert len({frozenset(p) for p in argmax.log}) <= 25


def test_a_late_entrant_is_scheduled_at_once_and_placed_without_replaying():
    n = 12
    rng = np.random.default_rng(21)
    skill = ladder(n + 1, rng)
    league = League(skill[:n], seed=21)
    league.play(150)
    before = league.mu.copy()
    new = league.add(skill[n])
    assert new in next_games(league.mu, league.sigma, league.games, 4, rng=0)[0]
    league.play(4)
    assert league.games[new] == 1  # in the very next batch
    moved = set(np.flatnonzero(league.mu[:n] != before).tolist())
    assert moved <= {x for p in league.log[-4:] for x in p}  # only this batch's players moved
    league.play(40)
    assert league.games[new] >= 8  # it keeps getting games while it is uncertain
    true_rank = int(np.argsort(np.argsort(-league.skill))[new])
    rank = int(np.argsort(np.argsort(-league.mu))[new])
    assert abs(rank - true_rank) <= 2


def test_the_scheduler_orders_the_league_faster_than_random_pairing():
    """The benchmark in small: 20 entrants, 150 games, 20 seeds; mean Kendall tau at 150 games.

    At this size the scheduler's mean is about 0.89 and random pairing's about 0.82, with a
    standard error of about 0.01 each: the 0.03 margin is several standard errors.
    """
    taus = {"ours": [], "random": []}
    for seed in range(20):
        skill = ladder(20, np.random.default_rng(seed))
        for strategy in taus:
            league = League(skill, seed=seed)
            league.play(150, strategy)
            taus[strategy].append(league.kendall_tau())
    ours, rand = np.mean(taus["ours"]), np.mean(taus["random"])
    assert ours >= 0.85
    assert ours - rand >= 0.03, (ours, rand)


# ---------------------------------------------------------------------------------------------
# Stopping


def test_converged():
    sigma = np.array([0.9, 1.0, 1.4])
    assert converged(sigma, 1.5)
    assert converged(sigma, 1.4)  # at most, not below
    assert not converged(sigma, 1.0)
    assert converged(sigma, 1.0, pinned=[2])  # pinned entrants never change, so never count
    assert converged(sigma, 1.0, pinned=np.array([False, False, True]))
    assert not converged(sigma, 0.95, pinned={2})
    assert converged([8.3, 8.3], 1.0, pinned={0, 1})  # nothing left to learn
    assert converged([], 1.0)
    for bad in (0, -1.0, float("nan"), float("inf"), "1"):
        with pytest.raises(ValueError):
            converged(sigma, bad)


# ---------------------------------------------------------------------------------------------
# Scores and inputs


def test_kendall_tau_helper_is_scipys():
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    league = League(ladder(20, rng), seed=0)
    league.mu = league.skill + rng.normal(0, 3, 20)
    reference = kendalltau(league.mu, league.skill).statistic
    assert league.kendall_tau() == pytest.approx(reference, abs=1e-12)
    league.mu[:5] = 25.0  # ties in mu: tau-b
    reference = kendalltau(league.mu, league.skill).statistic
    assert league.kendall_tau() == pytest.approx(reference, abs=1e-12)


def test_scores():
    mu, sigma, _ = settled(8, seed=6)
    s = information_gain(mu, sigma, pinned={0, 1})
    assert np.array_equal(s, s.T)
    assert np.all(np.diag(s) == 0.0)
    assert s[0, 1] == 0.0  # two pinned entrants: nothing to learn
    assert np.all(s[~np.eye(8, dtype=bool)][2:] >= 0.0)
    # an even game tells more than a lopsided one, and more about the less known player
    ga, gb = expected_entropy_drop([25.0, 25.0], [4.0, 4.0], [25.0, 40.0], [2.0, 2.0])
    assert ga[0] > ga[1] and ga[0] > gb[0] > 0
    q = match_quality(mu, sigma)
    assert np.allclose(q, q.T) and np.all((q > 0) & (q <= 1))
    u = misrank_expectation([10.0, 20.0, 20.5, 40.0], [1.0, 1.0, 1.0, 1.0])
    assert u[1] == pytest.approx(u[2]) and u[1] > 0.3 and u[0] < 1e-6 and u[3] < 1e-6


def test_same_inputs_same_games_and_any_rng_kind():
    mu, sigma, games = settled(15, seed=7)
    a = next_games(mu, sigma, games, 5, rng=np.random.default_rng(1))
    b = next_games(mu, sigma, games, 5, rng=np.random.default_rng(1))
    assert a == b
    assert next_games(mu, sigma, games, 5, rng=random.Random(3)) == next_games(mu, sigma, games, 5, rng=random.Random(3))
    assert next_games(mu, sigma, games, 5, rng=42) == next_games(mu, sigma, games, 5, rng=42)
    assert all(type(x) is int for p in a for x in p)


def test_bad_input():
    mu, sigma, games = settled(4, seed=8)
    with pytest.raises(ValueError):
        next_games(mu, sigma[:3], games, 1, rng=0)
    with pytest.raises(ValueError):
        next_games(mu, -sigma, games, 1, rng=0)
    with pytest.raises(ValueError):
        next_games(mu, sigma, games[:3], 1, rng=0)
    with pytest.raises(ValueError):
        next_games(mu, sigma, games, -1, rng=0)
    with pytest.raises(ValueError):
        next_games(mu, sigma, games, 1, rng=0, in_flight=[(0, 0)])
    with pytest.raises(ValueError):
        next_games(mu, sigma, games, 1, rng=0, in_flight=[(0, 9)])
    with pytest.raises(ValueError):
        next_games(mu, sigma, games, 1, rng=0, pinned=[7])
    with pytest.raises(TypeError):
        next_games(mu, sigma, games, 1, rng=None)
    with pytest.raises(TypeError):
        next_games(mu, sigma, games, 1, rng=0, model=object())
