"""Where Arena reads and writes: every path setting and its environment variable, in one place.

==========================  ==================================  =================================
setting                     environment variable                default
==========================  ==================================  =================================
data folder                 ``ARENA_HOME``                      ``./arena_data``
match database              ``ARENA_DB``                        ``$ARENA_HOME/arena.db``
leaderboard reports         (``--out``)                         ``$ARENA_HOME/reports/NAME``
experiments                 ``ARENA_EXPERIMENTS``               ``./experiments``
leaderboard definitions     ``ARENA_LEADERBOARDS`` (searched    ``./leaderboards``, then Arena's
                            first)                              own ``leaderboards/``
enemies files               (none)                              ``./enemies``, then Arena's own
                                                                ``enemies/``
==========================  ==================================  =================================
"""

from __future__ import annotations

import os
from pathlib import Path

# The enemies/ and leaderboards/ folders Arena ships: links to the repository's top-level folders,
# which a wheel carries as package data.
SHIPPED = Path(__file__).resolve().parent / "shipped"


def shipped(folder: str) -> Path:
    """Arena's own ``enemies`` or ``leaderboards`` folder, by its real path (in a checkout, the
    top-level folder the link points to)."""
    return (SHIPPED / folder).resolve()


def data_dir() -> Path:
    """``$ARENA_HOME``, or ``./arena_data`` in the current directory."""
    return Path(os.environ.get("ARENA_HOME") or "arena_data")


def db_path() -> Path:
    """``$ARENA_DB``, else ``arena.db`` in the data folder."""
    return Path(os.environ.get("ARENA_DB") or data_dir() / "arena.db")


def experiments_dir() -> Path:
    """``$ARENA_EXPERIMENTS``, or ``./experiments``."""
    return Path(os.environ.get("ARENA_EXPERIMENTS") or "experiments")


def leaderboard_log(name: str) -> Path:
    """The JSON-lines log of leaderboard ``name``'s games."""
    return data_dir() / "leaderboards" / name / "games.jsonl"


def report_dir(name: str) -> Path:
    """Where ``arena leaderboard report NAME`` writes by default: ``$ARENA_HOME/reports/NAME``."""
    return data_dir() / "reports" / name


def _unique(dirs: list[Path]) -> list[Path]:
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def leaderboard_dirs() -> list[Path]:
    """Where leaderboard definitions are looked up, in order."""
    dirs = [Path(os.environ["ARENA_LEADERBOARDS"])] if os.environ.get("ARENA_LEADERBOARDS") else []
    return _unique([*dirs, Path("leaderboards"), shipped("leaderboards")])


def enemies_dirs() -> list[Path]:
    """Where enemies files named without a path are looked up, in order."""
    return _unique([Path("enemies"), shipped("enemies")])


def find_enemies(name: str) -> Path | None:
    """An enemies file as given (a path), else ``NAME`` or ``NAME.json`` in :func:`enemies_dirs`
    (``enemies/NAME.json`` also finds Arena's own from any folder); None if there is none."""
    given = Path(name)
    if given.is_file():
        return given
    if given.is_absolute() or len(given.parts) > 2 or (len(given.parts) == 2 and given.parts[0] != "enemies"):
        return None
    file = given.name if given.suffix == ".json" else f"{given.name}.json"
    for folder in enemies_dirs():
        if (folder / file).is_file():
            return folder / file
    return None
