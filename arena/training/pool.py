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

**Which past snapshots.** The step-0 snapshot (the random initial weights, saved only so that a
crash before the first real snapshot resumes) is never an enemy: a random policy teaches
nothing. Of the rest only the newest ``max_past`` (:data:`MAX_PAST_SNAPSHOTS`, 20, by default)
are candidates, so the distribution, and the models the workers build from it, stay the same
size however long a run goes.

**Sampling rules** are plugins (:mod:`arena.plugins.enemies`; the built-in ``uniform``,
``pfsp`` and ``openai_five`` are in the ``arena_enemies`` plugin). The pool builds the file's rule
once, and each :meth:`EnemyPool.distribution` hands it the candidates with their weights and the
learner's record against each; it never runs in the workers.

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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.errors import ArenaError, one_line
from arena.plugins.enemies import SELF, Enemy

# The file format lives in arena.training.enemies; re-exported so callers need one import.
from arena.training.enemies import EnemyEntry, PoolConfig, load_pool_file
from arena.training.snapshot import SUFFIX

if TYPE_CHECKING:
    from arena.plugins.enemies import SamplingRule
    from arena.plugins.manager import Registry

__all__ = ["EMA_ALPHA", "MAX_PAST_SNAPSHOTS", "EnemyEntry", "EnemyPool", "PoolConfig", "load_pool_file", "sample"]

EMA_ALPHA = 0.05
MAX_PAST_SNAPSHOTS = 20  # past selves a distribution draws from: the newest ones

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

    def __init__(
        self,
        config: PoolConfig,
        *,
        ema_alpha: float = EMA_ALPHA,
        rules: Registry[SamplingRule] | None = None,
        max_past: int = MAX_PAST_SNAPSHOTS,
    ) -> None:
        if not 0 < ema_alpha <= 1:
            raise ValueError(f"ema_alpha must be in (0, 1], got {ema_alpha}")
        if isinstance(max_past, bool) or not isinstance(max_past, int) or max_past < 0:
            raise ValueError(f"max_past must be a whole number >= 0, got {max_past!r}")
        self.max_past = max_past
        if rules is None:
            from arena.plugins.manager import get_arena

            rules = get_arena().sampling_rules
        self.config = config
        self.ema_alpha = ema_alpha
        self._stats = {entry.label: _Stats() for entry in config.entries}
        self._rule_name = f"sampling rule '{config.sampling}' (plugin '{rules.owner(config.sampling)}')"
        try:
            self.rule = rules.get(config.sampling).make(**config.knobs)
        except (ValueError, TypeError) as exc:
            raise ArenaError(f"{self._rule_name} refused the knobs {config.knobs}: {one_line(exc)}") from None

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
        """The concrete enemies and their probabilities (summing to 1), from the pool's rule.

        :param self_snapshots: paths of the learner's saved snapshots, oldest first (the last
            one is the newest saved); ignored when the pool has no ``"self"`` entry. The step-0
            snapshot is dropped, and of the others only the newest ``max_past`` are used.
        :returns: ``[(label, spec, probability), ...]`` in file order, ``"self"`` expanded in
            place to the latest self then the past snapshots oldest first.
        """
        past = list(self_snapshots)
        if any(not isinstance(p, str) or not p for p in past) or len(set(past)) != len(past):
            raise ValueError(f"self_snapshots must be distinct non-empty paths, got {past!r}")
        if not self.config.has_self:
            past = []
        past = [p for p in past if not is_initial_snapshot(p)]
        past = past[max(0, len(past) - self.max_past) :]
        enemies = self.candidates(past)
        try:
            probabilities = [float(p) for p in self.rule.probabilities(enemies)]
        except Exception as exc:  # a plugin's bug: name the rule, keep it to one line
            raise ArenaError(f"{self._rule_name} failed: {type(exc).__name__}: {one_line(exc)}") from exc
        total = math.fsum(probabilities)
        if (
            len(probabilities) != len(enemies)
            or any(not p >= 0 for p in probabilities)
            or not math.isclose(total, 1.0, rel_tol=1e-6)
        ):
            raise ArenaError(
                f"{self._rule_name} returned {probabilities} for {len(enemies)} enemies; it must return one probability "
                "per enemy, none negative, summing to 1"
            )
        return [(e.label, e.spec, p / total) for e, p in zip(enemies, probabilities)]

    def candidates(self, past: Sequence[str] = ()) -> list[Enemy]:
        """What a sampling rule sees: each entry with its record, ``"self"`` expanded to the
        latest self and then ``past`` (snapshot paths, oldest first)."""
        out = []
        for entry in self.config.entries:
            stats = self._stats[entry.label]
            common = {"label": entry.label, "weight": entry.weight, "games": stats.games, "win_rate": stats.rate}
            if entry.spec != SELF:
                out.append(Enemy(spec=entry.spec, **common))
                continue
            out.append(Enemy(spec=SELF, **common))
            out.extend(Enemy(spec=path, past=True, **common) for path in past)
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


def is_initial_snapshot(path: str) -> bool:
    """``path`` is a step-0 snapshot (named by :func:`arena.training.snapshot.snapshot_name`):
    the random weights a run saves before its first update."""
    return re.fullmatch(r"0+" + re.escape(SUFFIX), Path(path).name) is not None


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
