"""Leaderboards: definitions in ``leaderboards/*.json`` and the scheduler that plays their games.

A definition names the env (and its options), the entrants, pinned reference entrants, how many
games run at once, and when to stop::

    {
      "env": "pong",
      "options": {"points": 5},
      "entrants": ["bot:tracker:1", "bot:tracker:9", "cpu", "random"],
      "pinned": {"cpu": 25},
      "games_per_round": 2,
      "stop": {"until_sigma": 2.0, "max_games": 400}
    }

The match log (:mod:`arena.ratings.store`) is the state: a run reads the ratings, picks the most
informative games (:mod:`arena.ratings.matchmaking`), plays them in parallel workers and records each
as it finishes. Killing a run loses only the games in flight; running it again goes on from
the log, and an entrant added to the definition later is simply scheduled first.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arena import paths
from arena.errors import ArenaError
from arena.plugins.envs import written

PINNED_SIGMA = 1.0  # a pinned entrant's uncertainty when the definition gives only its mu


@dataclass(frozen=True)
class LeaderboardDef:
    name: str
    env: str
    entrants: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    pinned: dict[str, tuple[float, float]] = field(default_factory=dict)
    games_per_round: int | None = None
    until_sigma: float | None = None
    max_games: int | None = None
    path: Path | None = None


def available() -> list[str]:
    names = set()
    for d in paths.leaderboard_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.json"))
    return sorted(names)


def find_definition(name: str, *, required: bool = True) -> LeaderboardDef | None:
    """The definition called ``name`` (or at path ``name``); None if absent and not required."""
    candidates = [Path(name)] if name.endswith(".json") else [d / f"{name}.json" for d in paths.leaderboard_dirs()]
    for path in candidates:
        if path.is_file():
            return load_definition(path)
    if not required:
        return None
    where = ", ".join(str(d) for d in paths.leaderboard_dirs())
    raise ArenaError(f"unknown leaderboard '{name}'; defined: {', '.join(available()) or '(none)'} (looked in {where})")


def load_definition(path: Path) -> LeaderboardDef:
    def bad(why: str) -> ArenaError:
        return ArenaError(f"malformed leaderboard definition {path}: {why}")

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise bad(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except OSError as exc:
        raise ArenaError(f"cannot read leaderboard definition {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise bad('expected a JSON object like {"env": "pong", "entrants": [...]}')
    known = {"name", "env", "options", "entrants", "pinned", "games_per_round", "stop", "description"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise bad(f"unknown key {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(known))}")
    env = data.get("env")
    if not isinstance(env, str) or not env:
        raise bad('"env" must name an environment, e.g. "pong"')
    entrants = data.get("entrants")
    if not isinstance(entrants, list) or len(entrants) < 2 or not all(isinstance(e, str) and e for e in entrants):
        raise bad('"entrants" must list at least two agent specs, e.g. ["bot:tracker:1", "cpu"]')
    if len(set(entrants)) != len(entrants):
        raise bad(f'"entrants" lists {sorted({e for e in entrants if entrants.count(e) > 1})} more than once')
    options = data.get("options", {})
    if not isinstance(options, dict):
        raise bad('"options" must be an object of env options, e.g. {"points": 5}')
    pinned: dict[str, tuple[float, float]] = {}
    raw_pins = data.get("pinned", {})
    if not isinstance(raw_pins, dict):
        raise bad('"pinned" must map entrants to a rating, e.g. {"cpu": 25} or {"cpu": {"mu": 25, "sigma": 1}}')
    for who, value in raw_pins.items():
        if who not in entrants:
            raise bad(f"pinned entrant '{who}' is not in \"entrants\"")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            pinned[who] = (float(value), PINNED_SIGMA)
        elif isinstance(value, dict) and isinstance(value.get("mu"), (int, float)):
            sigma = value.get("sigma", PINNED_SIGMA)
            if not isinstance(sigma, (int, float)) or sigma <= 0:
                raise bad(f"pinned sigma of '{who}' must be a positive number")
            pinned[who] = (float(value["mu"]), float(sigma))
        else:
            raise bad(f'pinned rating of \'{who}\' must be a number (mu) or {{"mu": .., "sigma": ..}}')
    per_round = data.get("games_per_round")
    if per_round is not None and (not isinstance(per_round, int) or per_round < 1):
        raise bad('"games_per_round" must be a positive integer')
    stop = data.get("stop", {})
    if not isinstance(stop, dict) or set(stop) - {"until_sigma", "max_games"}:
        raise bad('"stop" must be an object with "until_sigma" and/or "max_games"')
    until_sigma, max_games = stop.get("until_sigma"), stop.get("max_games")
    if until_sigma is not None and (
        not isinstance(until_sigma, (int, float)) or not math.isfinite(until_sigma) or until_sigma <= 0
    ):
        raise bad('"stop.until_sigma" must be a positive number')
    if max_games is not None and (not isinstance(max_games, int) or max_games < 1):
        raise bad('"stop.max_games" must be a positive integer')
    return LeaderboardDef(
        name=data.get("name") or Path(path).stem,
        env=env,
        entrants=tuple(entrants),
        options=options,
        pinned=pinned,
        games_per_round=per_round,
        until_sigma=float(until_sigma) if until_sigma is not None else None,
        max_games=max_games,
        path=Path(path),
    )


def check_game(definition: LeaderboardDef, env_spec: Any, env: str, options: dict[str, Any]) -> None:
    """Refuse, in one line, a game that does not fit ``definition``: another env, or an option
    that differs from the definition's (options it leaves out take the env's defaults). Options
    the env lists in ``EnvSpec.machine_options`` (paths, timeouts) are not compared."""
    where = f"leaderboard '{definition.name}'" + (f" ({definition.path})" if definition.path else "")
    if env != definition.env:
        raise ArenaError(
            f"{where} is for env '{definition.env}', not '{env}'; add --env {definition.env}, or record into another leaderboard"
        )
    if env_spec is None:
        return
    import dataclasses

    wanted = {f.name: f.default for f in dataclasses.fields(env_spec.options) if f.default is not dataclasses.MISSING}
    wanted.update(definition.options)
    machine = set(getattr(env_spec, "machine_options", ()))
    differ = sorted(key for key, value in wanted.items() if key not in machine and key in options and options[key] != value)
    if differ:
        want = ", ".join(f"{key}={written(wanted[key])}" for key in differ)
        got = ", ".join(f"{key}={written(options[key])}" for key in differ)
        fix = " ".join(f"-o {key}={written(wanted[key])}" for key in differ)
        raise ArenaError(
            f"{where} plays {env} with {want}, but these games have {got}; add {fix}, or record into another leaderboard"
        )
