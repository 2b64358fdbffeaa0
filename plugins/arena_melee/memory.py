"""Reading Melee's memory from a running Dolphin through dolphin-memory-engine.

Addresses are NTSC 1.02's, from docs/melee.md (phillip, libmelee, Slippi),
corrected where the game's decompilation (doldecomp/melee) says otherwise, and
except where a comment names another source. dolphin-memory-engine finds Dolphin by its process
name (``comm``) and is a per-process singleton that reads ``DME_DOLPHIN_PROCESS_NAME`` once, at
the first ``hook()``. So each process names its Dolphin ``dolphin-<pid>`` (the launcher runs
Dolphin through a symlink of that name) and hooks only that one: one Dolphin per process.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Callable, Iterable

from arena.errors import ArenaError
from arena_melee.state import GameState, MenuState, PlayerState, in_damage_state

# -- addresses ---------------------------------------------------------------------------------
PLAYER_STATIC = 0x80453080  # port 1's static block; ports are PLAYER_STRIDE apart
PLAYER_STRIDE = 0xE90
STATIC_CHARACTER = 0x04  # u32 external character id (Slippi's static-block layout; not in the reference)
STATIC_X, STATIC_Y = 0x10, 0x14  # f32
STATIC_PERCENT = 0x60  # u16
STATIC_STOCKS = 0x8E  # u8
STATIC_ENTITY = 0xB0  # u32 pointer to the player entity; 0 when no fighter
STATIC_READ_SIZE = 0xB4
# The entity (a GObj) points to its Fighter data at +0x2C. The ENTITY_ offsets below count from
# the GObj as phillip's do, which holds only while the Fighter data sits at GObj+0x60; reading
# through the pointer (Slippi's path) makes them independent of the heap's layout.
GOBJ_FIGHTER = 0x2C
FIGHTER_AT = 0x60

ENTITY_ACTION_STATE = 0x70  # u32
ENTITY_FACING = 0x8C  # f32
ENTITY_SPEED_AIR_X_SELF = 0xE0  # f32
ENTITY_SPEED_Y_SELF = 0xE4
ENTITY_SPEED_X_ATTACK = 0xEC
ENTITY_SPEED_Y_ATTACK = 0xF0
ENTITY_IN_AIR = 0x140  # u32, 0 on the ground
ENTITY_SPEED_GROUND_X_SELF = 0x14C
ENTITY_ACTION_FRAME = 0x8F4  # f32
ENTITY_HITLAG = 0x19BC  # f32
ENTITY_JUMPS_USED = 0x19C8  # u8
# u32 each, nonzero when invulnerable: the move's (fighter+0x1988) beside the fighter's
# (fighter+0x198C), in the entity-offset convention (fighter offset + 0x60); either counts.
ENTITY_MOVE_INVULNERABLE = 0x19E8
ENTITY_INVULNERABLE = 0x19EC
ENTITY_SHIELD = 0x19F8  # f32
ENTITY_HITSTUN = 0x23A0  # f32, a per-motion-state union: hitstun only in the damage action states
ENTITY_READ_SIZE = ENTITY_HITSTUN + 4  # one read covers every entity field

SCENE_BLOCK = 0x80479D30  # major scene at +0, minor scene at +3, frame counter (u32) at +0x30
SCENE_BLOCK_SIZE = 0x34
MAJOR_SCENE, MINOR_SCENE, FRAME = 0x80479D30, 0x80479D33, 0x80479D60
# u8, the selected stage icon (BF 24, FD 25, ...). The byte before it, 0x804D6CAD, is the stage
# select's stick Y (0 after a neutral press), not the stage: decomp rule 2.
STAGE = 0x804D6CAE

PORT_TYPE = 0x803F0E08  # + 0x24 * (port - 1): 0 human, 1 CPU, 3 off
CSS_CHARACTER = 0x803F0E0A  # + 0x24 * (port - 1): char-select grid id
CSS_STRIDE = 0x24
SLIDER_HELD = 0x803F0E0E  # + 0x24 * (port - 1): nonzero while the CPU-level slider is held (decomp rule 5)
CPU_LEVEL = 0x8048082F  # + 0x24 * (port - 1)
CURSOR_POINTERS = 0x804A0BC0  # + 4 * (port - 1) -> the hand: x at +0xC, y at +0x10 (f32)
CURSOR_X = 0xC
# u8 in the hand: 2 when it holds nothing. A hand carrying its coin over a portrait already shows
# that character in the CSS_CHARACTER byte, before A puts the coin down (decomp rule 1).
HAND_STATE = 0x5  # the hand-state byte; state.HAND_EMPTY means it holds nothing
READY_BANNER = 0x804D6CF2  # 0 while "ready to fight" is shown
# The stage-select cursor: [[[0x804D7820] + 0x10] + 0x28] + 0x38 (x), + 0x3C (y), the chain Slippi
# and libmelee use since 2020 (decomp rule 4). The older root 0x80BDA810 is a heap address: it
# holds whatever the heap holds there.
STAGE_CURSOR_ROOT, STAGE_CURSOR_LINKS, STAGE_CURSOR_X = 0x804D7820, (0x10, 0x28), 0x38

MEM1_START, MEM1_END = 0x80000000, 0x81800000


def valid_pointer(address: int, size: int = 4) -> bool:
    """True for an address inside MEM1 (a null or stale pointer is not)."""
    return MEM1_START <= address and address + size <= MEM1_END


def process_name(pid: int | None = None) -> str:
    """The name this process gives its Dolphin; the kernel keeps 15 characters of a comm."""
    return f"dolphin-{os.getpid() if pid is None else pid}"[:15]


_hooked_name: str | None = None  # what DME_DOLPHIN_PROCESS_NAME was when this process first hooked

_STATUS = {0: "hooked", 1: "notRunning", 2: "noEmu", 3: "unHooked"}


class MeleeMemory:
    """Hooks the Dolphin process named ``name`` and reads Melee's state from it.

    ``check(grace)`` is called while hooking (grace 0) and when a read fails (grace 1: an exiting
    Dolphin can lose its memory a moment before it is gone); it should raise a clearer error
    (Dolphin exited, with its status and output) when it can, else the read error is reported.
    """

    def __init__(self, name: str | None = None, check: Callable[[float], None] | None = None):
        self.name = name or process_name()
        self._check = check
        self._dme = None

    # -- hooking -------------------------------------------------------------------------------

    def hook(self, timeout: float) -> MeleeMemory:
        """Hook Dolphin, waiting up to ``timeout`` seconds for it to run a game."""
        global _hooked_name
        import dolphin_memory_engine as dme

        if _hooked_name is None:
            os.environ["DME_DOLPHIN_PROCESS_NAME"] = self.name  # read by the library's first hook()
            _hooked_name = self.name
        elif _hooked_name != self.name:
            raise ArenaError(
                f"this process already hooked a Dolphin named '{_hooked_name}', and dolphin-memory-engine "
                f"reads the name once per process, so it cannot find '{self.name}': run one Dolphin per process"
            )
        if dme.is_hooked():
            dme.un_hook()  # a previous Dolphin of this process: forget it, find the new one
        deadline = time.monotonic() + timeout
        while True:
            dme.hook()
            status = int(dme.get_status())
            if status == 0:
                self._dme = dme
                return self
            if self._check is not None:
                self._check(0.0)
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if status == 1:
            raise ArenaError(
                f"dolphin-memory-engine finds no running process named '{self.name}' (status notRunning) "
                f"after {timeout:g}s: Dolphin did not start, or runs under another name"
            )
        if status == 2:
            raise ArenaError(
                f"Dolphin '{self.name}' runs but no game is running in it (status noEmu) after {timeout:g}s: "
                "the game did not boot; check the ISO and Dolphin's log, or raise -o timeout=SECONDS"
            )
        raise ArenaError(f"could not hook Dolphin '{self.name}': dolphin-memory-engine status {_STATUS.get(status, status)}")

    def unhook(self) -> None:
        if self._dme is not None and self._dme.is_hooked():
            self._dme.un_hook()
        self._dme = None

    @property
    def hooked(self) -> bool:
        return self._dme is not None

    def _failed(self, exc: Exception) -> ArenaError:
        if self._check is not None:
            self._check(1.0)  # raises the real cause (Dolphin exited) when there is one
        return ArenaError(f"reading Melee's memory from Dolphin '{self.name}' failed: {exc}")

    def _bytes(self, address: int, size: int) -> bytes:
        if self._dme is None:
            raise RuntimeError("not hooked: call hook() first")
        try:
            return self._dme.read_bytes(address, size)
        except RuntimeError as exc:
            raise self._failed(exc) from None

    def _word(self, address: int) -> int:
        return struct.unpack(">I", self._bytes(address, 4))[0]

    # -- reads ---------------------------------------------------------------------------------

    def read_frame(self) -> int:
        return self._word(FRAME)

    def read_bytes(self, address: int, size: int) -> bytes:
        return self._bytes(address, size)

    def _scene_block(self) -> tuple[int, int, int]:
        block = self._bytes(SCENE_BLOCK, SCENE_BLOCK_SIZE)
        return block[0], block[3], struct.unpack_from(">I", block, 0x30)[0]

    def read_player(self, port: int) -> PlayerState:
        static = self._bytes(PLAYER_STATIC + PLAYER_STRIDE * (port - 1), STATIC_READ_SIZE)
        (character,) = struct.unpack_from(">I", static, STATIC_CHARACTER)
        x, y = struct.unpack_from(">ff", static, STATIC_X)
        (percent,) = struct.unpack_from(">H", static, STATIC_PERCENT)
        stocks = static[STATIC_STOCKS]
        (entity,) = struct.unpack_from(">I", static, STATIC_ENTITY)
        fighter = 0
        if valid_pointer(entity + GOBJ_FIGHTER):
            (fighter,) = struct.unpack(">I", self._bytes(entity + GOBJ_FIGHTER, 4))
        if not (valid_pointer(entity) and valid_pointer(fighter, ENTITY_READ_SIZE - FIGHTER_AT)):
            return PlayerState(port, False, character, x, y, percent, stocks)
        e = self._bytes(fighter, ENTITY_READ_SIZE - FIGHTER_AT)
        f32 = lambda offset: struct.unpack_from(">f", e, offset - FIGHTER_AT)[0]  # noqa: E731
        u32 = lambda offset: struct.unpack_from(">I", e, offset - FIGHTER_AT)[0]  # noqa: E731
        action_state = u32(ENTITY_ACTION_STATE)
        return PlayerState(
            port=port,
            present=True,
            character=character,
            x=x,
            y=y,
            percent=percent,
            stocks=stocks,
            facing=f32(ENTITY_FACING),
            action_state=action_state,
            action_frame=f32(ENTITY_ACTION_FRAME),
            in_air=u32(ENTITY_IN_AIR) != 0,
            jumps_used=e[ENTITY_JUMPS_USED - FIGHTER_AT],
            hitlag=f32(ENTITY_HITLAG),
            hitstun=f32(ENTITY_HITSTUN) if in_damage_state(action_state) else 0.0,
            shield=f32(ENTITY_SHIELD),
            invulnerable=u32(ENTITY_INVULNERABLE) != 0 or u32(ENTITY_MOVE_INVULNERABLE) != 0,
            speed_air_x_self=f32(ENTITY_SPEED_AIR_X_SELF),
            speed_y_self=f32(ENTITY_SPEED_Y_SELF),
            speed_x_attack=f32(ENTITY_SPEED_X_ATTACK),
            speed_y_attack=f32(ENTITY_SPEED_Y_ATTACK),
            speed_ground_x_self=f32(ENTITY_SPEED_GROUND_X_SELF),
        )

    def read_state(self, ports: Iterable[int] = (1, 2)) -> GameState:
        major, minor, frame = self._scene_block()
        stage = self._bytes(STAGE, 1)[0]
        return GameState(frame, major, minor, stage, {port: self.read_player(port) for port in ports})

    def read_menu(self, ports: Iterable[int] = (1, 2)) -> MenuState:
        ports = tuple(ports)
        major, minor, frame = self._scene_block()
        css = self._bytes(PORT_TYPE, CSS_STRIDE * 4)
        levels = self._bytes(CPU_LEVEL, CSS_STRIDE * 3 + 1)
        pointers = self._bytes(CURSOR_POINTERS, 16)
        cursors: dict[int, tuple[float, float] | None] = {}
        hands: dict[int, int | None] = {}
        for port in ports:
            (pointer,) = struct.unpack_from(">I", pointers, 4 * (port - 1))
            if valid_pointer(pointer + HAND_STATE, CURSOR_X + 8 - HAND_STATE):
                hand = self._bytes(pointer + HAND_STATE, CURSOR_X + 8 - HAND_STATE)
                hands[port] = hand[0]
                cursors[port] = struct.unpack_from(">ff", hand, CURSOR_X - HAND_STATE)
            else:
                hands[port] = cursors[port] = None
        return MenuState(
            frame=frame,
            major_scene=major,
            minor_scene=minor,
            port_types={p: css[CSS_STRIDE * (p - 1)] for p in ports},
            css_characters={p: css[CSS_STRIDE * (p - 1) + (CSS_CHARACTER - PORT_TYPE)] for p in ports},
            cpu_levels={p: levels[CSS_STRIDE * (p - 1)] for p in ports},
            cursors=cursors,
            ready=self._bytes(READY_BANNER, 1)[0] == 0,
            stage_cursor=self._stage_cursor(),
            stage=self._bytes(STAGE, 1)[0],
            hands=hands,
            sliders_held={p: css[CSS_STRIDE * (p - 1) + (SLIDER_HELD - PORT_TYPE)] != 0 for p in ports},
        )

    def _stage_cursor(self) -> tuple[float, float] | None:
        # Off the stage select the links are null or stale: any pointer outside MEM1 means no cursor.
        pointer = self._word(STAGE_CURSOR_ROOT)
        for link in STAGE_CURSOR_LINKS:
            if not valid_pointer(pointer + link):
                return None
            pointer = self._word(pointer + link)
        if not valid_pointer(pointer + STAGE_CURSOR_X, 8):
            return None
        return struct.unpack(">ff", self._bytes(pointer + STAGE_CURSOR_X, 8))
