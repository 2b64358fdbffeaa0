"""One game record, one writer, one source of ratings: what `arena match`, `arena leaderboard run`
and training's evaluation games write, and what every view of a leaderboard reads."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.games.record import GameRecord
from arena.plugins.manager import load_plugins
from arena.ratings.leaderboard import load_definition
from arena.ratings.recorder import Recorder
from arena.ratings.store import SCHEMA_VERSION, MatchStore

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "tests" / "data" / "v0.1.0"
LADDER = ("-o", "points=5", "-o", "max_frames=30000")  # the options leaderboards/pong-ladder.json plays with


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    # COLUMNS: the tables are read whole, whatever width the caller's terminal exports
    env = {**os.environ, "ARENA_HOME": str(tmp_path / "home"), "ARENA_LOAD_PLUGINS": "agents,pong", "COLUMNS": "200"}
    env.pop("ARENA_LEADERBOARDS", None)
    env.pop("ARENA_DB", None)
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip


def shown(tmp_path: Path, name: str) -> dict[str, tuple[float, float]]:
    """What `arena leaderboard show NAME --json` prints: entrant -> (mu, sigma)."""
    result = run_cli(tmp_path, "leaderboard", "show", name, "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: (row["mu"], row["sigma"]) for row in json.loads(result.stdout)}


def stored(db: Path, name: str) -> dict[str, tuple[float, float]]:
    """What matchmaking reads: the store's ratings."""
    with MatchStore(db) as store:
        return {who: (r.mu, r.sigma) for who, r in store.ratings(name).items()}


@pytest.fixture(scope="module")
def arena():
    before = os.environ.get("ARENA_LOAD_PLUGINS")
    os.environ.setdefault("ARENA_LOAD_PLUGINS", "agents,pong")
    yield load_plugins()
    if before is None:  # later modules load every plugin
        del os.environ["ARENA_LOAD_PLUGINS"]


def game(a: str, b: str, winner: str = "a", **extra) -> GameRecord:
    score = {"a": (5, 1), "b": (1, 5), "draw": (2, 2)}[winner]
    return GameRecord(env="pong", a=a, b=b, winner=winner, score_a=score[0], score_b=score[1], **extra)


# -- the record -----------------------------------------------------------------------------------


def test_a_record_survives_the_json_log_and_the_store_unchanged(tmp_path):
    record = game(
        "bot:tracker:9", "cpu", uid="u1", options={"points": 5}, a_seat="right", sides={"left": "cpu", "right": "bot:tracker:9"},
        seed=3, game=1, score={"left": 1, "right": 5}, frames=4000, truncated=True, wall_s=1.5, pid=7,
    )  # fmt: skip
    assert GameRecord.from_dict(json.loads(record.to_json())) == record
    with MatchStore(tmp_path / "arena.db") as store:
        store.record("lb", record)
        (back,) = store.games("lb")
    assert back.truncated is True and back.score == {"left": 1, "right": 5} and back.game == 1 and back.pid == 7
    assert back.replace(id=None, leaderboard=None) == record


def test_a_finished_game_needs_a_winner():
    with pytest.raises(ValueError, match="winner"):
        GameRecord(env="pong", a="x", b="y")
    assert GameRecord(env="pong", a="x", b="y", status="error", error="boom").winner is None


