"""Standings derived from a leaderboard's game log: ratings, ranks, records, matrices, and an
order-independent Bradley-Terry fit.

Everything here is a pure function of the games the store returns
(:class:`~arena.games.record.GameRecord` s, or mappings with their fields), in id order. Which
games count:

* a game is **rated** when its ``status`` is ``"ok"``, its ``winner`` is ``"a"``, ``"b"`` or
  ``"draw"``, its two specs differ, and both are entrants. Only rated games move ratings or count
  as wins, draws and losses; a game with status ``"error"`` never does (:func:`errored_games`
  lists those).
* ``entrants=None`` means every spec in the log, in order of first appearance. When a list is
  given, games against specs outside it are left out: the ratings are those among the listed
  entrants (so dropping an entrant from a leaderboard drops its games, and nothing fails).
* rated games are taken in ``id`` order, which is the order they were rated in.

Two rating views:

* **TrueSkill, online** (:func:`compute_ratings`, :func:`standings`,
  :func:`rating_history`): the games rated one by one in log order through :mod:`arena.ratings.trueskill`
  (any :class:`~arena.ratings.trueskill.RatingModel`; TrueSkill with the ``trueskill`` package's defaults
  unless given). ``pinned`` maps specs to a fixed ``(mu, sigma)``: those entrants start there and
  never move, which anchors the scale (pins of specs that are not entrants are ignored). The
  result depends on the order of the games.
* **Bradley-Terry, order-independent** (:func:`bradley_terry`): one fit over the whole log, with
  bootstrap 95% intervals, on the Elo scale. This is the fit the report shows next to the
  TrueSkill table.

TrueSkill is a Microsoft trademark, used here under its non-commercial terms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from arena.games.record import GameRecord, as_record
from arena.ratings.trueskill import (
    DRAW,
    LOSS,
    WIN,
    Rating,
    RatingModel,
    Ratings,
    TrueSkill,
    waves,
)

__all__ = [
    "ELO_PER_LOGIT",
    "INTERVAL_Z",
    "BradleyTerry",
    "RatedLog",
    "RatingHistory",
    "Standing",
    "bradley_terry",
    "compute_ratings",
    "entrant_names",
    "errored_games",
    "fit_bradley_terry",
    "humanize_age",
    "observed_win_matrix",
    "rank_with_ties",
    "rated_log",
    "rating_history",
    "standings",
    "win_probability_matrix",
]

INTERVAL_Z = 1.96
"""Ranks tie where the intervals ``mu ± 1.96 sigma`` (95% under the model) overlap."""

ELO_PER_LOGIT = 400.0 / math.log(10.0)
"""Elo points per unit of log-odds: a 400-point gap is 10:1 odds."""

_OUTCOME = {"a": WIN, "draw": DRAW, "b": LOSS}


# --------------------------------------------------------------------------------------------
# The log, indexed once


def _timestamp(value) -> float:
    """Seconds since the epoch of an ISO-8601 string (naive means UTC), or nan."""
    if not isinstance(value, str) or not value:
        return math.nan
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return math.nan
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _sorted_by_id(games: Sequence[GameRecord | Mapping]) -> list[GameRecord]:
    games = [as_record(g) for g in games]
    ids = [g.id for g in games]
    if all(isinstance(i, int) for i in ids) and any(x > y for x, y in zip(ids, ids[1:])):
        games.sort(key=lambda g: g.id)  # stable: equal ids keep insertion order
    return games


def entrant_names(games: Sequence[Mapping], entrants: Sequence[str] | None = None) -> list[str]:
    """The entrants in the order every function here uses: ``entrants`` as given, or (``None``)
    every spec in the log, errored games included, in order of first appearance."""
    if entrants is not None:
        names = [str(e) for e in entrants]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"entrants listed twice: {', '.join(dup)}")
        return names
    seen: dict[str, None] = {}
    for g in _sorted_by_id(games):
        for who in (g.a, g.b):
            seen.setdefault(str(who), None)
    return list(seen)


@dataclass(frozen=True)
class RatedLog:
    """The rated games of a log as arrays (see the module docstring for which games count).

    ``a``, ``b``: entrant indices into ``names``; ``outcome``: +1 a won, 0 draw, -1 b won;
    ``ids``: the games' ids; ``time``: finish times in epoch seconds (nan if unreadable);
    ``finished_at``: the original strings. ``errors[i]``: errored games entrant i took part in;
    ``n_errors``: errored games in the log among the entrants; ``n_left_out``: ok games left out
    (an unknown spec, no winner, or the same spec on both sides).
    """

    names: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    ids: np.ndarray
    time: np.ndarray
    finished_at: list[str]
    errors: np.ndarray
    n_errors: int
    n_left_out: int

    def __len__(self) -> int:
        return len(self.a)

    def triples(self) -> np.ndarray:
        """``(a, b, outcome)`` rows for :meth:`RatingModel.recompute`."""
        return np.stack([self.a, self.b, self.outcome], axis=1).astype(np.int64)

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per entrant: (wins, draws, losses) over rated games."""
        n = len(self.names)
        drawn = self.outcome == DRAW
        won_a, won_b = self.outcome == WIN, self.outcome == LOSS
        wins = np.bincount(self.a[won_a], minlength=n) + np.bincount(self.b[won_b], minlength=n)
        losses = np.bincount(self.a[won_b], minlength=n) + np.bincount(self.b[won_a], minlength=n)
        draws = np.bincount(self.a[drawn], minlength=n) + np.bincount(self.b[drawn], minlength=n)
        return wins, draws, losses


