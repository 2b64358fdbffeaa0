"""Enemy pools: whom a self-play learner plays next, and how it fares against each enemy.

An :class:`EnemyPool` is built from an enemies file (:func:`arena.training.enemies.load_pool_file`, whose
docstring and ``enemies/README.md`` describe the format). The learner records each finished
game with :meth:`EnemyPool.record`, periodically computes :meth:`EnemyPool.distribution` (a plain
list of ``(label, spec, probability)`` tuples) and broadcasts it; workers call :func:`sample`
at each episode start. Pure Python: no torch, no numpy, and everything crossing processes is
plain picklable data.

**Self.** The ``"self"`` entry stands for the learner's latest weights (spec ``"self"``) and its
past saved snapshots (spec = the snapshot's path). All of them carry the label ``"self"``, so
their games aggregate into one statistic, which is what PFSP weighs ``"self"`` by and what the
progress display shows. With no past snapshots yet, ``"self"`` is the latest self alone.

**Sampling rules** (``w_i`` is entry i's weight, ``p_i`` the learner's win rate against it):

- ``uniform``: entry i gets ``w_i / sum(w)``. The ``"self"`` share goes whole to the latest self
  when there are no past snapshots, else half to the latest self and half spread evenly over the
  past snapshots (so old snapshots keep the learner from forgetting how to beat old strategies,
  without crowding out the current one).
- ``pfsp`` (prioritized fictitious self-play, AlphaStar): entry i gets a share proportional to
  ``w_i * (1 - p_i) ** pfsp_power`` (power 2 = AlphaStar's "hard" weighting), with an unplayed
  entry counted as ``p_i = 0.5``. Floor: no entry gets less than ``PFSP_FLOOR`` (1%) of its
  uniform share ``w_i / sum(w)``; entries below it are raised to it exactly and the others scaled
  down in proportion, so an enemy the learner always beats is still revisited now and then.
  If the learner beats every entry every time, the pool falls back to uniform shares. The
  ``"self"`` share is split latest/past as in ``uniform``.
- ``openai_five``: the latest self plays ``latest_self`` (0.8) of the games; the rest is spread
  by weight over the past snapshots as one group (weighted by the ``"self"`` entry's weight,
  evenly within the group) and the other entries. With no past snapshots and no other entries
  the latest self gets everything.

**Win rates.** Per label: games, wins, draws, losses, and the learner's win rate as an
exponential moving average (a draw counts 0.5). For the first ``1 / ema_alpha`` games (20 with
the default ``EMA_ALPHA = 0.05``) the rate is the plain mean of the games so far; after that
each game moves it by ``alpha`` times its surprise, so a game 14 games back counts half as much
as the newest (a window of roughly the last 20-40 games), letting PFSP follow a learner whose
strength changes.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.errors import ArenaError

# The file format lives in arena.training.enemies; re-exported so callers need one import.
from arena.training.enemies import EnemyEntry, PoolConfig, load_pool_file

__all__ = ["EMA_ALPHA", "PFSP_FLOOR", "EnemyEntry", "EnemyPool", "PoolConfig", "load_pool_file", "sample"]

EMA_ALPHA = 0.05
PFSP_FLOOR = 0.01  # fraction of an entry's uniform share that PFSP never goes below
SELF = "self"

Distribution = list[tuple[str, str, float]]


@dataclass
class _Stats:
    games: int = 0
    wins: int = 0
    draws: int = 0
    losses: int = 0
    rate: float | None = None  # EMA of the learner's score; None before the first game


class EnemyPool:
    """Enemy statistics and sampling distributions for one learner (see the module docstring)."""

    def __init__(self, config: PoolConfig, *, ema_alpha: float = EMA_ALPHA) -> None:
        if not 0 < ema_alpha <= 1:
            raise ValueError(f"ema_alpha must be in (0, 1], got {ema_alpha}")
        self.config = config
        self.ema_alpha = ema_alpha
        self._stats = {entry.label: _Stats() for entry in config.entries}

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> EnemyPool:
        return cls(load_pool_file(path), **kwargs)

    @property
    def labels(self) -> list[str]:
        return [entry.label for entry in self.config.entries]

    # -- statistics --------------------------------------------------------------------------

    def record(self, label: str, outcome: float) -> None:
        """Count one finished game: ``outcome`` is 1.0 if the learner won, 0.0 lost, 0.5 draw."""
        stats = self._stats.get(label)
        if stats is None:
            raise ValueError(f"no enemy labelled {label!r} in this pool; labels: {', '.join(self._stats)}")
        if outcome not in (0.0, 0.5, 1.0):
            raise ValueError(f"outcome must be 1.0 (learner won), 0.0 (lost) or 0.5 (draw), got {outcome!r}")
        stats.games += 1
        if outcome == 1.0:
            stats.wins += 1
        elif outcome == 0.0:
            stats.losses += 1
        else:
            stats.draws += 1
        # Warm-up: step 1/n is the running mean; then a fixed step forgets old games.
        step = max(self.ema_alpha, 1.0 / stats.games)
        previous = outcome if stats.rate is None else stats.rate
        stats.rate = previous + step * (outcome - previous)

    def win_rates(self) -> dict[str, tuple[float | None, int]]:
        """``{label: (learner's win rate or None if unplayed, games)}`` in file order."""
        return {label: (stats.rate, stats.games) for label, stats in self._stats.items()}

    def stats(self) -> dict[str, dict[str, Any]]:
        """Full per-label counts (games, wins, draws, losses, rate) for reports."""
        return {label: vars(stats).copy() for label, stats in self._stats.items()}

    # -- sampling ----------------------------------------------------------------------------

    def distribution(self, self_snapshots: Sequence[str] = ()) -> Distribution:
        """The concrete enemies and their probabilities (summing to 1).

        :param self_snapshots: paths of the learner's saved snapshots, oldest first (the last
            one is the newest saved); ignored when the pool has no ``"self"`` entry.
        :returns: ``[(label, spec, probability), ...]`` in file order, ``"self"`` expanded in
            place to the latest self then the past snapshots oldest first.
        """
        past = list(self_snapshots)
        if any(not isinstance(p, str) or not p for p in past) or len(set(past)) != len(past):
            raise ValueError(f"self_snapshots must be distinct non-empty paths, got {past!r}")
        if not self.config.has_self:
            past = []
        if self.config.sampling == "openai_five":
            return self._openai_five(past)
        shares = self._pfsp_shares() if self.config.sampling == "pfsp" else self._uniform_shares()
        out: Distribution = []
        for entry, share in zip(self.config.entries, shares):
            if entry.spec != SELF:
                out.append((entry.label, entry.spec, share))
            elif not past:
                out.append((entry.label, SELF, share))
            else:
                out.append((entry.label, SELF, share / 2))
                out.extend((entry.label, path, share / 2 / len(past)) for path in past)
        return out

    def _uniform_shares(self) -> list[float]:
        total = math.fsum(entry.weight for entry in self.config.entries)
        return [entry.weight / total for entry in self.config.entries]

    def _pfsp_shares(self) -> list[float]:
        uniform = self._uniform_shares()
        floors = [PFSP_FLOOR * share for share in uniform]
        scores = []
        for entry in self.config.entries:
            rate = self._stats[entry.label].rate
            scores.append(entry.weight * (1.0 - (0.5 if rate is None else rate)) ** self.config.pfsp_power)
        # Raise entries below their floor to it exactly; repeat because scaling the others down
        # can push another one under. Floors sum to PFSP_FLOOR < 1, so some entry stays free.
        fixed: set[int] = set()
        while True:
            free = [i for i in range(len(scores)) if i not in fixed]
            mass = 1.0 - math.fsum(floors[i] for i in fixed)
            total = math.fsum(scores[i] for i in free)
            if total == 0:  # the learner beats every free entry every time: share by weight
                weights = [self.config.entries[i].weight if i in free else 0.0 for i in range(len(scores))]
                total, scaled = math.fsum(weights), weights
            else:
                scaled = [scores[i] if i in free else 0.0 for i in range(len(scores))]
            shares = [floors[i] if i in fixed else mass * scaled[i] / total for i in range(len(scores))]
            below = {i for i in free if shares[i] < floors[i]}
            if not below:
                return shares
            fixed |= below

    def _openai_five(self, past: list[str]) -> Distribution:
        latest = self.config.latest_self
        groups = []  # (weight, [(label, spec), ...]) sharing the rest, evenly within a group
        for entry in self.config.entries:
            if entry.spec != SELF:
                groups.append((entry.weight, [(entry.label, entry.spec)]))
            elif past:
                groups.append((entry.weight, [(entry.label, path) for path in past]))
        if not groups:
            return [(SELF, SELF, 1.0)]
        total = math.fsum(weight for weight, _ in groups)
        out: Distribution = [(SELF, SELF, latest)]
        for weight, members in groups:
            out.extend((label, spec, (1.0 - latest) * weight / total / len(members)) for label, spec in members)
        return out

    # -- resuming ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable statistics, for :meth:`load_state_dict` when an experiment resumes."""
        return {"version": 1, "ema_alpha": self.ema_alpha, "stats": self.stats()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s statistics. Enemies no longer in the enemies file are
        dropped; new ones start unplayed. A malformed state is a one-line :class:`ArenaError`."""
        try:
            if state.get("version") != 1:
                raise ValueError(f"unknown version {state.get('version')!r}")
            restored = {}
            for label, fields in state["stats"].items():
                stats = _Stats(**fields)
                counts = (stats.games, stats.wins, stats.draws, stats.losses)
                if any(not isinstance(n, int) or n < 0 for n in counts) or stats.games != sum(counts[1:]):
                    raise ValueError(f"bad counts for {label!r}")
                if (stats.rate is None) != (stats.games == 0) or (stats.rate is not None and not 0 <= stats.rate <= 1):
                    raise ValueError(f"bad rate for {label!r}")
                restored[label] = stats
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ArenaError(
                f"enemy pool state is malformed ({' '.join(str(exc).split())}); was it saved by EnemyPool.state_dict()?"
            ) from None
        for label in self._stats:
            self._stats[label] = restored.get(label, _Stats())


def sample(rng: random.Random, distribution: Distribution) -> tuple[str, str]:
    """Draw one enemy ``(label, spec)`` from :meth:`EnemyPool.distribution`'s list.

    One ``rng.random()`` and a linear walk: cheap at every episode start, reproducible per seed.
    """
    if not distribution:
        raise ValueError("empty distribution")
    r = rng.random()
    for label, spec, probability in distribution:
        r -= probability
        if r < 0:
            return label, spec
    # Rounding can leave r a hair above 0: the last enemy with any probability takes it.
    label, spec, _ = next(item for item in reversed(distribution) if item[2] > 0)
    return label, spec
