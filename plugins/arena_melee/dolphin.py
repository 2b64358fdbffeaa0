"""Starting and stopping Dolphin for one env: its user folder, pipe pads, and process.

Each env gets a fresh user folder (``Config/Dolphin.ini`` and ``Config/GCPadNew.ini`` for pipe
pads and headless speed: Null video, no audio, unlimited speed), the FIFOs in ``Pipes/`` made
before launch, and the "Boot to CSS" and "Unlock All Characters and Stages" gecko codes.
Dolphin runs through a symlink named ``dolphin-<pid>`` so dolphin-memory-engine in this process
finds this Dolphin and no other (see memory.py). Facts: docs/melee.md (Dolphin's source and the Slippi launcher).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
from pathlib import Path

from arena.errors import ArenaError

NOGUI = "dolphin-emu-nogui"
SEARCH_DIRS = ("/usr/games", "/usr/local/games")  # Debian installs Dolphin in /usr/games, often not on PATH

GAME_ID = b"GALE01"  # Super Smash Bros. Melee, NTSC-U
REVISION_102 = 2  # disc header byte 7: 0 is 1.00, 1 is 1.01, 2 is 1.02
GAMECUBE_MAGIC = 0xC2339F3D  # disc header +0x1C
GAME_INI_NAMES = ("GALE01r2.ini", "GALE01.ini")  # Dolphin reads the revision-specific one for 1.02

# "Boot to CSS" (Dan Salvato, Achilles): after the memory-card check the game goes to VS mode's
# character select instead of the title screen. As the Slippi launcher ships it.
BOOT_TO_CSS_NAME = "Boot to CSS"
BOOT_TO_CSS = ("$Boot to CSS [Dan Salvato, Achilles]", "041BFA20 38600002")
# A fresh save hides Battlefield, Final Destination, Dream Land and 11 characters (and moves
# Pikachu into Luigi's slot), so the menu coordinates and the default stage only hold with
# everything unlocked (the game's decompilation). The code as Debian's Dolphin
# 5.0-17995 ships it in the [Gecko] section of its GALE01r2.ini (04: a 32-bit write, the same in
# gecko and Action Replay): written out too, for Dolphins that do not ship it. Dolphin names a
# gecko code by its header up to the "[creator]", and [Gecko_Enabled] lists that name.
UNLOCK_ALL_NAME = "Unlock All Characters and Stages"
UNLOCK_ALL = (f"${UNLOCK_ALL_NAME} [Datel]", "0445BF28 FFFFFFFF", "0445BF2C FFFFFFFF")

BUTTON_BINDINGS = {
    "Buttons/A": "Button A", "Buttons/B": "Button B", "Buttons/X": "Button X", "Buttons/Y": "Button Y",
    "Buttons/Z": "Button Z", "Buttons/Start": "Button START",
    "Main Stick/Up": "Axis MAIN Y +", "Main Stick/Down": "Axis MAIN Y -",
    "Main Stick/Left": "Axis MAIN X -", "Main Stick/Right": "Axis MAIN X +",
    "C-Stick/Up": "Axis C Y +", "C-Stick/Down": "Axis C Y -",
    "C-Stick/Left": "Axis C X -", "C-Stick/Right": "Axis C X +",
    "Triggers/L": "Button L", "Triggers/R": "Button R",
    "Triggers/L-Analog": "Axis L +", "Triggers/R-Analog": "Axis R +",
    "D-Pad/Up": "Button D_UP", "D-Pad/Down": "Button D_DOWN",
    "D-Pad/Left": "Button D_LEFT", "D-Pad/Right": "Button D_RIGHT",
}  # fmt: skip


_LOG_LINE = re.compile(r"^\d+:\d+:\d+ \S+ ([NEWID])\[\w+\]: (.*)$")

# -- finding things ----------------------------------------------------------------------------


def find_dolphin(path: str = "") -> str:
    """The Dolphin binary to run: ``path`` if given, else dolphin-emu-nogui on PATH or /usr/games;
    never an AppImage or Slippi's Dolphin (see refuse_unsupported_dolphin)."""
    if path:
        p = Path(path).expanduser()
        if not p.exists():
            raise ArenaError(f"Dolphin binary {p} does not exist; give --dolphin PATH to a dolphin-emu-nogui binary")
        if p.is_dir() or not os.access(p, os.X_OK):
            raise ArenaError(f"Dolphin binary {p} is not an executable file; give --dolphin PATH to a dolphin-emu-nogui binary")
        refuse_unsupported_dolphin(p)
        return str(p.absolute())
    found = shutil.which(NOGUI) or next((str(Path(d) / NOGUI) for d in SEARCH_DIRS if os.access(Path(d) / NOGUI, os.X_OK)), None)
    if found is None:
        raise ArenaError(
            f"no Dolphin found ({NOGUI} is not on PATH or in {', '.join(SEARCH_DIRS)}): install it "
            "(Debian: apt-get install dolphin-emu, or run .ci/install-dolphin) or give --dolphin PATH"
        )
    refuse_unsupported_dolphin(Path(found))
    return found


