"""Matchmaking: which games to play next, so that a leaderboard learns the most from each one.

The rule (:func:`next_games`)
-----------------------------
Every candidate pairing ``(i, j)`` gets a score, the **rank-weighted expected information gain**::

    score(i, j) = w_i * G_i(j) + w_j * G_j(i)

* ``G_i(j)``: the expected drop of entrant i's rating entropy from one game against j, in nats:
  ``E[log(sigma_i / sigma_i')]``, averaged over win / draw / loss with the model's own predictive
  probabilities (the performance difference ~ N(mu_i - mu_j, 2 beta^2 + sigma_i^2 + sigma_j^2
  [+ 2 tau^2]), a draw inside the draw margin) and ``sigma_i'`` the exact 1v1 TrueSkill posterior
  (:mod:`arena.ratings.trueskill`). It is largest for an uncertain entrant against an even opponent, and
  small for a lopsided game or a player whose rating is already sharp.
* ``w_i = 1 + u_i`` with ``u_i = sum_b Phi(-|mu_i - mu_b| / sqrt(sigma_i^2 + sigma_b^2))``: the
  expected number of entrants that i is ranked the wrong way round against. The ``1`` values i's
  own rating (the table shows mu and sigma; ``--until-sigma`` stops on sigma), the ``u_i`` its
  place in the order (what Kendall tau, and a reader of the table, care about). An entrant whose
  rank is settled (clearly first, say) still earns games through the ``1``, but fewer.
* A pinned entrant's rating never changes, but its place in the order is learnt through its
  opponents: its side of the score is ``u_j * G_i(j)`` (no own weight, and its opponent's
  entropy drop). So a reference like ``cpu`` is played where it helps to place someone (it is
  a sharp opponent near them), never as "the uncertain one", and a pair of two pinned entrants
  scores 0 and is never scheduled.

Games in flight (being played, results not in yet) count by their expected effect: before
scoring, each of their players gets the sigma it is expected to have after the game (the root
of the mean posterior variance over win, draw and loss under the model's predictions); mu stays
(its expected change is 0). So an entrant that is playing now is worth less for a while, but one
still very uncertain after that (a newcomer) can get a second game at once. (Treating entrants
in flight as unavailable instead costs games: with 4 workers among 20 entrants about 5% more to
order them, with 8 workers about 20% more, since only 4 entrants are ever free to choose from.)

A batch of ``k`` games (``k`` free workers) is then filled greedily, one pair at a time, by

1. pairs not yet chosen in this batch or already in flight first (a pair repeats only when there
   are fewer pairs than games to fill, e.g. n = 2 with k > 1);
2. then pairs whose entrants are not yet in this batch: a batch covers 2k distinct entrants
   whenever there are that many;
3. then the highest score; ties (e.g. everyone at the prior) go to the pair with the fewest games
   played, then to the ``rng``.

Pairs of two pinned entrants (nothing to learn) and ``forbidden`` pairs are never scheduled.

Why this rule, and not the others
---------------------------------
Match quality (TrueSkill's draw probability) argmax, taken over all pairs, keeps choosing the
pairs that are already best known and most even: it starves everyone else (in
``bench/matchmaking.py`` half the entrants never play and Kendall tau stalls near 0.44).
Taking the entrant with the highest sigma and then its best-quality opponent fixes that, but
spends games evenly, also on entrants whose place is already certain. Maximising the expected
information gain over pairs spends them where the order is in doubt.

Measured (``bench/README.md``): 20 simulated entrants on a ladder, 4 workers refilled as games
finish (like ``arena leaderboard run``), 100 seeds, games until Kendall tau >= 0.9 for good
(mean +- standard error): this rule 194 +- 5 (median 188; tau 0.920 after 200 games), in
batches of 4 208, sigma-first + best quality 230, random pairing 434, quality argmax never; with
1, 2 and 8 workers this rule takes 203, 196 and 211. Other seeds or tie-break streams move these
by about 10: the rule sits at the issue's target of 200 rather than clearly under it. During
development (not in the bench): without the rank weight (plain entropy gain) about 225; the
highest-sigma entrant first with only its opponent scored (by quality, entropy gain or this
score) 225 to 280; a one-step look-ahead of the expected number of misranked pairs stalls (too
myopic for single noisy games); the own weight 0.5, 1 or 2 makes no measurable difference. For
scale: a design that *knows* the true skills and greedily picks games for the final order
(Gaussian approximation) predicts tau 0.914 after 200 games, and fitting the same games in one
batch instead of online TrueSkill gains about 0.005: 200 games cannot tell much more than this
rule gets out of them.

The highest-sigma entrant comes first whenever its uncertainty stands out (a newcomer, or one
clearly less known than the rest: its entropy drop and its misrank count are both the largest).
Among entrants of similar sigma, a pair of two fairly uncertain ones can beat the single most
uncertain one against a well-known opponent; that is the point of scoring pairs.

Entrants added later start at the prior (mu, sigma): they have the largest score by far, so they
get most of the next games (in the bench, with 4 workers, 16 of the 20 games after one joins,
several at once) against opponents near their current mu, a binary search down the ladder,
until they are placed. Nothing is replayed: the others' ratings stand.

Sides: each pair comes back as ``(uncertain one, opponent)``: the first is the side with the
larger own term ``w_i G_i`` and never a pinned entrant. If sides matter to an env, the caller
should randomise or alternate them.

Cost: O(n^2) per call (three vectorised rating updates over all pairs), about a millisecond for
20 entrants.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import numpy as np
from scipy.special import ndtr

from arena.ratings.trueskill import TrueSkill, _pinned_mask, _update, draw_margin

__all__ = [
    "OWN_WEIGHT",
    "converged",
    "expected_entropy_drop",
    "information_gain",
    "match_quality",
    "misrank_expectation",
    "next_games",
]

OWN_WEIGHT = 1.0
"""The weight of an entrant's own rating next to its place in the order (``w_i = 1 + u_i``)."""

