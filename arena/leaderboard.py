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

The match log (:mod:`arena.store`) is the state: a run reads the ratings, picks the most
informative games (:mod:`arena.matchmaking`), plays them in parallel workers and records each
as it finishes. Killing a run loses only the games in flight; running it again goes on from
the log, and an entrant added to the definition later is simply scheduled first.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from arena.errors import ArenaError

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


def search_dirs() -> list[Path]:
    """Where definitions are looked up: ``$ARENA_LEADERBOARDS``, ./leaderboards, the source tree's."""
    dirs = []
    if os.environ.get("ARENA_LEADERBOARDS"):
        dirs.append(Path(os.environ["ARENA_LEADERBOARDS"]))
    dirs.append(Path("leaderboards"))
    dirs.append(Path(__file__).resolve().parents[1] / "leaderboards")
    seen, out = set(), []
    for d in dirs:
        key = d.resolve()
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def available() -> list[str]:
    names = set()
    for d in search_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.json"))
    return sorted(names)


def find_definition(name: str, *, required: bool = True) -> LeaderboardDef | None:
    """The definition called ``name`` (or at path ``name``); None if absent and not required."""
    candidates = [Path(name)] if name.endswith(".json") else [d / f"{name}.json" for d in search_dirs()]
    for path in candidates:
        if path.is_file():
            return load_definition(path)
    if not required:
        return None
    where = ", ".join(str(d) for d in search_dirs())
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
            raise bad(f"pinned rating of '{who}' must be a number (mu) or {{\"mu\": .., \"sigma\": ..}}")
    per_round = data.get("games_per_round")
    if per_round is not None and (not isinstance(per_round, int) or per_round < 1):
        raise bad('"games_per_round" must be a positive integer')
    stop = data.get("stop", {})
    if not isinstance(stop, dict) or set(stop) - {"until_sigma", "max_games"}:
        raise bad('"stop" must be an object with "until_sigma" and/or "max_games"')
    until_sigma, max_games = stop.get("until_sigma"), stop.get("max_games")
    if until_sigma is not None and (not isinstance(until_sigma, (int, float)) or until_sigma <= 0):
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


@dataclass
class RunResult:
    played: int = 0
    errors: int = 0
    reason: str = ""