ELF_MAGIC = b"\x7fELF"
APPIMAGE_MAGIC = b"AI\x02"  # at byte 8 of a type-2 AppImage, whose runtime is an ELF file
SLIPPI_MARK = b"Slippi"  # in Slippi's builds; not in Debian's dolphin-emu-nogui 5.0-17995
SCAN_CHUNK = 1 << 20
_scanned: dict[tuple[str, int, int], str] = {}  # options are checked in every worker: read a binary once


def refuse_unsupported_dolphin(path: Path) -> None:
    """Raise a one-line ArenaError if ``path`` is an AppImage or Slippi's Dolphin, which Arena cannot drive."""
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _scanned:
            _scanned[key] = _dolphin_kind(path)
    except OSError:
        return  # unreadable here: Dolphin's own start-up says what is wrong
    kind = _scanned[key]
    if kind == "appimage":
        raise ArenaError(
            f"Dolphin binary {path} is an AppImage (the way Slippi's Dolphin ships on Linux); Arena names each Dolphin "
            "process to find its memory, which an AppImage's launcher prevents: install Debian's dolphin-emu "
            "(apt-get install dolphin-emu) and give --dolphin /usr/games/dolphin-emu-nogui, or another mainline dolphin-emu-nogui"
        )
    if kind == "slippi":
        raise ArenaError(
            f"Dolphin binary {path} is Slippi's Dolphin, which Arena does not drive: Arena's launcher, pipe pads and "
            "memory reader are tested against mainline Dolphin's dolphin-emu-nogui, and Slippi's build takes another "
            "command line and applies pipe input only on FLUSH; install mainline Dolphin (Debian: apt-get install "
            "dolphin-emu) and give --dolphin PATH to its dolphin-emu-nogui (the Melee ISO works with both)"
        )


def _dolphin_kind(path: Path) -> str:
    """What the file at ``path`` is: "appimage", "slippi", or "" for anything else."""
    with open(path, "rb") as f:
        chunk = f.read(SCAN_CHUNK)
        if chunk[:4] == ELF_MAGIC and chunk[8:11] == APPIMAGE_MAGIC:
            return "appimage"
        tail = b""
        while chunk:
            if SLIPPI_MARK in tail + chunk:
                return "slippi"
            tail = chunk[-(len(SLIPPI_MARK) - 1) :]  # a mark split across two chunks is still found
            chunk = f.read(SCAN_CHUNK)
    return ""


def read_disc_header(path: Path) -> bytes:
    """The first 0x20 bytes of the GameCube disc header of a plain (ISO/GCM), RVZ, WIA or CISO image."""
    with open(path, "rb") as f:
        head = f.read(0x80)
        if head[:4] in (b"RVZ\x01", b"WIA\x01"):
            return head[0x58 : 0x58 + 0x20]  # both keep the disc header uncompressed at 0x58
        if head[:4] == b"CISO":
            f.seek(0x8000)  # CISO: a 32 KiB block map, then the blocks (block 0 first)
            return f.read(0x20)
        if head[:4] == b"\x01\xc0\x0b\xb1":
            raise ArenaError(
                f"{path} is a GCZ image, whose header Arena cannot read: convert it with "
                f"'dolphin-tool convert -i {path} -o melee.iso -f iso' (or -f rvz) and pass that"
            )
        return head[:0x20]


def check_iso(iso: str) -> Path:
    """The ISO path, or a one-line error if it is missing or not Melee NTSC 1.02."""
    if not iso:
        raise ArenaError(
            "no Melee ISO given: pass --iso PATH to an NTSC 1.02 disc image of Super Smash Bros. Melee (game id GALE01, revision 2)"
        )
    path = Path(iso).expanduser()
    if not path.is_file():
        raise ArenaError(
            f"Melee ISO {path} does not exist"
            + (" (it is a folder)" if path.is_dir() else "")
            + "; pass --iso PATH to an NTSC 1.02 disc image"
        )
    try:
        header = read_disc_header(path)
    except OSError as exc:
        raise ArenaError(f"cannot read Melee ISO {path}: {exc.strerror}") from None
    if len(header) < 0x20 or struct.unpack_from(">I", header, 0x1C)[0] != GAMECUBE_MAGIC:
        raise ArenaError(
            f"{path} is not a GameCube disc image (no GameCube magic word in its header); pass an NTSC 1.02 Melee ISO"
        )
    game_id = header[:6]
    if game_id != GAME_ID:
        shown = game_id.decode("ascii", "replace")
        hint = " (a PAL Melee: Arena's addresses are NTSC 1.02's)" if game_id == b"GALP01" else ""
        raise ArenaError(f"{path} is game {shown}{hint}, not Super Smash Bros. Melee NTSC (GALE01); pass an NTSC 1.02 Melee ISO")
    if header[7] != REVISION_102:
        raise ArenaError(
            f"{path} is Melee NTSC 1.0{header[7]}, but Arena reads NTSC 1.02's memory addresses; pass an NTSC 1.02 ISO (revision 2)"
        )
    return path


