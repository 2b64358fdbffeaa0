"""``arena melee check`` as a user with the disc runs it, here against the fake Dolphin running
the menu simulator: every step passes on a game that behaves, a game that misbehaves fails at the
step that reads it, with one line naming what was read, and bad input runs nothing."""

from __future__ import annotations

import os
import re

import pytest
from melee_image import melee_iso_header
from test_melee_plugin import run_cli

STEPS = (
    "disc", "dolphin", "boot", "frame counter", "menus", "stage", "cpu level", "characters", "stocks",
    "inputs", "play", "quit", "stop",
)  # fmt: skip


def check(tmp_path, melee_iso, dolphin, *args, env=None):
    report = tmp_path / "report.md"
    result = run_cli(
        tmp_path, "melee", "check", "--iso", melee_iso, "--dolphin", dolphin, "--report", str(report),
        "--seconds", "2", "--timeout", "20", *args, env={"FAKE_DOLPHIN_SIM": "title", **(env or {})},
    )  # fmt: skip
    return result, report


def step_lines(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        m = re.match(r"^(ok|FAIL|warn|skipped)\s+([a-z ]+): (.*)$", line)
        if m:
            found[m.group(2)] = (m.group(1), m.group(3))
    return found


@pytest.mark.slow
def test_every_step_passes_on_a_game_that_behaves(tmp_path, melee_iso, fake_dolphin_bin):
    result, report = check(tmp_path, melee_iso, fake_dolphin_bin, "--char", "fox", "--level", "7", "--stage", "battlefield")
    assert result.returncode == 0, result.stdout + result.stderr
    steps = step_lines(result.stdout)
    assert tuple(steps) == STEPS
    assert {status for status, _ in steps.values()} == {"ok"}, steps
    # what was read, in each step's line
    assert "game GALE01, revision 2" in steps["disc"][1]
    assert "Dolphin 5.0-fake" in steps["dolphin"][1]
    assert "0x804d6cae reads 24 (battlefield)" in steps["stage"][1]
    assert "0x8048082f reads 7" in steps["cpu level"][1] and "reads 1 (CPU)" in steps["cpu level"][1]
    assert "port 1 reads 0x00 (falcon), port 2 reads 0x02 (fox)" in steps["characters"][1]
    assert "read 4 and 4" in steps["stocks"][1]
    assert "menu -> character select -> stage select -> in game" in steps["menus"][1]
    # how far depends on how many frames pass between two reads, which a loaded machine stretches
    moved = re.search(r"moved port 2's fighter from x 30\.0 to (\d+\.\d) in (\d+) frames", steps["inputs"][1])
    assert moved and 30.0 < float(moved[1]) <= 30.0 + 1.5 * int(moved[2]), steps["inputs"][1]  # 1.5 a frame
    assert "back on the character select" in steps["quit"][1]
    assert f"report: {report}" in result.stdout

    text = report.read_text()
    assert "Result: every step passed." in text
    trace = text.split("## Trace")[1]
    # every scene change, in order, with the frame it was seen at
    scenes = re.findall(r"^\s*[\d.]+\s+\d+ scene  (.+?) \(", trace, re.M)
    assert scenes == ["menu", "character select", "stage select", "in game", "character select"]
    # the reads that matter, with their addresses, and the inputs sent
    assert re.search(r"read   0x804d6cae \[1\] = 18$", trace, re.M)  # battlefield's id, 24, in hex
    assert re.search(r"read   0x8048082f \[", trace, re.M)
    assert re.search(r"input  port 2: START$", trace, re.M)
    assert re.search(r"input  port 1: A$", trace, re.M)
    assert re.search(r"input  port 2: main=\(1, 0\.5\)$", trace, re.M)  # the stick held right
    assert re.search(r"input  port 2: A START L R L=1 R=1$", trace, re.M)  # the quit
    assert "0x80479d60 [4] x " in text  # the frame counter, among the reads per address
    assert "the level slider (0x803f0e0e) was grabbed with the hand at" in text
    assert "port 1's hand-state byte took the values [1, 2]" in text


@pytest.mark.slow
def test_a_slider_that_sticks_fails_the_menus_step_with_what_was_read(tmp_path, melee_iso, fake_dolphin_bin):
    # The CPU's level slider stops at 5 in this game: the menus never finish, and the line says
    # what the character select showed.
    result, report = check(tmp_path, melee_iso, fake_dolphin_bin, "--timeout", "3", env={"FAKE_DOLPHIN_SLIDER_MAX": "5"})
    assert result.returncode == 1, result.stdout + result.stderr
    steps = step_lines(result.stdout)
    status, detail = steps["menus"]
    assert status == "FAIL" and "\n" not in detail
    assert "stayed on the character select screen" in detail and "CPU level 5 (want falcon, CPU level 9)" in detail
    assert all(steps[name][0] == "skipped" for name in ("stage", "cpu level", "quit"))
    assert steps["stop"][0] == "ok"  # Dolphin is stopped either way
    text = report.read_text()
    assert "Result: FAILED at menus." in text
    assert "first failed step is 'menus'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_time_match_warns_and_a_frozen_game_fails(tmp_path, melee_iso, fake_dolphin_bin):
    result, _ = check(tmp_path, melee_iso, fake_dolphin_bin, env={"FAKE_DOLPHIN_TIME_LIMIT": "100000"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert step_lines(result.stdout)["stocks"][0] == "warn"
    assert "a time match" in step_lines(result.stdout)["stocks"][1]

    result, report = check(tmp_path, melee_iso, fake_dolphin_bin, "--timeout", "2", env={"FAKE_DOLPHIN_FREEZE_AFTER": "0.05"})
    assert result.returncode == 1
    status, detail = step_lines(result.stdout)["frame counter"]
    assert status == "FAIL" and "Melee's frame counter stayed at" in detail
    assert report.exists()


def test_bad_input_is_one_line_and_runs_nothing(tmp_path, fake_dolphin_bin):
    pal, good = tmp_path / "pal.iso", tmp_path / "melee.iso"
    pal.write_bytes(melee_iso_header(game_id=b"GALP01"))
    good.write_bytes(melee_iso_header())
    for args, message in (
        (("--iso", str(pal), "--dolphin", fake_dolphin_bin), "is game GALP01"),
        (("--iso", str(tmp_path / "none.iso"), "--dolphin", fake_dolphin_bin), "does not exist"),
        (("--iso", str(good), "--dolphin", str(tmp_path / "nodolphin")), "Dolphin binary"),
        (("--dolphin", fake_dolphin_bin), "Missing option '--iso'"),
    ):
        result = run_cli(tmp_path, "melee", "check", *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("arena: error:") and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    result = run_cli(
        tmp_path, "melee", "check", "--iso", str(good), "--dolphin", fake_dolphin_bin, "--report", str(tmp_path / "no" / "r.md")
    )
    assert result.returncode == 2 and "its folder does not exist" in result.stderr
    assert not any(name.startswith("melee-check") for name in os.listdir(tmp_path))
