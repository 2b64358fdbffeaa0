"""The ``hardest`` sampling rule: play most often the enemy the learner does worst against.

Entry ``i`` (weight ``w_i``, the learner's win rate ``p_i`` against it, a draw counting half) gets
a share proportional to::

    w_i * ((1 - p_i) ** sharpness + FLOOR)

An entry not played yet counts as unbeaten (``p_i = 0``), so every entry is tried early on.
``sharpness`` (default 4) says how strongly the hardest enemy is preferred: 0 plays entries by
weight alone, and the larger it is the more the games go to the hardest. ``FLOOR`` keeps an enemy
the learner always beats in the rotation (about 5% of its weight's worth), so the learner does
not forget how to beat it. The ``"self"`` entry's share is split between the latest self and the
past snapshots as the built-in rules split it (:func:`arena.plugins.enemies.split_self`).

Plain Python: the learner asks the rule for probabilities once per update; it never runs in the
game loop or in the workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from arena.plugins.enemies import Enemy, entries, split_self

DEFAULT_SHARPNESS = 4.0
FLOOR = 0.05


class Hardest:
    """The rule object: :meth:`probabilities` for the pool's candidates."""

    def __init__(self, sharpness: float = DEFAULT_SHARPNESS):
        # Enemies files give knobs as JSON values: refuse anything but a finite number >= 0, with
        # one line that Arena shows after the file's name and the knob's.
        if isinstance(sharpness, bool) or not isinstance(sharpness, (int, float)) or not 0 <= sharpness < math.inf:
            raise ValueError(f"must be a number >= 0 (default {DEFAULT_SHARPNESS:g}; 0 plays by weight alone), got {sharpness!r}")
        self.sharpness = float(sharpness)

    def probabilities(self, enemies: Sequence[Enemy]) -> list[float]:
        first = entries(enemies)  # one candidate per entry: the latest self stands for "self"
        scores = [e.weight * ((1.0 - (e.win_rate or 0.0)) ** self.sharpness + FLOOR) for e in first]
        total = math.fsum(scores)
        return split_self([score / total for score in scores], enemies)
