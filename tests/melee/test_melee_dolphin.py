"""The real emulator: Debian's dolphin-emu boots tiny DOLs that the tests generate.

* A DOL whose data sections put a synthetic Melee memory image at the real addresses and whose
  code spins: the plugin's launcher boots it headless, the reader hooks it through
  DME_DOLPHIN_PROCESS_NAME and reads the image back.
* A DOL whose code makes the serial interface poll pads 1 and 2 and copies what it reads into
  memory: the plugin's pads write pipe commands into the FIFOs Dolphin holds, and the bytes the
  emulated console receives are read back.

Skipped, with the reason, only where Dolphin is not installed (.ci/install-dolphin installs it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from melee_image import (
    PAD_ECHO_AT,
    MemoryImage,
    build_dol,
    pad_echo_code,
    write_menu,
    write_player,
    write_scene,
    write_stage_cursor,
)
from test_melee_reader import P1, P2, expected

from arena.errors import ArenaError
from arena_melee.dolphin import Dolphin
from arena_melee.memory import MeleeMemory, process_name
from arena_melee.pads import ACTION_COMMANDS, ACTION_MEANINGS, RELEASED, ControllerState, Pad
from arena_melee.state import Scene


@pytest.fixture
def boot(real_dolphin, tmp_path):
    """``boot(dol_bytes) -> (Dolphin, {port: Pad}, MeleeMemory)`` through the plugin's launcher."""
    running = []

    def start(dol: bytes, name: str | None = None):
        path = tmp_path / f"boot{len(running)}.dol"
        path.write_bytes(dol)
        dolphin = Dolphin(real_dolphin, path, name=name or process_name())
        running.append(dolphin)
        dolphin.start()
        pads = {port: Pad(dolphin.pipe_path(port)).open(30, check=dolphin.check) for port in (1, 2)}
        memory = MeleeMemory(dolphin.name, check=dolphin.check).hook(30)
        running.append(memory)
        running.extend(pads.values())
        # Hooked means the memory exists; the DOL is loaded a moment later. Its code at the entry
        # point says the sections are in place.
        first_word = dol[struct.unpack_from(">I", dol, 0x00)[0] :][:4]
        deadline = time.monotonic() + 30
        while memory.read_bytes(0x80003100, 4) != first_word:
            assert time.monotonic() < deadline, "Dolphin did not load the DOL"
            time.sleep(0.01)
        return dolphin, pads, memory

    try:
        yield start
    finally:
        for thing in reversed(running):
            if isinstance(thing, Dolphin):
                thing.stop()
            elif isinstance(thing, MeleeMemory):
                thing.unhook()
            else:
                thing.close()


def melee_image(frame=4242) -> MemoryImage:
    image = MemoryImage()
    write_scene(image, 2, 2, frame, stage=24)
    write_player(image, 1, P1)
    write_player(image, 2, P2)
    write_menu(image, 1, port_type=1, css_char=7, cpu_level=9, cursor=(-30.5, -15.25))
    write_menu(image, 2, port_type=0, css_char=10, cpu_level=3, cursor=(12.0, 4.5))
    image.u8(0x804D6CF2, 0)
    write_stage_cursor(image, (6.75, -9.0))
    return image


def test_the_dol_carries_the_image_to_the_real_addresses():
    dol = build_dol(melee_image())
    (entry,) = struct.unpack_from(">I", dol, 0xE0)
    text_at, text_len = struct.unpack_from(">I", dol, 0x48)[0], struct.unpack_from(">I", dol, 0x90)[0]
    text_offset = struct.unpack_from(">I", dol, 0x00)[0]
    assert entry == text_at == 0x80003100 and text_len >= 4
    assert struct.unpack_from(">I", dol, text_offset)[0] == 0x48000000  # b . : spin forever
    # data section i: file offset at 0x1C + 4i, load address at 0x64 + 4i, size at 0xAC + 4i
    word = lambda at: struct.unpack_from(">I", dol, at)[0]  # noqa: E731
    loaded = {}
    for i in range(11):
        offset, address, size = word(0x1C + 4 * i), word(0x64 + 4 * i), word(0xAC + 4 * i)
        if size:
            loaded[address] = dol[offset : offset + size]

    def at(address, size):
        for start, blob in loaded.items():
            if start <= address and address + size <= start + len(blob):
                return blob[address - start : address - start + size]
        raise AssertionError(f"{address:#x} is not loaded")

    assert struct.unpack(">I", at(0x80479D60, 4))[0] == 4242
    assert struct.unpack(">f", at(0x80453080 + 0x10, 4))[0] == P1.x


