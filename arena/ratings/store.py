"""The match log: every game in SQLite, the source of truth for ratings.

One file holds every leaderboard. It runs in WAL mode so readers never block the writer, and
each game is one ``BEGIN IMMEDIATE`` transaction that inserts the game and updates the two
players' ratings. Writers from several processes therefore apply rating updates in exactly
the order of the game ids, so :meth:`MatchStore.recompute` rebuilds the same ratings, bit for
bit. A process killed with SIGKILL loses only games that were not committed: those in flight.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from arena import paths
from arena.errors import ArenaError
from arena.games.record import NAMES, GameRecord, as_record

SCHEMA_VERSION = 2
DEFAULT_TIMEOUT_S = 30.0

# One row per game: the columns are GameRecord's fields (arena.games.record), less the traceback.
SCHEMA = """
CREATE TABLE IF NOT EXISTS games (
    id INTEGER PRIMARY KEY,            -- commit order: ratings apply in this order
    uid TEXT NOT NULL UNIQUE,          -- the producer's key: a retried insert is not a second game
    leaderboard TEXT NOT NULL,
    env TEXT NOT NULL,
    options TEXT NOT NULL,             -- JSON
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    a_hash TEXT,                       -- snapshot hash for trained agents
    b_hash TEXT,
    a_seat TEXT,
    sides TEXT NOT NULL,               -- JSON: seat -> spec
    seed INTEGER,
    score_a INTEGER,
    score_b INTEGER,
    winner TEXT CHECK (winner IN ('a', 'b', 'draw') OR winner IS NULL),
    frames INTEGER,
    wall_s REAL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT,
    finished_at TEXT NOT NULL,
    log_path TEXT,
    truncated INTEGER,                 -- schema 2: cut off by a frame cap
    game INTEGER,                      -- schema 2: the game's number in its series
    score TEXT,                        -- schema 2: JSON, seat -> points
    pid INTEGER                        -- schema 2: the process that played it
);
CREATE INDEX IF NOT EXISTS games_by_leaderboard ON games (leaderboard, id);
CREATE TABLE IF NOT EXISTS ratings (
    leaderboard TEXT NOT NULL,
    entrant TEXT NOT NULL,
    mu REAL NOT NULL,
    sigma REAL NOT NULL,
    games INTEGER NOT NULL,
    last_game INTEGER,
    PRIMARY KEY (leaderboard, entrant)
);
CREATE TABLE IF NOT EXISTS pins (
    leaderboard TEXT NOT NULL,
    entrant TEXT NOT NULL,
    mu REAL NOT NULL,
    sigma REAL NOT NULL,
    PRIMARY KEY (leaderboard, entrant)
);
"""
# Schema 1 (Arena 0.1) lacked these columns; opening such a database adds them.
ADDED_IN_2 = (("truncated", "INTEGER"), ("game", "INTEGER"), ("score", "TEXT"), ("pid", "INTEGER"))
COLUMNS = tuple(name for name in NAMES if name not in ("id", "traceback"))
JSON_COLUMNS = ("options", "sides", "score")


def _timeout_from_env() -> float:
    raw = os.environ.get("ARENA_DB_TIMEOUT")
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ArenaError(f"ARENA_DB_TIMEOUT must be seconds, e.g. 30; got '{raw}'") from None
    if value < 0:
        raise ArenaError(f"ARENA_DB_TIMEOUT must be 0 or more seconds; got '{raw}'")
    return value


@dataclass(frozen=True)
class StoredRating:
    """An entrant's current rating as the store keeps it: updated online, one game at a time."""

    entrant: str
    mu: float
    sigma: float
    games: int
    last_game: int | None
    pinned: bool = False


def _model():
    from arena.ratings.trueskill import TrueSkill

    return TrueSkill()


