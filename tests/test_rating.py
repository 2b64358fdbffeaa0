"""The exact 1v1 TrueSkill update, checked against the ``trueskill`` package.

The package's default backend evaluates the normal cdf with a polynomial approximation of erfc
(Numerical Recipes' ``erfcc``, relative error up to 1.2e-7), so on its own it is only ~1e-5 away
from the exact model. The 1e-6 comparisons therefore run the package's own factor graph with exact
normal functions, passed to ``trueskill.TrueSkill(backend=(cdf, pdf, ppf))`` (math.erfc and
scipy's ndtri), and with its ``"scipy"`` backend; its default backend is checked to 5e-5.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import trueskill
from scipy.special import ndtri

from arena.ratings.trueskill import (
    _NO_WIDTH,
    DRAW,
    LOSS,
    WIN,
    Rating,
    RatingModel,
    Ratings,
    TrueSkill,
    _moments,
    conservative,
    draw_margin,
    update_1v1,
    waves,
    win_probability_matrix,
)

SQRT2 = math.sqrt(2.0)


def _cdf(x, mu=0.0, sigma=1.0):
    return 0.5 * math.erfc(-(x - mu) / (sigma * SQRT2))


def _pdf(x, mu=0.0, sigma=1.0):
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (math.sqrt(2.0 * math.pi) * abs(sigma))


def _ppf(x, mu=0.0, sigma=1.0):
    return mu + sigma * float(ndtri(x))


EXACT = (_cdf, _pdf, _ppf)  # exact normal functions for trueskill's factor graph

PARAMS = [
    {},  # trueskill's defaults
    {"beta": 2.0, "tau": 0.5, "draw_probability": 0.3},
    {"mu": 1500.0, "sigma": 400.0, "beta": 200.0, "tau": 4.0, "draw_probability": 0.05},
    {"mu": 0.0, "sigma": 3.0, "beta": 10.0, "tau": 0.0, "draw_probability": 0.01},
]


def ts_env(params: dict, backend=EXACT) -> trueskill.TrueSkill:
    return trueskill.TrueSkill(backend=backend, **params)


def ts_rate(env, a: tuple[float, float], b: tuple[float, float], outcome: int):
    """trueskill.rate_1vs1 for an outcome from A's side; returns (muA, sA, muB, sB)."""
    ra, rb = env.create_rating(*a), env.create_rating(*b)
    if outcome == LOSS:
        rb, ra = trueskill.rate_1vs1(rb, ra, env=env)
    else:
        ra, rb = trueskill.rate_1vs1(ra, rb, drawn=outcome == DRAW, env=env)
    return float(ra.mu), float(ra.sigma), float(rb.mu), float(rb.sigma)


def ts_many(env, mu_a, s_a, mu_b, s_b, outcome) -> np.ndarray:
    """trueskill.rate_1vs1 game by game; rows of (muA, sA, muB, sB)."""
    games = zip(mu_a.tolist(), s_a.tolist(), mu_b.tolist(), s_b.tolist(), outcome.tolist())
    return np.array([ts_rate(env, (ma, sa), (mb, sb), o) for ma, sa, mb, sb, o in games])


def random_games(rng, n: int, model: TrueSkill):
    """Random ratings around the model's scale, and random outcomes (a quarter of them draws)."""
    mu = model.mu + model.sigma * rng.uniform(-3.0, 3.0, size=(2, n))
    sigma = model.sigma * rng.uniform(0.05, 1.2, size=(2, n))
    outcome = rng.choice([WIN, DRAW, LOSS], size=n, p=[0.375, 0.25, 0.375])
    return mu[0], sigma[0], mu[1], sigma[1], outcome


# ---------------------------------------------------------------------------------------------
# The update against trueskill.rate_1vs1


@pytest.mark.parametrize("params", PARAMS, ids=["default", "draws30", "elo-scale", "wide-beta"])
def test_update_matches_trueskill_over_random_games(params):
    model = TrueSkill(**params)
    env = ts_env(params)
    rng = np.random.default_rng(len(params))
    mu_a, s_a, mu_b, s_b, outcome = random_games(rng, 1500, model)

    ours = np.stack(model.update(mu_a, s_a, mu_b, s_b, outcome), axis=1)  # one vectorised call
    theirs = ts_many(env, mu_a, s_a, mu_b, s_b, outcome)
    assert np.abs(ours - theirs).max() <= 1e-6
    assert (outcome == DRAW).sum() > 300


