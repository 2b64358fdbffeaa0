"""The ``melee`` plugin as users meet it: registration, options and their errors, the ISO and
Dolphin checks, and ``arena match`` against the CPU with parallel workers (on fake Dolphins)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from melee_image import melee_iso_header

from arena.errors import ArenaError
from arena.plugins.agents import spec_from_entry
from arena_melee import MELEE, MeleeOptions
from arena_melee import dolphin as launcher
from arena_melee.dolphin import check_iso, find_dolphin


def run_cli(tmp_path, *args, env=None, timeout=180):
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("ARENA_", "FAKE_DOLPHIN_"))}
    environ.update(ARENA_HOME=str(tmp_path), ARENA_LOAD_PLUGINS="agents,melee", COLUMNS="200", **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=environ,
    )  # fmt: skip


def test_the_registration_module_imports_nothing_heavy():
    code = (
        "import sys, arena_melee\n"
        "heavy = ('numpy', 'dolphin_memory_engine', 'pettingzoo', 'gymnasium', 'arena_melee.env',\n"
        "         'arena_melee.memory', 'arena_melee.dolphin', 'subprocess')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_env_spec():
    assert MELEE.name == "melee" and MELEE.seats == ("p1", "p2")
    assert MELEE.cpu_seat == "p1" and MELEE.cpu_levels == tuple(range(1, 10))
    assert MELEE.num_actions == len(MELEE.action_meanings) == 54
    assert MELEE.action_meanings[:2] == ("noop", "up") and "A+down-left" in MELEE.action_meanings
    assert MELEE.check_cpu_level(None) == 9 and MELEE.check_cpu_level(1) == 1
    # phillip's enemies entry: the level picks the CPU, the character is the env's cpu_char option
    assert spec_from_entry({"char": "falcon", "level": 9}) == "cpu:9"


def test_arena_plugins_lists_melee(tmp_path):
    result = run_cli(tmp_path, "plugins", "--json", env={"ARENA_STRICT_PLUGINS": "1"})
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    plugins = {p["name"]: p for p in (listed["plugins"] if isinstance(listed, dict) else listed)}
    assert plugins["melee"]["envs"] == ["melee"] and plugins["melee"]["module"] == "arena_melee"


# -- the ISO check -----------------------------------------------------------------------------


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_iso_check_accepts_ntsc_102(tmp_path):
    assert check_iso(write(tmp_path, "ok.iso", melee_iso_header())).name == "ok.iso"


@pytest.mark.parametrize(
    "header,message",
    [
        (melee_iso_header(revision=1), "is Melee NTSC 1.01, but Arena reads NTSC 1.02's memory addresses"),
        (melee_iso_header(revision=0), "is Melee NTSC 1.00"),
        (melee_iso_header(game_id=b"GALP01"), "is game GALP01 (a PAL Melee"),
        (melee_iso_header(game_id=b"GMSE01"), "is game GMSE01, not Super Smash Bros. Melee NTSC (GALE01)"),
        (b"\0" * 0x440, "is not a GameCube disc image"),
        (b"short", "is not a GameCube disc image"),
        (b"\x01\xc0\x0b\xb1" + bytes(60), "is a GCZ image, whose header Arena cannot read: convert it"),
    ],
)
def test_iso_check_rejects_other_discs(tmp_path, header, message):
    with pytest.raises(ArenaError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        check_iso(write(tmp_path, "bad.iso", header))


def test_iso_check_names_a_missing_iso(tmp_path):
    with pytest.raises(ArenaError, match="no Melee ISO given: pass --iso PATH"):
        check_iso("")
    with pytest.raises(ArenaError, match=r"Melee ISO .*nope.iso does not exist; pass --iso PATH"):
        check_iso(str(tmp_path / "nope.iso"))
    with pytest.raises(ArenaError, match=r"does not exist \(it is a folder\)"):
        check_iso(str(tmp_path))


def test_iso_check_reads_rvz_and_wia_headers(tmp_path):
    for magic in (b"RVZ\x01", b"WIA\x01"):
        good = magic + bytes(0x54) + melee_iso_header()[:0x80]
        assert check_iso(write(tmp_path, "m.rvz", good))
        bad = magic + bytes(0x54) + melee_iso_header(revision=1)[:0x80]
        with pytest.raises(ArenaError, match="1.01"):
            check_iso(write(tmp_path, "m1.rvz", bad))
    ciso = b"CISO" + bytes(0x8000 - 4) + melee_iso_header()
    assert check_iso(write(tmp_path, "m.ciso", ciso))


def test_iso_check_reads_an_rvz_made_by_dolphin_tool(tmp_path):
    tool = shutil.which("dolphin-tool") or shutil.which("/usr/games/dolphin-tool")
    if tool is None:
        pytest.skip("dolphin-tool is not installed: run .ci/install-dolphin (Debian's dolphin-emu package)")
    iso = tmp_path / "melee.iso"
    iso.write_bytes(melee_iso_header() + bytes(0x200000 - 0x440))
    rvz = tmp_path / "melee.rvz"
    subprocess.run([tool, "convert", "-i", str(iso), "-o", str(rvz), "-f", "rvz", "-b", "131072", "-c", "zstd", "-l", "5",
                    "-u", str(tmp_path / "tool-user")], check=True, capture_output=True, timeout=120)  # fmt: skip
    assert rvz.stat().st_size < iso.stat().st_size
    assert check_iso(str(rvz)) == rvz


# -- finding Dolphin ---------------------------------------------------------------------------


def test_find_dolphin(tmp_path, monkeypatch):
    binary = tmp_path / "dolphin-emu-nogui"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_dolphin(str(binary)) == str(binary)
    with pytest.raises(ArenaError, match=r"Dolphin binary .*missing does not exist; give --dolphin PATH"):
        find_dolphin(str(tmp_path / "missing"))
    with pytest.raises(ArenaError, match="is not an executable file"):
        find_dolphin(str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_dolphin() == str(binary)  # on PATH
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(launcher, "SEARCH_DIRS", (str(tmp_path / "nowhere"),))
    with pytest.raises(
        ArenaError, match=r"no Dolphin found .*apt-get install dolphin-emu, or run .ci/install-dolphin\) or give --dolphin PATH"
    ):
        find_dolphin()


# -- options -----------------------------------------------------------------------------------


def test_options_parse_and_normalise(melee_iso, fake_dolphin_bin, tmp_path):
    options = MELEE.parse_options([f"iso={melee_iso}", f"dolphin={fake_dolphin_bin}", "char=fox", "cpu_char=marth",
                                   "stage=battlefield", "act_every=3", f"user_dir={tmp_path}/u"])  # fmt: skip
    assert isinstance(options, MeleeOptions)
    assert (options.char, options.cpu_char, options.stage, options.act_every) == ("fox", "marth", "battlefield", 3)
    assert os.path.isabs(options.iso) and options.user_dir == str(tmp_path / "u")
    assert hash(options) == hash(MELEE.parse_options([f"iso={melee_iso}", f"dolphin={fake_dolphin_bin}", "char=fox",
        "cpu_char=marth", "stage=battlefield", "act_every=3", f"user_dir={tmp_path}/u"]))  # fmt: skip


BAD_OPTIONS = {
    "no iso": ([], ["no Melee ISO given", "--iso PATH", "NTSC 1.02"]),
    "unknown character": (["char=sonic"], ["'sonic'", "char", "falcon", "marth"]),
    "unknown stage": (["stage=hyrule"], ["'hyrule'", "final_destination", "battlefield"]),
    "act_every": (["act_every=0"], ["act_every must be >= 1"]),
    "speed": (["speed=-1"], ["speed must be >= 0"]),
    "unknown option": (["stocks=4"], ["unknown option 'stocks'", "act_every", "iso"]),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_options_are_one_line_errors_exit_2(tmp_path, melee_iso, fake_dolphin_bin, case):
    pairs, needles = BAD_OPTIONS[case]
    if case != "no iso":
        pairs = [f"iso={melee_iso}", f"dolphin={fake_dolphin_bin}", *pairs]
    args = ["match", "random", "cpu:9", "--env", "melee", "--games", "1"]
    for pair in pairs:
        args += ["-o", pair]
    result = run_cli(tmp_path, *args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_a_cpu_level_melee_does_not_have(tmp_path, melee_iso, fake_dolphin_bin):
    result = run_cli(
        tmp_path, "match", "random", "cpu:10", "--env", "melee", "-o", f"iso={melee_iso}", "-o", f"dolphin={fake_dolphin_bin}"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "arena: error: CPU level 10 does not exist in env 'melee'; valid: cpu, " + ", ".join(f"cpu:{i}" for i in range(1, 10))
    )


def test_a_wrong_iso_fails_before_any_game(tmp_path, fake_dolphin_bin):
    iso = tmp_path / "pal.iso"
    iso.write_bytes(melee_iso_header(game_id=b"GALP01"))
    result = run_cli(
        tmp_path, "match", "random", "cpu:9", "--env", "melee", "-o", f"iso={iso}", "-o", f"dolphin={fake_dolphin_bin}"
    )
    assert result.returncode == 2 and "is game GALP01 (a PAL Melee" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_arena_match_against_the_cpu_in_parallel_workers(tmp_path, melee_iso, fake_dolphin_bin):
    # Two workers, each with its own (fake) Dolphin hooked by its own dolphin-memory-engine.
    log = tmp_path / "games.jsonl"
    temp_dirs = set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-melee-*")))
    result = run_cli(
        tmp_path, "match", "random", "cpu:9", "--env", "melee", "--games", "4", "--workers", "2",
        "-o", f"iso={melee_iso}", "-o", f"dolphin={fake_dolphin_bin}", "-o", "char=fox", "--log", str(log),
        env={"FAKE_DOLPHIN_SIM": "title"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records), records
    assert all(r["sides"] == {"p1": "cpu:9", "p2": "random"} and r["a_seat"] == "p2" for r in records)
    assert all(max(r["score"].values()) == 4 and not r["truncated"] for r in records)  # played to the last stock
    assert all(r["options"]["char"] == "fox" for r in records)
    assert len({r["pid"] for r in records}) == 2  # both workers played
    assert result.stdout.count("p1 cpu:9 4 - ") == 4  # each game's line: the CPU's KOs first
    # the workers stopped their Dolphins as they exited: no user folders left behind
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "arena-melee-*"))) == temp_dirs
