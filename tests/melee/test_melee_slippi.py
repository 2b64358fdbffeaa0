"""Slippi's Dolphin and AppImages are refused with one line saying what to install instead: Arena
names each Dolphin process to find its memory (an AppImage's runtime starts the real binary), and
its launcher and pipe pads are tested against mainline Dolphin's dolphin-emu-nogui only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_melee_plugin import run_cli

from arena.errors import ArenaError
from arena_melee import dolphin as launcher
from arena_melee.dolphin import find_dolphin

DEBIAN_DOLPHIN = Path("/usr/games/dolphin-emu-nogui")


def executable(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    path.chmod(0o755)
    return str(path)


def appimage(tmp_path) -> str:
    # what a type-2 AppImage starts with: an ELF header whose padding holds "AI" and type 2
    return executable(tmp_path / "Slippi_Online-x86_64.AppImage", b"\x7fELF\x02\x01\x01\x00AI\x02" + b"\0" * 4096)


def slippi_script(tmp_path) -> str:
    return executable(tmp_path / "dolphin-emu-nogui", b"#!/bin/sh\n# Slippi Dolphin\nexit 0\n")


def refusal(path: str) -> str:
    with pytest.raises(ArenaError) as caught:
        find_dolphin(path)
    message = str(caught.value)
    assert "\n" not in message and path in message
    return message


def test_an_appimage_is_refused(tmp_path):
    message = refusal(appimage(tmp_path))
    assert "is an AppImage" in message and "Slippi" in message
    assert "apt-get install dolphin-emu" in message and "dolphin-emu-nogui" in message


def test_any_appimage_is_refused_not_only_slippi(tmp_path):
    path = executable(tmp_path / "Dolphin.AppImage", b"\x7fELF\x02\x01\x01\x00AI\x02" + b"\0" * 64)
    assert "is an AppImage" in refusal(path)


def test_an_elf_file_without_the_appimage_mark_is_accepted(tmp_path):
    path = executable(tmp_path / "dolphin-emu-nogui", b"\x7fELF\x02\x01\x01\x03" + b"\0" * 64)
    assert find_dolphin(path) == path


def test_slippi_dolphin_is_refused(tmp_path):
    message = refusal(slippi_script(tmp_path))
    assert "is Slippi's Dolphin" in message and "FLUSH" in message
    assert "install mainline Dolphin (Debian: apt-get install dolphin-emu)" in message and "dolphin-emu-nogui" in message


def test_the_mark_is_found_across_a_chunk_boundary(tmp_path):
    chunk = launcher.SCAN_CHUNK
    data = b"\0" * (chunk - 3) + b"Slippi" + b"\0" * 100  # "Sli" ends the first chunk, "ppi" starts the second
    assert b"Slippi" not in data[:chunk] and b"Slippi" not in data[chunk:]
    path = executable(tmp_path / "dolphin-emu-nogui", data)
    assert "is Slippi's Dolphin" in refusal(path)
    far = executable(tmp_path / "far", b"\0" * (3 * chunk + 17) + b"Slippi")  # in the last of several chunks
    assert "is Slippi's Dolphin" in refusal(far)


def test_the_scan_is_cached_per_path_size_and_mtime(tmp_path, monkeypatch):
    path = Path(executable(tmp_path / "dolphin-emu-nogui", b"#!/bin/sh\nexit 0\n"))
    assert find_dolphin(str(path)) == str(path)
    reads = []
    real = launcher._dolphin_kind
    monkeypatch.setattr(launcher, "_dolphin_kind", lambda p: reads.append(p) or real(p))
    assert find_dolphin(str(path)) == str(path)
    assert reads == []  # unchanged: not read again
    path.write_bytes(b"#!/bin/sh\n# Slippi\nexit 0\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert "is Slippi's Dolphin" in refusal(str(path))
    assert reads == [path]


def test_the_found_dolphin_is_checked_too(tmp_path, monkeypatch):
    slippi_script(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ArenaError, match="is Slippi's Dolphin"):
        find_dolphin()


def test_debian_dolphin_is_accepted():
    if not DEBIAN_DOLPHIN.exists():
        pytest.skip("Debian's dolphin-emu is not installed: run .ci/install-dolphin to check it is not taken for Slippi's")
    assert find_dolphin(str(DEBIAN_DOLPHIN)) == str(DEBIAN_DOLPHIN)


@pytest.mark.parametrize("kind", ["appimage", "slippi"])
def test_the_cli_refuses_slippi_in_one_line_exit_2(tmp_path, melee_iso, kind):
    binary = appimage(tmp_path) if kind == "appimage" else slippi_script(tmp_path)
    result = run_cli(tmp_path, "match", "random", "cpu:9", "--env", "melee", "-o", f"iso={melee_iso}", "-o", f"dolphin={binary}")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert ("is an AppImage" if kind == "appimage" else "is Slippi's Dolphin") in lines[0]
    assert "apt-get install dolphin-emu" in lines[0]
