"""``arena roms import`` and ``require_rom``: ROMs users bring, matched by SHA1, in a private data folder.

stable-retro is pointed at a temporary data folder (``stable_retro.data.path`` patched in this
process, ``RETRO_DATA_PATH`` for the ``arena`` subprocesses) holding a copy of a few games'
``rom.sha`` and ``metadata.json``, so nothing is written into the installed package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from arena.errors import ArenaError

GAMES = ("Pong-Atari2600-v0", "Boxing-Atari2600-v0", "SonicTheHedgehog-Genesis-v0")


@pytest.fixture
def retro_data(tmp_path, monkeypatch) -> Path:
    """A stable-retro data folder with the games in GAMES (their hashes, no ROMs), in use."""
    import stable_retro.data

    source = Path(stable_retro.data.path())
    data = tmp_path / "retro-data"
    for kind in ("stable", "contrib", "experimental"):
        (data / kind).mkdir(parents=True)
    for game in GAMES:
        (data / "stable" / game).mkdir()
        for name in ("rom.sha", "metadata.json"):
            if (source / "stable" / game / name).exists():
                shutil.copy(source / "stable" / game / name, data / "stable" / game / name)
    monkeypatch.setattr(stable_retro.data, "path", lambda hint=None: str(data))
    monkeypatch.setenv("RETRO_DATA_PATH", str(data))
    return data


@pytest.fixture
def roms(tmp_path) -> Path:
    """A folder with ale-py's pong.bin and boxing.bin and a file that is no ROM."""
    ale_py = pytest.importorskip("ale_py")
    folder = tmp_path / "my roms"
    folder.mkdir()
    for name in ("pong.bin", "boxing.bin"):
        shutil.copy(Path(ale_py.__file__).parent / "roms" / name, folder / name)
    (folder / "notes.txt").write_bytes(os.urandom(4096))
    return folder


def files_under(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def run_arena(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ARENA_HOME": str(tmp_path), "ARENA_LOAD_PLUGINS": "agents", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip


def test_import_reports_each_game_found_and_each_file_not_recognised(retro_data, roms):
    from arena.roms import import_roms

    report = import_roms([str(roms)])
    assert report.games == ["Boxing-Atari2600-v0", "Pong-Atari2600-v0"]
    assert {(f.game, Path(f.source).name) for f in report.imported} == {
        ("Boxing-Atari2600-v0", "boxing.bin"),
        ("Pong-Atari2600-v0", "pong.bin"),
    }
    assert [Path(f.source).name for f in report.unrecognised] == ["notes.txt"]
    assert (retro_data / "stable" / "Pong-Atari2600-v0" / "rom.a26").read_bytes() == (roms / "pong.bin").read_bytes()
    assert (retro_data / "stable" / "Boxing-Atari2600-v0" / "rom.a26").exists()

    again = import_roms([str(roms / "pong.bin")])  # the same ROM again: nothing to write
    assert [(f.game, f.status) for f in again.files] == [("Pong-Atari2600-v0", "already present")]


def test_import_reads_zip_archives(retro_data, roms, tmp_path):
    from arena.roms import import_roms

    archive = tmp_path / "atari.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(roms / "boxing.bin", "games/boxing.bin")
        zf.writestr("readme.txt", "not a rom")
    report = import_roms([str(archive)])
    assert [(f.game, f.source) for f in report.imported] == [("Boxing-Atari2600-v0", f"{archive}/games/boxing.bin")]
    assert [f.source for f in report.unrecognised] == [f"{archive}/readme.txt"]
    assert (retro_data / "stable" / "Boxing-Atari2600-v0" / "rom.a26").read_bytes() == (roms / "boxing.bin").read_bytes()


def test_a_missing_path_or_nothing_recognised_writes_nothing(retro_data, roms, tmp_path):
    from arena.roms import import_roms

    before = files_under(retro_data)
    with pytest.raises(ArenaError, match="no such file or folder: .*nope"):
        import_roms([str(roms), str(tmp_path / "nope")])  # checked before pong and boxing are written
    (roms / "pong.bin").unlink()
    (roms / "boxing.bin").unlink()
    with pytest.raises(ArenaError, match="is not a ROM stable-retro knows: no game has its SHA1; nothing was imported"):
        import_roms([str(roms)])
    assert files_under(retro_data) == before


def test_the_command_prints_a_line_per_game_and_per_unrecognised_file(retro_data, roms, tmp_path):
    proc = run_arena(tmp_path, "roms", "import", str(roms))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Boxing-Atari2600-v0: imported from {roms / 'boxing.bin'}"
    assert lines[1] == f"Pong-Atari2600-v0: imported from {roms / 'pong.bin'}"
    assert lines[2] == f"not recognised: {roms / 'notes.txt'}"
    assert lines[3].startswith("2 games found (2 imported, 0 already present), 1 file not recognised (")
    assert str(retro_data) in lines[3] and len(lines) == 4


@pytest.mark.parametrize("case", ["missing path", "nothing recognised"])
def test_the_command_fails_in_one_line_and_writes_nothing(retro_data, roms, tmp_path, case):
    if case == "missing path":
        args, expected = (str(roms), str(tmp_path / "nope")), f"arena: error: no such file or folder: {tmp_path / 'nope'}"
    else:
        (roms / "pong.bin").unlink()
        (roms / "boxing.bin").unlink()
        (roms / "other.bin").write_bytes(b"\0" * 2048)
        args, expected = (str(roms),), f"arena: error: no ROM stable-retro knows in {roms} (2 files checked by SHA1"
    before = files_under(retro_data)
    proc = run_arena(tmp_path, "roms", "import", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(expected), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert files_under(retro_data) == before


def test_require_rom_names_the_game_and_the_import_command(retro_data, roms):
    from arena.roms import import_roms, require_rom

    with pytest.raises(ArenaError) as raised:
        require_rom(
            "SonicTheHedgehog-Genesis",
            title="Sonic The Hedgehog (Genesis)",
            source="buy it (e.g. Steam's 'SEGA Mega Drive & Genesis Classics')",
        )
    message = str(raised.value)
    assert "\n" not in message and raised.value.exit_code == 2
    assert message.startswith("Sonic The Hedgehog (Genesis) needs its ROM, which Arena cannot ship: buy it")
    assert "`arena roms import PATH`" in message

    with pytest.raises(ArenaError, match="stable-retro knows no game 'Tetris-Gameboy'"):
        require_rom("Tetris-Gameboy")
    import_roms([str(roms / "pong.bin")])
    assert require_rom("Pong-Atari2600") == str(retro_data / "stable" / "Pong-Atari2600-v0" / "rom.a26")


def test_help_lists_roms_without_importing_the_emulator(tmp_path):
    code = (
        "import sys\nfrom arena.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY', sorted(m for m in ('torch', 'numpy', 'stable_retro') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "ARENA_LOAD_PLUGINS": "agents,pong"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "roms" in proc.stdout and "HEAVY []" in proc.stdout