def test_update_matches_trueskills_scipy_backend():
    model, env = TrueSkill(), ts_env({}, backend="scipy")  # the package's scipy backend is slow
    mu_a, s_a, mu_b, s_b, outcome = random_games(np.random.default_rng(7), 150, model)
    ours = np.stack(model.update(mu_a, s_a, mu_b, s_b, outcome), axis=1)
    theirs = ts_many(env, mu_a, s_a, mu_b, s_b, outcome)
    assert np.abs(ours - theirs).max() <= 1e-6


def test_update_is_within_its_erfc_approximation_of_trueskills_default_backend():
    model, env = TrueSkill(), trueskill.TrueSkill()
    mu_a, s_a, mu_b, s_b, outcome = random_games(np.random.default_rng(8), 1000, model)
    ours = np.stack(model.update(mu_a, s_a, mu_b, s_b, outcome), axis=1)
    theirs = ts_many(env, mu_a, s_a, mu_b, s_b, outcome)
    assert np.abs(ours - theirs).max() <= 5e-5


def test_defaults_and_draw_margin_are_trueskills():
    model, env = TrueSkill(), ts_env({})
    assert (model.mu, model.sigma, model.beta, model.tau, model.draw_probability) == (
        env.mu,
        env.sigma,
        env.beta,
        env.tau,
        env.draw_probability,
    )
    assert model.initial() == Rating(25.0, 25.0 / 3.0)
    for p in (0.0, 0.01, 0.1, 0.5, 0.9):
        for beta in (0.5, 25.0 / 6.0, 200.0):
            assert draw_margin(p, beta) == pytest.approx(
                trueskill.calc_draw_margin(p, 2, ts_env({"beta": beta})), rel=1e-12, abs=1e-12
            )


def test_single_game_rate_matches_trueskill_and_respects_the_outcome_side():
    model, env = TrueSkill(), ts_env({})
    a, b = Rating(27.0, 4.0), Rating(22.0, 6.5)
    for outcome in (WIN, DRAW, LOSS):
        na, nb = model.rate(a, b, outcome)
        expected = ts_rate(env, (a.mu, a.sigma), (b.mu, b.sigma), outcome)
        assert (na.mu, na.sigma, nb.mu, nb.sigma) == pytest.approx(expected, abs=1e-9)
    # b winning as "LOSS" for a equals a losing when the sides are swapped
    na, nb = model.rate(a, b, LOSS)
    nb2, na2 = model.rate(b, a, WIN)
    assert (na, nb) == (na2, nb2)


# ---------------------------------------------------------------------------------------------
# Sequential chains: a small league rated game by game


def league(n_players: int, n_games: int, seed: int):
    rng = np.random.default_rng(seed)
    skill = np.linspace(-8.0, 8.0, n_players)
    a = rng.integers(0, n_players, n_games)
    b = (a + rng.integers(1, n_players, n_games)) % n_players
    p_win = 1.0 / (1.0 + np.exp(-(skill[a] - skill[b]) / 3.0))
    u = rng.random(n_games)
    outcome = np.where(u < 0.1, DRAW, np.where(u < 0.1 + 0.9 * p_win, WIN, LOSS))
    return [(int(x), int(y), int(o)) for x, y, o in zip(a, b, outcome)]


@pytest.mark.parametrize("pinned", [None, {0}], ids=["free", "player-0-pinned"])
def test_recompute_matches_trueskill_game_by_game(pinned):
    n = 10
    games = league(n, 2000, seed=3)
    env = ts_env({})
    ratings = [(env.mu, env.sigma)] * n
    for a, b, o in games:
        ma, sa, mb, sb = ts_rate(env, ratings[a], ratings[b], o)
        if not (pinned and a in pinned):
            ratings[a] = (ma, sa)
        if not (pinned and b in pinned):
            ratings[b] = (mb, sb)
    result = TrueSkill().recompute(n, games, pinned=pinned)
    assert np.abs(result.mu - [r[0] for r in ratings]).max() <= 1e-6
    assert np.abs(result.sigma - [r[1] for r in ratings]).max() <= 1e-6
    free = list(range(1, n)) if pinned else list(range(n))
    assert list(np.argsort(result.mu[free]) + free[0]) == free  # the league comes out in order
    if pinned:
        assert result[0] == Rating(25.0, 25.0 / 3.0)


# ---------------------------------------------------------------------------------------------
# Extreme games: trueskill's float backends raise, we do not

