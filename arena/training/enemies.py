"""Enemies files: who a learner plays against, in phillip's format plus optional weights.

phillip's format is a JSON list; each entry is one enemy:

- ``"self"``: the learner's own snapshots (the latest one and past saved ones);
- an agent spec or a path: ``"bot:tracker:7"``, ``"random"``, ``"experiments/NAME"``,
  ``"agents/foo.pt"``;
- a CPU dict: ``{"cpu": 9}``, ``{"cpu": true}`` (a CPU without levels, like Pong's), or
  phillip's ``{"char": "falcon", "level": 9}`` (the character is the env's ``cpu_char`` option,
  not part of who plays, so this is ``cpu:9``).

Arena's extension (phillip's files stay valid unchanged):

- any entry may carry a weight: CPU dicts take a ``"weight"`` key (``{"cpu": 9, "weight": 2}``),
  and ``{"agent": "bot:tracker:3", "weight": 2}`` wraps a string entry (``"self"`` included);
  entries without one weigh 1;
- the top level may be an object naming the sampling rule and its knobs::

      {"sampling": "pfsp", "pfsp_power": 2, "enemies": ["self", {"cpu": true}, "bot:tracker:9"]}

  ``sampling`` names a registered sampling rule (:mod:`arena.plugins.enemies`): the built-in
  ``uniform`` (the default, and what a plain list means), ``pfsp`` and ``openai_five``, or a
  plugin's. Each rule names the top-level knobs it takes (``pfsp_power`` for ``pfsp``,
  ``latest_self`` for ``openai_five``).

A plugin may also ship a whole enemies list as a named pool (:class:`arena.plugins.enemies.NamedPool`):
:func:`parse_pool` reads it exactly as it reads a file.

Each enemy may be listed once (statistics are kept per enemy): give it a weight instead
of repeating it. Every malformed file is a one-line :class:`ArenaError` naming the file, the
entry and the fix.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.errors import ArenaError, one_line
from arena.plugins.agents import spec_from_entry

if TYPE_CHECKING:
    from arena.plugins.enemies import NamedPool, SamplingRule
    from arena.plugins.manager import Arena, Registry

_AGENT_KEYS = ("agent", "weight")
_CPU_KEYS = ("cpu", "char", "level", "weight")
_EXAMPLE = '["self", {"cpu": 9}]'
_EXAMPLE_OBJECT = '{"sampling": "pfsp", "enemies": [...]}'


@dataclass(frozen=True)
class EnemyEntry:
    """One enemy of an enemies file.

    :param label: what progress displays, reports and leaderboards show; the spec as written.
    :param spec: the agent spec (:func:`arena.plugins.agents.spec_from_entry`): ``"self"``, ``"cpu:9"``,
        ``"cpu"``, ``"bot:tracker:3"``, or a path.
    :param weight: relative weight (> 0), 1 unless the file gives one.
    :param char: the CPU's character in phillip's ``{"char": "falcon", "level": 9}``, else None.
    """

    label: str
    spec: str
    weight: float = 1.0
    char: str | None = None


@dataclass
class PoolConfig:
    """An enemies file (or a plugin's named pool), parsed: the enemies, the sampling rule and the
    knobs the file gives it."""

    entries: list[EnemyEntry]
    sampling: str = "uniform"
    knobs: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="", compare=False)  # the file or pool it came from, for messages

    def __post_init__(self) -> None:
        # parse_pool reports problems per entry; this catches configs built in code.
        where = f"enemy pool {self.source}".rstrip()
        if not self.entries:
            raise ArenaError(f"{where} has no entries")
        labels = [entry.label for entry in self.entries]
        if len(set(labels)) != len(labels):
            raise ArenaError(f"{where}: duplicate labels in {labels}; list each enemy once with a weight")
        if any(not _positive(entry.weight) for entry in self.entries):
            raise ArenaError(f"{where}: every weight must be a positive number")

    @property
    def has_self(self) -> bool:
        return any(entry.spec == "self" for entry in self.entries)


def load_enemies(path: str | Path) -> list[str]:
    """The agent specs listed in an enemies file, or a one-line :class:`ArenaError`."""
    return [entry.spec for entry in load_pool_file(path).entries]


def load_pool_file(path: str | Path, rules: Registry[SamplingRule] | None = None) -> PoolConfig:
    """An enemies file (phillip's list, or the object form with a sampling rule) as a
    :class:`PoolConfig`, or a one-line :class:`ArenaError` naming the file, the entry and the fix.
    ``rules`` are the installed sampling rules (default: the loaded plugins')."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArenaError(f"enemies file {path} does not exist; pick one in enemies/ or give a path") from None
    except OSError as exc:
        raise ArenaError(f"cannot read enemies file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ArenaError(f"enemies file {path} is not UTF-8 text; it should be a JSON list like {_EXAMPLE}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArenaError(f"enemies file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    return parse_pool(data, f"enemies file {path}", rules, source=str(path))


def find_pool(name: str, arena: Arena) -> tuple[str, PoolConfig]:
    """What ``--enemies NAME`` means: a file (as given, or ``NAME.json`` in ``./enemies/`` and then
    Arena's own ``enemies/``), else a plugin's named pool; ``(the file's path or the pool's name,
    the pool)``."""
    from arena import paths

    found = paths.find_enemies(name)
    if found is not None:
        return str(found), load_pool_file(found, arena.sampling_rules)
    if name in arena.pools:
        return name, load_named_pool(arena.pools.get(name), arena.pools.owner(name), arena.sampling_rules)
    where = ", ".join(f"{d}/" for d in paths.enemies_dirs())
    files = sorted({p.stem for d in paths.enemies_dirs() if d.is_dir() for p in d.glob("*.json")})
    raise ArenaError(
        f"no enemies file or pool '{name}': not a file, no {Path(name).stem}.json in {where}, and no plugin's pool of "
        f"that name; files: {', '.join(files) or '(none)'}; pools: {arena.pools.choices()}"
    )


def load_named_pool(pool: NamedPool, plugin: str, rules: Registry[SamplingRule] | None = None) -> PoolConfig:
    """A plugin's :class:`~arena.plugins.enemies.NamedPool`, read as a file would be."""
    return parse_pool(pool.enemies, f"enemy pool '{pool.name}' (plugin '{plugin}')", rules, source=pool.name)


def parse_pool(data: Any, where: str, rules: Registry[SamplingRule] | None = None, *, source: str = "") -> PoolConfig:
    """What an enemies file holds, as a :class:`PoolConfig`; ``where`` starts every error."""
    if rules is None:
        from arena.plugins.manager import get_arena

        rules = get_arena().sampling_rules
    sampling, knobs = "uniform", {}
    if isinstance(data, dict):
        if "enemies" not in data:
            raise ArenaError(
                f"{where} must hold a non-empty JSON list, like {_EXAMPLE}, or an object "
                f'like {_EXAMPLE_OBJECT}; this object has no "enemies" key'
            )
        sampling = _parse_sampling(where, data.get("sampling", "uniform"), rules)
        knobs = _parse_knobs(where, data, sampling, rules)
        raw_entries = data["enemies"]
    else:
        raw_entries = data
    if not isinstance(raw_entries, list) or not raw_entries:
        hint = '; its "enemies" is empty or not a list' if isinstance(data, dict) else ""
        raise ArenaError(f"{where} must hold a non-empty JSON list, like {_EXAMPLE}, or an object like {_EXAMPLE_OBJECT}{hint}")
    entries = _parse_entries(where, raw_entries)
    if sampling in rules and rules.get(sampling).needs_self and not any(entry.spec == "self" for entry in entries):
        raise ArenaError(f'{where}: "sampling": "{sampling}" needs a "self" entry; add "self" to "enemies" or pick another rule')
    return PoolConfig(entries=entries, sampling=sampling, knobs=knobs, source=source)


def _parse_entries(where: str, raw_entries: list[Any]) -> list[EnemyEntry]:
    entries: list[EnemyEntry] = []
    seen: dict[str, int] = {}  # normalised spec -> first index, to catch repeats
    for index, raw in enumerate(raw_entries):
        entry = _parse_entry(where, index, raw)
        key = os.path.normpath(entry.spec)  # "./agents/x" and "agents/x" are one enemy
        chars = {_char(raw), _char(raw_entries[seen[key]])} if key in seen else set()
        if None not in chars and len(chars) == 2:  # phillip's {"char": ..., "level": 9} twice
            raise ArenaError(
                f"{where}, entry {index}: repeats entry {seen[key]} ({entry.label}) with another character; the CPU's "
                "character is the env's cpu_char option, not part of who plays, so one pool has one CPU character"
            )
        if key in seen:
            raise ArenaError(
                f"{where}, entry {index}: repeats entry {seen[key]} ({entries[seen[key]].label}); list each enemy "
                f"once and give it a weight instead, e.g. {_weighted_example(raw, entry)}"
            )
        seen[key] = index
        entries.append(entry)
    return entries


def _parse_sampling(where: str, value: Any, rules: Registry[SamplingRule]) -> str:
    if isinstance(value, str) and value in rules:
        return value
    hint = _did_you_mean(value.lower(), rules.names()) if isinstance(value, str) else ""
    raise ArenaError(f"{where}: unknown sampling rule {value!r}{hint}; installed: {rules.choices()}")


def _parse_knobs(where: str, data: dict[str, Any], sampling: str, rules: Registry[SamplingRule]) -> dict[str, Any]:
    """The top-level keys the rule takes; any other key is an error naming the rule it belongs to."""
    rule = rules.get(sampling)
    knobs = {}
    for key, value in data.items():
        if key in ("sampling", "enemies"):
            continue
        if key in rule.knobs:
            try:
                rule.make(**{key: value})
            except (ValueError, TypeError) as exc:
                raise ArenaError(f'{where}: "{key}" {one_line(exc)}') from None
            knobs[key] = value
            continue
        owner = next((other.name for _, other in rules if key in other.knobs), None)
        if owner is not None:
            raise ArenaError(
                f'{where}: "{key}" only applies to "sampling": "{owner}" (this file uses "{sampling}"); remove it or switch the rule'
            )
        valid = ["sampling", "enemies", *rule.knobs]
        raise ArenaError(f"{where}: unknown top-level key {key!r}{_did_you_mean(key, valid)}; valid keys: {', '.join(valid)}")
    return knobs


def _parse_entry(source: str, index: int, raw: Any) -> EnemyEntry:
    """One entry as an :class:`EnemyEntry`; errors name the file and the entry index."""
    where = f"{source}, entry {index}"
    weight: Any = 1.0
    if isinstance(raw, dict):
        allowed = _AGENT_KEYS if "agent" in raw else _CPU_KEYS
        for key in raw:
            if key not in allowed:
                known = sorted({*_AGENT_KEYS, *_CPU_KEYS})
                raise ArenaError(
                    f"{where}: unknown key {key!r} in {json.dumps(raw)}{_did_you_mean(key, known)}; "
                    'an agent entry takes "agent" and "weight", a CPU entry "cpu" or "level", "char" and "weight"'
                )
        weight = raw.get("weight", 1.0)
        if not _positive(weight):
            raise ArenaError(f"{where}: weight must be a number > 0, got {json.dumps(weight)}; leave it out for weight 1")
        if "agent" in raw:
            agent = raw["agent"]
            if not isinstance(agent, str) or not agent.strip():
                raise ArenaError(
                    f'{where}: "agent" must be a spec string like "self" or "bot:tracker:3", got {json.dumps(agent)}; '
                    'a CPU takes its weight directly: {"cpu": 9, "weight": 2}'
                )
            raw = agent
        else:
            raw = {key: value for key, value in raw.items() if key != "weight"}
            if "cpu" in raw and "level" in raw:
                raise ArenaError(f'{where}: give the CPU level once, as "cpu" or as "level", not both')
    try:
        spec = spec_from_entry(raw)
    except ArenaError as exc:
        raise ArenaError(f"{where}: {exc}") from None
    char = raw.get("char") if isinstance(raw, dict) and isinstance(raw.get("char"), str) else None
    return EnemyEntry(label=spec, spec=spec, weight=float(weight), char=char)


def _weighted_example(raw: Any, entry: EnemyEntry) -> str:
    if isinstance(raw, dict) and "agent" not in raw:
        cpu = {key: value for key, value in raw.items() if key != "weight"}
        return json.dumps({**cpu, "weight": 2})
    return json.dumps({"agent": entry.spec, "weight": 2})


def _char(raw: Any) -> Any:
    return raw.get("char") if isinstance(raw, dict) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""