def rated_log(games: Sequence[Mapping], entrants: Sequence[str] | None = None) -> RatedLog:
    """Index a list of game records once. Every function here also accepts the result in place
    of ``games`` (its ``entrants`` argument is then ignored: the index already fixed them)."""
    if isinstance(games, RatedLog):
        return games
    names = entrant_names(games, entrants)
    index = {name: i for i, name in enumerate(names)}
    a, b, o, ids, finished = [], [], [], [], []
    errors = np.zeros(len(names), dtype=np.int64)
    n_errors = n_left_out = 0
    for g in _sorted_by_id(games):
        ia, ib = index.get(str(g.a)), index.get(str(g.b))
        if not g.ok:
            known = [i for i in {ia, ib} if i is not None]
            if known:
                n_errors += 1
                errors[known] += 1
            continue
        outcome = _OUTCOME.get(g.winner)
        if ia is None or ib is None or ia == ib or outcome is None:
            n_left_out += 1
            continue
        a.append(ia)
        b.append(ib)
        o.append(outcome)
        ids.append(g.id if g.id is not None else len(ids))
        finished.append(g.finished_at or "")
    return RatedLog(
        names=names,
        a=np.asarray(a, dtype=np.intp),
        b=np.asarray(b, dtype=np.intp),
        outcome=np.asarray(o, dtype=np.int64),
        ids=np.asarray(ids, dtype=np.int64),
        time=np.asarray([_timestamp(t) for t in finished], dtype=np.float64),
        finished_at=finished,
        errors=errors,
        n_errors=n_errors,
        n_left_out=n_left_out,
    )


def errored_games(games: Sequence[GameRecord | Mapping]) -> list[GameRecord]:
    """The games with a status other than ``"ok"``, in id order (never rated)."""
    return [g for g in _sorted_by_id(games) if not g.ok]


# --------------------------------------------------------------------------------------------
# TrueSkill (online)


def _start(log: RatedLog, pinned: Mapping[str, tuple[float, float]] | None, model: RatingModel):
    """Starting ratings and the pinned mask."""
    n = len(log.names)
    prior = model.initial()
    mu = np.full(n, prior.mu, dtype=np.float64)
    sigma = np.full(n, prior.sigma, dtype=np.float64)
    mask = np.zeros(n, dtype=bool)
    index = {name: i for i, name in enumerate(log.names)}
    for name, value in (pinned or {}).items():
        if name not in index:  # not an entrant: its games are left out, so it affects nobody
            continue
        r = value if isinstance(value, Rating) else Rating(float(value[0]), float(value[1]))
        i = index[name]
        mu[i], sigma[i], mask[i] = r.mu, r.sigma, True
    return Ratings(mu, sigma), mask


def _ratings(log: RatedLog, pinned, model) -> Ratings:
    model = model or TrueSkill()
    initial, mask = _start(log, pinned, model)
    return model.recompute(len(log.names), log.triples(), initial=initial, pinned=mask)


def compute_ratings(
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
) -> dict[str, Rating]:
    """Each entrant's rating after the rated games in id order (entrants without games keep the
    prior; pinned ones keep their pinned rating). Bit-identical on every recomputation."""
    log = rated_log(games, entrants)
    r = _ratings(log, pinned, model)
    return {name: r[i] for i, name in enumerate(log.names)}


