"""``arena leaderboard run``: play a defined leaderboard's most informative games until its
stopping rule holds, recording each one.

The match log (:mod:`arena.ratings.store`) is the state: a run reads the ratings, picks the most
informative games (:mod:`arena.ratings.matchmaking`), plays them in parallel workers and records
each as it finishes. Killing a run loses only the games in flight; running it again goes on from
the log, and an entrant added to the definition later is simply scheduled first.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from typing import Any, Callable

from arena import paths
from arena.errors import ArenaError
from arena.ratings.leaderboard import LeaderboardDef


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

    from arena.games.play import GamePool, game_task
    from arena.plugins.manager import get_arena
    from arena.ratings.matchmaking import converged, next_games
    from arena.ratings.trueskill import TrueSkill

    arena = arena or get_arena()
    env_spec = arena.envs.get(definition.env)
    options = env_spec.parse_options(**definition.options)
    name = definition.name
    entrants = list(definition.entrants)
    # Check every entrant against the env before playing anything (one-line errors).
    from arena.plugins.agents import BuiltinCpu, resolve

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
    log_path = paths.leaderboard_log(name)
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



def _with_uid(task, uid):
    from dataclasses import replace

    return replace(task, uid=uid)
