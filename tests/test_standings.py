"""Standings from a game log: which games count, ratings, ranks with ties, matrices, the rating
history, and the order-independent Bradley-Terry fit with bootstrap intervals."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from arena.ratings.standings import (
    ELO_PER_LOGIT,
    bradley_terry,
    compute_ratings,
    entrant_names,
    errored_games,
    fit_bradley_terry,
    humanize_age,
    observed_win_matrix,
    rank_with_ties,
    rated_log,
    rating_history,
    standings,
    win_probability_matrix,
)
from arena.ratings.trueskill import Rating, TrueSkill
from arena.ratings.trueskill import win_probability_matrix as rating_win_matrix


def game(id, a, b, winner, status="ok", finished_at=None, **extra):
    """A game record as the store returns it (fields this module does not read left plain)."""
    return {
        "id": id, "uid": f"g{id}", "leaderboard": "test", "env": "pong", "options": {},
        "a": a, "b": b, "a_hash": None, "b_hash": None, "a_seat": "left",
        "sides": {"left": a, "right": b}, "seed": id, "score_a": None, "score_b": None,
        "winner": winner if status == "ok" else extra.pop("bogus_winner", None),
        "frames": 100, "wall_s": 1.0, "status": status,
        "error": None if status == "ok" else "RuntimeError: boom",
        "finished_at": finished_at or f"2024-05-01T12:00:{id:02d}+00:00", "log_path": None,
        **extra,
    }  # fmt: skip


# A beats B; B beats C; A draws C; an errored game "won" by C; C beats B.
THREE = [
    game(1, "A", "B", "a", finished_at="2024-05-01T12:00:00+00:00"),
    game(2, "B", "C", "a", finished_at="2024-05-01T12:05:00+00:00"),
    game(3, "A", "C", "draw", finished_at="2024-05-01T12:10:00+00:00"),
    game(4, "C", "A", None, status="error", bogus_winner="a"),
    # recorded last, but finished before game 3 (parallel workers)
    game(5, "C", "B", "a", finished_at="2024-05-01T12:07:00Z"),
]

# The first game between two fresh entrants, by hand. With trueskill's defaults mu0 = 25,
# sigma0 = 25/3, beta = sigma0/2, tau = sigma0/100, draw probability 0.1:
#   v = sigma0^2 + tau^2, c = sqrt(2 beta^2 + 2 v), eps = Phi^-1(0.55) sqrt(2) beta / c,
#   V = phi(eps) / Phi(-eps), W = V (V - eps)
#   mu_winner = 25 + v / c * V = 29.395831693,  mu_loser = 20.604168307,
#   sigma = sqrt(v (1 - v / c^2 * W)) = 7.171475807 for both (the package: 29.396, 7.171).
FIRST_WIN = (29.395831692991514, 7.171475807009221, 20.604168307008486)


def one_by_one(games, names, pinned=None):
    model = TrueSkill()
    pinned = pinned or {}
    r = {n: Rating(*pinned[n]) if n in pinned else model.initial() for n in names}
    outcome = {"a": 1, "draw": 0, "b": -1}
    for g in sorted(games, key=lambda g: g["id"]):
        if g["status"] != "ok":
            continue
        a, b = g["a"], g["b"]
        o = outcome[g["winner"]]
        r[a], r[b] = model.rate(r[a], r[b], o, pin_a=a in pinned, pin_b=b in pinned)
    return r


# ---------------------------------------------------------------------------------------------
# Which games count


def test_first_game_matches_the_hand_computed_update():
    r = compute_ratings(THREE[:1], ["A", "B", "C"])
    mu_w, sigma, mu_l = FIRST_WIN
    assert r["A"].mu == pytest.approx(mu_w, abs=1e-9)
    assert r["B"].mu == pytest.approx(mu_l, abs=1e-9)
    assert r["A"].sigma == pytest.approx(sigma, abs=1e-9) and r["B"].sigma == r["A"].sigma
    assert r["C"] == Rating(25.0, 25.0 / 3.0)  # no games: the prior


def test_three_player_log_ratings_records_and_order():
    r = compute_ratings(THREE, ["A", "B", "C"])
    assert r == one_by_one(THREE, "ABC")  # ==: the same bits as rating game by game
    rows = standings(THREE, ["A", "B", "C"], now="2024-05-01T13:00:00+00:00")
    by = {row.name: row for row in rows}
    # A: W1 D1 L0; B: W1 D0 L2; C: W1 D1 L1 (the errored game counts for nobody)
    assert (by["A"].wins, by["A"].draws, by["A"].losses, by["A"].games) == (1, 1, 0, 2)
    assert (by["B"].wins, by["B"].draws, by["B"].losses, by["B"].games) == (1, 0, 2, 3)
    assert (by["C"].wins, by["C"].draws, by["C"].losses, by["C"].games) == (1, 1, 1, 3)
    assert by["A"].win_rate == 0.75 and by["B"].win_rate == pytest.approx(1 / 3)
    assert by["C"].win_rate == 0.5
    assert (by["A"].errors, by["B"].errors, by["C"].errors) == (1, 0, 1)
    # sorted by mu - 3 sigma, highest first: C (beat B, drew A, lost to B) has the most games
    # and so the smallest sigma, ahead of A (unbeaten in two); all three intervals overlap
    cons = [row.conservative for row in rows]
    assert cons == sorted(cons, reverse=True)
    assert [row.name for row in rows] == ["C", "A", "B"]
    assert [row.rank for row in rows] == [1, 1, 1]
    for row in rows:
        assert row.mu == r[row.name].mu and row.sigma == r[row.name].sigma
        assert row.conservative == row.mu - 3 * row.sigma
        assert not row.pinned
    # last played: the latest by finish time, not by id; its age from `now`
    assert by["A"].last_played == "2024-05-01T12:10:00+00:00"
    assert by["A"].last_played_age_s == 50 * 60
    assert by["B"].last_played == "2024-05-01T12:07:00Z"  # game 5 finished after game 2
    assert by["C"].last_played == "2024-05-01T12:10:00+00:00"


def test_errored_games_never_count():
    clean = [g for g in THREE if g["status"] == "ok"]
    with_errors = THREE + [
        game(6, "A", "B", None, status="error", bogus_winner="b"),
        game(7, "B", "A", None, status="error", bogus_winner="a"),
    ]
    assert compute_ratings(with_errors, list("ABC")) == compute_ratings(clean, list("ABC"))
    assert [g.id for g in errored_games(with_errors)] == [4, 6, 7]
    log = rated_log(with_errors, list("ABC"))
    assert len(log) == 4 and log.n_errors == 3 and log.errors.tolist() == [3, 2, 1]
    rows = {r.name: r for r in standings(with_errors, list("ABC"))}
    assert rows["A"].games == 2 and rows["A"].errors == 3
    wins, counts = observed_win_matrix(with_errors, list("ABC"))
    assert counts.sum() == 2 * 4
    hist = rating_history(with_errors, list("ABC"))
    assert sum(len(h.mu) for h in hist.values()) == 2 * 4


def test_entrants_order_unlisted_unplayed_and_bad_input():
    assert entrant_names(THREE) == ["A", "B", "C"]
    assert entrant_names(list(reversed(THREE))) == ["A", "B", "C"]  # by id, not list order
    # an unplayed entrant gets the prior; games against an unlisted spec are left out
    r = compute_ratings(THREE, ["A", "B", "D"])
    assert set(r) == {"A", "B", "D"} and r["D"] == Rating(25.0, 25.0 / 3.0)
    assert r["A"] == one_by_one(THREE[:1], "AB")["A"]
    assert rated_log(THREE, ["A", "B"]).n_left_out == 3
    rows = standings([], ["x", "y"])
    assert [(row.rank, row.games, row.win_rate, row.last_played) for row in rows] == [
        (1, 0, None, None),
        (1, 0, None, None),
    ]
    with pytest.raises(ValueError, match="twice"):
        standings(THREE, ["A", "B", "A"])
    # a pin on a spec that is not an entrant affects nobody
    pinned_elsewhere = compute_ratings(THREE, ["A", "B", "C"], pinned={"cpu": (25.0, 1.0)})
    assert pinned_elsewhere == compute_ratings(THREE, ["A", "B", "C"])
    # the same spec on both sides (a mirror match) is never rated
    assert len(rated_log(THREE + [game(8, "A", "A", "a")])) == 4


def test_pinned_entrant_never_moves_and_anchors_its_opponents():
    pinned = {"C": (20.0, 0.5)}
    r = compute_ratings(THREE, list("ABC"), pinned=pinned)
    assert r["C"] == Rating(20.0, 0.5)
    assert r == one_by_one(THREE, "ABC", pinned)
    assert {row.name: row.pinned for row in standings(THREE, list("ABC"), pinned)} == {
        "A": False,
        "B": False,
        "C": True,
    }
    h = rating_history(THREE, list("ABC"), pinned)["C"]
    assert (h.mu == 20.0).all() and (h.sigma == 0.5).all() and h.start == Rating(20.0, 0.5)


# ---------------------------------------------------------------------------------------------
# Ranks with ties


def test_rank_with_ties_by_hand():
    # intervals mu ± 1.96 sigma: [28.04, 31.96], [26.04, 29.96], [18.04, 21.96], [0.2, 19.8]
    mu = [30.0, 28.0, 20.0, 10.0]
    sigma = [1.0, 1.0, 1.0, 5.0]
    # 0: nobody above; 1: overlaps 0; 2: 0 and 1 lie wholly above; 3: 0 and 1 above, 2 overlaps
    assert rank_with_ties(mu, sigma).tolist() == [1, 1, 3, 3]
    # far apart: plain ranks; all equal: all first
    assert rank_with_ties([30, 20, 10], [1, 1, 1]).tolist() == [1, 2, 3]
    assert rank_with_ties([25, 25, 25], [8, 8, 8]).tolist() == [1, 1, 1]


def test_standings_ranks_tie_where_intervals_overlap():
    # strong beats weak 30 times: their intervals separate. A newcomer (no games) overlaps both,
    # so nobody is clearly better and it ranks 1; rows sort by rank, then by conservative score
    # (the newcomer's is 25 - 3 * 25/3 = 0, below strong's), so ranks read downward.
    games = [game(i, "strong", "weak", "a") for i in range(1, 31)]
    rows = standings(games, ["strong", "weak", "new"])
    assert [(r.name, r.rank) for r in rows] == [("strong", 1), ("new", 1), ("weak", 2)]
    strong, new, weak = rows
    assert strong.low > weak.high
    assert new.conservative == 0.0 and new.low < weak.high and new.high > strong.low


# ---------------------------------------------------------------------------------------------
# History and matrices


def test_rating_history_follows_each_entrant_and_ends_at_the_ratings():
    h = rating_history(THREE, list("ABC"))
    # rated games in order: 1 (A-B), 2 (B-C), 3 (A-C), 5 (C-B)
    assert h["A"].game_index.tolist() == [1, 3] and h["A"].game_id.tolist() == [1, 3]
    assert h["B"].game_index.tolist() == [1, 2, 4] and h["B"].game_id.tolist() == [1, 2, 5]
    assert h["C"].game_index.tolist() == [2, 3, 4] and h["C"].game_id.tolist() == [2, 3, 5]
    assert h["A"].mu[0] == pytest.approx(FIRST_WIN[0], abs=1e-9)
    assert h["A"].start == Rating(25.0, 25.0 / 3.0)
    r = compute_ratings(THREE, list("ABC"))
    for name in "ABC":
        assert h[name].mu[-1] == r[name].mu and h[name].sigma[-1] == r[name].sigma


def test_rating_history_of_a_league_ends_bit_identical_to_recompute():
    games = simulated_league(np.linspace(-300, 300, 7), 400, seed=4)
    names = [f"p{i}" for i in range(7)]
    pinned = {"p3": (25.0, 1.0)}
    h = rating_history(games, names, pinned)
    r = compute_ratings(games, names, pinned)
    assert sum(len(x.mu) for x in h.values()) == 2 * 400
    for name in names:
        assert (np.diff(h[name].game_index) > 0).all()
        assert h[name].mu[-1] == r[name].mu and h[name].sigma[-1] == r[name].sigma


def test_observed_and_predicted_win_matrices():
    wins, counts = observed_win_matrix(THREE, list("ABC"))
    # draws count half: A-C drew once; B and C beat each other once each
    assert wins.tolist() == [[0, 1, 0.5], [0, 0, 1], [0.5, 1, 0]]
    assert counts.tolist() == [[0, 1, 1], [1, 0, 2], [1, 2, 0]]
    assert np.array_equal(wins + wins.T, counts)

    P = win_probability_matrix(THREE, list("ABC"))
    r = compute_ratings(THREE, list("ABC"))
    expected = rating_win_matrix([r[n].mu for n in "ABC"], [r[n].sigma for n in "ABC"])
    assert np.array_equal(P, expected)
    assert (np.diag(P) == 0.5).all() and (P + P.T == 1.0).all()
    assert P[0, 1] > 0.5  # A (unbeaten) is favoured over B
    assert win_probability_matrix([], ["x", "y"]).tolist() == [[0.5, 0.5], [0.5, 0.5]]


# ---------------------------------------------------------------------------------------------
# Bradley-Terry


def simulated_league(elo, n_games: int, seed: int, draw: float = 0.05):
    """Games between players of known Elo strength under the Bradley-Terry model."""
    rng = np.random.default_rng(seed)
    n = len(elo)
    out = []
    for k in range(n_games):
        i, j = rng.choice(n, 2, replace=False)
        p = 1.0 / (1.0 + 10.0 ** (-(elo[i] - elo[j]) / 400.0))
        u = rng.random()
        winner = "draw" if u < draw else ("a" if rng.random() < p else "b")
        out.append(game(k + 1, f"p{i}", f"p{j}", winner, finished_at="2024-05-01T12:00:00Z"))
    return out


def test_bradley_terry_by_hand():
    # A scored 3 of 4 against B: the maximum-likelihood gap is ln 3, centred on 0
    W = np.array([[0.0, 3.0], [1.0, 0.0]])
    theta = fit_bradley_terry(W, W + W.T, prior_sd=math.inf)
    assert theta == pytest.approx([math.log(3) / 2, -math.log(3) / 2], abs=1e-12)
    # one win, one loss, two draws: equal
    W = np.array([[0.0, 2.0], [2.0, 0.0]])
    assert fit_bradley_terry(W, W + W.T, prior_sd=math.inf) == pytest.approx([0, 0], abs=1e-12)
    # three players: at the optimum each scores what the model expects
    W = np.array([[0.0, 5.0, 3.0], [2.0, 0.0, 4.5], [1.0, 0.5, 0.0]])
    N = W + W.T
    theta = fit_bradley_terry(W, N, prior_sd=math.inf)
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    assert (N * p).sum(axis=1) == pytest.approx(W.sum(axis=1), abs=1e-9)
    assert theta.sum() == pytest.approx(0.0, abs=1e-12) and theta[0] > theta[1] > theta[2]


def test_bradley_terry_prior_keeps_undefeated_entrants_finite():
    W = np.array([[0.0, 10.0], [0.0, 0.0]])  # A beat B ten times out of ten
    with pytest.raises(ValueError, match="undefeated"):
        fit_bradley_terry(W, W + W.T, prior_sd=math.inf)
    theta = fit_bradley_terry(W, W + W.T)  # the default weak prior
    assert np.isfinite(theta).all() and 1.0 < theta[0] - theta[1] < 20.0
    games = [game(i, "A", "B", "a") for i in range(1, 11)]
    fit = bradley_terry(games, ["A", "B"], n_bootstrap=50)
    assert np.isfinite(fit.elo).all() and np.isfinite(fit.low).all() and fit.elo[0] > fit.elo[1]


def test_bradley_terry_recovers_known_skills_with_intervals():
    truth = np.array([-300.0, -150.0, 0.0, 100.0, 250.0, 400.0])
    games = simulated_league(truth, 3000, seed=1, draw=0.0)  # draws would shrink the gaps
    names = [f"p{i}" for i in range(6)]
    fit = bradley_terry(games, names, n_bootstrap=200, seed=0)
    assert fit.order() == [5, 4, 3, 2, 1, 0]
    assert fit.elo.mean() == pytest.approx(0.0, abs=1e-9)  # nothing pinned: centred
    assert np.abs(fit.elo - (truth - truth.mean())).max() < 75.0
    assert (fit.low <= fit.elo).all() and (fit.elo <= fit.high).all()
    assert (fit.high - fit.low < 200).all()
    covered = (fit.low <= truth - truth.mean()) & (truth - truth.mean() <= fit.high)
    assert covered.sum() >= 5
    assert fit.games.sum() == 2 * 3000 and fit.replicates.shape == (200, 6)


def test_bradley_terry_is_order_independent_and_deterministic():
    games = simulated_league(np.array([-200.0, 0.0, 50.0, 300.0]), 300, seed=2)
    names = [f"p{i}" for i in range(4)]
    shuffled = [dict(g) for g in games]
    ids = list(range(1, len(games) + 1))
    random.Random(0).shuffle(ids)
    for g, i in zip(shuffled, ids):
        g["id"] = i
    a = bradley_terry(games, names, n_bootstrap=100, seed=3)
    b = bradley_terry(shuffled, names, n_bootstrap=100, seed=3)
    assert a.elo == pytest.approx(b.elo, abs=1e-9)  # the order of the games does not matter
    r1, r2 = compute_ratings(games, names), compute_ratings(shuffled, names)
    assert r1 != r2  # while online TrueSkill does depend on it
    again = bradley_terry(games, names, n_bootstrap=100, seed=3)
    assert np.array_equal(a.low, again.low) and np.array_equal(a.high, again.high)
    other = bradley_terry(games, names, n_bootstrap=100, seed=4)
    assert not np.array_equal(a.low, other.low)
    assert np.array_equal(a.elo, other.elo)  # the point estimate needs no randomness


def test_bradley_terry_anchors_on_the_pinned_entrant():
    games = simulated_league(np.array([-200.0, 0.0, 200.0]), 300, seed=5)
    names = ["p0", "p1", "p2"]
    free = bradley_terry(games, names, n_bootstrap=50)
    fit = bradley_terry(games, names, pinned={"p1": (25.0, 1.0)}, n_bootstrap=50)
    assert fit.anchor == "p1" and free.anchor is None
    assert fit.elo[1] == 0.0 and fit.low[1] == 0.0 and fit.high[1] == 0.0
    assert fit.elo == pytest.approx(free.elo - free.elo[1], abs=1e-9)
    assert fit.win_probability(2, 0) == pytest.approx(1 / (1 + math.exp(-(fit.elo[2] - fit.elo[0]) / ELO_PER_LOGIT)), rel=1e-12)


def test_humanize_age():
    assert humanize_age(None) == "—"
    assert humanize_age(5) == "just now"
    assert humanize_age(125) == "2 min ago"
    assert humanize_age(3 * 3600 + 5) == "3 h ago"
    assert humanize_age(86400) == "1 day ago" and humanize_age(5 * 86400) == "5 days ago"
