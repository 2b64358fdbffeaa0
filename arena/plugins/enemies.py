"""What an enemy-pool plugin registers: sampling rules (how the learner's next enemy is chosen)
and named pools (enemies lists a plugin ships). Cheap to import: no torch, no numpy.

A sampling rule sees the pool as a list of :class:`Enemy` candidates, each with its entry's weight
and the learner's record against it, and returns one probability per candidate. The learner asks
it once per update and broadcasts the result; rollout workers only draw from those probabilities,
so a rule never runs inside the game loop, and it needs no pickling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

SELF = "self"


@dataclass(frozen=True)
class Enemy:
    """One candidate for the learner's next game, as a sampling rule sees it.

    :param label: the enemies-file entry it comes from, as written (``"self"`` for the learner's
        latest weights and for each of its past snapshots).
    :param spec: who plays: ``"self"`` (the latest weights), a past snapshot's path, or the
        entry's agent spec (``"cpu:9"``, ``"bot:tracker:3"``...).
    :param weight: the entry's weight in the file (> 0, 1 unless given).
    :param past: a past snapshot of the learner (one of the ``"self"`` entry's).
    :param games: the learner's games against this entry so far (``"self"``'s candidates share one record).
    :param win_rate: the learner's recent win rate against the entry (a draw counts 1/2), or None
        before the first game.
    """

    label: str
    spec: str
    weight: float = 1.0
    past: bool = False
    games: int = 0
    win_rate: float | None = None

    @property
    def latest_self(self) -> bool:
        return self.spec == SELF


class Rule(Protocol):
    """What :attr:`SamplingRule.make` returns."""

    def probabilities(self, enemies: Sequence[Enemy]) -> Sequence[float]:
        """One probability per candidate, in their order, summing to 1 (zeros allowed)."""
        ...


@dataclass(frozen=True)
class SamplingRule:
    """A named way to choose the learner's next enemy: ``"sampling": NAME`` in an enemies file.

    :param name: what enemies files write.
    :param make: ``make(**knobs) -> Rule``. The knobs are the enemies file's top-level keys named in
        ``knobs`` (those the file gives); raise ``ValueError`` with a one-line reason for a bad value.
    :param description: one line for ``arena plugins``.
    :param knobs: the top-level keys this rule takes, with what each means.
    :param needs_self: the rule needs a ``"self"`` entry in the file.
    """

    name: str
    make: Callable[..., Rule]
    description: str = ""
    knobs: dict[str, str] = field(default_factory=dict)
    needs_self: bool = False


@dataclass(frozen=True)
class NamedPool:
    """An enemies list a plugin ships: ``--enemies NAME`` finds it when no file of that name is
    in ``./enemies/`` or Arena's own ``enemies/``.

    :param name: what ``--enemies`` takes.
    :param enemies: what an enemies file would hold: phillip's list (``["self", {"cpu": 9}]``) or
        the object form (``{"sampling": "pfsp", "enemies": [...]}``).
    :param description: one line for ``arena plugins``.
    """

    name: str
    enemies: list[Any] | dict[str, Any]
    description: str = ""


def split_self(shares: Sequence[float], enemies: Sequence[Enemy]) -> list[float]:
    """Per-candidate probabilities from per-entry ``shares``: each entry's share goes to its
    candidate, and the ``"self"`` entry's share goes half to the latest self and half evenly to the
    past snapshots (all of it to the latest self before there are any). ``shares`` holds one number
    per entry, in the order the entries' first candidates appear. The split ``uniform`` and
    ``pfsp`` use; a rule may use it or not."""
    entries = list(dict.fromkeys(e.label for e in enemies))
    share = dict(zip(entries, shares))
    past = sum(1 for e in enemies if e.past)
    out = []
    for e in enemies:
        if e.label != SELF or (e.latest_self and not past):
            out.append(share[e.label] if not e.past else 0.0)
        elif e.latest_self:
            out.append(share[e.label] / 2)
        else:
            out.append(share[e.label] / 2 / past)
    return out


def entries(enemies: Sequence[Enemy]) -> list[Enemy]:
    """The first candidate of each entry (the latest self for ``"self"``), in order: one per
    entry, for rules that weigh entries rather than candidates."""
    seen: dict[str, Enemy] = {}
    for e in enemies:
        seen.setdefault(e.label, e)
    return list(seen.values())
