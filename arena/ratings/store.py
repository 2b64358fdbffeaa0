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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from arena import paths
from arena.errors import ArenaError

SCHEMA_VERSION = 1
DEFAULT_TIMEOUT_S = 30.0

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
    log_path TEXT
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

GAME_COLUMNS = (
    "id", "uid", "leaderboard", "env", "options", "a", "b", "a_hash", "b_hash", "a_seat", "sides",
    "seed", "score_a", "score_b", "winner", "frames", "wall_s", "status", "error", "finished_at", "log_path",
)  # fmt: skip


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
class Standing:
    """An entrant's current online rating."""

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
                        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            if mode.lower() != "wal":
                raise ArenaError(f"{self.path}: SQLite refused WAL mode ({mode}); put the database on a local disk")
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "MatchStore":
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
                raise ArenaError(f"{self.path} is not an Arena SQLite database ({message}); point --db/ARENA_DB elsewhere") from None
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

    def set_pins(self, leaderboard: str, pins: dict[str, tuple[float, float]]) -> None:
        """Hold these entrants' ratings fixed: they anchor the scale (e.g. ``cpu``)."""
        with self._errors("pinning entrants"), self._write() as db:
            db.execute("DELETE FROM pins WHERE leaderboard = ?", (leaderboard,))
            db.executemany(
                "INSERT INTO pins VALUES (?, ?, ?, ?)", [(leaderboard, e, mu, sigma) for e, (mu, sigma) in pins.items()]
            )
            for entrant, (mu, sigma) in pins.items():
                db.execute(
                    "INSERT INTO ratings VALUES (?, ?, ?, ?, 0, NULL) "
                    "ON CONFLICT (leaderboard, entrant) DO UPDATE SET mu = excluded.mu, sigma = excluded.sigma",
                    (leaderboard, entrant, mu, sigma),
                )

    def record(self, leaderboard: str, game: dict, *, uid: str | None = None) -> int | None:
        """Append one game and, if it finished, update both ratings: one transaction.

        Returns the game's id, or None if a game with this ``uid`` is already logged.
        An errored game is logged but never rated.
        """
        row = self._row(leaderboard, game, uid or game.get("uid") or uuid.uuid4().hex)
        model = _model() if row["status"] == "ok" else None
        with self._errors("recording a game"), self._write() as db:
            cursor = db.execute(
                f"INSERT OR IGNORE INTO games ({', '.join(GAME_COLUMNS[1:])}) VALUES ({', '.join('?' * (len(GAME_COLUMNS) - 1))})",
                [row[c] for c in GAME_COLUMNS[1:]],
            )
            if cursor.rowcount == 0:
                return None
            game_id = cursor.lastrowid
            if model is not None and row["a"] != row["b"]:
                self._rate(db, leaderboard, game_id, row["a"], row["b"], {"a": 1, "b": -1, "draw": 0}[row["winner"]], model)
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
    def _row(leaderboard: str, game: dict, uid: str) -> dict:
        status = game.get("status", "ok")
        if status == "ok" and game.get("winner") not in ("a", "b", "draw"):
            raise ValueError(f"a finished game needs winner a, b or draw, got {game.get('winner')!r}")
        return {
            "uid": uid,
            "leaderboard": leaderboard,
            "env": game["env"],
            "options": json.dumps(game.get("options") or {}, sort_keys=True),
            "a": game["a"],
            "b": game["b"],
            "a_hash": game.get("a_hash"),
            "b_hash": game.get("b_hash"),
            "a_seat": game.get("a_seat"),
            "sides": json.dumps(game.get("sides") or {}),
            "seed": game.get("seed"),
            "score_a": game.get("score_a") if status == "ok" else None,
            "score_b": game.get("score_b") if status == "ok" else None,
            "winner": game.get("winner") if status == "ok" else None,
            "frames": game.get("frames"),
            "wall_s": game.get("wall_s"),
            "status": status,
            "error": game.get("error"),
            "finished_at": game.get("finished_at") or time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "log_path": game.get("log_path"),
        }

    # -- reading -------------------------------------------------------------------------------

    def games(self, leaderboard: str, *, status: str | None = None) -> list[dict]:
        """The leaderboard's games in log order, as dicts (JSON columns decoded)."""
        query = "SELECT * FROM games WHERE leaderboard = ?" + (" AND status = ?" if status else "") + " ORDER BY id"
        with self._errors("reading games"):
            rows = self._db.execute(query, (leaderboard, status) if status else (leaderboard,)).fetchall()
        out = []
        for r in rows:
            game = dict(r)
            game["options"] = json.loads(game["options"])
            game["sides"] = json.loads(game["sides"])
            out.append(game)
        return out

    def count(self, leaderboard: str, *, status: str | None = "ok") -> int:
        query = "SELECT COUNT(*) FROM games WHERE leaderboard = ?" + (" AND status = ?" if status else "")
        with self._errors("counting games"):
            return self._db.execute(query, (leaderboard, status) if status else (leaderboard,)).fetchone()[0]

    def pins(self, leaderboard: str) -> dict[str, tuple[float, float]]:
        with self._errors("reading pins"):
            rows = self._db.execute("SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ?", (leaderboard,))
            return {r["entrant"]: (r["mu"], r["sigma"]) for r in rows}

    def standings(self, leaderboard: str) -> dict[str, Standing]:
        """Current online ratings of everyone who has played (and every pinned entrant)."""
        with self._errors("reading ratings"):
            pinned = set(self.pins(leaderboard))
            rows = self._db.execute("SELECT * FROM ratings WHERE leaderboard = ?", (leaderboard,)).fetchall()
        return {
            r["entrant"]: Standing(r["entrant"], r["mu"], r["sigma"], r["games"], r["last_game"], r["entrant"] in pinned)
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
        model = _model()
        with self._errors("recomputing ratings"), self._write() as db:
            pins = {r["entrant"]: (r["mu"], r["sigma"]) for r in db.execute(
                "SELECT entrant, mu, sigma FROM pins WHERE leaderboard = ?", (leaderboard,))}  # fmt: skip
            rows = db.execute(
                "SELECT id, a, b, winner FROM games WHERE leaderboard = ? AND status = 'ok' AND a != b ORDER BY id",
                (leaderboard,),
            ).fetchall()
            old = {r["entrant"]: (r["mu"], r["sigma"], r["games"], r["last_game"]) for r in db.execute(
                "SELECT * FROM ratings WHERE leaderboard = ?", (leaderboard,))}  # fmt: skip
            new = rebuild(rows, pins, model)
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