# -- INI files ---------------------------------------------------------------------------------


def update_ini(path: Path, settings: dict[str, dict[str, str]]) -> None:
    """Set ``settings`` in a Dolphin INI file, keeping every other line as it is."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    pending = {section: dict(keys) for section, keys in settings.items()}
    out: list[str] = []
    section = None

    def flush(name):
        for key, value in pending.pop(name, {}).items():
            out.append(f"{key} = {value}")

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            flush(section)
            section = stripped[1:-1]
            out.append(line)
            continue
        key = stripped.split("=", 1)[0].strip() if "=" in stripped else None
        if section in pending and key in pending[section]:
            out.append(f"{key} = {pending[section].pop(key)}")
        else:
            out.append(line)
    flush(section)
    for name in list(pending):
        out.append(f"[{name}]")
        flush(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def enable_gecko_code(path: Path, header: str, lines: tuple[str, ...], name: str) -> None:
    """Add a gecko code to a game INI's [Gecko] section and enable it, once."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    sections: dict[str, list[str]] = {}
    order: list[str] = []
    current = ""
    sections[current] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
            if current not in sections:
                sections[current] = []
                order.append(current)
            continue
        sections[current].append(line)
    for wanted in ("Gecko", "Gecko_Enabled"):
        if wanted not in sections:
            sections[wanted] = []
            order.append(wanted)
    if lines[0] not in (s.strip() for s in sections["Gecko"]):
        sections["Gecko"] += [header, *lines]
    if f"${name}" not in (s.strip() for s in sections["Gecko_Enabled"]):
        sections["Gecko_Enabled"].append(f"${name}")
    out = list(sections[""])
    for section in order:
        out.append(f"[{section}]")
        out += sections[section]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def dolphin_settings(pad_ports: tuple[int, ...], speed: float) -> dict[str, dict[str, str]]:
    core = {f"SIDevice{i}": ("6" if i + 1 in pad_ports else "0") for i in range(4)}  # 6: standard pad
    core.update(GFXBackend="Null", EmulationSpeed=f"{speed:g}", EnableCheats="True")
    return {
        "Core": core,
        "DSP": {"Backend": "No Audio Output"},
        "Input": {"BackgroundInput": "True"},  # headless Dolphin never has focus
        "Interface": {"ConfirmStop": "False", "UsePanicHandlers": "False", "OnScreenDisplayMessages": "False"},
        "Display": {"RenderToMain": "False"},
        "Analytics": {"PermissionAsked": "True", "Enabled": "False"},
    }


def logger_settings() -> dict[str, dict[str, str]]:
    # Notices and errors of booting and the core on stdout (our log file): what error messages quote.
    return {
        "Options": {"Verbosity": "2", "WriteToConsole": "True", "WriteToFile": "False"},
        "Logs": {"MASTER": "True", "BOOT": "True", "CORE": "True"},
    }


def pad_settings(pad_ports: tuple[int, ...]) -> dict[str, dict[str, str]]:
    return {
        f"GCPad{port}": {"Device": f"Pipe/0/{pipe_name(port)}", **{k: f"`{v}`" for k, v in BUTTON_BINDINGS.items()}}
        for port in pad_ports
    }


def pipe_name(port: int) -> str:
    return f"arena_pad{port}"