def rank_with_ties(mu, sigma, z: float = INTERVAL_Z) -> np.ndarray:
    """Competition ranks that tie where intervals overlap.

    ``rank_i = 1 + #{j : mu_j - z sigma_j > mu_i + z sigma_i}``: one plus the number of entrants
    that are clearly better, meaning their whole interval ``mu ± z sigma`` (z = 1.96, 95% under
    the model) lies above entrant i's. Entrants whose intervals overlap can share a rank; an
    entrant with a wide interval (few games) gets a small rank number even when its conservative
    score puts it low in the table: it could still be that good.
    """
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    low, high = mu - z * sigma, mu + z * sigma
    return 1 + np.sum(low[None, :] > high[:, None], axis=1)


@dataclass(frozen=True)
class Standing:
    """One row of the standings table (TrueSkill, online).

    ``win_rate`` is ``(wins + draws / 2) / games`` (None before the first game);
    ``last_played`` the ``finished_at`` of the entrant's latest rated game and
    ``last_played_age_s`` its age in seconds at ``now``. ``errors`` counts the errored games it
    took part in (never rated).
    """

    rank: int
    name: str
    mu: float
    sigma: float
    conservative: float
    games: int
    wins: int
    draws: int
    losses: int
    win_rate: float | None
    last_played: str | None
    last_played_age_s: float | None
    pinned: bool
    errors: int

    @property
    def low(self) -> float:
        """``mu - 1.96 sigma``."""
        return self.mu - INTERVAL_Z * self.sigma

    @property
    def high(self) -> float:
        """``mu + 1.96 sigma``."""
        return self.mu + INTERVAL_Z * self.sigma


def _now_seconds(now) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    if isinstance(now, (int, float)):
        return float(now)
    if isinstance(now, str):
        return _timestamp(now)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.timestamp()


def _last_played(log: RatedLog) -> list[int | None]:
    """Per entrant: the index (into the rated games) of its latest game by finish time, falling
    back to log order where times are unreadable."""
    n = len(log.names)
    last: list[int | None] = [None] * n
    best = [-math.inf] * n
    for k, (ia, ib, t) in enumerate(zip(log.a.tolist(), log.b.tolist(), log.time.tolist())):
        key = t if t == t else -math.inf  # nan: only by log order
        for i in (ia, ib):
            if key >= best[i]:
                best[i], last[i] = key, k
    return last


def standings(
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
    now=None,
) -> list[Standing]:
    """The standings table, with ranks from :func:`rank_with_ties`, sorted by rank and within a
    rank by conservative score ``mu - 3 sigma`` (then mu, then entrant order), so ranks read
    downward.

    ``now`` (a datetime, ISO string or epoch seconds; default: the current time) is when
    ``last_played_age_s`` is measured from.
    """
    log = rated_log(games, entrants)
    r = _ratings(log, pinned, model)
    _, mask = _start(log, pinned, model or TrueSkill())
    n = len(log.names)
    wins, draws, losses = log.counts()
    played = wins + draws + losses
    cons = r.conservative()
    ranks = rank_with_ties(r.mu, r.sigma)
    last = _last_played(log)
    now_s = _now_seconds(now)
    order = sorted(range(n), key=lambda i: (ranks[i], -cons[i], -r.mu[i], i))
    rows = []
    for i in order:
        k = last[i]
        t = log.time[k] if k is not None else math.nan
        rows.append(
            Standing(
                rank=int(ranks[i]),
                name=log.names[i],
                mu=float(r.mu[i]),
                sigma=float(r.sigma[i]),
                conservative=float(cons[i]),
                games=int(played[i]),
                wins=int(wins[i]),
                draws=int(draws[i]),
                losses=int(losses[i]),
                win_rate=float((wins[i] + 0.5 * draws[i]) / played[i]) if played[i] else None,
                last_played=log.finished_at[k] if k is not None else None,
                last_played_age_s=float(now_s - t) if math.isfinite(t - now_s) else None,
                pinned=bool(mask[i]),
                errors=int(log.errors[i]),
            )
        )
    return rows


@dataclass(frozen=True)
class RatingHistory:
    """One entrant's rating after each of its rated games.

    ``game_index[k]`` is the position of that game among all rated games of the log, counting
    from 1 (so the x axis reads "rated games so far"); ``game_id[k]`` its record id; ``mu[k]``,
    ``sigma[k]`` the rating just after it. ``start`` is the rating before any game (the prior,
    or the pinned rating).
    """

    name: str
    start: Rating
    game_index: np.ndarray
    game_id: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray


