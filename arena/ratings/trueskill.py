"""Skill ratings behind a small interface, with an exact, vectorised 1v1 TrueSkill.

The rest of Arena talks to a :class:`RatingModel`; :class:`TrueSkill` is the one shipped
implementation. TrueSkill is a Microsoft trademark and its terms allow non-commercial use only, so
the model stays swappable: anything with ``initial``, ``rate``, ``win_probability``,
``win_probability_matrix`` and ``recompute`` will do.

The 1v1 update is the closed form of the two-player factor graph, which is what
``trueskill.rate_1vs1`` converges to::

    vA = sA^2 + tau^2,  vB = sB^2 + tau^2          (dynamics first)
    c^2 = 2 beta^2 + vA + vB
    t = (muW - muL) / c,  eps = draw_margin / c     (W the winner; for a draw, A)
    muW += vW / c * v,  muL -= vL / c * v
    sW^2 = vW * (1 - vW / c^2 * w),  likewise for L

with ``draw_margin = Phi^-1((p + 1) / 2) * sqrt(2) * beta`` for draw probability ``p`` (the
package's ``calc_draw_margin(p, size=2)``). ``v`` and ``w`` are the mean and ``1 - variance`` of a
standard normal truncated to the observed region of the performance difference: ``X > eps - t``
for a win (``v = pdf/cdf``, ``w = v (v + t - eps)``), ``-eps - t < X < eps - t`` for a draw.

Numerics. The package evaluates ``v`` and ``w`` from raw pdf and cdf values and raises
FloatingPointError when they underflow or cancel (a big upset, a draw between far-apart players,
even a big favourite winning). Here the truncated moments come from

* closed forms on the bulk (relative error below 1e-9 against 60-digit mpmath), and
* a fixed Gauss-Legendre quadrature of the shifted density ``exp(-p y - y^2 / 2)`` on the
  truncated interval far in a tail (``p >= 5`` standard deviations) or when the draw interval is
  very narrow, which needs no subtraction of nearly equal numbers at all.

So ``1 - w`` is a variance in [0, 1] (w is 0 only when the update underflows to nothing, and 1
only for a draw with draw probability 0), and the new variance is formed as
``sW^2 = vW * (2 beta^2 + vL + vW * (1 - w)) / c^2``, a sum of non-negative terms, so sigma stays
positive. Nothing raises.

Everything funnels through one numpy core on arrays (``_update``; :func:`update_1v1` is it plus
argument checks). A single game (:meth:`TrueSkill.rate`) runs it on arrays of length one and
:meth:`TrueSkill.recompute` on waves of independent games, and every operation in it is
elementwise, so a recomputation is bit-identical to rating the games one by one in order, however
it is batched (on one machine and numpy build).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "DRAW",
    "LOSS",
    "WIN",
    "Rating",
    "RatingModel",
    "Ratings",
    "TrueSkill",
    "conservative",
    "draw_margin",
    "recompute",
    "update_1v1",
    "waves",
    "win_probability_matrix",
]

WIN, DRAW, LOSS = 1, 0, -1
"""Outcomes from player A's point of view."""

# trueskill's defaults (the package's module constants; like the package, beta and tau do not
# follow a non-default sigma unless given).
MU = 25.0
SIGMA = MU / 3
BETA = SIGMA / 2
TAU = SIGMA / 100
DRAW_PROBABILITY = 0.10

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TAIL = 5.0  # from this many standard deviations into a tail, use the quadrature
_NARROW = 0.05  # draw intervals narrower than this (in standard deviations) use it too
_CUT = 40.0  # the quadrature keeps exp(-p y) down to exp(-40): the rest is < 1e-15 of the mass
_NO_WIDTH = 1e300  # stands for an infinite width (inf * 0 would be nan)
_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)


# --------------------------------------------------------------------------------------------
# Ratings


@dataclass(frozen=True, slots=True)
class Rating:
    """One entrant's belief: skill ~ N(mu, sigma^2)."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mu) and math.isfinite(self.sigma) and self.sigma > 0):
            raise ValueError(f"a rating needs a finite mu and a finite sigma > 0, got {self!r}")

    @property
    def conservative(self) -> float:
        """``mu - 3 sigma``: a lower bound the entrant's skill very probably exceeds."""
        return conservative(self.mu, self.sigma)


