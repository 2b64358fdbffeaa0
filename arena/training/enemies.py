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
- the top level may be an object naming the sampling rule (see :mod:`arena.training.pool`)::

      {"sampling": "pfsp", "pfsp_power": 2, "enemies": ["self", {"cpu": true}, "bot:tracker:9"]}

  ``sampling`` is ``"uniform"`` (the default, and what a plain list means), ``"pfsp"`` or
  ``"openai_five"``. Knobs: ``pfsp_power`` (number > 0, default 2; only with ``pfsp``) and
  ``latest_self`` (fraction of games against the latest self, 0 < x < 1, default 0.8; only with
  ``openai_five``, which also needs a ``"self"`` entry).

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
from typing import Any

from arena.errors import ArenaError
from arena.plugins.agents import spec_from_entry

SAMPLING_RULES = ("uniform", "pfsp", "openai_five")
DEFAULT_PFSP_POWER = 2.0  # AlphaStar's "hard" weighting (1 - p)^2
DEFAULT_LATEST_SELF = 0.8  # OpenAI Five: 80% of games against the current policy

# Top-level knobs, each with the one sampling rule it applies to.
_KNOBS = {"pfsp_power": "pfsp", "latest_self": "openai_five"}
_TOP_KEYS = ("sampling", "enemies", *_KNOBS)
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
    """

    label: str
    spec: str
    weight: float = 1.0


@dataclass
class PoolConfig:
    """An enemies file, parsed: the enemies, the sampling rule and its knobs."""

    entries: list[EnemyEntry]
    sampling: str = "uniform"
    pfsp_power: float = DEFAULT_PFSP_POWER
    latest_self: float = DEFAULT_LATEST_SELF
    source: str = field(default="", compare=False)  # the file it came from, for messages

    def __post_init__(self) -> None:
        # load_pool_file reports problems per entry; this catches configs built in code.
        where = f"enemy pool {self.source}".rstrip()
        if not self.entries:
            raise ArenaError(f"{where} has no entries")
        if self.sampling not in SAMPLING_RULES:
            raise ArenaError(f"{where}: unknown sampling rule {self.sampling!r}; valid: {', '.join(SAMPLING_RULES)}")
        labels = [entry.label for entry in self.entries]
        if len(set(labels)) != len(labels):
            raise ArenaError(f"{where}: duplicate labels in {labels}; list each enemy once with a weight")
        if any(not _positive(entry.weight) for entry in self.entries):
            raise ArenaError(f"{where}: every weight must be a positive number")
        if self.sampling == "openai_five" and not self.has_self:
            raise ArenaError(f'{where}: openai_five sampling needs a "self" entry')

    @property
    def has_self(self) -> bool:
        return any(entry.spec == "self" for entry in self.entries)


def load_enemies(path: str | Path) -> list[str]:
    """The agent specs listed in an enemies file, or a one-line :class:`ArenaError`."""
    return [entry.spec for entry in load_pool_file(path).entries]


def load_pool_file(path: str | Path) -> PoolConfig:
    """An enemies file (phillip's list, or the object form with a sampling rule) as a
    :class:`PoolConfig`, or a one-line :class:`ArenaError` naming the file, the entry and the fix.
    """
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

    knobs: dict[str, Any] = {}
    sampling = "uniform"
    if isinstance(data, dict):
        if "enemies" not in data:
            raise ArenaError(
                f"enemies file {path} must hold a non-empty JSON list, like {_EXAMPLE}, or an object "
                f'like {_EXAMPLE_OBJECT}; this object has no "enemies" key'
            )
        for key in data:
            if key not in _TOP_KEYS:
                raise ArenaError(
                    f"enemies file {path}: unknown top-level key {key!r}{_did_you_mean(key, _TOP_KEYS)}; valid keys: {', '.join(_TOP_KEYS)}"
                )
        sampling = _parse_sampling(path, data.get("sampling", "uniform"))
        for knob, rule in _KNOBS.items():
            if knob in data:
                if sampling != rule:
                    raise ArenaError(
                        f'enemies file {path}: "{knob}" only applies to "sampling": "{rule}" '
                        f'(this file uses "{sampling}"); remove it or switch the rule'
                    )
                knobs[knob] = _parse_knob(path, knob, data[knob])
        raw_entries = data["enemies"]
    else:
        raw_entries = data
    if not isinstance(raw_entries, list) or not raw_entries:
        where = '; its "enemies" is empty or not a list' if isinstance(data, dict) else ""
        raise ArenaError(
            f"enemies file {path} must hold a non-empty JSON list, like {_EXAMPLE}, or an object like {_EXAMPLE_OBJECT}{where}"
        )

    entries: list[EnemyEntry] = []
    seen: dict[str, int] = {}  # normalised spec -> first index, to catch repeats
    for index, raw in enumerate(raw_entries):
        entry = _parse_entry(path, index, raw)
        key = os.path.normpath(entry.spec)  # "./agents/x" and "agents/x" are one enemy
        chars = {_char(raw), _char(raw_entries[seen[key]])} if key in seen else set()
        if None not in chars and len(chars) == 2:  # phillip's {"char": ..., "level": 9} twice
            raise ArenaError(
                f"{path}, entry {index}: repeats entry {seen[key]} ({entry.label}) with another character; the CPU's "
                "character is the env's cpu_char option, not part of who plays, so one pool has one CPU character"
            )
        if key in seen:
            raise ArenaError(
                f"{path}, entry {index}: repeats entry {seen[key]} ({entries[seen[key]].label}); list each enemy "
                f"once and give it a weight instead, e.g. {_weighted_example(raw, entry)}"
            )
        seen[key] = index
        entries.append(entry)

    if sampling == "openai_five" and not any(entry.spec == "self" for entry in entries):
        raise ArenaError(
            f'enemies file {path}: "sampling": "openai_five" plays the latest self most of the time, '
            f'but no entry is "self"; add "self" to "enemies" or use "uniform" or "pfsp"'
        )
    return PoolConfig(entries=entries, sampling=sampling, source=str(path), **knobs)


def _parse_sampling(path: Path, value: Any) -> str:
    if isinstance(value, str) and value in SAMPLING_RULES:
        return value
    hint = _did_you_mean(value.lower(), SAMPLING_RULES) if isinstance(value, str) else ""
    raise ArenaError(f"enemies file {path}: unknown sampling rule {value!r}{hint}; valid: {', '.join(SAMPLING_RULES)}")


def _parse_knob(path: Path, knob: str, value: Any) -> float:
    if knob == "pfsp_power":
        if _positive(value):
            return float(value)
        raise ArenaError(f'enemies file {path}: "pfsp_power" must be a number > 0 (default 2: (1 - p)^2), got {value!r}')
    # latest_self: a fraction strictly inside (0, 1) so past snapshots and other entries still play
    if _number(value) and 0 < value < 1:
        return float(value)
    raise ArenaError(
        f'enemies file {path}: "latest_self" must be a fraction between 0 and 1 (default 0.8), got {value!r}; '
        "it must leave some games to the past snapshots and the other entries"
    )


def _parse_entry(path: Path, index: int, raw: Any) -> EnemyEntry:
    """One entry as an :class:`EnemyEntry`; errors name the file and the entry index."""
    where = f"{path}, entry {index}"
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
    return EnemyEntry(label=spec, spec=spec, weight=float(weight))


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
