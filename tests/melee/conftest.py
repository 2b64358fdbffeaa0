"""Fixtures for the Melee plugin's tests: a fake Dolphin, a real one, synthetic images.

dolphin-memory-engine is a per-process singleton that finds Dolphin by process name, read once
per process. The plugin names each process's Dolphin ``dolphin-<pid>``, so this test process can
hook one Dolphin (fake or real) after another, as long as only one runs at a time: every fixture
here stops its process at teardown.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from melee_image import SHM_SIZE, MemoryImage, melee_iso_header  # noqa: E402

from arena_melee.memory import process_name  # noqa: E402

DOLPHIN_CANDIDATES = ("dolphin-emu-nogui", "/usr/games/dolphin-emu-nogui")


def find_real_dolphin() -> str | None:
    for candidate in DOLPHIN_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def real_dolphin() -> str:
    """Debian's dolphin-emu-nogui; the test skips (with the reason) where it is not installed."""
    found = find_real_dolphin()
    if found is None:
        pytest.skip("Dolphin is not installed: run .ci/install-dolphin (Debian's dolphin-emu package) to run this test")
    return found


@pytest.fixture(scope="session")
def fake_dolphin_bin(tmp_path_factory) -> str:
    """An executable that runs fake_dolphin.py with this Python, keeping the name it is run as."""
    path = tmp_path_factory.mktemp("fake-bin") / "fake-dolphin"
    path.write_text(
        f"#!{sys.executable}\n"
        "import os, runpy, sys\n"
        "os.environ['FAKE_DOLPHIN_ARGV0'] = sys.argv[0]  # run_path replaces argv[0]\n"
        f"sys.path.insert(0, {str(HERE)!r})\n"
        f"runpy.run_path({str(HERE / 'fake_dolphin.py')!r}, run_name='__main__')\n"
    )
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def melee_iso(tmp_path) -> str:
    """A file with an NTSC 1.02 Melee disc header: passes the plugin's ISO check, boots nothing."""
    path = tmp_path / "melee.iso"
    path.write_bytes(melee_iso_header())
    return str(path)


class ProcMemory:
    """A running (fake or real) Dolphin's emulated memory, through /proc/<pid>/mem: independent of
    dolphin-memory-engine, with the same rights it needs (our own child processes)."""

    def __init__(self, pid: int):
        self.base = None
        for line in open(f"/proc/{pid}/maps", encoding="utf-8"):
            span, _, offset, *_, path = line.split()
            start, end = (int(x, 16) for x in span.split("-"))
            if "/dev/shm/dolphin-emu." in line and end - start == SHM_SIZE and int(offset, 16) == 0:
                self.base = start
                break
        assert self.base is not None, f"process {pid} maps no Dolphin memory"
        self.file = open(f"/proc/{pid}/mem", "r+b", buffering=0)

    def __getitem__(self, span: slice) -> bytes:
        self.file.seek(self.base + span.start)
        return self.file.read(span.stop - span.start)

    def __setitem__(self, span: slice, data: bytes) -> None:  # what MemoryImage.apply uses
        self.file.seek(self.base + span.start)
        self.file.write(data)

    def read(self, address: int, size: int) -> bytes:
        return self[address - 0x80000000 : address - 0x80000000 + size]

    def u8(self, address: int) -> int:
        return self.read(address, 1)[0]

    def u32(self, address: int) -> int:
        return struct.unpack(">I", self.read(address, 4))[0]

    def f32(self, address: int) -> float:
        return struct.unpack(">f", self.read(address, 4))[0]

    def close(self) -> None:
        self.file.close()


class FakeDolphin:
    """A fake Dolphin started directly (not through the plugin's launcher)."""

    def __init__(self, binary: str, tmp: Path, env: dict[str, str], name: str):
        self.tmp = tmp
        user = tmp / "user"
        (user / "Config").mkdir(parents=True, exist_ok=True)
        (user / "Config" / "GCPadNew.ini").write_text("")
        boot = tmp / "boot.dol"
        boot.write_bytes(b"\0" * 256)
        link = tmp / name
        if not link.exists():
            os.symlink(binary, link)
        self.log = open(tmp / "fake.log", "wb")
        self.proc = subprocess.Popen(
            [str(link), "-u", str(user), "-e", str(boot)],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.memory = None
        if not env.get("FAKE_DOLPHIN_NO_EMU"):
            deadline = time.monotonic() + 10
            while "running" not in (tmp / "fake.log").read_text():
                assert self.proc.poll() is None, (tmp / "fake.log").read_text()
                assert time.monotonic() < deadline, "the fake Dolphin did not start"
                time.sleep(0.01)
            self.memory = ProcMemory(self.proc.pid)

    def write(self, image: MemoryImage) -> None:
        image.apply(self.memory)

    def stop(self) -> None:
        if self.memory is not None:
            self.memory.close()
            self.memory = None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


@pytest.fixture
def start_fake(fake_dolphin_bin, tmp_path):
    """``start_fake(image=None, name=None, **env)``: a running fake Dolphin named like this
    process's Dolphin (so the plugin's reader hooks it), stopped at teardown."""
    started: list[FakeDolphin] = []

    def start(image: MemoryImage | None = None, name: str | None = None, **env) -> FakeDolphin:
        while started:
            started.pop().stop()
        tmp = tmp_path / f"fake{len(list(tmp_path.iterdir()))}"
        tmp.mkdir()
        if image is not None:
            image.save(tmp / "image.pkl")
            env["FAKE_DOLPHIN_IMAGE"] = str(tmp / "image.pkl")
        fake = FakeDolphin(fake_dolphin_bin, tmp, {k: str(v) for k, v in env.items()}, name or process_name())
        started.append(fake)
        return fake

    try:
        yield start
    finally:
        while started:
            started.pop().stop()


@pytest.fixture
def hooked():
    """``hooked(timeout=5)``: the plugin's reader hooked to this process's Dolphin; unhooked after."""
    from arena_melee.memory import MeleeMemory

    memories = []

    def hook(timeout: float = 5.0, check=None) -> MeleeMemory:
        memory = MeleeMemory(process_name(), check=check).hook(timeout)
        memories.append(memory)
        return memory

    try:
        yield hook
    finally:
        for memory in memories:
            memory.unhook()


def fake_memory(pid: int) -> ProcMemory:
    """A running Dolphin's memory: ``.u8(address)``, ``.u32(address)``, ``.f32(address)``."""
    return ProcMemory(pid)


@pytest.fixture
def make_env(fake_dolphin_bin, melee_iso, monkeypatch):
    """``make_env(cpu_level=9, sim="css", **options)``: a MeleeEnv on a fake Dolphin running the
    menu simulator (``sim=None``: no simulator); at most one alive, closed at teardown."""
    from arena_melee import MeleeOptions
    from arena_melee.env import MeleeEnv

    alive: list = []

    def make(cpu_level: int | None = 9, sim: str | None = "css", fake_env: dict | None = None, **options):
        while alive:
            alive.pop().close()
        for key in [k for k in os.environ if k.startswith("FAKE_DOLPHIN_")]:
            monkeypatch.delenv(key)
        if sim:
            monkeypatch.setenv("FAKE_DOLPHIN_SIM", sim)
        for key, value in (fake_env or {}).items():
            monkeypatch.setenv(key, str(value))
        options.setdefault("iso", melee_iso)
        options.setdefault("dolphin", fake_dolphin_bin)
        options.setdefault("timeout", 10.0)
        env = MeleeEnv(MeleeOptions(**options), cpu_level)
        alive.append(env)
        return env

    try:
        yield make
    finally:
        while alive:
            alive.pop().close()
