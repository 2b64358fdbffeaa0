"""Enemies files: JSON lists of who a learner plays against, in phillip's format.

Entries are ``"self"`` (the learner's own snapshots), an agent spec or a path to another agent,
or a CPU dict such as ``{"cpu": 9}`` or ``{"char": "falcon", "level": 9}``.
"""

from __future__ import annotations

import json
from pathlib import Path

from arena.agents import spec_from_entry
from arena.errors import ArenaError


def load_enemies(path: str | Path) -> list[str]:
    """The agent specs listed in an enemies file, or a one-line :class:`ArenaError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArenaError(f"enemies file {path} does not exist; pick one in enemies/ or give a path") from None
    except OSError as exc:
        raise ArenaError(f"cannot read enemies file {path}: {exc.strerror}") from None
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArenaError(f"enemies file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(entries, list) or not entries:
        raise ArenaError(f"enemies file {path} must hold a non-empty JSON list, like [\"self\", {{\"cpu\": 9}}]")
    specs = []
    for index, entry in enumerate(entries):
        try:
            specs.append(spec_from_entry(entry))
        except ArenaError as exc:
            raise ArenaError(f"{path}, entry {index}: {exc}") from None
    return specs