def rating_history(
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
) -> dict[str, RatingHistory]:
    """Each entrant's rating after every rated game it played, in entrant order.

    Rates the log wave by wave (games in one wave share no unpinned entrant, see
    :func:`arena.ratings.trueskill.waves`) through ``model.recompute``, so the last point of each history
    equals :func:`compute_ratings` to the bit.
    """
    log = rated_log(games, entrants)
    model = model or TrueSkill()
    current, mask = _start(log, pinned, model)
    start = [current[i] for i in range(len(log.names))]
    n, m = len(log.names), len(log)
    after_a = np.empty((2, m))  # mu, sigma of a after each game
    after_b = np.empty((2, m))
    if m:
        level = waves(n, log.a, log.b, mask)
        order = np.argsort(level, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(level)[1:])))
        triples = log.triples()
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            k = order[lo:hi]
            current = model.recompute(n, triples[k], initial=current, pinned=mask)
            after_a[0, k], after_a[1, k] = current.mu[log.a[k]], current.sigma[log.a[k]]
            after_b[0, k], after_b[1, k] = current.mu[log.b[k]], current.sigma[log.b[k]]
    out = {}
    position = np.arange(1, m + 1)
    for i, name in enumerate(log.names):
        on_a, on_b = log.a == i, log.b == i
        k = np.flatnonzero(on_a | on_b)
        side_a = on_a[k]
        out[name] = RatingHistory(
            name=name,
            start=start[i],
            game_index=position[k],
            game_id=log.ids[k],
            mu=np.where(side_a, after_a[0, k], after_b[0, k]),
            sigma=np.where(side_a, after_a[1, k], after_b[1, k]),
        )
    return out


def win_probability_matrix(
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | None = None,
    model: RatingModel | None = None,
) -> np.ndarray:
    """``P[i, j]``: the predicted probability that entrant i beats entrant j, from the current
    TrueSkill ratings (``Phi((mu_i - mu_j) / sqrt(2 beta^2 + s_i^2 + s_j^2))``, via
    :func:`arena.ratings.trueskill.win_probability_matrix`), in :func:`entrant_names` order."""
    log = rated_log(games, entrants)
    model = model or TrueSkill()
    r = _ratings(log, pinned, model)
    return np.asarray(model.win_probability_matrix(r.mu, r.sigma))


