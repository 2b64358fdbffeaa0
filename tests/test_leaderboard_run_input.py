"""`arena leaderboard run/show/report/list` as a new user meets them: run from an empty folder with
ARENA_HOME unset (so the data folder is ./arena_data), a bad value is one line, exit status 2,
and nothing is drawn or written first; a run says once what it played and where its replays are."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arena.ratings.store import MatchStore


def definition(boards: Path, name: str, **fields) -> None:
    boards.mkdir(parents=True, exist_ok=True)
    data = {"env": "pong", "options": {"points": 1}, "entrants": ["bot:tracker:9", "random"], "stop": {"max_games": 4}}
    data.update(fields)
    (boards / f"{name}.json").write_text(json.dumps(data))


def arena(cwd: Path, *args: str, plugins: str = "agents,pong") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("ARENA_HOME", "ARENA_DB", "ARENA_LEADERBOARDS")}
    env["ARENA_LOAD_PLUGINS"] = plugins
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


@pytest.fixture
def folder(tmp_path):
    """An empty working folder but for ./leaderboards (looked up before the shipped ones)."""
    boards = tmp_path / "leaderboards"
    definition(boards, "tiny")
    definition(boards, "badagent", entrants=["bot:nobody:1", "random"])
    definition(boards, "badoption", options={"points": -1})
    definition(boards, "badcpu", entrants=["cpu:99", "random"])
    definition(boards, "nostop", stop={})
    definition(boards, "smash", env="melee", options={}, entrants=["cpu:9", "random"])
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path


def refused(folder: Path, args: tuple[str, ...], message: str, plugins: str = "agents,pong") -> None:
    before = files(folder)
    result = arena(folder, *args, plugins=plugins)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error:") and message in lines[0], lines
    assert result.stdout == ""  # no progress bar drawn before the refusal
    assert files(folder) == before  # no arena_data/, no database, no log


@pytest.mark.parametrize(
    "args, message",
    [
        (("--until-sigma", "0"), "--until-sigma must be a positive number, got 0"),
        (("--until-sigma", "-1"), "--until-sigma must be a positive number, got -1"),
        (("--until-sigma", "nan"), "--until-sigma must be a positive number, got nan"),
        (("--until-sigma", "inf"), "--until-sigma must be a positive number, got inf"),
        (("--games", "0"), "--games must be at least 1, got 0"),
        (("--games", "-3"), "--games must be at least 1, got -3"),
        (("--workers", "0"), "--workers must be at least 1, got 0"),
        (("--db", "afile/arena.db"), "cannot create the match database afile/arena.db"),
    ],
)
def test_bad_run_options_are_refused_before_anything_is_drawn_or_written(folder, args, message):
    refused(folder, ("leaderboard", "run", "pong-ladder", *args), message)


@pytest.mark.parametrize(
    "args, message",
    [
        (("badagent",), "unknown agent spec 'bot:nobody:1'"),
        (("badoption",), "points must be >= 1, got -1"),
        (("badcpu",), "use 'cpu', not 'cpu:99'"),
        (("nostop",), "has no stopping rule"),
    ],
)
def test_bad_definitions_are_refused_before_anything_is_drawn_or_written(folder, args, message):
    refused(folder, ("leaderboard", "run", *args), message)


def test_record_in_an_env_that_cannot_record_is_refused_before_anything_is_written(folder):
    refused(folder, ("leaderboard", "run", "smash", "--record"), "cannot record replays", plugins="agents,pong,melee")


def test_a_missing_game_is_refused_before_anything_is_written(folder):
    refused(folder, ("leaderboard", "run", "smash"), "no Melee ISO given", plugins="agents,pong,melee")


def test_report_into_a_folder_that_cannot_be_made_is_one_line(folder):
    db = folder / "arena_data" / "arena.db"
    with MatchStore(db) as store:
        store.record("tiny", {"env": "pong", "a": "bot:tracker:9", "b": "random", "winner": "a", "score_a": 1,
                              "score_b": 0, "status": "ok"})  # fmt: skip
    refused(folder, ("leaderboard", "report", "tiny", "--out", "afile/report"), "cannot write the report in afile/report")


def test_show_report_and_list_of_an_empty_folder_write_nothing(folder):
    refused(folder, ("leaderboard", "show", "tiny"), "leaderboard 'tiny' has no games")
    refused(folder, ("leaderboard", "report", "tiny"), "leaderboard 'tiny' has no games")
    before = files(folder)
    listed = arena(folder, "leaderboard", "list")
    assert listed.returncode == 0, listed.stderr
    assert "tiny" in listed.stdout and "pong-ladder" in listed.stdout
    assert files(folder) == before  # listing does not create ./arena_data/arena.db


def test_a_run_says_once_what_it_played_and_where_the_replays_are(folder):
    result = arena(folder, "leaderboard", "run", "tiny", "--games", "2", "--workers", "1", "--record")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "2 games played, 0 errors; stopped: --games 2 reached" in out, out
    assert "stopped: played" not in out and out.count("games played") == 1, out  # said once
    replays = Path("arena_data") / "leaderboards" / "tiny" / "games.replays"
    assert len(list((folder / replays).glob("*.bk2"))) == 2
    assert f"replays: 2 in {replays} (watch one: arena replay FILE)" in out, out


def test_a_run_without_record_keeps_no_movies(folder):
    """The run's loop reused the name of the ``record`` option for each game's record, so every
    game after the first was recorded though nobody asked."""
    result = arena(folder, "leaderboard", "run", "tiny", "--games", "3", "--workers", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not list(folder.rglob("*.bk2")) and "replays:" not in result.stdout


def test_an_infinite_or_nan_until_sigma_in_a_definition_is_refused(folder):
    for value in ("Infinity", "NaN"):
        (folder / "leaderboards" / "forever.json").write_text(
            '{"env": "pong", "entrants": ["random", "bot:tracker:9"], "stop": {"until_sigma": ' + value + "}}"
        )
        refused(folder, ("leaderboard", "run", "forever"), "stop.until_sigma")


def test_the_library_refuses_a_stopping_rule_that_cannot_hold(tmp_path):
    from arena.errors import ArenaError
    from arena.ratings.leaderboard import load_definition
    from arena.ratings.scheduler import run_leaderboard

    definition(tmp_path, "tiny")
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ArenaError, match="until-sigma must be a positive number"):
            run_leaderboard(load_definition(tmp_path / "tiny.json"), MatchStore(tmp_path / "db.sqlite"), until_sigma=bad)


def test_a_run_from_the_command_line_resolves_its_entrants_once(folder, monkeypatch):
    """The command checks the run before it opens the database; the run then uses that check
    instead of resolving every entrant (loading every snapshot) a second time."""
    import arena.plugins.manager
    import arena.ratings.scheduler as scheduler
    from arena.cli import main

    for var in ("ARENA_HOME", "ARENA_DB", "ARENA_LEADERBOARDS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(folder)
    monkeypatch.setattr(arena.plugins.manager, "_loaded", arena.plugins.manager.load_plugins())
    calls = []
    check_run = scheduler.check_run
    monkeypatch.setattr(scheduler, "check_run", lambda *a, **k: calls.append(a) or check_run(*a, **k))
    with pytest.raises(SystemExit) as info:
        main(["leaderboard", "run", "tiny", "--games", "1", "--workers", "1"])
    assert info.value.code == 0
    assert len(calls) == 1
    assert len(MatchStore(folder / "arena_data" / "arena.db").games("tiny")) == 1