_TIE_DIGITS = 10  # scores equal to this many decimals count as a tie (identical inputs may
# differ in the last bit after summing in a different order)


# --------------------------------------------------------------------------------------------
# Inputs


def _model_params(model) -> tuple[float, float, float]:
    model = TrueSkill() if model is None else model
    try:
        beta, tau, p = float(model.beta), float(model.tau), float(model.draw_probability)
    except AttributeError as exc:
        raise TypeError("matchmaking needs a TrueSkill-like model with beta, tau and draw_probability") from exc
    return beta, tau, draw_margin(p, beta)


def _ratings(mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1 or sigma.shape != mu.shape:
        raise ValueError(f"mu and sigma must be 1-d arrays of one length, got {mu.shape} and {sigma.shape}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma)) and np.all(sigma > 0)):
        raise ValueError("ratings need finite mu and finite sigma > 0")
    return mu, sigma


def _pairs(pairs, n: int, what: str) -> list[tuple[int, int]]:
    out = []
    for pair in pairs:
        try:
            a, b = pair
            a, b = int(a), int(b)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} must be (a, b) pairs of entrant indices, got {pair!r}") from exc
        if not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"{what} pair {pair!r}: entrants must be in 0..{n - 1}")
        if a == b:
            raise ValueError(f"{what} pair {pair!r} has one entrant on both sides")
        out.append((a, b))
    return out


def _numpy_rng(rng) -> np.random.Generator:
    """A numpy Generator from a Generator (used as is), a ``random.Random`` (one draw from it)
    or a seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(64))
    if rng is None:
        raise TypeError("rng is required: a numpy Generator, a random.Random or an int seed")
    return np.random.default_rng(rng)


# --------------------------------------------------------------------------------------------
# Scores


def misrank_expectation(mu, sigma) -> np.ndarray:
    """``u_i = sum_b Phi(-|mu_i - mu_b| / sqrt(sigma_i^2 + sigma_b^2))``: the expected number of
    entrants that i is ordered the wrong way round against (by mu, under the ratings' beliefs)."""
    mu, sigma = _ratings(mu, sigma)
    s2 = sigma * sigma
    p = ndtr(-np.abs(mu[:, None] - mu[None, :]) / np.sqrt(s2[:, None] + s2[None, :]))
    np.fill_diagonal(p, 0.0)
    return p.sum(axis=1)


def expected_entropy_drop(mu_a, sigma_a, mu_b, sigma_b, *, model=None):
    """Expected entropy drop (nats) of each side's rating from one game, for arrays of games.

    ``E[log(sigma / sigma')]`` over win, draw and loss, weighted by the model's predictive
    probabilities; ``sigma'`` is the exact 1v1 TrueSkill update. Returns ``(gain_a, gain_b)``.
    Slightly negative for a player so sharp that the dynamics (tau) add more than a game tells.
    """
    beta, tau, margin = _model_params(model)
    arrays = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in (mu_a, sigma_a, mu_b, sigma_b)))
    shape = arrays[0].shape
    ma, sa, mb, sb = (np.ascontiguousarray(x).reshape(-1) for x in arrays)
    ga, gb = _entropy_drop(ma, sa, mb, sb, beta * beta, tau * tau, margin)
    return ga.reshape(shape), gb.reshape(shape)


