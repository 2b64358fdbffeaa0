"""A stand-in for dolphin-emu-nogui that the real dolphin-memory-engine hooks.

Like Dolphin it takes ``-u USER -e FILE`` or ``--version`` (``-p``, ``-v``, ``-C`` are accepted and ignored),
opens the FIFOs its GCPadNew.ini names, and keeps the console's memory in a 32 MiB mapping of
/dev/shm/dolphin-emu.<pid>. Its process name (comm) is the name it was run as, cut to 15
characters, like a binary started through a symlink. Behaviour comes from the environment:

* ``FAKE_DOLPHIN_IMAGE``: a pickled MemoryImage copied into memory at start;
* ``FAKE_DOLPHIN_SIM``: run the menu simulator, starting at title/css/sss/game/postgame; it
  shows every character and stage only when the user folder enables the unlock code, as Dolphin would;
* ``FAKE_DOLPHIN_FPS`` (default 1000), ``FAKE_DOLPHIN_TICK=1`` (count frames without the sim),
  ``FAKE_DOLPHIN_STOCKS``, ``FAKE_DOLPHIN_TIME_LIMIT`` (frames: a time match),
  ``FAKE_DOLPHIN_SLIDER_MAX`` (the CPU-level slider stops there), ``FAKE_DOLPHIN_CPU_LEVEL``
  (the level the sliders start at);
* ``FAKE_DOLPHIN_NO_EMU=1``: no game memory at all (dolphin-memory-engine says noEmu);
* ``FAKE_DOLPHIN_EXIT_AFTER=S``: exit with status 3 after S seconds (a crash);
* ``FAKE_DOLPHIN_BOOT_FAIL=1``: fail at once like Dolphin given a file it cannot boot (status 1);
* ``FAKE_DOLPHIN_FREEZE_AFTER=S``: stop counting frames after S seconds (a hang);
* ``FAKE_DOLPHIN_STUBBORN=N``: ignore the first N SIGTERMs (a hung Dolphin ignores one).

Like Dolphin, it unlinks the memory file as soon as it is mapped, so nothing is left behind
even when it is killed; tests read and write its memory through /proc/<pid>/mem.
"""

from __future__ import annotations

import argparse
import mmap
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from melee_image import SHM_SIZE, MemoryImage
from menu_sim import MeleeSim, Mem, PipePads, unlock_code_enabled

stop = False
terms = 0


def on_term(signum, frame):
    global stop, terms
    terms += 1
    if terms > int(os.environ.get("FAKE_DOLPHIN_STUBBORN", "0")):
        stop = True


def main() -> int:
    name = os.path.basename(os.environ.pop("FAKE_DOLPHIN_ARGV0", sys.argv[0]))[:15]
    with open("/proc/self/comm", "w") as comm:
        comm.write(name)
    if sys.argv[1:] == ["--version"]:
        print("Dolphin 5.0-fake (Arena's test stand-in)")
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("-u", "--user", required=True)
    parser.add_argument("-e", "--exec", dest="boot", required=True)
    parser.add_argument("-p", "--platform")
    parser.add_argument("-v", "--video_backend")
    parser.add_argument("-C", "--config", action="append")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if not os.path.exists(args.boot) or os.environ.get("FAKE_DOLPHIN_BOOT_FAIL"):
        print(f'The specified file "{args.boot}" does not exist', flush=True)
        print("Could not boot the specified file", flush=True)
        return 1
    pads = PipePads(args.user)  # opened at start-up, like Dolphin's pipe devices
    exit_after = float(os.environ.get("FAKE_DOLPHIN_EXIT_AFTER", "0") or 0)
    freeze_after = float(os.environ.get("FAKE_DOLPHIN_FREEZE_AFTER", "0") or 0)
    started = time.monotonic()
    if os.environ.get("FAKE_DOLPHIN_NO_EMU"):
        print("fake Dolphin: running, no game", flush=True)
        while not stop:
            time.sleep(0.01)
        return 0
    path = f"/dev/shm/dolphin-emu.{os.getpid()}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, SHM_SIZE)
        memory = mmap.mmap(fd, SHM_SIZE)
        os.unlink(path)  # the mapping lives on, listed as "/dev/shm/dolphin-emu.<pid> (deleted)"
        image_path = os.environ.get("FAKE_DOLPHIN_IMAGE")
        if image_path:
            MemoryImage.load(image_path).apply(memory)
        mem = Mem(memory)
        sim = None
        if os.environ.get("FAKE_DOLPHIN_SIM"):
            sim = MeleeSim(
                mem,
                start=os.environ["FAKE_DOLPHIN_SIM"],
                stocks=int(os.environ.get("FAKE_DOLPHIN_STOCKS", "4")),
                time_limit=int(os.environ.get("FAKE_DOLPHIN_TIME_LIMIT", "0")),
                slider_max=int(os.environ.get("FAKE_DOLPHIN_SLIDER_MAX", "9")),
                unlocked=unlock_code_enabled(args.user),
                cpu_level=int(os.environ.get("FAKE_DOLPHIN_CPU_LEVEL", "1")),  # a fresh save, unless the unlock code is on
            )
        tick = sim is not None or bool(os.environ.get("FAKE_DOLPHIN_TICK"))
        period = 1.0 / float(os.environ.get("FAKE_DOLPHIN_FPS", "1000"))
        print(f"fake Dolphin: running as {name}, memory {path}", flush=True)
        next_frame = time.monotonic()
        while not stop:
            now = time.monotonic()
            if exit_after and now - started > exit_after:
                print("fake Dolphin: emulation crashed", flush=True)
                return 3
            frozen = freeze_after and now - started > freeze_after
            if tick and not frozen and now >= next_frame:
                pads.poll()
                if sim is not None:
                    sim.frame(pads.pads)
                else:
                    mem.u32(0x80479D60, (mem.u32(0x80479D60) + 1) & 0xFFFFFFFF)
                next_frame += period
                if next_frame < now - 0.05:
                    next_frame = now  # fell behind (a busy machine): don't race to catch up
            else:
                time.sleep(min(period, 0.001))
        return 0
    finally:
        os.close(fd)
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    sys.exit(main())