@dataclass(frozen=True)
class Ratings:
    """Ratings of entrants ``0 .. n-1`` as two float64 arrays."""

    mu: np.ndarray
    sigma: np.ndarray

    def __len__(self) -> int:
        return len(self.mu)

    def __getitem__(self, i: int) -> Rating:
        return Rating(float(self.mu[i]), float(self.sigma[i]))

    def conservative(self, k: float = 3.0) -> np.ndarray:
        return conservative(self.mu, self.sigma, k)


def conservative(mu, sigma, k: float = 3.0):
    """The conservative score ``mu - k sigma`` (k = 3 by default), for scalars or arrays."""
    return mu - k * sigma


@runtime_checkable
class RatingModel(Protocol):
    """What Arena needs from a rating model. Swap in another (Glicko, Elo, ...) behind this."""

    def initial(self) -> Rating:
        """The rating of an entrant that has not played yet."""
        ...

    def rate(self, a: Rating, b: Rating, outcome: int, *, pin_a: bool = False, pin_b: bool = False) -> tuple[Rating, Rating]:
        """New ratings after one game; outcome is WIN (a won), DRAW or LOSS (b won)."""
        ...

    def win_probability(self, a: Rating, b: Rating) -> float:
        """P(a beats b)."""
        ...

    def win_probability_matrix(self, mu, sigma) -> np.ndarray:
        """``P[i, j] = P(i beats j)`` for all pairs."""
        ...

    def recompute(self, n_players: int, games, *, initial: Ratings | None = None, pinned=None) -> Ratings:
        """Ratings after the ordered games ``(a, b, outcome)``, exactly as rated one by one."""
        ...


# --------------------------------------------------------------------------------------------
# The vectorised core


def draw_margin(draw_probability: float, beta: float, size: int = 2) -> float:
    """trueskill's ``calc_draw_margin``: ``Phi^-1((p + 1) / 2) * sqrt(size) * beta``."""
    if not 0.0 <= draw_probability < 1.0:
        raise ValueError(f"draw_probability must be in [0, 1), got {draw_probability!r}")
    return float(ndtri((draw_probability + 1.0) / 2.0) * math.sqrt(size) * beta)


