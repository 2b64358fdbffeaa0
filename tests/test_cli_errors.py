"""The ``arena`` command line as a user runs it: bad input is one line on stderr and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run_cli(tmp_path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["ARENA_HOME"] = str(tmp_path)
    env["ARENA_LOAD_PLUGINS"] = "agents,pong"  # never an example plugin installed elsewhere
    env.pop("ARENA_STRICT_PLUGINS", None)
    env.pop("ARENA_TRACE_PLUGINS", None)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env,
    )  # fmt: skip


MATCH_OK = ("match", "bot:tracker:8", "random", "--games", "1", "-o", "points=1", "--workers", "1")


# (arguments, what the single error line must contain: the bad value and the valid choices)
BAD_INPUT = {
    "unknown env": (
        ("match", "random", "random", "--env", "tetris"),
        ["'tetris'", "pong"],
    ),
    "unknown agent": (
        ("match", "bot:nope:3", "random"),
        ["'bot:nope:3'", "bot:tracker:LEVEL", "random", "cpu"],
    ),
    "cpu level for a cpu without levels": (
        ("match", "cpu:9", "random"),
        ["cpu:9", "'cpu'"],
    ),
    "tracker level too high": (
        ("match", "bot:tracker:10", "random"),
        ["bot:tracker:10", "1-9"],
    ),
    "tracker level not a number": (
        ("match", "bot:tracker:abc", "random"),
        ["'abc'", "1-9"],
    ),
    "tracker without level": (
        ("match", "bot:tracker", "random"),
        ["bot:tracker:LEVEL", "1-9"],
    ),
    "random with args": (
        ("match", "random:3", "bot:tracker:1"),
        ["random:3"],
    ),
    "option without value": (
        ("match", "random", "random", "-o", "points"),
        ["'points'", "KEY=VALUE", "act_every", "max_frames"],
    ),
    "unknown option": (
        ("match", "random", "random", "-o", "nope=1"),
        ["'nope'", "act_every", "points"],
    ),
    "misspelt option": (
        ("match", "random", "random", "-o", "point=3"),
        ["'point'", "did you mean 'points'"],
    ),
    "misspelt environment": (
        ("match", "random", "random", "--env", "pongg"),
        ["'pongg'", "did you mean 'pong'"],
    ),
    "option value not an integer": (
        ("match", "random", "random", "-o", "act_every=x"),
        ["'x'", "act_every", "integer"],
    ),
    "option value out of range": (
        ("match", "random", "random", "-o", "points=22"),
        ["points", "22", "21"],
    ),
    "option value not a choice": (
        ("match", "random", "random", "-o", "obs=rgb"),
        ["'rgb'", "features", "pixels"],
    ),
    "tracker with pixels": (
        ("match", "bot:tracker:5", "random", "-o", "obs=pixels"),
        ["bot:tracker", "obs=pixels"],
    ),
    "two cpus": (
        ("match", "cpu", "cpu"),
        ["'cpu' vs 'cpu'", "one side"],
    ),
    "games not a number": (
        ("match", "random", "random", "--games", "abc"),
        ["'abc'", "--games"],
    ),
    "zero games": (
        ("match", "random", "random", "--games", "0"),
        ["--games", "0"],
    ),
    "zero workers": (
        ("match", "random", "random", "--workers", "0"),
        ["--workers", "0"],
    ),
    "missing agent": (
        ("match", "random"),
        ["B"],
    ),
    "unknown command": (
        ("mtch",),
        ["mtch"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2(tmp_path, case):
    args, needles = BAD_INPUT[case]
    proc = run_cli(tmp_path, *args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("arena: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    # nothing was played, so nothing was logged
    assert not (tmp_path / "matches").exists()


def test_negative_seed_is_a_usage_error(tmp_path):
    proc = run_cli(tmp_path, "match", "random", "random", "--seed", "-5", "--games", "1", "-o", "points=1", "--workers", "1")
    assert proc.returncode == 2, (proc.returncode, proc.stdout)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: ")
    assert "--seed" in lines[0] and "-5" in lines[0]


def test_help_exits_0(tmp_path):
    proc = run_cli(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "match" in proc.stdout and "plugins" in proc.stdout
    proc = run_cli(tmp_path, "match", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "--games" in proc.stdout and "bot:tracker" in proc.stdout


def test_plugins_json(tmp_path):
    proc = run_cli(tmp_path, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no plugin warnings
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert set(rows) == {"agents", "pong"}
    assert rows["pong"]["envs"] == ["pong"]
    assert rows["pong"]["agents"] == ["bot:tracker"]
    assert rows["agents"]["agents"] == ["cpu", "random"]
    assert "envs" not in rows["agents"]
    assert rows["pong"]["module"] == "arena_pong"
    assert "arena_register_envs" in rows["pong"]["hooks"]


def test_good_match_prints_summary(tmp_path):
    proc = run_cli(tmp_path, "match", "bot:tracker:8", "random", "--games", "2", "-o", "points=2", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    assert "wins" in out
    assert "mean score difference (bot:tracker:8 - random):" in out
    assert "95% CI" in out  # two games: an interval
    logs = list((tmp_path / "matches").glob("*.jsonl"))  # default log under $ARENA_HOME
    assert len(logs) == 1
    records = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok", "ok"]
    assert str(logs[0]) in out.replace("\n", "")
    # each game line shows both sides and the final score
    for r in records:
        left, right = r["score"]["left"], r["score"]["right"]
        assert f"left {r['sides']['left']} {left} - {right} {r['sides']['right']} right" in out


def test_one_game_has_no_interval(tmp_path):
    proc = run_cli(tmp_path, *MATCH_OK)
    assert proc.returncode == 0, proc.stderr
    assert "(one game: no interval)" in proc.stdout
    # piped output: the heading on one line, in English, and no progress bar drawn into the file
    assert "bot:tracker:8 vs random on pong: 1 game\n" in proc.stdout, proc.stdout
    assert [line for line in proc.stdout.splitlines() if line.startswith("bot:tracker:8 vs random")] == [
        "bot:tracker:8 vs random on pong: 1 game"
    ], proc.stdout  # the bar's line would start so too


def test_an_agent_against_itself_gets_a_row_each(tmp_path):
    proc = run_cli(tmp_path, "match", "random", "random", "--games", "1", "-o", "points=1", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "random (first)" in proc.stdout and "random (second)" in proc.stdout, proc.stdout


def test_env_options_double_as_flags(tmp_path):
    log = tmp_path / "flags.jsonl"
    proc = run_cli(tmp_path, "match", "bot:tracker:9", "random", "--games", "1", "--workers", "1",
                   "--points", "2", "--act-every=2", "--log", str(log))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(log.read_text().splitlines()[0])
    assert record["options"]["points"] == 2 and record["options"]["act_every"] == 2
    assert max(record["score"].values()) == 2


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--colour", "red"), "no such option '--colour' for arena match or env 'pong'; env options: --act-every"),
        (("--points",), "option '--points' of env 'pong' needs a value"),
        (("extra",), "unexpected argument 'extra'"),
    ],
)
def test_bad_env_flags_are_one_line_errors(tmp_path, args, needle):
    proc = run_cli(tmp_path, "match", "random", "random", *args)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