def test_show_keeps_each_entrants_whole_name_on_a_narrow_terminal(tmp_path):
    """Snapshots of one run differ only in their steps, at the end of the path: cut to "..." at
    100 or 120 columns they could not be told apart."""
    names = [f"experiments/rac_lr=0.001/snapshots/{steps:012d}.pt" for steps in (358400, 793600, 1000448)]
    with MatchStore(tmp_path / "home" / "arena.db") as store:
        for i, name in enumerate(names):
            store.record("narrow", game(name, "cpu", uid=f"g{i}"))
    for width in ("100", "120"):
        env = {**os.environ, "ARENA_HOME": str(tmp_path / "home"), "ARENA_LOAD_PLUGINS": "agents,pong", "COLUMNS": width}
        result = subprocess.run(
            [sys.executable, "-c", "from arena.cli import main; main()", "leaderboard", "show", "narrow"],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        entrants, rows = [], [line.split("│")[1:-1] for line in result.stdout.splitlines() if line.startswith("│")]
        for cells in rows:  # a row's entrant may go on in the next lines, whose rank cell is empty
            if cells[0].strip():
                entrants.append("")
            entrants[-1] += cells[1].strip()
        assert sorted(entrants) == sorted([*names, "cpu"]), result.stdout


# -- one source of ratings --------------------------------------------------------------------------


def test_stored_ratings_are_the_ratings_show_prints(tmp_path):
    """The issue's repro: games of bot:tracker:9 against cpu recorded with `arena match
    --leaderboard pong-ladder` on a fresh database. The ladder pins cpu at 25; matchmaking read
    unpinned ratings (33.38 / 16.62) while `show` printed pinned ones (35.47 / 25.00)."""
    result = run_cli(
        tmp_path, "match", "bot:tracker:9", "cpu", "--games", "3", "-w", "1", "--leaderboard", "pong-ladder", *LADDER
    )
    assert result.returncode == 0, result.stderr
    db = tmp_path / "home" / "arena.db"
    matchmaking = stored(db, "pong-ladder")
    printed = shown(tmp_path, "pong-ladder")
    assert matchmaking["cpu"] == (25.0, 1.0)  # the definition's pin
    for who in ("bot:tracker:9", "cpu"):
        assert printed[who] == pytest.approx(matchmaking[who], abs=1e-9)


def test_changed_pins_are_applied_by_the_next_write_and_by_recompute(tmp_path, arena):
    boards = tmp_path / "boards"
    boards.mkdir()
    definition_path = boards / "pinned.json"
    definition_path.write_text(json.dumps({"env": "pong", "entrants": ["random", "cpu"], "pinned": {"cpu": 25}}))
    db = tmp_path / "arena.db"
    with MatchStore(db) as store:
        with Recorder(
            "pinned", tmp_path / "log.jsonl", store, definition=load_definition(definition_path), arena=arena
        ) as recorder:
            for _ in range(3):
                recorder.write(game("random", "cpu", "b"))
        first = store.ratings("pinned")["random"].mu
        definition_path.write_text(json.dumps({"env": "pong", "entrants": ["random", "cpu"], "pinned": {"cpu": 10}}))
        Recorder("pinned", tmp_path / "log.jsonl", store, definition=load_definition(definition_path), arena=arena)
        assert store.pins("pinned") == {"cpu": (10.0, 1.0)}
        assert store.ratings("pinned")["cpu"].mu == 10.0
        assert store.ratings("pinned")["random"].mu < first - 2  # the scale moved with the pin
        assert store.recompute("pinned") == (3, 0)  # already what the log and the pins give


# -- the definition is checked before anything is written -----------------------------------------


def test_a_match_that_does_not_fit_the_definition_is_refused_and_writes_nothing(tmp_path):
    result = run_cli(tmp_path, "match", "bot:tracker:9", "cpu", "--leaderboard", "pong-ladder")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "points=5" in result.stderr and "points=21" in result.stderr and "-o points=5" in result.stderr
    assert not (tmp_path / "home" / "matches").exists()  # no log written
    db = tmp_path / "home" / "arena.db"
    if db.exists():
        with MatchStore(db) as store:
            assert store.count("pong-ladder", status=None) == 0


def test_the_recorder_refuses_a_mismatching_game_and_writes_nothing(tmp_path, arena):
    definition = load_definition(ROOT / "leaderboards" / "pong-ladder.json")
    with MatchStore(tmp_path / "arena.db") as store:
        with Recorder("pong-ladder", tmp_path / "log.jsonl", store, definition=definition, arena=arena) as recorder:
            with pytest.raises(ArenaError, match="max_frames=30000, but these games have max_frames=50; add -o max_frames=30000"):
                recorder.write(game("random", "cpu", options={"points": 5, "max_frames": 50}))
            with pytest.raises(ArenaError, match="is for env 'pong', not 'melee'"):
                recorder.write(game("random", "cpu").replace(env="melee"))
            assert store.count("pong-ladder", status=None) == 0
            assert not (tmp_path / "log.jsonl").exists()
            fits = {**{k: v for k, v in _pong_defaults(arena).items()}, **definition.options}
            written = recorder.write(game("random", "cpu", "b", options=fits))
        assert written.id == 1 and written.leaderboard == "pong-ladder"
    (line,) = (tmp_path / "log.jsonl").read_text().splitlines()
    assert GameRecord.from_dict(json.loads(line)) == written.replace(id=None)


def _pong_defaults(arena) -> dict:
    import dataclasses

    return dataclasses.asdict(arena.envs.get("pong").parse_options())


def test_machine_options_are_not_compared():
    from arena.ratings.leaderboard import LeaderboardDef, check_game

    class Spec:
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class options:
            iso: str = ""
            stage: str = "fd"

        machine_options = ("iso",)

    definition = LeaderboardDef(name="m", env="melee", entrants=("a", "b"))
    check_game(definition, Spec, "melee", {"iso": "/anywhere/melee.iso", "stage": "fd"})
    with pytest.raises(ArenaError, match="stage=fd.*stage=bf"):
        check_game(definition, Spec, "melee", {"iso": "", "stage": "bf"})


def test_entrants_the_definition_does_not_list_are_guests(tmp_path):
    (tmp_path / "leaderboards").mkdir()  # ./leaderboards/NAME.json in the current folder is found
    (tmp_path / "leaderboards" / "small.json").write_text(
        json.dumps({"env": "pong", "options": {"points": 1}, "entrants": ["bot:tracker:1", "random"]})
    )
    result = run_cli(
        tmp_path, "match", "bot:tracker:5", "random", "--games", "1", "-w", "1", "--leaderboard", "small", "-o", "points=1"
    )
    assert result.returncode == 0, result.stderr  # not listed: recorded all the same
    table = run_cli(tmp_path, "leaderboard", "show", "small")
    assert table.returncode == 0, table.stderr
    assert "bot:tracker:5 (guest)" in table.stdout and "random (guest)" not in table.stdout
    assert "never scheduled by `arena leaderboard run`" in table.stdout
    assert set(shown(tmp_path, "small")) == {"bot:tracker:1", "random", "bot:tracker:5"}
    report = run_cli(tmp_path, "leaderboard", "report", "small")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "home" / "reports" / "small" / "index.html").read_text()
    assert page.count(">guest</span>") == 1


# -- files written by Arena 0.1.0 -------------------------------------------------------------------


def test_a_database_from_arena_0_1_opens_and_its_ratings_agree(tmp_path):
    home = tmp_path / "home"
    shutil.copytree(OLD / "arena_data", home)
    db = home / "arena.db"
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    with MatchStore(db) as store:
        assert store.leaderboards() == ["pong", "pong-ladder"]
        games = store.games("pong-ladder")
        assert len(games) == 6 and all(isinstance(g, GameRecord) for g in games)
        assert all(g.truncated is None for g in games)  # not recorded then
        store.record("pong-ladder", game("bot:tracker:9", "cpu", options={"points": 5, "max_frames": 30000}))
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for name in ("pong-ladder", "pong"):
        matchmaking = stored(db, name)
        printed = shown(tmp_path, name)
        for who in matchmaking:
            assert printed[who] == pytest.approx(matchmaking[who], abs=1e-9), (name, who)