EXTREME = [
    # (parameters, A, B, outcome from A's side)
    ({}, (300.0, 0.5), (0.0, 0.5), LOSS),  # the 300-point favourite loses
    ({}, (0.0, 8.0), (500.0, 8.0), WIN),  # a newcomer beats a 500-point favourite
    ({}, (1000.0, 1.0), (0.0, 1.0), LOSS),
    ({}, (300.0, 0.5), (0.0, 0.5), DRAW),  # a draw between far-apart players
    ({"beta": 0.5}, (0.0, 0.5), (60.0, 0.5), WIN),  # mu 60 sigma 0.5 loses to mu 0 sigma 0.5
    ({"beta": 0.5}, (60.0, 0.5), (0.0, 0.5), DRAW),
    ({"draw_probability": 0.0}, (300.0, 0.5), (0.0, 0.5), DRAW),  # a "measure-zero" draw
]


def _float_backends():
    return [None, "scipy", EXACT]


@pytest.mark.parametrize("params, a, b, outcome", EXTREME)
def test_extreme_games_do_not_raise_and_move_ratings_the_right_way(params, a, b, outcome):
    # trueskill's float backends (default erfc approximation, scipy, exact math) all give up
    for backend in _float_backends():
        with pytest.raises(FloatingPointError):
            ts_rate(ts_env(params, backend), a, b, outcome)

    model = TrueSkill(**params)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        ma, sa, mb, sb = (float(x) for x in model.update(a[0], a[1], b[0], b[1], outcome))
        ra, rb = model.rate(Rating(*a), Rating(*b), outcome)
    assert (ra.mu, ra.sigma, rb.mu, rb.sigma) == (ma, sa, mb, sb)
    assert all(math.isfinite(x) for x in (ma, sa, mb, sb))
    # both sigmas shrink from their pre-game value (after the tau^2 dynamics), and stay positive
    assert 0.0 < sa < math.hypot(a[1], model.tau) and 0.0 < sb < math.hypot(b[1], model.tau)
    if outcome == DRAW:  # pulled together, the higher one down
        hi_new, lo_new = (ma, mb) if a[0] > b[0] else (mb, ma)
        assert hi_new < max(a[0], b[0]) and lo_new > min(a[0], b[0])
        assert abs(ma - mb) < abs(a[0] - b[0])
    else:  # the upset winner goes up, the loser down
        (w_old, w_new), (l_old, l_new) = ((a[0], ma), (b[0], mb))[:: 1 if outcome == WIN else -1]
        assert w_new > w_old and l_new < l_old

    # trueskill's arbitrary-precision backend does not raise here, and agrees
    pytest.importorskip("mpmath")
    if params.get("draw_probability") != 0.0:
        expected = ts_rate(ts_env(params, "mpmath"), a, b, outcome)
        assert (ma, sa, mb, sb) == pytest.approx(expected, abs=1e-6)


def test_a_huge_favourite_winning_changes_nothing_but_does_not_raise():
    model = TrueSkill()
    with pytest.raises(FloatingPointError):  # w underflows to 0 in the package
        ts_rate(ts_env({}), (300.0, 0.5), (0.0, 0.5), WIN)
    ma, sa, mb, sb = (float(x) for x in model.update(300.0, 0.5, 0.0, 0.5, WIN))
    dyn = math.sqrt(0.5**2 + model.tau**2)  # only the dynamics are added
    assert ma >= 300.0 and mb <= 0.0
    assert (ma, sa, mb, sb) == pytest.approx((300.0, dyn, 0.0, dyn), abs=1e-12)


def test_wild_inputs_stay_finite_and_monotone():
    rng = np.random.default_rng(11)
    n = 20000
    mu_a, mu_b = rng.uniform(-1e5, 1e5, (2, n)) * rng.choice([1e-4, 1e-2, 1.0], (2, n))
    s_a, s_b = 10.0 ** rng.uniform(-3, 3, (2, n))
    outcome = rng.choice([WIN, DRAW, LOSS], n)
    for params in ({}, {"beta": 0.1, "tau": 0.0}, {"draw_probability": 0.0}):
        model = TrueSkill(**params)
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            ma, sa, mb, sb = model.update(mu_a, s_a, mu_b, s_b, outcome)
        assert np.isfinite([ma, sa, mb, sb]).all()
        assert (sa > 0).all() and (sb > 0).all()
        assert (sa <= np.sqrt(s_a**2 + model.tau**2)).all()
        assert (sb <= np.sqrt(s_b**2 + model.tau**2)).all()
        win, loss = outcome == WIN, outcome == LOSS
        assert (ma[win] >= mu_a[win]).all() and (mb[win] <= mu_b[win]).all()
        assert (ma[loss] <= mu_a[loss]).all() and (mb[loss] >= mu_b[loss]).all()


