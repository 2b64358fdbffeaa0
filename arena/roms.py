"""ROMs users bring: importing them into stable-retro by SHA1, and the error when one is missing.

Arena cannot ship most games' ROMs. stable-retro knows each game it supports by the SHA1 of its
ROM (``rom.sha`` in the game's data folder); ``import_roms`` hashes every file it is given (files,
folders walked recursively, ``.zip`` archives and the archives inside them, as stable-retro's own
``python -m stable_retro.import`` does), and copies the recognised ones into stable-retro's data
folder with ``stable_retro.data.merge``. stable-retro's data folder is ``$RETRO_DATA_PATH`` when
that is set, else the one inside the installed package.

Everything is checked before anything is written: a path that does not exist, or a set of paths
in which no file at all is a ROM stable-retro knows, raises ``ArenaError`` and writes nothing.
Game plugins call ``require_rom`` before building their env.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

from arena.errors import ArenaError

IMPORTED, PRESENT, UNRECOGNISED = "imported", "already present", "not recognised"
# Pong's ensure_rom takes the same lock: parallel workers and an import never write at once.
LOCK_FILE = os.path.join(tempfile.gettempdir(), "arena-retro-import.lock")
UNKNOWN_SHA = "its SHA1 matches no game stable-retro knows"
IMPORT_HINT = "run `arena roms import PATH` (PATH: the ROM file, or a folder or .zip holding it)"


@dataclass(frozen=True)
class RomFile:
    """One file looked at: where it is, and what became of it."""

    source: str  # a path, or ``archive.zip/inner.bin`` for a member of an archive
    status: str  # IMPORTED, PRESENT or UNRECOGNISED
    game: str | None = None  # stable-retro's name, e.g. ``Pong-Atari2600-v0``
    why: str = ""  # for UNRECOGNISED: why not, when not simply an unknown SHA1


@dataclass
class ImportReport:
    """Every file ``import_roms`` looked at, in the order it found them."""

    files: list[RomFile] = field(default_factory=list)

    def with_status(self, status: str) -> list[RomFile]:
        return [f for f in self.files if f.status == status]

    @property
    def imported(self) -> list[RomFile]:
        return self.with_status(IMPORTED)

    @property
    def present(self) -> list[RomFile]:
        return self.with_status(PRESENT)

    @property
    def unrecognised(self) -> list[RomFile]:
        return self.with_status(UNRECOGNISED)

    @property
    def games(self) -> list[str]:
        """The games found (imported or already present), sorted."""
        return sorted({f.game for f in self.files if f.game})


@dataclass(frozen=True)
class _Candidate:
    path: str  # a file on disk
    members: tuple[str, ...] = ()  # the chain of archive members inside it, outermost first

    @property
    def source(self) -> str:
        return "/".join((self.path, *self.members))

    @property
    def name(self) -> str:
        return self.members[-1] if self.members else self.path


def import_roms(paths: list[str] | tuple[str, ...]) -> ImportReport:
    """Import every ROM stable-retro recognises under ``paths`` (files, folders, ``.zip`` files).

    Returns one ``RomFile`` per file (per archive member): imported as GAME, GAME already
    present (the same ROM is installed: nothing written), or not recognised. A second file of a
    game already found in this call counts as already present. Raises ``ArenaError`` (one line,
    nothing written) when a path does not exist or when no file at all is recognised.
    """
    import stable_retro.data as retro_data

    if not paths:
        raise ArenaError("no PATH given: name the ROM files, or the folders or .zip archives that hold them")
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        raise ArenaError(
            f"no such file or folder: {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )

    known = retro_data.get_known_hashes()
    report = ImportReport()
    to_write: list[tuple[_Candidate, str]] = []
    seen_games: set[str] = set()
    scanned = 0
    for candidate, sha, why in _scan(paths, known):
        scanned += 1
        if sha is None or sha not in known:
            report.files.append(RomFile(candidate.source, UNRECOGNISED, why=why))
            continue
        game = known[sha][0]
        if game in seen_games or _installed_sha(game) == sha:
            report.files.append(RomFile(candidate.source, PRESENT, game))
        else:
            report.files.append(RomFile(candidate.source, IMPORTED, game))
            to_write.append((candidate, game))
        seen_games.add(game)

    if not seen_games:
        where = paths[0] if len(paths) == 1 else f"{len(paths)} paths"
        if scanned == 0:
            raise ArenaError(f"no files in {where}: nothing to import; point at the ROM file, or a folder or .zip holding it")
        if scanned == 1:
            (only,) = report.files
            raise ArenaError(
                f"{only.source} is not a ROM stable-retro knows: {only.why or 'no game has its SHA1'}; nothing was imported"
            )
        raise ArenaError(
            f"no ROM stable-retro knows in {where} ({scanned} file{'s' if scanned != 1 else ''} checked by SHA1, "
            f"e.g. {report.files[0].source}); nothing was imported"
        )
    if to_write:
        with open(LOCK_FILE, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            for candidate, game in to_write:
                _write(candidate, game)
    return report


def require_rom(game: str, title: str | None = None, source: str | None = None) -> str:
    """The path of ``game``'s installed ROM, or ``ArenaError`` with one line on how to get it.

    ``game`` is stable-retro's name (``SonicTheHedgehog-Genesis-v0``; the ``-v0`` may be left
    out), ``title`` what users call it ("Sonic The Hedgehog (Genesis)") and ``source`` where to get
    a copy ("buy it, e.g. ..."). Game plugins call this before building their env.
    """
    import stable_retro.data as retro_data

    name = resolve_game(game)
    try:
        return retro_data.get_romfile_path(name, retro_data.Integrations.ALL)
    except FileNotFoundError:
        pass
    how = source or "get a copy of the cartridge's ROM you are entitled to"
    raise ArenaError(f"{title or name} needs its ROM, which Arena cannot ship: {how}, then {IMPORT_HINT}")


def ensure_ale_rom(game: str, title: str, filename: str) -> None:
    """Import an Atari ROM that ale-py ships (``filename`` in its ``roms`` folder, e.g. ``pong.bin``)
    into stable-retro on first use; parallel workers wait for the one that imports it."""
    import stable_retro.data as retro_data

    if _installed_sha(game) is not None:
        return
    try:
        import ale_py
    except ImportError:
        raise ArenaError(f"{title}'s ROM is missing and ale-py is not installed; run: pip install 'ale-py>=0.9,<0.13'") from None
    rom = os.path.join(os.path.dirname(ale_py.__file__), "roms", filename)
    if not os.path.exists(rom):
        raise ArenaError(f"{title}'s ROM is missing: no {rom} in ale-py; reinstall ale-py, or {IMPORT_HINT}")
    with open(LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_sha(game) is None:
            retro_data.merge(rom, quiet=True)
    if _installed_sha(game) is None:
        raise ArenaError(f"could not import {title}'s ROM from {rom} into stable-retro (its SHA1 does not match)")


def resolve_game(game: str) -> str:
    """stable-retro's exact name for ``game`` (accepting it without ``-v0``); ``ArenaError`` if unknown."""
    import stable_retro.data as retro_data

    for name in (game, f"{game}-v0"):
        if retro_data.get_file_path(name, "rom.sha", retro_data.Integrations.ALL):
            return name
    raise ArenaError(f"stable-retro knows no game '{game}' (names look like SonicTheHedgehog-Genesis-v0)")