def _entropy_drop(ma, sa, mb, sb, beta2, tau2, margin):
    c = np.sqrt(2.0 * beta2 + sa * sa + sb * sb + 2.0 * tau2)
    p_win = ndtr((ma - mb - margin) / c)
    p_loss = ndtr((mb - ma - margin) / c)
    p_draw = np.maximum(1.0 - p_win - p_loss, 0.0)
    ga = np.zeros_like(ma)
    gb = np.zeros_like(ma)
    log_sa, log_sb = np.log(sa), np.log(sb)
    for p, outcome in ((p_win, 1.0), (p_draw, 0.0), (p_loss, -1.0)):
        o = np.full_like(ma, outcome)
        _, nsa, _, nsb = _update(ma, sa, mb, sb, o, beta2, tau2, margin)
        ga += p * (log_sa - np.log(nsa))
        gb += p * (log_sb - np.log(nsb))
    return ga, gb


def _expected_sigma(mu, sigma, pin, games, model):
    """Sigma after the ``games`` ``(a, b)`` in order, in expectation: the root of the mean
    posterior variance under the model's predictive outcome probabilities. Pinned stay."""
    if not games:
        return sigma
    beta, tau, margin = _model_params(model)
    sigma = sigma.copy()
    outcomes = np.array([1.0, 0.0, -1.0])
    for x, y in games:
        ma, sa, mb, sb = (np.full(3, v) for v in (mu[x], sigma[x], mu[y], sigma[y]))
        c = math.sqrt(2.0 * beta * beta + sigma[x] ** 2 + sigma[y] ** 2 + 2.0 * tau * tau)
        p_win = float(ndtr((mu[x] - mu[y] - margin) / c))
        p_loss = float(ndtr((mu[y] - mu[x] - margin) / c))
        p = np.array([p_win, max(1.0 - p_win - p_loss, 0.0), p_loss])
        _, nsa, _, nsb = _update(ma, sa, mb, sb, outcomes, beta * beta, tau * tau, margin)
        if not pin[x]:
            sigma[x] = math.sqrt(float(np.dot(p, nsa * nsa)))
        if not pin[y]:
            sigma[y] = math.sqrt(float(np.dot(p, nsb * nsb)))
    return sigma


def _pair_terms(mu, sigma, pin, model, a, b):
    """Each side's weighted term ``w G`` for the pairs ``(a[t], b[t])``."""
    beta, tau, margin = _model_params(model)
    w = OWN_WEIGHT + misrank_expectation(mu, sigma)
    ga, gb = _entropy_drop(mu[a], sigma[a], mu[b], sigma[b], beta * beta, tau * tau, margin)
    # A pinned rating never sharpens, but its place in the order does, through its opponent.
    u = w - OWN_WEIGHT
    ta = np.where(pin[a], u[a] * gb, w[a] * ga)
    tb = np.where(pin[b], u[b] * ga, w[b] * gb)
    both = pin[a] & pin[b]  # neither can learn anything
    return np.where(both, 0.0, ta), np.where(both, 0.0, tb)


def information_gain(mu, sigma, *, model=None, pinned=None) -> np.ndarray:
    """The score :func:`next_games` ranks pairs by, for all pairs: a symmetric n x n matrix.

    ``S[i, j] = w_i G_i(j) + w_j G_j(i)`` (see the module docstring); the diagonal is 0, and so
    is a pair of two pinned entrants.
    """
    mu, sigma = _ratings(mu, sigma)
    n = len(mu)
    pin = _pinned_mask(n, pinned)
    a, b = np.triu_indices(n, 1)
    ta, tb = _pair_terms(mu, sigma, pin, model, a, b)
    s = np.zeros((n, n))
    s[a, b] = ta + tb
    s[b, a] = ta + tb
    return s


def match_quality(mu, sigma, *, model=None) -> np.ndarray:
    """TrueSkill's 1v1 match quality for all pairs: ``sqrt(2 beta^2 / c^2) exp(-(mu_i - mu_j)^2 /
    (2 c^2))`` with ``c^2 = 2 beta^2 + sigma_i^2 + sigma_j^2`` (the trueskill package's
    ``quality_1vs1``). High for an even game between well-known players."""
    mu, sigma = _ratings(mu, sigma)
    beta, _, _ = _model_params(model)
    s2 = sigma * sigma
    c2 = 2.0 * beta * beta + s2[:, None] + s2[None, :]
    diff2 = (mu[:, None] - mu[None, :]) ** 2
    return np.sqrt(2.0 * beta * beta / c2) * np.exp(-diff2 / (2.0 * c2))


# --------------------------------------------------------------------------------------------
# Filling a batch