def test_truncated_moments_are_accurate_in_the_tails():
    # Var and mean of N(0,1) truncated to [p, inf) for large p: p + 1/p - 2/p^3 + ..., and
    # 1/p^2 - 6/p^4 + ...; on a narrow interval [p, p + h]: about (p + h/2, h^2/12).
    p = np.array([1e3, 1e5, 1e8])
    mean, var = _truncated_moments(p, np.full(3, np.inf))
    assert mean == pytest.approx(p + 1 / p - 2 / p**3, rel=1e-14)
    assert var == pytest.approx(1 / p**2 - 6 / p**4, rel=1e-6)
    p, h = np.array([0.0, 3.0]), 1e-6
    mean, var = _truncated_moments(p, p + h)
    assert mean == pytest.approx(p + h / 2, rel=1e-12)
    assert var == pytest.approx([h**2 / 12] * 2, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# Draws


def test_draws_pull_two_ratings_together():
    model = TrueSkill()
    rng = np.random.default_rng(5)
    mu_a = rng.uniform(20.0, 40.0, 500)
    mu_b = mu_a - rng.uniform(0.1, 20.0, 500)
    s_a, s_b = rng.uniform(1.0, 8.0, (2, 500))
    ma, sa, mb, sb = model.update(mu_a, s_a, mu_b, s_b, DRAW)
    assert (ma < mu_a).all() and (mb > mu_b).all()
    assert (np.abs(ma - mb) < mu_a - mu_b).all()
    assert (sa < s_a).all() and (sb < s_b).all()
    # equal players drawing: no mu moves, both become surer
    ra, rb = model.rate(Rating(25.0, 5.0), Rating(25.0, 5.0), DRAW)
    assert ra.mu == rb.mu == 25.0 and ra.sigma == rb.sigma < 5.0


# ---------------------------------------------------------------------------------------------
# Recompute: bit for bit equal to rating one game at a time


def mixed_log(n_players: int, n_games: int, seed: int):
    """A log with draws and some absurd upsets (player 0 starts 400 points up) so that every
    branch of the update, the tail quadrature included, runs in batches and alone."""
    games = league(n_players, n_games, seed)
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(games), 40, replace=False):
        games[i] = (0, int(rng.integers(1, n_players)), LOSS)
    return games


def one_by_one(model, n, games, initial: Ratings, pinned=frozenset()):
    ratings = [initial[i] for i in range(n)]
    for a, b, o in games:
        ra, rb = model.rate(ratings[a], ratings[b], o, pin_a=a in pinned, pin_b=b in pinned)
        ratings[a], ratings[b] = ra, rb
    return ratings


@pytest.mark.parametrize("pinned", [frozenset(), frozenset({0}), frozenset({3, 7})])
def test_recompute_is_bit_identical_to_single_updates(pinned):
    n = 12
    model = TrueSkill()
    games = mixed_log(n, 3000, seed=len(pinned))
    mu0 = np.full(n, model.mu)
    mu0[0] = 400.0
    initial = Ratings(mu0, np.full(n, model.sigma))

    expected = one_by_one(model, n, games, initial, pinned)
    as_mask = np.isin(np.arange(n), list(pinned))
    for pin in (pinned, as_mask):
        got = model.recompute(n, games, initial=initial, pinned=pin)
        assert [got[i] for i in range(n)] == expected  # ==, not approx
    for i in pinned:
        assert expected[i] == initial[i]

    # batching differently gives the same bits: in two halves, and as a numpy array
    half = model.recompute(n, games[:1234], initial=initial, pinned=pinned)
    rest = model.recompute(n, np.array(games[1234:]), initial=half, pinned=pinned)
    assert np.array_equal(rest.mu, got.mu) and np.array_equal(rest.sigma, got.sigma)


def test_batched_update_is_bit_identical_to_element_by_element():
    model = TrueSkill()
    rng = np.random.default_rng(9)
    mu_a, s_a, mu_b, s_b, outcome = random_games(rng, 300, model)
    mu_a[::7] += 1e3  # tails
    whole = model.update(mu_a, s_a, mu_b, s_b, outcome)
    same = update_1v1(mu_a, s_a, mu_b, s_b, outcome)  # the module function, default parameters
    assert all(np.array_equal(w, s) for w, s in zip(whole, same))
    assert all(np.shape(x) == () for x in update_1v1(30.0, 2.0, 20.0, 3.0, DRAW))  # shapes kept
    for i in range(0, 300, 3):
        one = slice(i, i + 1)
        single = model.update(mu_a[one], s_a[one], mu_b[one], s_b[one], outcome[one])
        assert all(w[i] == s[0] for w, s in zip(whole, single))


