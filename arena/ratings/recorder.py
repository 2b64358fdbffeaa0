"""Where every game is written: :class:`Recorder`, used by ``arena match``, ``arena leaderboard
run`` and training's evaluation games alike.

A game is written twice, in this order: a line in a JSON-lines log (for people and tools), then
one transaction in the match log (:mod:`arena.ratings.store`) that inserts the game and updates
both ratings. A game written again under the same uid is recorded once.

Writing into a *defined* leaderboard (``leaderboards/NAME.json``) checks every game against the
definition first: the env, and every option the game is played with (``points``,
``max_frames``, ``act_every``...), apart from the options an env marks as machine settings
(paths, timeouts). A mismatch is refused with one line and nothing is written. Agents the
definition does not list are guests: their games are recorded and rated like any other, and
``arena leaderboard run`` never schedules them. The definition's pins are the leaderboard's
pins: the recorder copies them into the store, which then rates every game under them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from arena.games.record import GameRecord
from arena.ratings.leaderboard import LeaderboardDef, find_definition
from arena.ratings.store import MatchStore

if TYPE_CHECKING:
    from arena.plugins.manager import Arena


class Recorder:
    """Writes games into leaderboard ``name``: the JSON-lines file ``log_path`` and ``store``.

    :param definition: the leaderboard's definition; by default the one named ``name`` if there
        is one (a leaderboard without a definition, such as an experiment's, checks nothing).
    :param arena: the loaded plugins (to read the env's option defaults); loaded if not given.
    """

    def __init__(
        self,
        name: str,
        log_path: str | Path,
        store: MatchStore,
        *,
        definition: LeaderboardDef | None | str = "find",
        arena: Arena | None = None,
    ):
        self.name = name
        self.log_path = Path(log_path)
        self.store = store
        self.definition = find_definition(name, required=False) if definition == "find" else definition
        self._arena = arena
        self._log: IO[str] | None = None
        if self.definition is not None:
            store.sync_pins(name, self.definition.pinned)

    def check(self, env: str, options: dict[str, Any]) -> None:
        """Refuse (one line) games in ``env`` with ``options`` that the definition does not allow."""
        if self.definition is None:
            return
        from arena.ratings.leaderboard import check_game

        check_game(self.definition, self._env_spec(env), env, options)

    def _env_spec(self, env: str):
        if self._arena is None:
            from arena.plugins.manager import get_arena

            self._arena = get_arena()
        return self._arena.envs.get(env) if env in self._arena.envs else None

    def write(self, game: GameRecord) -> GameRecord:
        """Write one game (log line, then the store) and return it as stored (with its id)."""
        self.check(game.env, game.options)
        game = game.replace(leaderboard=self.name, log_path=str(self.log_path))
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", encoding="utf-8")
        self._log.write(game.to_json() + "\n")
        self._log.flush()  # a crash loses at most the games still in flight
        game_id = self.store.record(self.name, game)
        return game.replace(id=game_id)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