def _quadrature_moments(p: np.ndarray, width: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of N(0, 1) truncated to ``[p, p + width]``, by quadrature in ``y = x - p``.

    The density of y is proportional to ``exp(-p y - y^2 / 2)`` on ``[0, width]``: no tiny
    factor to lose and no nearly equal numbers to subtract. Far in a tail (large p) it decays
    like ``exp(-p y)``, so the integral stops at ``y = 40 / p``. Zero width gives (p, 0), the
    limit. Row by row: each output depends only on the same element of the inputs.
    """
    span = np.where(p > 0.0, np.minimum(width, _CUT / np.maximum(p, 1e-300)), width)
    y = (0.5 * span)[:, None] * (1.0 + _GL_X)[None, :]
    f = _GL_W[None, :] * np.exp(-y * (p[:, None] + 0.5 * y))
    m0 = np.add.reduce(f, axis=1)
    m1 = np.add.reduce(f * y, axis=1) / m0
    m2 = np.add.reduce(f * (y * y), axis=1) / m0
    return p + m1, np.maximum(m2 - m1 * m1, 0.0)


def _moments(p, finite_q, drawn, width):
    """Moments of N(0, 1) truncated to ``[p, finite_q]`` where ``drawn`` is 1.0, else to
    ``[p, inf)``; ``width`` is the interval's width (huge for ``[p, inf)``)."""
    pdf_p = np.exp(-0.5 * (p * p)) * _INV_SQRT_2PI
    pdf_q = np.exp(-0.5 * (finite_q * finite_q)) * (_INV_SQRT_2PI * drawn)  # 0 for q = inf
    # Phi(q) - Phi(p), from the accurate upper tails
    z = np.maximum(ndtr(-p) - ndtr(-finite_q) * drawn, 1e-300)
    mean = (pdf_p - pdf_q) / z
    var = 1.0 + (p * pdf_p - finite_q * pdf_q) / z - mean * mean
    # Far in the tail, or a narrow interval: the closed forms cancel; use the quadrature.
    if p.max() >= _TAIL or width.min() < _NARROW:
        idx = np.flatnonzero((p >= _TAIL) | (width < _NARROW))
        mean[idx], var[idx] = _quadrature_moments(p[idx], width[idx])
    return mean, var


def _update(mu_a, sigma_a, mu_b, sigma_b, outcome, beta2: float, tau2: float, margin: float):
    """The 1v1 update on 1-d float64 arrays; outcome is float64 +1 / 0 / -1 from A's side.

    No checks, no warnings, nothing raises: every step is elementwise.
    """
    var_a = sigma_a * sigma_a + tau2
    var_b = sigma_b * sigma_b + tau2
    c2 = 2.0 * beta2 + (var_a + var_b)
    c = np.sqrt(c2)
    drawn = 1.0 - outcome * outcome  # 1.0 for a draw, else 0.0
    diff = mu_a - mu_b
    # Orientation: the winner first; in a draw the higher-rated player first, so that t >= 0.
    sign = outcome + np.copysign(drawn, diff)
    t = sign * diff / c
    eps = margin / c
    # X = (performance difference) - t ~ N(0, 1), truncated to what was observed: a win is
    # X > eps - t; a draw is -eps - t < X < eps - t, reflected to t - eps < -X < t + eps.
    flip = 1.0 - 2.0 * drawn  # +1 for a win, -1 for a draw
    p = (eps - t) * flip
    width = 2.0 * eps + (1.0 - drawn) * _NO_WIDTH  # a win's interval is [p, inf)
    mean, var_x = _moments(p, t + eps, drawn, width)
    step = mean * (flip * sign / c)
    new_mu_a = mu_a + var_a * step
    new_mu_b = mu_b - var_b * step
    # sigma'^2 = v (1 - v / c^2 * w) with 1 - w = var_x: a sum of non-negative terms, and at
    # most v (a game never adds uncertainty; the min only absorbs rounding when w underflows).
    new_sigma_a = np.sqrt(np.minimum(var_a * (2.0 * beta2 + var_b + var_a * var_x) / c2, var_a))
    new_sigma_b = np.sqrt(np.minimum(var_b * (2.0 * beta2 + var_a + var_b * var_x) / c2, var_b))
    return new_mu_a, new_sigma_a, new_mu_b, new_sigma_b


def _as_outcomes(outcome) -> np.ndarray:
    o = np.asarray(outcome)
    if o.dtype.kind not in "iu":
        if o.dtype.kind != "f" or not np.all(o == np.round(o)):
            raise ValueError("outcomes must be 1 (A won), 0 (draw) or -1 (B won)")
    if o.size and (o.min() < -1 or o.max() > 1):
        raise ValueError("outcomes must be 1 (A won), 0 (draw) or -1 (B won)")
    return o.astype(np.float64)


def update_1v1(
    mu_a,
    sigma_a,
    mu_b,
    sigma_b,
    outcome,
    *,
    beta: float = BETA,
    tau: float = TAU,
    draw_probability: float = DRAW_PROBABILITY,
):
    """Exact 1v1 TrueSkill updates for many independent games at once.

    ``outcome`` is +1 where A won, 0 for a draw and -1 where B won. Arguments broadcast; returns
    ``(mu_a, sigma_a, mu_b, sigma_b)`` as float64 arrays. Never raises on extreme inputs.
    """
    arrays = np.broadcast_arrays(
        *(np.asarray(x, dtype=np.float64) for x in (mu_a, sigma_a, mu_b, sigma_b)),
        _as_outcomes(outcome),
    )
    shape = arrays[0].shape
    mu_a, sigma_a, mu_b, sigma_b, o = (np.ascontiguousarray(x).reshape(-1) for x in arrays)
    margin = draw_margin(draw_probability, beta)
    out = _update(mu_a, sigma_a, mu_b, sigma_b, o, beta * beta, tau * tau, margin)
    return tuple(x.reshape(shape) for x in out)


def win_probability_matrix(mu, sigma, beta: float = BETA) -> np.ndarray:
    """``P[i, j] = Phi((mu_i - mu_j) / sqrt(2 beta^2 + s_i^2 + s_j^2))`` for all pairs.

    Exactly antisymmetric: ``P + P.T == 1`` to the bit and the diagonal is 0.5.
    """
    mu = np.asarray(mu, dtype=np.float64)
    s2 = np.asarray(sigma, dtype=np.float64) ** 2
    diff = mu[:, None] - mu[None, :]
    z = diff / np.sqrt(2.0 * beta * beta + (s2[:, None] + s2[None, :]))
    small = ndtr(-np.abs(z))  # the smaller of P and 1 - P, computed accurately
    return np.where(z < 0.0, small, 1.0 - small)


# --------------------------------------------------------------------------------------------
# Recomputing from a log


def _as_games(n_players: int, games) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(games, (np.ndarray, Sequence)):
        games = list(games)
    g = np.asarray(games)
    if g.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=np.int8)
    if g.ndim != 2 or g.shape[1] != 3:
        raise ValueError("games must be a sequence of (player_a, player_b, outcome) triples")
    if g.dtype.kind == "f" and not np.all(g == np.round(g)):
        raise ValueError("player indices and outcomes must be integers")
    a = g[:, 0].astype(np.intp)
    b = g[:, 1].astype(np.intp)
    o = _as_outcomes(g[:, 2].astype(np.int64))
    if a.min() < 0 or b.min() < 0 or a.max() >= n_players or b.max() >= n_players:
        raise ValueError(f"player indices must be in 0..{n_players - 1}")
    if np.any(a == b):
        i = int(np.flatnonzero(a == b)[0])
        raise ValueError(f"game {i} has player {int(a[i])} on both sides")
    return a, b, o