def test_waves_never_repeat_a_player_and_follow_each_players_order():
    games = league(15, 1000, seed=1)
    a, b = np.array([g[0] for g in games]), np.array([g[1] for g in games])
    level = waves(15, a, b)
    last = np.zeros(15, dtype=int)
    for i in range(len(games)):
        assert level[i] > last[a[i]] and level[i] > last[b[i]]
        last[a[i]] = last[b[i]] = level[i]
    for lv in np.unique(level):
        players = np.concatenate([a[level == lv], b[level == lv]])
        assert len(players) == len(set(players.tolist()))


def test_pinned_player_never_moves_and_its_opponent_updates_as_usual():
    model = TrueSkill()
    cpu, agent = Rating(25.0, 1.0), Rating(30.0, 6.0)
    free_cpu, free_agent = model.rate(cpu, agent, WIN)
    pinned_cpu, pinned_agent = model.rate(cpu, agent, WIN, pin_a=True)
    assert pinned_cpu == cpu and pinned_agent == free_agent and free_cpu != cpu
    # everyone plays the pinned cpu: those games share a wave, cpu never moves
    games = [(0, i, WIN if i % 2 else LOSS) for i in range(1, 6)] * 3
    a, b = np.array(games)[:, 0], np.array(games)[:, 1]
    assert waves(6, a, b, np.arange(6) == 0).max() == 3
    r = model.recompute(6, games, pinned={0})
    assert r[0] == model.initial()


def test_recompute_rejects_bad_logs():
    model = TrueSkill()
    with pytest.raises(ValueError, match="outcomes"):
        model.recompute(3, [(0, 1, 2)])
    with pytest.raises(ValueError, match="both sides"):
        model.recompute(3, [(0, 1, 1), (2, 2, 0)])
    with pytest.raises(ValueError, match="0..2"):
        model.recompute(3, [(0, 3, 1)])
    with pytest.raises(ValueError, match="outcome"):
        model.rate(model.initial(), model.initial(), 2)
    assert model.recompute(3, []).mu.tolist() == [25.0] * 3


# ---------------------------------------------------------------------------------------------
# Win probabilities


def test_win_probability_matrix():
    rng = np.random.default_rng(2)
    mu, sigma = rng.uniform(0, 50, 200), rng.uniform(0.5, 8.5, 200)
    beta = 25.0 / 6.0
    P = win_probability_matrix(mu, sigma, beta)
    assert P.shape == (200, 200)
    assert (np.diag(P) == 0.5).all()
    assert (P + P.T == 1.0).all()  # exactly
    i, j = 17, 123
    z = (mu[i] - mu[j]) / math.sqrt(2 * beta**2 + sigma[i] ** 2 + sigma[j] ** 2)
    by_formula = 0.5 * math.erfc(-z / SQRT2)
    assert P[i, j] == pytest.approx(by_formula, rel=1e-14)

    # By hand, beta = 4: A = (29, 4), B = (25, 4).
    # c = sqrt(2 * 4^2 + 4^2 + 4^2) = sqrt(64) = 8, z = (29 - 25) / 8 = 0.5,
    # P(A beats B) = Phi(0.5) = 0.5 + 0.5 * erf(0.5 / sqrt(2)) = 0.6914624612740131.
    model, a, b = TrueSkill(beta=4.0), Rating(29.0, 4.0), Rating(25.0, 4.0)
    assert model.win_probability(a, b) == pytest.approx(0.6914624612740131, abs=1e-15)
    assert model.win_probability(b, a) == pytest.approx(0.3085375387259869, abs=1e-15)
    matrix = model.win_probability_matrix([29.0, 25.0], [4.0, 4.0])
    assert matrix[0, 1] == pytest.approx(0.6914624612740131, abs=1e-15)


# ---------------------------------------------------------------------------------------------
# The interface


def test_trueskill_is_a_rating_model_and_conservative_score():
    assert isinstance(TrueSkill(), RatingModel)
    assert Rating(30.0, 2.0).conservative == 24.0
    assert conservative(np.array([25.0]), np.array([25.0 / 3.0]))[0] == pytest.approx(0, abs=1e-12)
    assert Ratings(np.array([30.0]), np.array([2.0])).conservative().tolist() == [24.0]
    with pytest.raises(ValueError):
        Rating(25.0, 0.0)


def _truncated_moments(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of N(0, 1) truncated to ``[p, q]``, for ``p + q >= 0`` (q may be inf).

    The same steps the update takes.
    """
    drawn = np.isfinite(q).astype(np.float64)
    finite_q = np.where(drawn > 0, q, 0.0)
    return _moments(p, finite_q, drawn, np.where(drawn > 0, q - p, _NO_WIDTH))
