"""The SQLite match log: ratings derived from it, concurrent writers, crashes, bad files."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3

import pytest

from arena.errors import ArenaError
from arena.ratings.store import MatchStore
from arena.ratings.trueskill import Rating, TrueSkill


def game(a: str, b: str, winner: str = "a", **extra) -> dict:
    score = {"a": (1, 0), "b": (0, 1), "draw": (0, 0)}[winner]
    return {"env": "pong", "a": a, "b": b, "winner": winner, "score_a": score[0], "score_b": score[1], "status": "ok", **extra}


@pytest.fixture
def store(tmp_path):
    with MatchStore(tmp_path / "arena.db") as s:
        yield s


def random_games(n: int, names: list[str], seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        out.append(game(a, b, rng.choice(["a", "a", "b", "draw"])))
    return out


def test_one_game_moves_ratings_as_trueskill_says(store):
    store.record("lb", game("strong", "weak", "a"))
    ratings = store.ratings("lb")
    expected_a, expected_b = TrueSkill().rate(Rating(25.0, 25 / 3), Rating(25.0, 25 / 3), 1)
    assert ratings["strong"].mu == expected_a.mu and ratings["strong"].mu > 25
    assert ratings["weak"].mu == expected_b.mu and ratings["weak"].mu < 25
    assert ratings["strong"].games == ratings["weak"].games == 1


def test_recompute_is_bit_identical_to_the_online_ratings(store):
    store.sync_pins("lb", {"cpu": (25.0, 1.0)})
    for g in random_games(400, ["p1", "p2", "p3", "p4", "cpu"], seed=3):
        store.record("lb", g)
    online = store.ratings("lb")
    rated, changed = store.recompute("lb")
    assert (rated, changed) == (400, 0)
    assert store.ratings("lb") == online  # floats compared with ==: bit for bit
    assert online["cpu"].mu == 25.0 and online["cpu"].sigma == 1.0  # pinned: never moves


def test_recompute_repairs_tampered_ratings(store):
    for g in random_games(50, ["x", "y", "z"], seed=1):
        store.record("lb", g)
    online = store.ratings("lb")
    store._db.execute("UPDATE ratings SET mu = 99 WHERE entrant = 'x'")
    assert store.recompute("lb") == (50, 1)
    assert store.ratings("lb") == online


def test_errored_games_are_logged_but_never_rated(store):
    store.record("lb", game("x", "y", "a"))
    before = store.ratings("lb")
    store.record("lb", {"env": "pong", "a": "x", "b": "y", "status": "error", "error": "emulator crashed"})
    assert store.ratings("lb") == before
    assert store.count("lb") == 1 and store.count("lb", status=None) == 2
    errored = store.games("lb", status="error")
    assert errored[0].error == "emulator crashed" and errored[0].winner is None
    assert store.recompute("lb") == (1, 0)


def test_a_uid_is_recorded_once(store):
    assert store.record("lb", game("x", "y"), uid="g1") is not None
    assert store.record("lb", game("x", "y"), uid="g1") is None
    assert store.count("lb") == 1 and store.ratings("lb")["x"].games == 1


def test_leaderboards_are_separate(store):
    store.record("one", game("x", "y"))
    store.record("two", game("x", "y", "b"))
    assert store.leaderboards() == ["one", "two"]
    assert store.ratings("one")["x"].mu > 25 > store.ratings("two")["x"].mu


def _writer(path: str, worker: int, n: int, barrier) -> None:
    store = MatchStore(path, timeout=60)
    barrier.wait()
    for g in random_games(n, ["a", "b", "c", "d", "e"], seed=worker):
        store.record("lb", g, uid=None)
    store.close()


def test_concurrent_writers_lose_and_duplicate_nothing(tmp_path):
    path = str(tmp_path / "arena.db")
    MatchStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    writers = [ctx.Process(target=_writer, args=(path, w, 60, barrier)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(120)
        assert p.exitcode == 0
    with MatchStore(path) as store:
        games = store.games("lb")
        assert len(games) == 240
        assert len({g.uid for g in games}) == 240
        assert [g.id for g in games] == list(range(1, 241))
        assert sum(s.games for s in store.ratings("lb").values()) == 480
        # Updates were applied in commit order, so the log rebuilds them exactly.
        assert store.recompute("lb") == (240, 0)


def test_a_database_locked_past_the_timeout_is_a_clear_error_and_writes_nothing(tmp_path):
    path = tmp_path / "arena.db"
    MatchStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process mid-write
    try:
        with MatchStore(path, timeout=0.3) as store:
            with pytest.raises(ArenaError, match=r"stayed locked for 0\.3 s") as info:
                store.record("lb", game("x", "y"))
            assert "\n" not in str(info.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with MatchStore(path) as store:
        assert store.count("lb", status=None) == 0


def test_a_file_that_is_not_sqlite_is_a_clear_error_and_left_alone(tmp_path):
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = path.read_bytes()
    with pytest.raises(ArenaError, match="not an Arena SQLite database"):
        MatchStore(path)
    assert path.read_bytes() == before


def test_timeout_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_DB_TIMEOUT", "soon")
    with pytest.raises(ArenaError, match="ARENA_DB_TIMEOUT"):
        MatchStore(tmp_path / "a.db")
    monkeypatch.setenv("ARENA_DB_TIMEOUT", "2.5")
    with MatchStore(tmp_path / "a.db") as store:
        assert store.timeout == 2.5