def _pinned_mask(n_players: int, pinned) -> np.ndarray:
    mask = np.zeros(n_players, dtype=bool)
    if pinned is None:
        return mask
    p = np.asarray(pinned if not isinstance(pinned, (set, frozenset)) else sorted(pinned))
    if p.dtype == bool:
        if p.shape != (n_players,):
            raise ValueError(f"a pinned mask needs {n_players} entries, got shape {p.shape}")
        return p.copy()
    p = p.astype(np.intp).ravel()
    if p.size and (p.min() < 0 or p.max() >= n_players):
        raise ValueError(f"pinned players must be in 0..{n_players - 1}")
    mask[p] = True
    return mask


def waves(n_players: int, a: np.ndarray, b: np.ndarray, pinned: np.ndarray | None = None):
    """The wave (1, 2, ...) of each game: ``max(last wave of a, last wave of b) + 1``.

    Games in one wave share no unpinned player and each comes after every earlier game of its
    players, so rating the waves in order, each as one batch, equals rating game by game.
    A pinned player never changes, so its games need not wait for one another.
    """
    if pinned is None:
        pinned = np.zeros(n_players, dtype=bool)
    # Pinned players read a slot that stays 0 and write to a scratch slot.
    ids = np.arange(n_players)
    read = np.where(pinned, n_players, ids)
    write = np.where(pinned, n_players + 1, ids)
    last = [0] * (n_players + 2)
    level = [0] * len(a)
    for i, (ra, rb, wa, wb) in enumerate(zip(read[a].tolist(), read[b].tolist(), write[a].tolist(), write[b].tolist())):
        la = last[ra]
        lb = last[rb]
        lv = (la if la > lb else lb) + 1
        level[i] = lv
        last[wa] = lv
        last[wb] = lv
    return np.asarray(level, dtype=np.intp)


def recompute(
    n_players: int,
    games,
    *,
    initial: Ratings | None = None,
    pinned=None,
    mu: float = MU,
    sigma: float = SIGMA,
    beta: float = BETA,
    tau: float = TAU,
    draw_probability: float = DRAW_PROBABILITY,
) -> Ratings:
    """Ratings after an ordered log of games ``(player_a, player_b, outcome)``.

    Equal, bit for bit, to applying :func:`update_1v1` game by game in log order, but applied in
    waves of independent games (see :func:`waves`). ``pinned`` (a set of indices or a boolean
    mask) holds players fixed: their ratings never change, and their opponents are updated
    against their fixed mu and sigma. ``initial`` gives starting ratings (default: all
    ``(mu, sigma)``).
    """
    a, b, o = _as_games(n_players, games)
    pin = _pinned_mask(n_players, pinned)
    if initial is None:
        cur_mu = np.full(n_players, float(mu))
        cur_sigma = np.full(n_players, float(sigma))
    else:
        if len(initial) != n_players:
            raise ValueError(f"initial has {len(initial)} ratings for {n_players} players")
        cur_mu = np.array(initial.mu, dtype=np.float64)
        cur_sigma = np.array(initial.sigma, dtype=np.float64)
    if len(a) == 0:
        return Ratings(cur_mu, cur_sigma)

    level = waves(n_players, a, b, pin)
    order = np.argsort(level, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(level)[1:])))
    a, b, o = a[order], b[order], o[order]
    any_pinned = bool(pin.any())
    pa, pb = pin[a], pin[b]
    beta2, tau2 = beta * beta, tau * tau
    margin = draw_margin(draw_probability, beta)

    for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        ia, ib, oo = a[start:stop], b[start:stop], o[start:stop]
        ma, sa, mb, sb = cur_mu[ia], cur_sigma[ia], cur_mu[ib], cur_sigma[ib]
        nma, nsa, nmb, nsb = _update(ma, sa, mb, sb, oo, beta2, tau2, margin)
        if any_pinned:
            qa, qb = pa[start:stop], pb[start:stop]
            nma = np.where(qa, ma, nma)
            nsa = np.where(qa, sa, nsa)
            nmb = np.where(qb, mb, nmb)
            nsb = np.where(qb, sb, nsb)
        cur_mu[ia] = nma
        cur_sigma[ia] = nsa
        cur_mu[ib] = nmb
        cur_sigma[ib] = nsb
    return Ratings(cur_mu, cur_sigma)


