"""The record of one game: what a worker reports, what the JSON-lines log and the SQLite match
log hold, and what standings and reports read. Defined once, here.

A game is ``a`` against ``b``: two agent specs (the game's own CPU is ``cpu``), each in a seat.
It either finished (``status == "ok"``: scores, winner, frames) or failed (``status ==
"error"``: the message in ``error``); a failed game is recorded but never rated.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "error"]
Winner = Literal["a", "b", "draw"]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class GameRecord:
    """One game, finished or failed.

    :param uid: the producer's key; writing the same uid twice records one game.
    :param env: the environment's name; ``options`` its options as a plain dict.
    :param a: the first agent's spec; ``b`` the second's.
    :param a_seat: the seat ``a`` played; ``sides`` maps each seat to the spec there.
    :param seed: the game's seed.
    :param game: the game's number within its series (match or evaluation round).
    :param status: ``"ok"`` for a finished game, ``"error"`` for a failed one.
    :param error: why a game failed (one line), else None.
    :param score: points per seat; ``score_a`` and ``score_b`` the two agents'.
    :param winner: ``"a"``, ``"b"`` or ``"draw"`` for a finished game, else None.
    :param frames: emulator frames played; ``truncated`` whether the game was cut off (a frame
        cap) rather than ended by its rules.
    :param a_hash: the snapshot file's hash when ``a`` is a trained agent; likewise ``b_hash``.
    :param wall_s: seconds the game took; ``pid`` the process that played it.
    :param finished_at: when the game ended, ISO 8601 in UTC.
    :param log_path: the JSON-lines file the game was written to.
    :param leaderboard: the leaderboard it was recorded in; ``id`` its place in the match log
        (the order ratings apply in). Both are set by the store.
    :param replay: the game's input movie (``.bk2``) when it was recorded (``--record``), else
        None. Kept in the JSON-lines log only: the match database has no column for it, and
        :func:`arena.games.replay.find_replay` finds a stored game's movie from its log and uid.
    :param level: the level the game was played on, for games with levels (Sonic), else None.
        Kept in the JSON-lines log only, like ``replay``.
    :param traceback: a failed game's traceback; kept in memory for the worker's log, never
        written to the game logs.
    """

    env: str
    a: str
    b: str
    status: Status = "ok"
    uid: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    a_seat: str | None = None
    sides: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    game: int | None = None
    error: str | None = None
    score: dict[str, int] | None = None
    score_a: int | None = None
    score_b: int | None = None
    winner: Winner | None = None
    frames: int | None = None
    truncated: bool | None = None
    a_hash: str | None = None
    b_hash: str | None = None
    wall_s: float | None = None
    pid: int | None = None
    finished_at: str = ""
    log_path: str | None = None
    leaderboard: str | None = None
    id: int | None = None
    replay: str | None = None
    level: str | None = None
    traceback: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in ("ok", "error"):
            raise ValueError(f"status must be 'ok' or 'error', got {self.status!r}")
        if self.status == "ok" and self.winner not in ("a", "b", "draw"):
            raise ValueError(f"a finished game needs winner a, b or draw, got {self.winner!r}")
        if not self.finished_at:
            object.__setattr__(self, "finished_at", now_iso())

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def b_seat(self) -> str | None:
        return next((seat for seat in self.sides if seat != self.a_seat), None)

    def replace(self, **changes: Any) -> GameRecord:
        return dataclasses.replace(self, **changes)

    # -- the JSON-lines log --------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON log writes it (no traceback, no store-assigned fields)."""
        out = {f.name: getattr(self, f.name) for f in FIELDS if f.name not in ("traceback", "id")}
        for key in LOG_ONLY:
            if out[key] is None:
                del out[key]  # a game without a replay or a level logs the line it always did
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GameRecord:
        """A record from a JSON log line, a store row or an older Arena's dict (unknown keys are
        ignored, missing ones take their defaults; JSON text columns are decoded)."""
        values = {name: data[name] for name in (*NAMES, *LOG_ONLY) if name in data}
        for key in ("options", "sides", "score"):
            if isinstance(values.get(key), str):
                values[key] = json.loads(values[key])
        if values.get("truncated") is not None:
            values["truncated"] = bool(values["truncated"])
        if values.get("status", "ok") != "ok":
            values.update(winner=None, score_a=None, score_b=None)
        return cls(**values)


FIELDS = dataclasses.fields(GameRecord)
# Fields the JSON-lines log writes but the match database (its columns are NAMES) does not keep.
LOG_ONLY = ("replay", "level")
NAMES = tuple(f.name for f in FIELDS if f.name not in LOG_ONLY)


def as_record(game: GameRecord | Mapping[str, Any]) -> GameRecord:
    """``game`` as a :class:`GameRecord` (a mapping is read with :meth:`GameRecord.from_dict`)."""
    return game if isinstance(game, GameRecord) else GameRecord.from_dict(game)