def _die_with_parent() -> None:
    # In the child, before exec: if the env's process dies without stopping Dolphin (SIGKILL, a
    # crashed worker), the kernel kills Dolphin too instead of leaving it spinning.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Dolphin:
    """One Dolphin process booting ``boot`` (an ISO, or any file Dolphin boots: a .dol)."""

    def __init__(
        self,
        binary: str,
        boot: str | Path,
        *,
        name: str,
        user_dir: str = "",
        speed: float = 0.0,
        pad_ports: tuple[int, ...] = (1, 2),
    ):
        self.binary = binary
        self.boot = Path(boot).absolute()
        self.name = name
        self.speed = speed
        self.pad_ports = tuple(pad_ports)
        self.given_user_dir = user_dir
        self.run_dir: Path | None = None
        self.user_dir: Path | None = None
        self.log_path: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._lock = None
        self._log = None

    # -- setup ---------------------------------------------------------------------------------

    def _lock_user_dir(self, user: Path) -> None:
        user.mkdir(parents=True, exist_ok=True)
        self._lock = open(user / "arena.lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise ArenaError(
                f"Dolphin user folder {user} is in use by another Melee env (one Dolphin per folder): "
                "leave -o user_dir empty for a fresh folder per env, or play with --workers 1"
            ) from None

    def prepare(self) -> Path:
        """Write the user folder (config, cheat codes, FIFOs); returns it."""
        self.run_dir = Path(tempfile.mkdtemp(prefix="arena-melee-"))
        user = Path(self.given_user_dir).expanduser().absolute() if self.given_user_dir else self.run_dir / "user"
        if self.given_user_dir:
            self._lock_user_dir(user)
        config = user / "Config"
        update_ini(config / "Dolphin.ini", dolphin_settings(self.pad_ports, self.speed))
        update_ini(config / "GCPadNew.ini", pad_settings(self.pad_ports))
        update_ini(config / "Logger.ini", logger_settings())
        for ini in GAME_INI_NAMES:
            enable_gecko_code(user / "GameSettings" / ini, BOOT_TO_CSS[0], BOOT_TO_CSS[1:], BOOT_TO_CSS_NAME)
            enable_gecko_code(user / "GameSettings" / ini, UNLOCK_ALL[0], UNLOCK_ALL[1:], UNLOCK_ALL_NAME)
        pipes = user / "Pipes"
        pipes.mkdir(parents=True, exist_ok=True)
        for port in self.pad_ports:
            fifo = pipes / pipe_name(port)
            if fifo.exists() and not fifo.is_fifo():
                fifo.unlink()
            if not fifo.exists():
                os.mkfifo(fifo)  # Dolphin opens the FIFOs in Pipes/ once, at start-up: make them first
        self.user_dir = user
        return user

    def pipe_path(self, port: int) -> Path:
        return self.user_dir / "Pipes" / pipe_name(port)

    # -- running -------------------------------------------------------------------------------

    def start(self) -> Dolphin:
        if self.user_dir is None:
            self.prepare()
        bin_dir = self.run_dir / "bin"
        bin_dir.mkdir(exist_ok=True)
        link = bin_dir / self.name
        os.symlink(self.binary, link)  # Dolphin's comm becomes this name: unique per env process
        self.log_path = self.run_dir / "dolphin.log"
        self._log = open(self.log_path, "wb")
        command = [str(link), "-p", "headless", "-v", "Null", "-u", str(self.user_dir), "-e", str(self.boot)]
        try:
            self.proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal is for Arena; Arena stops Dolphin itself
                preexec_fn=_die_with_parent,
            )
        except OSError as exc:
            self.stop()
            raise ArenaError(f"cannot start Dolphin {self.binary}: {exc.strerror}") from None
        return self

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 3) -> str:
        """The last telling lines of Dolphin's output: its messages, its log's errors and
        warnings, and what it booted (ALSA's complaints and routine notices skipped)."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, AttributeError):
            return ""
        kept = []
        for line in text.splitlines():
            line = line.strip()
            logged = _LOG_LINE.match(line)
            if logged:  # "12:34:567 Core/Boot/Boot.cpp:522 N[BOOT]: Booting from disc: ..."
                level, message = logged.groups()
                if level in "EW" or message.startswith("Booting"):
                    kept.append(message)
            elif line and not line.startswith("ALSA lib"):
                kept.append(line)
        return " | ".join(kept[-lines:])

    def check(self, grace: float = 0.0) -> None:
        """Raise a one-line ArenaError if Dolphin has exited, waiting up to ``grace`` seconds
        for an exit under way (its memory can vanish a moment before it is gone)."""
        if self.proc is None:
            raise ArenaError("Dolphin is not running (the env was closed)")
        if grace:
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        code = self.proc.poll()
        if code is not None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            if code == 0:  # what Dolphin does when it cannot run the disc image: no error, no status
                how += f" (it does that when it cannot boot {self.boot}: is it a complete, readable disc image?)"
            tail = self.log_tail()
            raise ArenaError(f"Dolphin {how}" + (f"; its last output: {tail}" if tail else ""))

    def stop(self, timeout: float = 3.0) -> int | None:
        """Stop Dolphin (a first signal asks it to stop, a second forces it) and clean up."""
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
                    try:
                        self.proc.send_signal(sig)
                    except ProcessLookupError:
                        break
                    try:
                        self.proc.wait(timeout)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            code = self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if self.run_dir is not None and self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)
        return code