# --------------------------------------------------------------------------------------------
# The model


class TrueSkill:
    """1v1 TrueSkill with draws; defaults equal the ``trueskill`` package's.

    TrueSkill is a Microsoft trademark, licensed for non-commercial use only.
    """

    def __init__(
        self,
        mu: float = MU,
        sigma: float = SIGMA,
        beta: float = BETA,
        tau: float = TAU,
        draw_probability: float = DRAW_PROBABILITY,
    ) -> None:
        if not (sigma > 0 and beta > 0 and tau >= 0):
            raise ValueError("TrueSkill needs sigma > 0, beta > 0 and tau >= 0")
        self.mu = float(mu)
        self.sigma = float(sigma)
        self.beta = float(beta)
        self.tau = float(tau)
        self.draw_probability = float(draw_probability)
        self.draw_margin = draw_margin(self.draw_probability, self.beta)

    def __repr__(self) -> str:
        return (
            f"TrueSkill(mu={self.mu!r}, sigma={self.sigma!r}, beta={self.beta!r}, "
            f"tau={self.tau!r}, draw_probability={self.draw_probability!r})"
        )

    def initial(self) -> Rating:
        return Rating(self.mu, self.sigma)

    def update(self, mu_a, sigma_a, mu_b, sigma_b, outcome):
        """:func:`update_1v1` with this model's parameters."""
        return update_1v1(
            mu_a,
            sigma_a,
            mu_b,
            sigma_b,
            outcome,
            beta=self.beta,
            tau=self.tau,
            draw_probability=self.draw_probability,
        )

    def rate(self, a: Rating, b: Rating, outcome: int, *, pin_a: bool = False, pin_b: bool = False) -> tuple[Rating, Rating]:
        """New ratings after one game. A pinned side keeps its rating."""
        if outcome not in (WIN, DRAW, LOSS):
            raise ValueError(f"outcome must be 1 (a won), 0 (draw) or -1 (b won), got {outcome!r}")
        one = np.empty(1)
        args = []
        for x in (a.mu, a.sigma, b.mu, b.sigma):
            arr = one.copy()
            arr[0] = x
            args.append(arr)
        o = np.array([float(outcome)])
        nma, nsa, nmb, nsb = _update(*args, o, self.beta * self.beta, self.tau * self.tau, self.draw_margin)
        new_a = a if pin_a else Rating(float(nma[0]), float(nsa[0]))
        new_b = b if pin_b else Rating(float(nmb[0]), float(nsb[0]))
        return new_a, new_b

    def win_probability(self, a: Rating, b: Rating) -> float:
        p = win_probability_matrix([a.mu, b.mu], [a.sigma, b.sigma], self.beta)
        return float(p[0, 1])

    def win_probability_matrix(self, mu, sigma) -> np.ndarray:
        return win_probability_matrix(mu, sigma, self.beta)

    def recompute(self, n_players: int, games, *, initial: Ratings | None = None, pinned=None) -> Ratings:
        return recompute(
            n_players,
            games,
            initial=initial,
            pinned=pinned,
            mu=self.mu,
            sigma=self.sigma,
            beta=self.beta,
            tau=self.tau,
            draw_probability=self.draw_probability,
        )
