"""The built-in sampling rules, registered through ``arena_register_enemies`` like a third-party
plugin's: ``uniform``, ``pfsp`` (prioritized fictitious self-play, AlphaStar) and ``openai_five``.

``w_i`` is entry i's weight, ``p_i`` the learner's win rate against it (an unplayed entry counts
as 0.5). The ``"self"`` entry's share is split between the latest self and the past snapshots by
:func:`arena.plugins.enemies.split_self` (half each) in ``uniform`` and ``pfsp``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from arena import hookimpl
from arena.plugins.enemies import SELF, Enemy, SamplingRule, entries, split_self

PFSP_FLOOR = 0.01  # fraction of an entry's uniform share that PFSP never goes below
DEFAULT_PFSP_POWER = 2.0  # AlphaStar's "hard" weighting (1 - p)^2
DEFAULT_LATEST_SELF = 0.8  # OpenAI Five: 80% of games against the current policy


def _by_weight(first: Sequence[Enemy]) -> list[float]:
    total = math.fsum(e.weight for e in first)
    return [e.weight / total for e in first]


class Uniform:
    """Entry i gets ``w_i / sum(w)``."""

    def probabilities(self, enemies: Sequence[Enemy]) -> list[float]:
        return split_self(_by_weight(entries(enemies)), enemies)


class PFSP:
    """Entry i gets a share proportional to ``w_i * (1 - p_i) ** power``, never less than 1% of
    its uniform share (entries below it are raised to it exactly and the others scaled down), so
    an enemy the learner always beats is still revisited; if it beats every entry every time,
    shares fall back to the weights."""

    def __init__(self, pfsp_power: float = DEFAULT_PFSP_POWER):
        if isinstance(pfsp_power, bool) or not isinstance(pfsp_power, (int, float)) or not pfsp_power > 0:
            raise ValueError(f"must be a number > 0 (default 2: (1 - p)^2), got {pfsp_power!r}")
        self.power = float(pfsp_power)

    def probabilities(self, enemies: Sequence[Enemy]) -> list[float]:
        first = entries(enemies)
        floors = [PFSP_FLOOR * share for share in _by_weight(first)]
        scores = [e.weight * (1.0 - (0.5 if e.win_rate is None else e.win_rate)) ** self.power for e in first]
        # Raise entries below their floor to it exactly; repeat because scaling the others down
        # can push another one under. Floors sum to PFSP_FLOOR < 1, so some entry stays free.
        fixed: set[int] = set()
        while True:
            free = [i for i in range(len(scores)) if i not in fixed]
            mass = 1.0 - math.fsum(floors[i] for i in fixed)
            total = math.fsum(scores[i] for i in free)
            if total == 0:  # the learner beats every free entry every time: share by weight
                scaled = [first[i].weight if i in free else 0.0 for i in range(len(scores))]
                total = math.fsum(scaled)
            else:
                scaled = [scores[i] if i in free else 0.0 for i in range(len(scores))]
            shares = [floors[i] if i in fixed else mass * scaled[i] / total for i in range(len(scores))]
            below = {i for i in free if shares[i] < floors[i]}
            if not below:
                return split_self(shares, enemies)
            fixed |= below


class OpenAIFive:
    """The latest self plays ``latest_self`` of the games; the rest is spread by weight over the
    past snapshots as one group (the ``"self"`` entry's weight, evenly within the group) and the
    other entries. With no past snapshots and no other entries the latest self plays every game."""

    def __init__(self, latest_self: float = DEFAULT_LATEST_SELF):
        if isinstance(latest_self, bool) or not isinstance(latest_self, (int, float)) or not 0 < latest_self < 1:
            raise ValueError(
                f"must be a fraction between 0 and 1 (default 0.8), got {latest_self!r}; "
                "it must leave some games to the past snapshots and the other entries"
            )
        self.latest = float(latest_self)

    def probabilities(self, enemies: Sequence[Enemy]) -> list[float]:
        past = [i for i, e in enumerate(enemies) if e.past]
        groups = []  # (weight, candidate indices) sharing the rest, evenly within a group
        for i, e in enumerate(enemies):
            if e.label != SELF:
                groups.append((e.weight, [i]))
            elif e.latest_self and past:
                groups.append((e.weight, past))
        out = [0.0] * len(enemies)
        latest = next(i for i, e in enumerate(enemies) if e.latest_self)
        if not groups:
            out[latest] = 1.0
            return out
        out[latest] = self.latest
        total = math.fsum(weight for weight, _ in groups)
        for weight, members in groups:
            for i in members:
                out[i] = (1.0 - self.latest) * weight / total / len(members)
        return out


@hookimpl
def arena_register_enemies(register):
    register(SamplingRule(name="uniform", make=Uniform, description="each entry by its weight"))
    register(
        SamplingRule(
            name="pfsp",
            make=PFSP,
            description="prioritized fictitious self-play: enemies that beat the learner more often play more",
            knobs={"pfsp_power": "p in w * (1 - win rate) ** p; default 2"},
        )
    )
    register(
        SamplingRule(
            name="openai_five",
            make=OpenAIFive,
            description="the latest self most of the time, the rest by weight",
            knobs={"latest_self": "the latest self's share of the games, between 0 and 1; default 0.8"},
            needs_self=True,
        )
    )