def run_leaderboard(
    definition: LeaderboardDef,
    store: Any,
    *,
    games: int | None = None,
    until_sigma: float | None = None,
    workers: int | None = None,
    arena: Any = None,
    seed: int | None = None,
    on_game: Callable[[dict], None] | None = None,
) -> RunResult:
    """Play the most informative games until the stopping rule holds, recording each one.

    Stops after ``games`` more games, or when every unpinned entrant's sigma is at most
    ``until_sigma``; with neither, the definition's ``stop`` rule applies (its ``max_games``
    counts every finished game in the log, so a rerun after a crash resumes toward it).
    """
    import numpy as np

    from arena.match import GamePool, check_pair, game_task
    from arena.matchmaking import converged, next_games
    from arena.plugins import get_arena
    from arena.rating import TrueSkill

    arena = arena or get_arena()
    env_spec = arena.envs.get(definition.env)
    options = env_spec.parse_options(**definition.options)
    name = definition.name
    entrants = list(definition.entrants)
    # Check every entrant against the env before playing anything (one-line errors).
    from arena.agents import BuiltinCpu, resolve

    built = {e: resolve(e, arena.opponents, env_spec, options) for e in entrants}
    cpu = {e for e, what in built.items() if isinstance(what, BuiltinCpu)}
    store.set_pins(name, definition.pinned)
    if until_sigma is None and games is None:
        until_sigma = definition.until_sigma
    if games is not None and games < 1:
        raise ArenaError(f"--games must be at least 1, got {games}")
    if games is None and until_sigma is None and definition.max_games is None:
        raise ArenaError(f"leaderboard '{name}' has no stopping rule; pass --games N or --until-sigma S")
    model = TrueSkill()
    workers = min(workers or definition.games_per_round or os.cpu_count() or 1, 64)
    index = {e: i for i, e in enumerate(entrants)}
    pinned_mask = np.array([e in definition.pinned for e in entrants])
    rng = random.Random(seed if seed is not None else store.count(name, status=None))
    log_path = _game_log_path(name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    result = RunResult()

    def ratings():
        current = store.standings(name)
        prior = model.initial()
        mu = np.array([current[e].mu if e in current else definition.pinned.get(e, (prior.mu, prior.sigma))[0] for e in entrants])
        sigma = np.array([current[e].sigma if e in current else definition.pinned.get(e, (prior.mu, prior.sigma))[1] for e in entrants])
        played = np.array([current[e].games if e in current else 0 for e in entrants])
        return mu, sigma, played

    def done(sigma) -> str:
        if games is not None:
            return f"played {games} games" if result.played + result.errors >= games else ""
        if until_sigma is not None and converged(sigma, until_sigma, pinned=pinned_mask):
            return f"every entrant's sigma is at most {until_sigma:g}"
        if definition.max_games is not None and store.count(name) >= definition.max_games:
            return f"the log holds {definition.max_games} finished games (stop.max_games)"
        return ""

    in_flight: dict[str, tuple[int, int]] = {}
    submitted = store.count(name, status=None)
    # Pong's left paddle answers its controls a frame or two later than the right one, so every
    # pair alternates seats game by game: each plays both sides equally often.
    pair_games: dict[frozenset, int] = {}
    for g in store.games(name):
        key = frozenset((g["a"], g["b"]))
        pair_games[key] = pair_games.get(key, 0) + 1
    with GamePool(workers, arena) as pool, open(log_path, "a", encoding="utf-8") as log:
        while True:
            mu, sigma, played = ratings()
            reason = done(sigma)
            budget = workers - len(in_flight)
            if games is not None:
                budget = min(budget, games - (result.played + result.errors) - len(in_flight))
            elif definition.max_games is not None:
                budget = min(budget, definition.max_games - store.count(name) - len(in_flight))
            if not reason and budget > 0:
                for i, j in next_games(
                    mu, sigma, played, budget, rng=rng, model=model, in_flight=list(in_flight.values()),
                    pinned=pinned_mask, forbidden=_cpu_pairs(entrants, cpu),
                ):  # fmt: skip
                    a, b = sorted((entrants[i], entrants[j]))
                    nth = pair_games.get(frozenset((a, b)), 0)
                    pair_games[frozenset((a, b))] = nth + 1
                    task = game_task(arena, {"a": built[a], "b": built[b]}, a, b, definition.env, options,
                                     index=nth, seed=submitted)  # fmt: skip
                    submitted += 1
                    uid = f"{name}:{os.getpid()}:{submitted}:{rng.getrandbits(32):08x}"
                    in_flight[uid] = (i, j)
                    pool.submit(_with_uid(task, uid))
            if not len(pool):  # once the rule holds, games in flight finish and are recorded first
                result.reason = reason or "no pairing left to play"
                return result
            record = pool.next_result()
            uid = record.pop("uid")
            in_flight.pop(uid, None)
            record["log_path"] = str(log_path)
            log.write(json.dumps({k: v for k, v in record.items() if k != "traceback"}) + "\n")
            log.flush()
            store.record(name, record, uid=uid)
            if record["status"] == "ok":
                result.played += 1
            else:
                result.errors += 1
            if on_game is not None:
                on_game(record)


def _cpu_pairs(entrants: list[str], cpu: set[str]) -> list[tuple[int, int]]:
    ids = [i for i, e in enumerate(entrants) if e in cpu]
    return [(i, j) for i in ids for j in ids if i != j]


def _game_log_path(name: str) -> Path:
    from arena.paths import data_dir

    return data_dir() / "leaderboards" / name / "games.jsonl"


def _with_uid(task, uid):
    from dataclasses import replace

    return replace(task, uid=uid)
