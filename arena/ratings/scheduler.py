"""``arena leaderboard run``: play a defined leaderboard's most informative games until its
stopping rule holds, recording each one.

The match log (:mod:`arena.ratings.store`) is the state: a run reads the ratings, picks the most
informative games (:mod:`arena.ratings.matchmaking`), plays them in parallel workers and records
each as it finishes. Killing a run loses only the games in flight; running it again goes on from
the log, and an entrant added to the definition later is simply scheduled first.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from arena import paths
from arena.errors import ArenaError
from arena.games.record import GameRecord
from arena.games.replay import check_records, replay_path
from arena.ratings.leaderboard import LeaderboardDef
from arena.ratings.recorder import Recorder

if TYPE_CHECKING:
    from arena.backends import Backend
    from arena.plugins.envs import EnvSpec
    from arena.plugins.manager import Arena
    from arena.ratings.store import MatchStore


@dataclass
class RunResult:
    played: int = 0
    errors: int = 0
    reason: str = ""


@dataclass
class _Stop:
    """When a run stops: after ``games`` more games, when every unpinned sigma is at most
    ``until_sigma``, or when the log holds ``max_games`` finished games."""

    games: int | None
    until_sigma: float | None
    max_games: int | None


def _stopping_rule(definition: LeaderboardDef, games: int | None, until_sigma: float | None) -> _Stop:
    if games is not None and games < 1:
        raise ArenaError(f"--games must be at least 1, got {games}")
    if until_sigma is not None and not (math.isfinite(until_sigma) and until_sigma > 0):
        raise ArenaError(f"--until-sigma must be a positive number, got {until_sigma:g}")
    if games is None and until_sigma is None:
        until_sigma = definition.until_sigma
    if games is None and until_sigma is None and definition.max_games is None:
        raise ArenaError(f"leaderboard '{definition.name}' has no stopping rule; pass --games N or --until-sigma S")
    return _Stop(games, until_sigma, definition.max_games if games is None else None)


@dataclass
class Checked:
    """A definition that can run, as :func:`check_run` found it."""

    stop: _Stop
    env_spec: EnvSpec
    options: Any
    built: dict[str, Any]  # each entrant as it plays (an agent spec or the game's CPU)


def check_run(
    definition: LeaderboardDef,
    arena: Arena,
    *,
    games: int | None = None,
    until_sigma: float | None = None,
    record: bool = False,
) -> Checked:
    """Refuse, as one line, whatever would stop a run of ``definition``: a bad stopping rule,
    ``record`` on an env that cannot record, bad env options, a missing ROM or an entrant that
    cannot play the env. :func:`run_leaderboard` calls it first; callers that write something of
    their own before the run (a database, a progress bar) call it before they do."""
    from arena.plugins.agents import resolve

    env_spec = arena.envs.get(definition.env)
    if record:
        check_records(env_spec)
    stop = _stopping_rule(definition, games, until_sigma)
    options = env_spec.parse_options(**definition.options)
    env_spec.check_installed(options)  # a missing ROM: one line before any game
    built = {e: resolve(e, arena.agents, env_spec, options) for e in definition.entrants}
    return Checked(stop, env_spec, options, built)


def run_leaderboard(
    definition: LeaderboardDef,
    store: MatchStore,
    *,
    games: int | None = None,
    until_sigma: float | None = None,
    workers: int | None = None,
    arena: Arena | None = None,
    seed: int | None = None,
    on_game: Callable[[GameRecord], None] | None = None,
    record: bool = False,
    backend: Backend | None = None,
    checked: Checked | None = None,
) -> RunResult:
    """Play the most informative games until the stopping rule holds, recording each one.

    Stops after ``games`` more games, or when every unpinned entrant's sigma is at most
    ``until_sigma``; with neither, the definition's ``stop`` rule applies (its ``max_games``
    counts every finished game in the log, so a rerun after a crash resumes toward it). With
    ``record`` each game's input movie goes beside the leaderboard's log
    (:func:`arena.games.replay.replay_path`). ``backend`` says where the games run
    (:mod:`arena.backends`; default: local processes); a game whose worker died is logged as an
    error and, on Ray, played again under its own id, so it is rated once. ``checked``:
    :func:`check_run`'s result for these same arguments, when the caller has it already (the
    entrants are then resolved once).
    """
    from arena.games.play import GamePool
    from arena.plugins.manager import get_arena

    arena = arena or get_arena()
    if checked is None:
        checked = check_run(definition, arena, games=games, until_sigma=until_sigma, record=record)
    stop = checked.stop
    recorder = Recorder(definition.name, paths.leaderboard_log(definition.name), store, definition=definition, arena=arena)
    schedule = _Schedule(definition, checked, store, arena, seed)
    workers = min(workers or definition.games_per_round or os.cpu_count() or 1, 64)
    result = RunResult()
    if backend is None:
        pool = GamePool(workers, arena)
    else:
        pool = backend.game_pool(workers, arena, resources=schedule.env_spec.ray_resources)
    with pool, recorder:
        while True:
            reason = schedule.done(stop, result)
            if not reason:
                for task in schedule.next_tasks(schedule.budget(stop, result, workers)):
                    if record:
                        task = replace(task, replay=str(replay_path(recorder.log_path, task.uid)))
                    pool.submit(task)
            if not len(pool):  # once the rule holds, games in flight finish and are recorded first
                result.reason = reason or "no pairing left to play"
                return result
            game = recorder.write(schedule.finished(pool.next_result()))  # not `record`: that is the option
            if game.ok:
                result.played += 1
            else:
                result.errors += 1
            if on_game is not None:
                on_game(game)


class _Schedule:
    """The entrants, their ratings as the store holds them, and the games in flight."""

    def __init__(self, definition: LeaderboardDef, checked: Checked, store: MatchStore, arena: Arena, seed: int | None):
        import numpy as np

        from arena.plugins.agents import BuiltinCpu
        from arena.ratings.trueskill import TrueSkill

        self.definition, self.store, self.arena = definition, store, arena
        self.name = definition.name
        self.env_spec, self.options, self.built = checked.env_spec, checked.options, checked.built
        self.entrants = list(definition.entrants)
        cpu = [i for i, e in enumerate(self.entrants) if isinstance(self.built[e], BuiltinCpu)]
        self.forbidden = [(i, j) for i in cpu for j in cpu if i != j]  # the game's CPU never plays itself
        self.pinned = np.array([e in definition.pinned for e in self.entrants])
        self.model = TrueSkill()
        self.rng = random.Random(seed if seed is not None else store.count(self.name, status=None))
        self.submitted = store.count(self.name, status=None)
        self.in_flight: dict[str, tuple[int, int]] = {}
        # Pong's left paddle answers its controls a frame or two later than the right one, so every
        # pair alternates seats game by game: each plays both sides equally often.
        self.pair_games: dict[frozenset, int] = {}
        for g in store.games(self.name):
            key = frozenset((g.a, g.b))
            self.pair_games[key] = self.pair_games.get(key, 0) + 1

    def ratings(self):
        import numpy as np

        current = self.store.ratings(self.name)
        prior = self.model.initial()
        mu = np.array([current[e].mu if e in current else prior.mu for e in self.entrants])
        sigma = np.array([current[e].sigma if e in current else prior.sigma for e in self.entrants])
        played = np.array([current[e].games if e in current else 0 for e in self.entrants])
        return mu, sigma, played

    def done(self, stop: _Stop, result: RunResult) -> str:
        from arena.ratings.matchmaking import converged

        if stop.games is not None:
            return f"played {stop.games} games" if result.played + result.errors >= stop.games else ""
        if stop.until_sigma is not None and converged(self.ratings()[1], stop.until_sigma, pinned=self.pinned):
            return f"every entrant's sigma is at most {stop.until_sigma:g}"
        if stop.max_games is not None and self.store.count(self.name) >= stop.max_games:
            return f"the log holds {stop.max_games} finished games (stop.max_games)"
        return ""

    def budget(self, stop: _Stop, result: RunResult, workers: int) -> int:
        budget = workers - len(self.in_flight)
        if stop.games is not None:
            budget = min(budget, stop.games - (result.played + result.errors) - len(self.in_flight))
        elif stop.max_games is not None:
            budget = min(budget, stop.max_games - self.store.count(self.name) - len(self.in_flight))
        return budget

    def next_tasks(self, budget: int) -> list:
        from arena.games.play import game_task
        from arena.ratings.matchmaking import next_games

        if budget <= 0:
            return []
        mu, sigma, played = self.ratings()
        pairs = next_games(
            mu, sigma, played, budget, rng=self.rng, model=self.model, in_flight=list(self.in_flight.values()),
            pinned=self.pinned, forbidden=self.forbidden,
        )  # fmt: skip
        tasks = []
        for i, j in pairs:
            a, b = sorted((self.entrants[i], self.entrants[j]))
            nth = self.pair_games.get(frozenset((a, b)), 0)
            self.pair_games[frozenset((a, b))] = nth + 1
            built = {"a": self.built[a], "b": self.built[b]}
            task = game_task(self.arena, built, a, b, self.definition.env, self.options, index=nth, seed=self.submitted)
            self.submitted += 1
            uid = f"{self.name}:{os.getpid()}:{self.submitted}:{self.rng.getrandbits(32):08x}"
            self.in_flight[uid] = (i, j)
            tasks.append(replace(task, uid=uid))
        return tasks

    def finished(self, record: GameRecord) -> GameRecord:
        self.in_flight.pop(record.uid, None)
        return record
