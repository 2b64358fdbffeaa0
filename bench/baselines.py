"""Baseline schedulers that Arena's matchmaking is measured against (bench/matchmaking.py and
tests/test_matchmaking.py): uniformly random pairs, and the pure match-quality argmax. Never
schedule a leaderboard with these."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from arena.ratings.matchmaking import _candidates, _fill, _numpy_rng, _pairs, _ratings, match_quality
from arena.ratings.trueskill import _pinned_mask


def random_games(
    n: int,
    k: int,
    *,
    rng,
    pinned=None,
    forbidden: Iterable[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """``k`` uniformly random pairs of distinct entrants (independently, with replacement), never
    two pinned ones or a forbidden pair. The baseline every scheduler should beat."""
    gen = _numpy_rng(rng)
    pin = _pinned_mask(n, pinned)
    a, b = _candidates(n, pin, _pairs(forbidden, n, "forbidden"))
    if k <= 0 or len(a) == 0:
        return []
    t = gen.integers(0, len(a), size=k)
    swap = (gen.random(k) < 0.5) & ~pin[b[t]] | pin[a[t]]  # a pinned entrant second
    return [(int(b[i]), int(a[i])) if s else (int(a[i]), int(b[i])) for i, s in zip(t, swap)]


def quality_argmax_games(
    mu,
    sigma,
    k: int,
    *,
    rng,
    model=None,
    in_flight: Iterable[tuple[int, int]] = (),
    pinned=None,
) -> list[tuple[int, int]]:
    """Pure TrueSkill match-quality argmax: the ``k`` best-quality pairs not in flight (no
    spreading over entrants; ties by rng). Shown for contrast: it starves everyone but a few."""
    mu, sigma = _ratings(mu, sigma)
    n = len(mu)
    pin = _pinned_mask(n, pinned)
    a, b = _candidates(n, pin, ())
    if k <= 0 or len(a) == 0:
        return []
    q = match_quality(mu, sigma, model=model)[a, b]
    return _fill(n, a, b, q, int(k), _numpy_rng(rng), in_flight=_pairs(in_flight, n, "in_flight"),
                 games=np.zeros(n), spread=False, orient=pin[a])  # fmt: skip