def _fill(n, a, b, score, k, rng, *, in_flight, games, spread, orient):
    """Greedy batch: repeats (in flight or in this batch) last, then (if ``spread``) entrants not
    yet in this batch, then ``score`` (high first), then fewest games, then rng. ``orient[t]``
    puts ``b[t]`` first when true."""
    load = np.zeros(n, dtype=np.int64)
    mult = np.zeros((n, n), dtype=np.int64)
    for x, y in in_flight:
        mult[min(x, y), max(x, y)] += 1
    pair_mult = mult[a, b]
    # The static part of the order (score, games, rng) as one rank, sorted once.
    tie = rng.random(len(a))
    order = np.lexsort((tie, games[a] + games[b], -np.round(score, _TIE_DIGITS)))
    rank = np.empty(len(a), dtype=np.int64)
    rank[order] = np.arange(len(a))
    out = []
    for _ in range(k):
        ok = pair_mult == pair_mult.min()
        if spread:
            busy = np.where(ok, load[a] + load[b], np.iinfo(np.int64).max)
            ok &= busy == busy.min()
        t = int(np.argmin(np.where(ok, rank, len(a))))
        x, y = int(a[t]), int(b[t])
        out.append((y, x) if orient[t] else (x, y))
        load[x] += 1
        load[y] += 1
        pair_mult[t] += 1
    return out


def _candidates(n, pin, forbidden):
    a, b = np.triu_indices(n, 1)
    ok = ~(pin[a] & pin[b])
    if forbidden:
        banned = np.zeros((n, n), dtype=bool)
        for x, y in forbidden:
            banned[x, y] = banned[y, x] = True
        ok &= ~banned[a, b]
    return a[ok], b[ok]


def next_games(
    mu,
    sigma,
    games_played,
    k: int,
    *,
    rng,
    model=None,
    in_flight: Iterable[tuple[int, int]] = (),
    pinned=None,
    forbidden: Iterable[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """The ``k`` most informative next games among entrants ``0 .. n-1``, as ``(i, j)`` pairs.

    ``mu``, ``sigma`` and ``games_played`` are arrays over the entrants (current ratings and game
    counts). ``k`` is the number of free workers. ``rng`` breaks ties: a numpy Generator, a
    ``random.Random`` (one draw is taken from it) or an int seed. ``model`` supplies beta, tau
    and the draw probability (default :class:`~arena.ratings.trueskill.TrueSkill`). ``in_flight`` are the
    games being played right now (their results are not in ``mu``/``sigma`` yet): they count by
    their expected effect on sigma, and are not repeated while other pairs are left; ``pinned``
    (indices or a boolean mask) are reference entrants whose ratings never change: opponents
    only. ``forbidden`` pairs (either order) are never scheduled.

    Returns ``k`` pairs, each ``(uncertain one, opponent)``; the first is never pinned. See the
    module docstring for the rule. A pair repeats only when there are fewer allowed pairs than
    ``k``; an empty list when no pair is allowed (fewer than two entrants, all pinned, all
    forbidden) or ``k`` is 0.
    """
    mu, sigma = _ratings(mu, sigma)
    n = len(mu)
    games = np.asarray(games_played)
    if games.shape != (n,):
        raise ValueError(f"games_played must have {n} entries, got shape {games.shape}")
    if games.size and (games.dtype.kind not in "iuf" or games.min() < 0):
        raise ValueError("games_played must be non-negative counts")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    pin = _pinned_mask(n, pinned)
    flying = _pairs(in_flight, n, "in_flight")
    banned = _pairs(forbidden, n, "forbidden")
    gen = _numpy_rng(rng)
    if k == 0 or n < 2:
        return []
    a, b = _candidates(n, pin, banned)
    if len(a) == 0:
        return []
    sigma = _expected_sigma(mu, sigma, pin, flying, model)
    ta, tb = _pair_terms(mu, sigma, pin, model, a, b)
    # The uncertain one: the side with the larger own term, never a pinned one; ties go to the
    # higher sigma, then the fewer games, then the rng.
    ra, rb = np.round(ta, _TIE_DIGITS), np.round(tb, _TIE_DIGITS)
    coin = gen.random(len(a)) < 0.5
    b_first = np.where(
        ra != rb, rb > ra,
        np.where(sigma[a] != sigma[b], sigma[b] > sigma[a],
                 np.where(games[a] != games[b], games[b] < games[a], coin)),
    )  # fmt: skip
    orient = pin[a] | (~pin[b] & b_first)
    return _fill(n, a, b, ta + tb, int(k), gen, in_flight=flying, games=games.astype(np.float64),
                 spread=True, orient=orient)  # fmt: skip


def converged(sigma, until_sigma: float, pinned=None) -> bool:
    """True when every unpinned entrant's sigma is at most ``until_sigma`` (vacuously true when
    there is none). Pinned entrants never change, so they do not count."""
    number = isinstance(until_sigma, (int, float, np.integer, np.floating))
    if not (number and math.isfinite(until_sigma) and until_sigma > 0):
        raise ValueError(f"until_sigma must be a positive number, got {until_sigma!r}")
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.ndim != 1:
        raise ValueError(f"sigma must be a 1-d array, got shape {sigma.shape}")
    pin = _pinned_mask(len(sigma), pinned)
    return bool(np.all(sigma[~pin] <= until_sigma))