def _scan(paths, known) -> Iterator[tuple[_Candidate, str | None, str]]:
    """Every file under ``paths`` (archive members too) with its groomed SHA1, or None and why not."""
    for path in paths:
        files = [path] if not os.path.isdir(path) else _walk(path)
        for file in files:
            yield from _hash_file(_Candidate(file), known)


def _walk(folder: str) -> Iterator[str]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(root, name)


def _hash_file(candidate: _Candidate, known) -> Iterator[tuple[_Candidate, str | None, str]]:
    """Like stable-retro's importer: a ``.zip`` matches as a whole (arcade sets are stored zipped),
    else each of its members does."""
    try:
        with _open(candidate) as f:
            sha, why = _groom_sha(candidate.name, f)
            if not _is_zip(candidate.name) or sha in known:
                yield candidate, sha, why
                return
            f.seek(0)
            members = _zip_members(f)
    except OSError as exc:
        yield candidate, None, f"cannot read it: {exc.strerror or exc}"
        return
    except zipfile.BadZipFile:
        members = None
    if members is None:
        yield candidate, sha, why or "not a valid .zip archive"
        return
    for member in members:
        yield from _hash_file(_Candidate(candidate.path, (*candidate.members, member)), known)


def _groom_sha(name: str, f: IO[bytes]) -> tuple[str | None, str]:
    import stable_retro.data as retro_data

    try:
        return retro_data.groom_rom(name, f)[1], ""
    except ValueError:
        return None, "larger than 32 MiB, the largest ROM stable-retro supports"


def _is_zip(name: str) -> bool:
    return name.lower().endswith(".zip")


def _zip_members(f: IO[bytes]) -> list[str]:
    with zipfile.ZipFile(f) as zf:
        return [info.filename for info in zf.infolist() if not info.is_dir()]


@contextmanager
def _open(candidate: _Candidate) -> Iterator[IO[bytes]]:
    """The file, or the archive member (through nested archives), opened for reading."""
    with open(candidate.path, "rb") as f:
        if not candidate.members:
            yield f
            return
        with _open_members(f, candidate.members) as member:
            yield member


@contextmanager
def _open_members(f: IO[bytes], members: tuple[str, ...]) -> Iterator[IO[bytes]]:
    with zipfile.ZipFile(f) as zf, zf.open(members[0]) as member:
        if len(members) == 1:
            yield member
        else:
            with _open_members(member, members[1:]) as inner:
                yield inner


def _installed_sha(game: str) -> str | None:
    """The SHA1 of ``game``'s installed ROM, hashed the way the importer hashes, or None."""
    import stable_retro.data as retro_data

    try:
        rom = retro_data.get_romfile_path(game, retro_data.Integrations.ALL)
        with open(rom, "rb") as f:
            return retro_data.groom_rom(rom, f)[1]
    except (OSError, ValueError):
        return None


def _write(candidate: _Candidate, game: str) -> None:
    """Copy the ROM into stable-retro's data folder with ``stable_retro.data.merge`` (an archive
    member through a temporary file of the same name, since merge reads files by path)."""
    import stable_retro.data as retro_data

    try:
        if not candidate.members:
            retro_data.merge(candidate.path, quiet=True)
        else:
            with tempfile.TemporaryDirectory(prefix="arena-rom-") as tmp:
                copy = os.path.join(tmp, os.path.basename(candidate.name) or "rom")
                with _open(candidate) as src, open(copy, "wb") as dst:
                    dst.write(src.read())
                retro_data.merge(copy, quiet=True)
    except OSError as exc:
        raise ArenaError(f"could not write {game}'s ROM into stable-retro's data folder {retro_data.path()}: {exc}") from None
    if _installed_sha(game) is None:
        raise ArenaError(f"stable-retro did not install {game} from {candidate.source}; its data folder is {retro_data.path()}")
