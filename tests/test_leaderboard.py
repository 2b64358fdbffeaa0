"""Leaderboards end to end: definitions, runs on real Pong, resume after kill -9, the CLI."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.plugins.manager import load_plugins
from arena.ratings.leaderboard import find_definition, load_definition
from arena.ratings.scheduler import run_leaderboard
from arena.ratings.store import MatchStore

ROOT = Path(__file__).resolve().parents[1]


def write_definition(folder: Path, name: str, **fields) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"env": "pong", "options": {"points": 1}, "entrants": ["bot:tracker:9", "bot:tracker:1", "random"]}
    data.update(fields)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def run_cli(tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ARENA_HOME": str(tmp_path / "home"),
        "ARENA_LEADERBOARDS": str(tmp_path / "boards"),
        "ARENA_LOAD_PLUGINS": "agents,pong",
        "COLUMNS": "200",  # the tables are read whole, whatever width the caller's terminal exports
    }
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, env=env, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def arena():
    return load_plugins()


def test_the_shipped_ladder_definition_loads():
    ladder = load_definition(ROOT / "leaderboards" / "pong-ladder.json")
    assert ladder.env == "pong" and "cpu" in ladder.entrants and "bot:tracker:9" in ladder.entrants
    assert ladder.pinned == {"cpu": (25.0, 1.0)}


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "not valid JSON"),
        ('{"env": "pong", "entrants": ["random"]}', "at least two agent specs"),
        ('{"env": "pong", "entrants": ["random", "cpu"], "pinned": {"bot:x": 1}}', "pinned entrant 'bot:x'"),
        ('{"env": "pong", "entrants": ["random", "cpu"], "colour": 1}', "unknown key 'colour'"),
        ('{"env": "pong", "entrants": ["random", "random"]}', "more than once"),
        ('{"env": "pong", "entrants": ["random", "cpu"], "stop": {"until_sigma": -1}}', "until_sigma"),
    ],
)
def test_malformed_definitions_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ArenaError, match=message) as info:
        load_definition(path)
    assert "\n" not in str(info.value) and "bad.json" in str(info.value)


def test_unknown_leaderboard_names_the_known_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_LEADERBOARDS", str(tmp_path))
    write_definition(tmp_path, "mine")
    with pytest.raises(ArenaError, match="unknown leaderboard 'nope'.*mine"):
        find_definition("nope")


def test_run_plays_records_and_stops_by_the_rule(tmp_path, arena):
    definition = load_definition(write_definition(tmp_path, "tiny", stop={"max_games": 6}))
    with MatchStore(tmp_path / "arena.db") as store:
        result = run_leaderboard(definition, store, workers=2, arena=arena, seed=0)
        assert result.played == 6 and result.errors == 0 and "max_games" in result.reason
        games = store.games("tiny")
        assert len(games) == 6
        # every entrant got games: the scheduler does not starve anyone
        assert {e for g in games for e in (g.a, g.b)} == set(definition.entrants)
        ratings = store.ratings("tiny")
        assert ratings["bot:tracker:9"].mu > ratings["random"].mu
        assert store.recompute("tiny") == (6, 0)


def test_an_entrant_added_later_is_placed_without_replaying(tmp_path, arena):
    path = write_definition(tmp_path, "grow", entrants=["bot:tracker:9", "random"])
    with MatchStore(tmp_path / "arena.db") as store:
        run_leaderboard(load_definition(path), store, games=4, workers=1, arena=arena, seed=0)
        before = store.ratings("grow")
        write_definition(tmp_path, "grow", entrants=["bot:tracker:9", "random", "bot:tracker:5"])
        run_leaderboard(load_definition(path), store, games=2, workers=2, arena=arena, seed=0)
        games = store.games("grow")
        assert len(games) == 6
        assert [g.id for g in games[:4]] == [1, 2, 3, 4]  # old games untouched
        # the newcomer has the prior's sigma, the highest: both new games include it
        assert all("bot:tracker:5" in (g.a, g.b) for g in games[4:])
        assert store.ratings("grow")["bot:tracker:5"].games == 2
        assert before["bot:tracker:9"].games == 4


def test_errored_games_stay_out_of_the_ratings(tmp_path, arena):
    import types

    from arena import hookimpl
    from arena.plugins.agents import AgentKind

    class Crashes:
        def reset(self, seed):
            pass

        def act(self, observation):
            raise RuntimeError("policy blew up")

    plugin = types.SimpleNamespace(
        arena_register_agents=hookimpl(lambda register: register(AgentKind("crash", lambda a, e, o: Crashes())))
    )
    local = load_plugins()
    local.add_plugin(plugin, "crashing")
    definition = load_definition(write_definition(tmp_path, "errs", entrants=["crash", "random"]))
    with MatchStore(tmp_path / "arena.db") as store:
        result = run_leaderboard(definition, store, games=3, workers=1, arena=local, seed=0)
        assert result.errors == 3 and result.played == 0
        assert store.ratings("errs") == {}
        assert [g.error for g in store.games("errs")] == ["RuntimeError: policy blew up"] * 3


def _wait_for_games(db: Path, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=5) as con:
                    n = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
                if n >= at_least:
                    return n
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} games after {timeout} s")


@pytest.mark.slow
def test_kill_9_loses_only_games_in_flight_and_a_rerun_resumes(tmp_path):
    write_definition(tmp_path / "boards", "crash", options={"points": 2}, stop={"max_games": 14})
    db = tmp_path / "home" / "arena.db"
    env = {
        **os.environ,
        "ARENA_HOME": str(tmp_path / "home"),
        "ARENA_LEADERBOARDS": str(tmp_path / "boards"),
        "ARENA_LOAD_PLUGINS": "agents,pong",
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", "from arena.cli import main; main()", "leaderboard", "run", "crash", "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_games(db, 4, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-game
        proc.wait(30)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        survived = con.execute("SELECT COUNT(*) FROM games").fetchone()[0]
    log_lines = (tmp_path / "home" / "leaderboards" / "crash" / "games.jsonl").read_text().splitlines()
    assert 4 <= survived < 14
    # at most the game being recorded at the kill is in the JSON log but not the database
    assert survived <= len(log_lines) <= survived + 1

    rerun = run_cli(tmp_path, "leaderboard", "run", "crash", "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    with MatchStore(db) as store:
        games = store.games("crash")
        assert len(games) == 14 and len({g.uid for g in games}) == 14
        assert store.recompute("crash") == (14, 0)


def test_cli_run_show_recompute_report(tmp_path):
    write_definition(tmp_path / "boards", "cli", stop={"max_games": 4})
    result = run_cli(tmp_path, "leaderboard", "run", "cli", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "stopped:" in result.stdout and "bot:tracker:9" in result.stdout

    shown = run_cli(tmp_path, "leaderboard", "show", "cli", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert {r["name"] for r in rows} == {"bot:tracker:9", "bot:tracker:1", "random"}
    assert sum(r["games"] for r in rows) == 8

    table = run_cli(tmp_path, "leaderboard", "show", "cli")
    assert table.returncode == 0 and "mu - 3 sigma" in table.stdout

    again = run_cli(tmp_path, "leaderboard", "recompute", "cli")
    assert again.returncode == 0 and "identical" in again.stdout

    out = tmp_path / "report"
    report = run_cli(tmp_path, "leaderboard", "report", "cli", "--out", str(out))
    assert report.returncode == 0, report.stderr
    assert (out / "index.html").exists() and (out / "entrants.csv").exists() and (out / "games.csv").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (("leaderboard", "run", "nope"), "unknown leaderboard 'nope'"),
        (("leaderboard", "show", "nope"), "leaderboard 'nope' has no games"),
        (("leaderboard", "run", "bad"), "malformed leaderboard definition"),
        (("leaderboard", "run", "badagent"), "unknown agent spec 'bot:nobody:1'"),
        (("leaderboard", "run", "cli", "--games", "2", "--until-sigma", "1"), "not both"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_and_logs_nothing(tmp_path, args, message):
    write_definition(tmp_path / "boards", "cli", stop={"max_games": 4})
    write_definition(tmp_path / "boards", "badagent", entrants=["bot:nobody:1", "random"], stop={"max_games": 4})
    (tmp_path / "boards" / "bad.json").write_text('{"env": "pong"')
    result = run_cli(tmp_path, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error:") and message in lines[0], lines
    assert "Traceback" not in result.stderr
    db = tmp_path / "home" / "arena.db"
    if db.exists():
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT COUNT(*) FROM games").fetchone()[0] == 0


def test_match_records_into_the_envs_leaderboard_by_default(tmp_path):
    result = run_cli(tmp_path, "match", "bot:tracker:9", "random", "--games", "2", "-o", "points=1", "--workers", "1")
    assert result.returncode == 0, result.stderr
    with MatchStore(tmp_path / "home" / "arena.db") as store:
        assert store.count("pong") == 2
        assert store.ratings("pong")["bot:tracker:9"].mu > store.ratings("pong")["random"].mu
    named = run_cli(
        tmp_path, "match", "random", "cpu", "--games", "1", "-o", "points=1", "--leaderboard", "mine", "--workers", "1"
    )
    assert named.returncode == 0, named.stderr
    with MatchStore(tmp_path / "home" / "arena.db") as store:
        assert store.leaderboards() == ["mine", "pong"]


def test_each_pair_alternates_seats(tmp_path, arena):
    definition = load_definition(write_definition(tmp_path, "seats", entrants=["bot:tracker:9", "random"]))
    with MatchStore(tmp_path / "arena.db") as store:
        run_leaderboard(definition, store, games=4, workers=2, arena=arena, seed=0)
        seats = [g.sides["left"] for g in store.games("seats")]
        assert sorted(seats) == ["bot:tracker:9", "bot:tracker:9", "random", "random"]


def test_match_into_a_leaderboard_of_another_env_is_refused(tmp_path):
    write_definition(tmp_path / "boards", "smash", env="melee")
    result = run_cli(tmp_path, "match", "random", "random", "--leaderboard", "smash")
    assert result.returncode == 2
    assert "is for env 'melee', not 'pong'; add --env melee" in result.stderr
