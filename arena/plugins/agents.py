"""Agent specs: who plays a seat.

A spec is ``KIND[:ARGS]``: ``cpu``, ``cpu:9``, ``random``, ``bot:tracker:7``. Plugins register
:class:`AgentKind` objects; :func:`resolve` finds the kind (the longest registered prefix) and
asks it to build an :class:`Agent` for a given environment. Resolution happens once per worker,
never per step: the game loop calls ``agent.act`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from arena.errors import ArenaError

if TYPE_CHECKING:
    from arena.plugins.envs import EnvSpec
    from arena.plugins.manager import Registry


@runtime_checkable
class Agent(Protocol):
    """Something that plays one seat."""

    def reset(self, seed: int) -> None:
        """Start a new game; ``seed`` makes a stochastic agent reproducible."""

    def act(self, observation: Any) -> int:
        """Pick an action index for this step's observation (seen from the agent's own side)."""


@dataclass(frozen=True)
class BuiltinCpu:
    """Returned by the ``cpu`` kind: the game's own computer player takes the seat."""

    level: int | None


@dataclass(frozen=True)
class AgentKind:
    """What a plugin registers to make an agent spec playable.

    :param name: the spec prefix, e.g. ``random`` or ``bot:tracker``.
    :param build: ``build(args, env_spec, env_options) -> Agent | BuiltinCpu``. ``args`` is the
        text after ``NAME:`` (``None`` if absent). Raise :class:`ArenaError` for bad arguments or
        an env the kind cannot play; it is called once in the parent to validate the spec, then
        once per worker process.
    :param usage: how to write the spec, e.g. ``bot:tracker:LEVEL (LEVEL 1-9)``.
    :param description: one line for ``arena plugins``.
    :param matches_path: this kind claims specs that are paths on disk (trained agents).
    """

    name: str
    build: Callable[[str | None, Any, Any], Any]
    usage: str = ""
    description: str = ""
    matches_path: bool = False


def find_kind(spec: str, kinds: Any) -> tuple[AgentKind, str | None]:
    """The kind for ``spec`` and its argument text; longest registered prefix wins."""
    if not spec or not spec.strip():
        raise ArenaError(f"empty agent spec; valid kinds: {_usages(kinds)}")
    parts = spec.split(":")
    for cut in range(len(parts), 0, -1):
        prefix = ":".join(parts[:cut])
        if prefix in kinds:
            args = ":".join(parts[cut:]) if cut < len(parts) else None
            return kinds.get(prefix), args
    if os.path.exists(spec):
        for _, kind in kinds:
            if kind.matches_path:
                return kind, spec
        raise ArenaError(f"agent spec '{spec}' is a path, but no installed plugin plays trained agents yet")
    raise ArenaError(f"unknown agent spec '{spec}'; valid: {_usages(kinds)}")


def _usages(kinds: Any) -> str:
    return ", ".join(kind.usage or name for name, kind in kinds) or "(none: is a plugin missing?)"


def resolve(spec: str, kinds: Registry[AgentKind], env_spec: EnvSpec, env_options: Any) -> Agent | BuiltinCpu:
    """Build what plays ``spec`` in ``env_spec``: an :class:`Agent` or a :class:`BuiltinCpu`."""
    kind, args = find_kind(spec, kinds)
    try:
        built = kind.build(args, env_spec, env_options)
    except ArenaError:
        raise
    except Exception as exc:  # a plugin bug: name the plugin's kind, keep it to one line
        raise ArenaError(
            f"agent kind '{kind.name}' failed to build '{spec}': {type(exc).__name__}: {' '.join(str(exc).split())}"
        ) from exc
    if isinstance(built, BuiltinCpu):
        env_spec.check_cpu_level(built.level)
    elif not isinstance(built, Agent):
        raise ArenaError(f"agent kind '{kind.name}' built {built!r}, which has no reset()/act()")
    return built


def spec_from_entry(entry: Any) -> str:
    """An enemies-file entry (phillip's format) as an agent spec.

    ``"self"`` and paths stay strings; ``{"cpu": 9}`` and ``{"char": "falcon", "level": 9}``
    become ``cpu:9`` (the character is an env option, not part of who plays).
    """
    if isinstance(entry, str) and entry.strip():
        return entry
    if isinstance(entry, dict):
        level = entry.get("cpu", entry.get("level"))
        if isinstance(level, int) and not isinstance(level, bool):
            return f"cpu:{level}"
        if "cpu" in entry and entry["cpu"] in (True, None):
            return "cpu"
    raise ArenaError(
        f'malformed enemies entry {entry!r}; expected "self", an agent spec or path, '
        'or a CPU like {"cpu": 9} or {"char": "falcon", "level": 9}'
    )


def parse_level(kind: str, args: str | None, levels: range) -> int:
    """``args`` as a level within ``levels`` (used by laddered bots), with a one-line error."""
    lo, hi = levels.start, levels.stop - 1
    if args is None:
        raise ArenaError(f"'{kind}' needs a level: {kind}:LEVEL with LEVEL {lo}-{hi}")
    try:
        level = int(args)
    except ValueError:
        raise ArenaError(f"bad level '{args}' in '{kind}:{args}'; expected {kind}:LEVEL with LEVEL {lo}-{hi}") from None
    if level not in levels:
        raise ArenaError(f"level {level} out of range in '{kind}:{args}'; valid levels: {lo}-{hi}")
    return level


# The name before Arena 0.2; plugins written for it keep working.
OpponentKind = AgentKind