def test_real_dolphin_boots_the_image_and_the_reader_reads_it_back(boot):
    dolphin, pads, memory = boot(build_dol(melee_image()))
    pid = dolphin.pid
    # the comm that dolphin-memory-engine matches: the symlink's name, cut to 15 characters
    assert Path(f"/proc/{pid}/comm").read_text().strip() == process_name()
    state = memory.read_state()
    assert (state.frame, state.scene, state.stage) == (4242, Scene.IN_GAME, 24)
    assert state.players[1] == expected(1, P1)
    assert state.players[2] == expected(2, P2)
    menu = memory.read_menu()
    assert menu.port_types == {1: 1, 2: 0} and menu.css_characters == {1: 7, 2: 10}
    assert menu.cpu_levels == {1: 9, 2: 3} and menu.ready
    assert menu.cursors == {1: (-30.5, -15.25), 2: (12.0, 4.5)} and menu.stage_cursor == (6.75, -9.0)
    # the pads opened the FIFOs Dolphin holds (a non-blocking open only succeeds with a reader)
    held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert {str(pad.path) for pad in pads.values()} <= held
    user, run_dir = dolphin.user_dir, dolphin.run_dir
    assert dolphin.stop() == 0  # one SIGTERM: Dolphin stops cleanly
    assert not Path(f"/proc/{pid}").exists() and not run_dir.exists() and not user.exists()


def test_null_pointers_and_dead_players_in_real_dolphin(boot):
    image = MemoryImage()
    write_scene(image, 2, 2, 7)
    write_player(image, 1, dataclasses.replace(P1, action_state=0x03, stocks=0))
    write_player(image, 2, dataclasses.replace(P2, entity=None))
    _, _, memory = boot(build_dol(image))
    state = memory.read_state()
    assert state.players[1].present and state.players[1].dead and state.players[1].stocks == 0
    assert not state.players[2].present and state.players[2].percent == 300


BITS = {"START": 0x1000, "Y": 0x0800, "X": 0x0400, "B": 0x0200, "A": 0x0100, "L": 0x0040, "R": 0x0020,
        "Z": 0x0010, "D_UP": 0x0008, "D_DOWN": 0x0004, "D_RIGHT": 0x0002, "D_LEFT": 0x0001}  # fmt: skip


def console_bytes(state: ControllerState) -> bytes:
    """What a GameCube reads from a standard pad in this state (poll mode 3): buttons (bit 0x80 is
    always set), main stick x/y, C-stick x/y, L and R analog. A digital L/R reads as fully pressed."""
    buttons = 0x0080 | sum(BITS[b] for b in state.buttons)
    axis = lambda v: min(255, max(1, round(0x80 + (v - 0.5) * 256)))  # noqa: E731
    trigger = lambda v, name: 255 if name in state.buttons else round(v * 255)  # noqa: E731
    return struct.pack(">H6B", buttons, axis(state.main[0]), axis(state.main[1]), axis(state.c[0]), axis(state.c[1]),
                       trigger(state.l, "L"), trigger(state.r, "R"))  # fmt: skip