def observed_win_matrix(games: Sequence[Mapping], entrants: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(wins, counts)``: ``wins[i, j]`` is what i scored against j (a win 1, a draw 1/2) and
    ``counts[i, j]`` the rated games between them (symmetric). The observed win rate is
    ``wins / counts`` where ``counts > 0``."""
    log = rated_log(games, entrants)
    return _pair_matrices(len(log.names), log.a, log.b, log.outcome)


def _pair_matrices(n, a, b, outcome, weight=None):
    score_a = (outcome + 1) * 0.5  # 1, 1/2, 0
    if weight is not None:
        score_a = score_a * weight
        count = weight.astype(np.float64)
    else:
        count = np.ones(len(a))
    wins = np.bincount(a * n + b, score_a, minlength=n * n) + np.bincount(b * n + a, count - score_a, minlength=n * n)
    counts = np.bincount(a * n + b, count, minlength=n * n)
    wins, counts = wins.reshape(n, n), counts.reshape(n, n)
    return wins, counts + counts.T


# --------------------------------------------------------------------------------------------
# Bradley-Terry (order-independent)


def _log_posterior(theta, wins, lam):
    d = theta[:, None] - theta[None, :]
    return -float(np.sum(wins * np.logaddexp(0.0, -d))) - 0.5 * lam * float(theta @ theta)


def fit_bradley_terry(
    wins: np.ndarray,
    counts: np.ndarray,
    prior_sd: float = 4.0,
    *,
    start: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> np.ndarray:
    """Bradley-Terry strengths in log-odds: ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))``.

    ``wins[i, j]`` is what i scored against j (a draw counts half a win for each side) and
    ``counts = wins + wins.T``. The fit is the maximum a posteriori estimate under independent
    N(0, prior_sd^2) priors, so an undefeated or winless entrant stays finite; the default
    (4 log-odds, about 700 Elo) is weak next to a handful of games. The result has mean 0.
    ``prior_sd=math.inf`` gives the plain maximum-likelihood fit, centred on mean 0 (it needs a
    connected comparison graph in which nobody is undefeated or winless).

    Newton's method on the concave log posterior, with step halving; exact to ``tol``.
    """
    wins = np.asarray(wins, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    n = len(wins)
    if wins.shape != (n, n) or counts.shape != (n, n):
        raise ValueError("wins and counts must be square matrices of the same size")
    if n == 0:
        return np.zeros(0)
    lam = 0.0 if math.isinf(prior_sd) else 1.0 / (prior_sd * prior_sd)
    if lam == 0.0:
        # The maximum-likelihood fit exists iff everyone can be reached from everyone along
        # "scored against" edges (nobody undefeated or winless within a group).
        from scipy.sparse.csgraph import connected_components

        k, _ = connected_components(wins > 0, directed=True, connection="strong")
        if k > 1:
            raise ValueError(
                "no maximum-likelihood Bradley-Terry fit: some entrants are undefeated or "
                "winless against the rest (use a finite prior_sd)"
            )
    theta = np.zeros(n) if start is None else np.array(start, dtype=np.float64)
    theta -= theta.mean()
    # The optimum has mean 0 (the gradient sums to -lam * sum(theta)), and each Newton step keeps
    # the mean: 1 is an eigenvector of the Laplacian. Adding 1 1^T / n to the Hessian therefore
    # changes no step, but makes the system regular even without a prior (lam = 0).
    ridge = lam * np.eye(n) + np.ones((n, n)) / n
    f = _log_posterior(theta, wins, lam)
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # P(i beats j)
        grad = np.sum(wins - counts * p, axis=1) - lam * theta
        weight = counts * p * (1.0 - p)
        laplacian = np.diag(weight.sum(axis=1)) - weight
        try:
            step = np.linalg.solve(laplacian + ridge, grad)
        except np.linalg.LinAlgError:
            raise ValueError("the Bradley-Terry fit has no unique solution (disconnected games and no prior)") from None
        t = 1.0
        while True:
            candidate = theta + t * step
            fc = _log_posterior(candidate, wins, lam)
            if fc >= f - 1e-12 * abs(f) or t < 1e-8:
                break
            t *= 0.5
        theta, f = candidate - candidate.mean(), fc
        if np.max(np.abs(t * step)) < tol:
            break
    if not np.all(np.isfinite(theta)):
        raise ValueError("the Bradley-Terry fit diverged (an undefeated entrant and no prior?)")
    return theta


def _hessian(theta, counts, lam):
    """Minus the Hessian of the log posterior, plus ``1 1^T / n`` (see fit_bradley_terry)."""
    n = len(theta)
    p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
    weight = counts * p * (1.0 - p)
    return np.diag(weight.sum(axis=1)) - weight + lam * np.eye(n) + np.ones((n, n)) / n


_CHORD_FROM = 48  # entrants from which bootstrap refits use chord iterations


def _refit(wins, counts, prior_sd, theta0, h_inv, tol=1e-10, max_iter=100):
    """Refit a bootstrap replicate from the full fit ``theta0`` by chord iterations, Newton's
    method with the Hessian held at the full fit (``h_inv`` its inverse): a matrix-vector
    product a step, no factorisation. A replicate is close to the full data, so they contract
    fast; where they stall, full Newton (:func:`fit_bradley_terry`) takes over."""
    n = len(theta0)
    if n == 0:
        return theta0
    if n < _CHORD_FROM:  # small: Newton's few solves are cheaper than many chord steps
        return fit_bradley_terry(wins, counts, prior_sd, start=theta0)
    lam = 0.0 if math.isinf(prior_sd) else 1.0 / (prior_sd * prior_sd)
    theta = theta0.copy()
    last = math.inf
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))
        grad = np.sum(wins - counts * p, axis=1) - lam * theta
        step = h_inv @ grad
        size = float(np.max(np.abs(step)))
        if not size < 0.9 * last:  # not contracting (or nan): give up on the chord
            break
        theta = theta + step
        theta -= theta.mean()
        if size < tol:
            return theta
        last = size
    return fit_bradley_terry(wins, counts, prior_sd, start=theta0)


@dataclass(frozen=True)
class BradleyTerry:
    """An order-independent Bradley-Terry fit over the whole log, on the Elo scale.

    ``elo[i]`` is entrant i's strength in Elo points (``ELO_PER_LOGIT`` times log-odds: a 400
    point gap means 10:1 odds), relative to ``anchor`` (the first pinned entrant, at 0) or, with
    nothing pinned, centred on the mean. ``low``/``high`` are percentile bootstrap 95% intervals
    over ``n_bootstrap`` resamplings of the rated games (with replacement), seeded by ``seed``;
    ``games[i]`` is entrant i's rated games. Unlike online TrueSkill, the fit does not depend on
    the order of the games.
    """

    names: list[str]
    elo: np.ndarray
    low: np.ndarray
    high: np.ndarray
    games: np.ndarray
    anchor: str | None
    prior_sd: float
    n_bootstrap: int
    seed: int
    replicates: np.ndarray  # (n_bootstrap, n) Elo, same anchoring

    def order(self) -> list[int]:
        """Entrant indices, strongest first (entrants without games last)."""
        return sorted(range(len(self.names)), key=lambda i: (self.games[i] == 0, -self.elo[i], i))

    def win_probability(self, i: int, j: int) -> float:
        """P(i beats j) under the fit."""
        return float(1.0 / (1.0 + 10.0 ** (-(self.elo[i] - self.elo[j]) / 400.0)))


def bradley_terry(
    games: Sequence[Mapping],
    entrants: Sequence[str] | None = None,
    pinned: Mapping[str, tuple[float, float]] | Sequence[str] | None = None,
    *,
    n_bootstrap: int = 200,
    seed: int = 0,
    prior_sd: float = 4.0,
    confidence: float = 0.95,
) -> BradleyTerry:
    """Fit Bradley-Terry to all rated games at once (see :func:`fit_bradley_terry`), with
    bootstrap intervals. Deterministic for a given ``seed``. ``pinned`` only picks the anchor:
    the first pinned entrant (in entrant order) sits at 0 Elo."""
    log = rated_log(games, entrants)
    n, m = len(log.names), len(log)
    anchored = [i for i, name in enumerate(log.names) if pinned and name in pinned]
    anchor = anchored[0] if anchored else None

    def to_elo(theta):
        theta = np.asarray(theta) * ELO_PER_LOGIT
        if anchor is not None:
            return theta - theta[..., anchor, None]
        return theta - theta.mean(axis=-1)[..., None] if n else theta

    wins, counts = _pair_matrices(n, log.a, log.b, log.outcome)
    theta = fit_bradley_terry(wins, counts, prior_sd)
    # Resampling m games with replacement is drawing how many of each distinct (a, b, outcome)
    # the replicate holds: a multinomial over those cells, much cheaper than m indices.
    cell, cell_games = np.unique((log.a * n + log.b) * 3 + (log.outcome + 1), return_counts=True)
    ca, cb, co = cell // 3 // max(n, 1), cell // 3 % max(n, 1), cell % 3 - 1
    lam = 0.0 if math.isinf(prior_sd) else 1.0 / (prior_sd * prior_sd)
    h_inv = np.linalg.inv(_hessian(theta, counts, lam)) if n >= _CHORD_FROM else None
    rng = np.random.default_rng(seed)
    reps = np.empty((n_bootstrap, n))
    for r in range(n_bootstrap):
        k = rng.multinomial(m, cell_games / m) if m else cell_games
        w, c = _pair_matrices(n, ca, cb, co, k)
        reps[r] = _refit(w, c, prior_sd, theta, h_inv)
    reps = to_elo(reps)
    tail = 50.0 * (1.0 - confidence)
    if n_bootstrap:
        low, high = np.percentile(reps, [tail, 100.0 - tail], axis=0)
    else:
        low = high = np.full(n, np.nan)
    played = np.bincount(log.a, minlength=n) + np.bincount(log.b, minlength=n)
    return BradleyTerry(
        names=list(log.names),
        elo=to_elo(theta),
        low=low,
        high=high,
        games=played,
        anchor=log.names[anchor] if anchor is not None else None,
        prior_sd=prior_sd,
        n_bootstrap=n_bootstrap,
        seed=seed,
        replicates=reps,
    )


# --------------------------------------------------------------------------------------------
# Presentation helpers


def humanize_age(seconds: float | None) -> str:
    """``"just now"``, ``"5 min ago"``, ``"3 h ago"``, ``"2 days ago"``; ``"—"`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            k = int(seconds // size)
            return f"{k} {unit}{'s' if unit == 'day' and k != 1 else ''} ago"
    return "just now"  # unreachable