class MatchStore:
    """The SQLite match log. Every method is one short transaction; the object is cheap."""

    def __init__(self, path: str | Path | None = None, *, timeout: float | None = None, create: bool = True):
        self.path = Path(path) if path else paths.db_path()
        self.timeout = timeout if timeout is not None else _timeout_from_env()
        if not self.path.exists():
            if not create:
                raise ArenaError(f"no match database at {self.path}; play a game first or point --db/ARENA_DB at one")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            with self._errors("opening"):
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing committed
                version = self._db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise ArenaError(f"{self.path} was written by a newer Arena (schema {version}); upgrade arena-rl")
                if version < SCHEMA_VERSION:
                    with self._write() as db:
                        for statement in SCHEMA.split(";"):
                            if statement.strip():
                                db.execute(statement)
                        have = {row[1] for row in db.execute("PRAGMA table_info(games)")}
                        for column, kind in ADDED_IN_2:
                            if column not in have:
                                db.execute(f"ALTER TABLE games ADD COLUMN {column} {kind}")
                        # Arena 0.1 could rate games before a leaderboard's pins were stored: rate
                        # every leaderboard again under its pins, as later writes will.
                        for (leaderboard,) in db.execute("SELECT DISTINCT leaderboard FROM games").fetchall():
                            self._recompute(db, leaderboard)
                        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if mode.lower() != "wal":
                raise ArenaError(f"{self.path}: SQLite refused WAL mode ({mode}); put the database on a local disk")
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> MatchStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "not a database" in message or "malformed" in message:
                raise ArenaError(
                    f"{self.path} is not an Arena SQLite database ({message}); point --db/ARENA_DB elsewhere"
                ) from None
            if "locked" in message or "busy" in message:
                raise ArenaError(
                    f"{self.path} stayed locked for {self.timeout:g} s while {doing} (another process holds a write "
                    "transaction); retry when it finishes, or raise ARENA_DB_TIMEOUT"
                ) from None
            raise ArenaError(f"{self.path}: SQLite error while {doing}: {message}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so concurrent writers queue instead of
        # failing halfway with SQLITE_BUSY on upgrade from a read lock.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------------

    def sync_pins(self, leaderboard: str, pins: dict[str, tuple[float, float]]) -> bool:
        """Hold these entrants' ratings fixed (they anchor the scale, e.g. ``cpu``). Pins come from
        the leaderboard's definition; when they differ from the ones the stored ratings were
        computed with, the ratings are recomputed under the new pins in the same transaction, so
        the stored ratings always match what the log and the pins give. True if anything changed."""
        wanted = {entrant: (float(mu), float(sigma)) for entrant, (mu, sigma) in pins.items()}
        with self._errors("pinning entrants"), self._write() as db:
            stored = {r["entrant"]: (r["mu"], r["sigma"]) for r in db.execute(
                "SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ?", (leaderboard,))}  # fmt: skip
            if stored == wanted:
                return False
            db.execute("DELETE FROM pins WHERE leaderboard = ?", (leaderboard,))
            db.executemany(
                "INSERT INTO pins VALUES (?, ?, ?, ?)", [(leaderboard, e, mu, sigma) for e, (mu, sigma) in wanted.items()]
            )
            self._recompute(db, leaderboard)
        return True

    def record(self, leaderboard: str, game: GameRecord | dict, *, uid: str | None = None) -> int | None:
        """Append one game and, if it finished, update both ratings: one transaction.

        Returns the game's id, or None if a game with this ``uid`` is already logged.
        An errored game is logged but never rated.
        """
        game = as_record(game)
        row = self._row(leaderboard, game, uid or game.uid or uuid.uuid4().hex)
        model = _model() if game.ok else None
        with self._errors("recording a game"), self._write() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO games ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [row[c] for c in COLUMNS],
            )
            if cursor.rowcount == 0:
                return None
            game_id = cursor.lastrowid
            if model is not None and game.a != game.b:
                self._rate(db, leaderboard, game_id, game.a, game.b, {"a": 1, "b": -1, "draw": 0}[game.winner], model)
        return game_id

    def _rate(self, db, leaderboard: str, game_id: int, a: str, b: str, outcome: int, model) -> None:
        pins = {r["entrant"]: (r["mu"], r["sigma"]) for r in db.execute(
            "SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ? AND entrant IN (?, ?)", (leaderboard, a, b))}  # fmt: skip
        current = {r["entrant"]: r for r in db.execute(
            "SELECT * FROM ratings WHERE leaderboard = ? AND entrant IN (?, ?)", (leaderboard, a, b))}  # fmt: skip
        before = {}
        for who in (a, b):
            if who in pins:
                before[who] = pins[who]
            elif who in current:
                before[who] = (current[who]["mu"], current[who]["sigma"])
            else:
                prior = model.initial()
                before[who] = (prior.mu, prior.sigma)
        from arena.ratings.trueskill import Rating

        new_a, new_b = model.rate(Rating(*before[a]), Rating(*before[b]), outcome, pin_a=a in pins, pin_b=b in pins)
        for who, rating in ((a, new_a), (b, new_b)):
            db.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (leaderboard, entrant) DO UPDATE SET "
                "mu = excluded.mu, sigma = excluded.sigma, games = games + 1, last_game = excluded.last_game",
                (leaderboard, who, float(rating.mu), float(rating.sigma), game_id),
            )

    @staticmethod
    def _row(leaderboard: str, game: GameRecord, uid: str) -> dict:
        row = game.replace(uid=uid, leaderboard=leaderboard).to_dict()
        for key in JSON_COLUMNS:
            if key == "score" and row[key] is None:
                continue
            row[key] = json.dumps(row[key] or {}, sort_keys=True)
        row["finished_at"] = row["finished_at"] or time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        return row

    # -- reading -------------------------------------------------------------------------------

    def games(self, leaderboard: str, *, status: str | None = None) -> list[GameRecord]:
        """The leaderboard's games in log order."""
        query = "SELECT * FROM games WHERE leaderboard = ?" + (" AND status = ?" if status else "") + " ORDER BY id"
        with self._errors("reading games"):
            rows = self._db.execute(query, (leaderboard, status) if status else (leaderboard,)).fetchall()
        return [GameRecord.from_dict(dict(r)) for r in rows]

    def count(self, leaderboard: str, *, status: str | None = "ok") -> int:
        query = "SELECT COUNT(*) FROM games WHERE leaderboard = ?" + (" AND status = ?" if status else "")
        with self._errors("counting games"):
            return self._db.execute(query, (leaderboard, status) if status else (leaderboard,)).fetchone()[0]

    def pins(self, leaderboard: str) -> dict[str, tuple[float, float]]:
        with self._errors("reading pins"):
            rows = self._db.execute("SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ?", (leaderboard,))
            return {r["entrant"]: (r["mu"], r["sigma"]) for r in rows}

    def ratings(self, leaderboard: str) -> dict[str, StoredRating]:
        """Current online ratings of everyone who has played (and every pinned entrant)."""
        with self._errors("reading ratings"):
            pinned = set(self.pins(leaderboard))
            rows = self._db.execute("SELECT * FROM ratings WHERE leaderboard = ?", (leaderboard,)).fetchall()
        return {
            r["entrant"]: StoredRating(r["entrant"], r["mu"], r["sigma"], r["games"], r["last_game"], r["entrant"] in pinned)
            for r in rows
        }

    def leaderboards(self) -> list[str]:
        with self._errors("listing leaderboards"):
            return [r[0] for r in self._db.execute("SELECT DISTINCT leaderboard FROM games ORDER BY leaderboard")]

    # -- deriving ------------------------------------------------------------------------------

    def recompute(self, leaderboard: str) -> tuple[int, int]:
        """Rebuild the leaderboard's ratings from its log; returns (games rated, entrants changed).

        Uses the same update as :meth:`record`, in id order, so on an intact log nothing changes.
        """
        with self._errors("recomputing ratings"), self._write() as db:
            return self._recompute(db, leaderboard)

    @staticmethod
    def _recompute(db, leaderboard: str) -> tuple[int, int]:
        pins = {r["entrant"]: (r["mu"], r["sigma"]) for r in db.execute(
            "SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ?", (leaderboard,))}  # fmt: skip
        rows = db.execute(
            "SELECT id, a, b, winner FROM games WHERE leaderboard = ? AND status = 'ok' AND a != b ORDER BY id",
            (leaderboard,),
        ).fetchall()
        old = {r["entrant"]: (r["mu"], r["sigma"], r["games"], r["last_game"]) for r in db.execute(
            "SELECT * FROM ratings WHERE leaderboard = ?", (leaderboard,))}  # fmt: skip
        new = rebuild(rows, pins, _model())
        db.execute("DELETE FROM ratings WHERE leaderboard = ?", (leaderboard,))
        db.executemany(
            "INSERT INTO ratings VALUES (?, ?, ?, ?, ?, ?)",
            [(leaderboard, e, mu, sigma, games, last) for e, (mu, sigma, games, last) in new.items()],
        )
        changed = sum(1 for e in set(old) | set(new) if old.get(e) != new.get(e))
        return len(rows), changed


def rebuild(rows: list, pins: dict[str, tuple[float, float]], model) -> dict[str, tuple[float, float, int, int | None]]:
    """Ratings from ordered (id, a, b, winner) rows: entrant -> (mu, sigma, games, last game id)."""
    import numpy as np

    from arena.ratings.trueskill import Ratings

    names = sorted({r["a"] for r in rows} | {r["b"] for r in rows} | set(pins))
    index = {name: i for i, name in enumerate(names)}
    games = [(index[r["a"]], index[r["b"]], {"a": 1, "b": -1, "draw": 0}[r["winner"]]) for r in rows]
    prior = model.initial()
    start = [pins.get(n, (prior.mu, prior.sigma)) for n in names]
    initial = Ratings(np.array([m for m, _ in start], dtype=float), np.array([s for _, s in start], dtype=float))
    ratings = model.recompute(len(names), games, initial=initial, pinned={index[n] for n in pins})
    counts = {n: 0 for n in names}
    last: dict[str, int | None] = {n: None for n in names}
    for r in rows:
        for who in (r["a"], r["b"]):
            counts[who] += 1
            last[who] = r["id"]
    return {n: (float(ratings.mu[index[n]]), float(ratings.sigma[index[n]]), counts[n], last[n]) for n in names}