def wait_for(memory, port: int, want: bytes, timeout: float = 5.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        got = memory.read_bytes(PAD_ECHO_AT + 8 * (port - 1), 8)
        if all(abs(a - b) <= 1 for a, b in zip(got, want)) or time.monotonic() > deadline:
            return got
        time.sleep(0.01)


PAD_STATES = [
    RELEASED,
    ControllerState(frozenset({"A"})),
    ControllerState(frozenset({"B", "X", "Y", "Z", "START"})),
    ControllerState(frozenset({"L", "R"})),
    ControllerState(frozenset({"D_UP", "D_LEFT"}), main=(1.0, 1.0)),
    ControllerState(frozenset({"D_DOWN", "D_RIGHT"}), main=(0.0, 0.0)),
    ControllerState(main=(0.75, 0.25), c=(1.0, 0.0)),
    ControllerState(c=(0.0, 1.0), l=0.25, r=0.5),
]


def test_pipe_commands_reach_the_emulated_console(boot):
    dolphin, pads, memory = boot(build_dol(code=pad_echo_code()))
    deadline = time.monotonic() + 10
    while memory.read_bytes(PAD_ECHO_AT + 16, 4) == bytes(4):  # its loop counter: the program runs
        assert time.monotonic() < deadline, "the pad-echo program did not start"
        time.sleep(0.01)
    for index, state in enumerate(PAD_STATES):
        other = PAD_STATES[-1 - index]  # both pads at once, each with its own state
        pads[1].set(state)
        pads[2].set(other)
        for port, sent in ((1, state), (2, other)):
            want = console_bytes(sent)
            got = wait_for(memory, port, want)
            assert all(abs(a - b) <= 1 for a, b in zip(got, want)), (port, sent, got.hex(), want.hex())


def test_the_discrete_actions_reach_the_console(boot):
    from arena_melee.pads import ACTIONS

    dolphin, pads, memory = boot(build_dol(code=pad_echo_code()))
    for name in ("noop", "A+up", "B+down-left", "Z+right", "Y+up-left", "L", "L+down"):
        index = ACTION_MEANINGS.index(name)
        pads[2].send(ACTION_COMMANDS[index])
        want = console_bytes(ACTIONS[index])
        got = wait_for(memory, 2, want)
        assert all(abs(a - b) <= 1 for a, b in zip(got, want)), (name, got.hex(), want.hex())


def test_dolphin_that_cannot_boot_is_a_clear_error(real_dolphin, tmp_path):
    dolphin = Dolphin(real_dolphin, tmp_path / "missing.dol", name=process_name())
    try:
        dolphin.start()
        with pytest.raises(ArenaError) as info:
            MeleeMemory(dolphin.name, check=dolphin.check).hook(30)
        message = str(info.value)
        assert message.startswith("Dolphin exited with status 1; its last output: ")
        assert "Could not boot the specified file" in message and "\n" not in message
    finally:
        dolphin.stop()


def test_dolphin_killed_while_hooked_is_a_clear_error(boot):
    dolphin, pads, memory = boot(build_dol(melee_image()))
    assert memory.read_frame() == 4242
    os.kill(dolphin.pid, signal.SIGKILL)
    dolphin.proc.wait(10)
    with pytest.raises(ArenaError, match="^Dolphin was killed by signal 9"):
        memory.read_state()
    with pytest.raises(ArenaError, match="Dolphin closed pad pipe .*did it exit"):
        pads[1].set(RELEASED)


TWIN = """
import sys, time
sys.path.insert(0, sys.argv[1])
from melee_image import MemoryImage, build_dol, write_scene
from arena_melee.dolphin import Dolphin
from arena_melee.memory import MeleeMemory, process_name
frame = int(sys.argv[2])
image = MemoryImage()
write_scene(image, 2, 2, frame)
open(sys.argv[3], "wb").write(build_dol(image))
dolphin = Dolphin(sys.argv[4], sys.argv[3], name=process_name()).start()
try:
    memory = MeleeMemory(dolphin.name, check=dolphin.check).hook(60)
    time.sleep(1.0)  # both Dolphins run at the same time
    deadline = time.monotonic() + 60
    while memory.read_frame() == 0 and time.monotonic() < deadline:  # a loaded machine boots it late
        time.sleep(0.1)
    print(dolphin.name, open(f"/proc/{dolphin.pid}/comm").read().strip(), memory.read_frame())
finally:
    dolphin.stop()
"""


@pytest.mark.slow
def test_two_real_dolphins_each_hooked_by_their_own_process(real_dolphin, tmp_path):
    here = str(Path(__file__).parent)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", TWIN, here, str(frame), str(tmp_path / f"{frame}.dol"), real_dolphin],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for frame in (1001, 2002)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    lines = [out.split() for out, _ in results]
    assert [line[2] for line in lines] == ["1001", "2002"]  # each read its own Dolphin
    assert lines[0][0] != lines[1][0] and all(line[0] == line[1] for line in lines)  # own names, and the comms


@pytest.mark.slow
def test_melee_env_on_real_dolphin_with_a_disc_that_does_not_boot(real_dolphin, melee_iso):
    # A file with Melee's header but no game: Dolphin gives up booting it and exits with status 0.
    from arena_melee import MeleeOptions
    from arena_melee.env import MeleeEnv

    env = None
    try:
        with pytest.raises(ArenaError) as info:
            env = MeleeEnv(MeleeOptions(iso=melee_iso, dolphin=real_dolphin, timeout=3.0), 9)
            env.reset()
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("Dolphin exited with status 0 (it does that when it cannot boot ")
        assert "is it a complete, readable disc image?" in message and "Booting from disc" in message
    finally:
        if env is not None:
            pid = env.dolphin_pid
            env.close()
            assert not Path(f"/proc/{pid}").exists()


@pytest.mark.slow
def test_arena_match_on_real_dolphin_reports_a_disc_it_cannot_boot(real_dolphin, melee_iso, tmp_path):
    from test_melee_plugin import run_cli

    log = tmp_path / "games.jsonl"
    result = run_cli(tmp_path, "match", "random", "cpu:9", "--env", "melee", "--games", "1", "--workers", "1",
                     "-o", f"iso={melee_iso}", "-o", f"dolphin={real_dolphin}", "-o", "timeout=20", "--log", str(log))  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr  # a game error, not a crash
    assert "Traceback" not in result.stdout + result.stderr
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["status"] == "error" and record["error"].startswith(
        "Dolphin exited with status 0 (it does that when it cannot boot"
    )
