"""Short, readable labels for entrant specs, for plots and tables.

A trained agent's spec is a path, often a long one that differs from its neighbours only at the
end (``experiments/rac/snapshots/000000102400.pt``, ``experiments/rac/snapshots/000000204800.pt``).
:func:`entrant_labels` names it by its experiment and its training steps instead (``rac@102k``),
and leaves every other spec (``cpu``, ``bot:tracker:9``, ``random``) as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["entrant_labels", "humanize_steps"]

_SNAPSHOT = re.compile(r"\d+\.pt")


def humanize_steps(steps: int) -> str:
    """``768``, ``12.8k``, ``102k``, ``1.5M``, ``2G``: three significant digits at most."""
    steps = int(steps)
    if abs(steps) < 1000:
        return str(steps)
    for scale, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        value = float(f"{steps / scale:.3g}")
        if abs(value) < 1000 or suffix == "G":
            return f"{value:g}{suffix}"
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _Spec:
    spec: str
    folders: list[str]  # the path's folders (for a snapshot: up to its experiment), or [] if not a path
    leaf: str  # the label's last part, before any "@steps"
    steps: int | None  # a snapshot's training steps
    depth: int = 0  # parent folders shown before the leaf
    exact: bool = False  # steps in full (102,400) rather than humanised (102k)

    def label(self) -> str:
        if not self.folders and self.steps is None:
            return self.leaf if self.leaf else self.spec
        text = "/".join([*self.folders[len(self.folders) - self.depth :], self.leaf] if self.depth else [self.leaf])
        if self.steps is not None:
            text += "@" + (f"{self.steps:,}" if self.exact else humanize_steps(self.steps))
        return text

    def can_deepen(self) -> bool:
        return self.depth < len(self.folders)


def _parse(spec: str) -> _Spec:
    parts = [p for p in re.split(r"[/\\]", spec) if p not in ("", ".")]
    if "/" not in spec and "\\" not in spec and not spec.endswith(".pt"):
        return _Spec(spec, [], spec, None)  # cpu, bot:tracker:9, random, a plugin's spec
    if not parts:
        return _Spec(spec, [], spec, None)
    if len(parts) >= 3 and parts[-2] == "snapshots" and _SNAPSHOT.fullmatch(parts[-1]):
        # .../NAME/snapshots/000000102400.pt: experiment NAME at 102,400 steps
        return _Spec(spec, parts[:-3], parts[-3], int(parts[-1][:-3]))
    return _Spec(spec, parts[:-1], parts[-1], None)  # an experiment folder or another file


def entrant_labels(specs: Iterable[str]) -> dict[str, str]:
    """A short label for each spec, all different, for plots and tables (show the spec itself
    where there is room for it: a tooltip, a CSV file).

    * a snapshot file ``.../NAME/snapshots/000000102400.pt``: ``NAME@102k`` (the steps as
      :func:`humanize_steps` writes them; ``NAME@0`` for the first);
    * another path, such as an experiment folder ``experiments/NAME``: its last part, ``NAME``;
    * any other spec (``cpu``, ``bot:tracker:9``, ``random``): itself.

    Labels that would be the same are told apart: snapshots of one experiment by their exact
    steps (``NAME@102,400``), then paths by the folders above them (``runs-a/NAME@102k``), and if
    that is not enough, the full spec.
    """
    parsed = {s: _parse(str(s)) for s in dict.fromkeys(str(x) for x in specs)}
    items = list(parsed.values())
    while True:
        groups: dict[str, list[_Spec]] = {}
        for item in items:
            groups.setdefault(item.label(), []).append(item)
        clashes = [g for g in groups.values() if len(g) > 1]
        changed = False
        for group in clashes:
            steps = {x.steps for x in group if x.steps is not None}
            for item in group:
                if item.steps is not None and not item.exact and len(steps) > 1:
                    item.exact = True  # nearby snapshots: 102,400 vs 102,500
                    changed = True
                elif item.can_deepen():
                    item.depth += 1
                    changed = True
        if not changed:  # nothing more to show: the specs themselves
            for group in clashes:
                for item in group:
                    if item.label() != item.spec:
                        item.folders, item.steps, item.leaf, item.depth = [], None, item.spec, 0
                        changed = True
        if not changed:
            break
    return {spec: item.label() for spec, item in parsed.items()}
