"""A small Melee simulator for the fake Dolphin: menus and a toy game driven by pipe pads.

It plays the game's side of what the plugin assumes (docs/melee.md):
scene bytes, the character-select hands, port types and CPU-level slider, the ready banner,
the stage-select cursor, and in game the player blocks the reader reads. The menus respond to
pads the way the references describe them, including the game rules that
a read of the decompilation (doldecomp/melee) found in the decompilation: a hand carries its coin and the
character byte follows the coin before A; the selected stage is 0x804D6CAE beside the stick
byte; a fresh save hides 11 characters and three stages unless the unlock code is enabled; the
stage cursor hangs off a static pointer chain; the "game" is a toy (an A press by one port deals 8%
to the other; 60% is a KO, any other hit puts the fighter in a damage state for HITSTUN frames in
which it does not act; a CPU at level N attacks every 100 - 10 N frames) whose only job is to make
stocks, percents, hitstun, deaths and the post-game screen happen. It is our model of the game,
not the game: it can only show that the plugin drives *this model* correctly.
"""

from __future__ import annotations

import os
import struct

import melee_layout as L

BUTTONS = ("A", "B", "X", "Y", "Z", "START", "L", "R", "D_UP", "D_DOWN", "D_LEFT", "D_RIGHT")
STAGE_TARGETS = {24: (1.0, -9.0), 25: (6.7, -9.0), 26: (12.5, -9.0), 18: (15.0, 3.5), 6: (3.5, 15.5), 8: (10.0, 15.5)}
CSS_TO_EXTERNAL = {0: 0x16, 1: 0x08, 2: 0x07, 3: 0x05, 4: 0x0C, 5: 0x11, 6: 0x01, 7: 0x00, 8: 0x19, 9: 0x14,
                   10: 0x02, 11: 0x0B, 12: 0x0E, 13: 0x04, 14: 0x10, 15: 0x12, 16: 0x06, 17: 0x15, 18: 0x18,
                   19: 0x0D, 20: 0x0F, 21: 0x0A, 22: 0x03, 23: 0x09, 24: 0x17}  # fmt: skip
HUMAN, CPU, OFF = 0, 1, 3
KO_PERCENT = 60
HIT = 8
STANDING, ATTACKING, DAMAGED = 0x0E, 0x2C, 0x4B  # libmelee's STANDING, NEUTRAL_ATTACK_1, DAMAGE_HIGH_1
# Shorter than the 10 frames between a level-9 CPU's attacks, so that a fighter it keeps hitting
# still gets frames to act in (hitstun 10 would lock it in hitstun for the whole game).
HITSTUN = 6
DEAD_FRAMES = 30
GAME_END_FRAMES = 40
CURSOR_SPEED = 1.2  # units per frame at full tilt
# The CPU-level slider (decomp rule 5): grabbed within GRAB_RADIUS of its handle, which sits at
# level = int(0.8 * offset + 0.5) + 1 along the slider. Taking libmelee's handle position as level
# 1's (offset 0) is our assumption; so is the handle's speed.
GRAB_RADIUS = 2.2
SLIDER_SPEED = 0.3  # units per frame at full tilt
PAUSE_TIMER = 10  # frames after pausing in which neither quit nor unpause is accepted (decomp rule 6)
PORTRAIT_AREA = (0.2, 22.0)  # y range where an empty hand picks up its own coin (decomp rule 1)
# A fresh save (decomp rule 3): hidden characters by grid slot, Pikachu in Luigi's slot, hidden stages.
LOCKED_CHARACTERS = frozenset({0, 2, 8, 9, 17, 18, 20, 21, 22, 23, 24})
LOCKED_SLOTS = {2: 19, 19: None}  # slot -> what it shows while locked (None: hidden)
LOCKED_STAGES = frozenset({24, 25, 26})


def unlock_code_enabled(user_dir: str) -> bool:
    """True when the user folder's GALE01r2.ini enables a code that writes UNLOCK_CODE's lines
    (as an Action Replay or gecko code) and Dolphin.ini turns cheats on, as Dolphin requires. As
    Dolphin does, a code's name is its header up to "[creator]"; [*_Enabled] lists names."""
    config = os.path.join(user_dir, "Config", "Dolphin.ini")
    game = os.path.join(user_dir, "GameSettings", "GALE01r2.ini")
    if not (os.path.exists(config) and os.path.exists(game)):
        return False
    cheats = any(line.replace(" ", "") == "EnableCheats=True" for line in open(config, encoding="utf-8").read().splitlines())
    sections: dict[str, list[str]] = {}
    current = ""
    for line in open(game, encoding="utf-8").read().splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif line:
            sections.setdefault(current, []).append(line)
    for kind in ("ActionReplay", "Gecko"):
        name, codes = None, {}
        for line in sections.get(kind, []):
            if line.startswith("$"):
                name = "$" + line[1:].split("[", 1)[0].strip()
                codes[name] = []
            elif name:
                codes[name].append(line.upper())
        enabled = set(sections.get(f"{kind}_Enabled", []))
        if any(name in enabled and set(L.UNLOCK_CODE) <= set(lines) for name, lines in codes.items()):
            return cheats
    return False


class PadInput:
    """A pad as Dolphin's pipe device sees it after the commands so far."""

    def __init__(self):
        self.buttons: set[str] = set()
        self.main = (0.5, 0.5)
        self.c = (0.5, 0.5)
        self.l = self.r = 0.0

    def apply(self, line: str) -> None:
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("PRESS", "RELEASE") and parts[1] in BUTTONS:
            (self.buttons.add if parts[0] == "PRESS" else self.buttons.discard)(parts[1])
        elif len(parts) == 4 and parts[0] == "SET" and parts[1] in ("MAIN", "C"):
            value = (float(parts[2]), float(parts[3]))
            if parts[1] == "MAIN":
                self.main = value
            else:
                self.c = value
        elif len(parts) == 3 and parts[0] == "SET" and parts[1] in ("L", "R"):
            setattr(self, parts[1].lower(), float(parts[2]))
        # anything else is ignored, as Dolphin does

    def copy(self) -> PadInput:
        other = PadInput()
        other.buttons, other.main, other.c, other.l, other.r = set(self.buttons), self.main, self.c, self.l, self.r
        return other


class PipePads:
    """Reads the FIFOs named in <user>/Config/GCPadNew.ini, as Dolphin does at start-up."""

    def __init__(self, user_dir: str):
        self.fds: dict[int, int] = {}
        self.buffers: dict[int, bytes] = {}
        self.pads: dict[int, PadInput] = {port: PadInput() for port in (1, 2, 3, 4)}
        self.lines_read = 0
        ini = os.path.join(user_dir, "Config", "GCPadNew.ini")
        section = None
        for line in open(ini, encoding="utf-8").read().splitlines():
            line = line.strip()
            if line.startswith("[GCPad") and line.endswith("]"):
                section = int(line[6:-1])
            elif section and line.replace(" ", "").startswith("Device=Pipe/0/"):
                name = line.split("Pipe/0/", 1)[1].strip()
                path = os.path.join(user_dir, "Pipes", name)
                self.fds[section] = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                self.buffers[section] = b""

    def poll(self) -> None:
        for port, fd in self.fds.items():
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                continue
            data = self.buffers[port] + chunk
            *lines, self.buffers[port] = data.split(b"\n")
            for line in lines:
                self.pads[port].apply(line.decode("ascii", "replace"))
                self.lines_read += 1


class Mem:
    def __init__(self, buffer):
        self.b = buffer

    def _o(self, a):
        return a - 0x80000000

    def u8(self, a, v=None):
        if v is None:
            return self.b[self._o(a)]
        self.b[self._o(a)] = v & 0xFF

    def u16(self, a, v=None):
        if v is None:
            return struct.unpack_from(">H", self.b, self._o(a))[0]
        struct.pack_into(">H", self.b, self._o(a), v)

    def u32(self, a, v=None):
        if v is None:
            return struct.unpack_from(">I", self.b, self._o(a))[0]
        struct.pack_into(">I", self.b, self._o(a), v)

    def f32(self, a, v=None):
        if v is None:
            return struct.unpack_from(">f", self.b, self._o(a))[0]
        struct.pack_into(">f", self.b, self._o(a), v)


def _axis(v: float) -> float:
    d = (v - 0.5) * 2
    return 0.0 if abs(d) < 0.2 else d


class MeleeSim:
    def __init__(
        self,
        mem: Mem,
        start: str = "css",
        stocks: int = 4,
        time_limit: int = 0,
        slider_max: int = 9,
        unlocked: bool = False,
        cpu_level: int = 1,
    ):
        self.m = mem
        self.unlocked = unlocked  # a fresh save hides characters and stages unless the unlock code runs
        self.slider_max = slider_max  # below 9: a slider that sticks, to test the level check
        self.stocks = stocks
        self.time_limit = time_limit  # frames; > 0 makes a time match (no stocks)
        self.prev = {port: PadInput() for port in (1, 2, 3, 4)}
        self.grabbed = {1: False, 2: False}
        self.holding = {1: False, 2: False}  # the hand carries its own coin
        self.hovered_stage = None  # the last visible stage icon the cursor was over
        self.slider = {port: (cpu_level - 1) / 0.8 for port in (1, 2)}  # the handle's offset along the slider
        self.paused = False
        self.pause_timer = 0
        self.countdown = 0
        self.dead_timer = {1: 0, 2: 0}
        self.hitstun = {1: 0, 2: 0}  # frames left in a damage state
        self.hit_frame = {1: -1, 2: -1}  # the game frame of the last hit
        self.game_frames = 0
        self.end_timer = 0
        self.quits = 0
        self.games_started = 0
        self.m.u32(L.FRAME, 0)
        # The old stage-cursor root is heap memory: in our model it points at an unrelated object.
        self.m.u32(L.SSS_HEAP_ROOT, L.SSS_STALE)
        self.m.u32(L.SSS_STALE + 0x28, L.SSS_STALE + 0x40)
        self.m.f32(L.SSS_STALE + 0x40 + L.SSS_X, -27.0)
        self.m.f32(L.SSS_STALE + 0x40 + L.SSS_Y, 19.0)
        for port in (1, 2, 3, 4):
            base = L.CSS_STRIDE * (port - 1)
            self.m.u8(L.PORT_TYPE + base, HUMAN if port <= 2 else OFF)
            self.m.u8(L.CSS_CHAR + base, L.NO_CHARACTER)
            self.m.u8(L.CPU_LEVEL + base, cpu_level)
            self.m.u8(L.SLIDER_HELD + base, 0)
        if start == "title":
            self._scene(0, 0)
        elif start == "css":
            self._enter_css()
        elif start == "sss":
            for port, char in ((1, 7), (2, 7)):
                self.m.u8(L.CSS_CHAR + L.CSS_STRIDE * (port - 1), char)
            self._enter_sss()
        elif start == "game":  # somebody else's game, already running
            for port in (1, 2):
                self.m.u8(L.CSS_CHAR + L.CSS_STRIDE * (port - 1), 10)
            self.m.u8(L.STAGE, 24)
            self._enter_game()
        elif start == "postgame":
            self._scene(2, 4)
        else:
            raise ValueError(start)

    # -- scenes --------------------------------------------------------------------------------

    def _scene(self, major, minor):
        if (major, minor) != self.scene():
            self.m.u32(L.FRAME, 0)  # the frame counter restarts on every scene change (decompilation)
        self.m.u8(L.MAJOR, major)
        self.m.u8(L.MINOR, minor)

    def scene(self):
        return self.m.u8(L.MAJOR), self.m.u8(L.MINOR)

    def _enter_css(self):
        self._scene(2, 0)
        for port in (1, 2):
            hand = L.CURSOR_BASE + 0x40 * (port - 1)
            self.m.u32(L.CURSOR_PTRS + 4 * (port - 1), hand)
            self.m.f32(hand + L.CURSOR_X, -20.0 + 15.0 * (port - 1))
            self.m.f32(hand + L.CURSOR_Y, -8.0)
            self.m.u8(hand + L.HAND_STATE, L.HAND_EMPTY)
            self.grabbed[port] = False
            self.holding[port] = False
        for port in (1, 2):  # no fighters outside a game
            self.m.u32(L.static(port) + L.S_ENTITY, 0)
        self.m.u32(L.SSS_ROOT, 0)

    def _enter_sss(self):
        self._scene(2, 1)
        first, second, cursor = L.SSS_OBJECTS
        self.m.u32(L.SSS_ROOT, first)
        self.m.u32(first + L.SSS_LINKS[0], second)
        self.m.u32(second + L.SSS_LINKS[1], cursor)
        self.m.f32(cursor + L.SSS_X, 0.0)
        self.m.f32(cursor + L.SSS_Y, 0.0)
        self.hovered_stage = None
        self.countdown = 0

    def _enter_game(self):
        self._scene(2, 2)
        self.paused = False
        self.game_frames = 0
        self.end_timer = 0
        self.games_started += 1
        for port in (1, 2):
            s, e = L.static(port), L.entity(port)
            css = self.m.u8(L.CSS_CHAR + L.CSS_STRIDE * (port - 1))
            self.m.u32(s + L.S_CHARACTER, CSS_TO_EXTERNAL.get(css, 0))
            self.m.f32(s + L.S_X, -30.0 if port == 1 else 30.0)
            self.m.f32(s + L.S_Y, 0.0)
            self.m.u16(s + L.S_PERCENT, 0)
            self.m.u8(s + L.S_STOCKS, 0 if self.time_limit else self.stocks)
            self.m.u32(s + L.S_ENTITY, e)
            self.m.u32(e + L.GOBJ_FIGHTER, e + L.FIGHTER_AT)  # its Fighter data, where the E_ offsets count from
            self.m.u32(e + L.E_ACTION, STANDING)
            self.m.f32(e + L.E_FACING, 1.0 if port == 1 else -1.0)
            self.m.f32(e + L.E_SHIELD, 60.0)
            self.m.f32(e + L.E_HITSTUN, 0.0)
            self.dead_timer[port] = 0
            self.hitstun[port] = 0

    # -- one frame -----------------------------------------------------------------------------

    def frame(self, pads: dict[int, PadInput]) -> None:
        pressed = {p: pads[p].buttons - self.prev[p].buttons for p in pads}
        major, minor = self.scene()
        if major != 2:
            if any("START" in b for b in pressed.values()):
                self._enter_css()  # as with the Boot to CSS code: title -> VS character select
        elif minor == 0:
            self._css(pads, pressed)
        elif minor == 1:
            self._sss(pads, pressed)
        elif minor == 2:
            self._game(pads, pressed)
        elif minor == 4:
            if any("START" in b for b in pressed.values()):
                self._enter_css()
        self.m.u32(L.FRAME, (self.m.u32(L.FRAME) + 1) & 0xFFFFFFFF)
        self.prev = {p: pads[p].copy() for p in pads}

    def _css(self, pads, pressed):
        for port in (1, 2):
            hand = L.CURSOR_BASE + 0x40 * (port - 1)
            base = L.CSS_STRIDE * (port - 1)
            x, y = self.m.f32(hand + L.CURSOR_X), self.m.f32(hand + L.CURSOR_Y)
            sx, sy = _axis(pads[port].main[0]), _axis(pads[port].main[1])
            if self.grabbed[port]:  # the stick moves the handle; the level follows it
                top = (self.slider_max - 1) / 0.8 + 0.6  # past it the slider sticks
                self.slider[port] = min(top, max(0.0, self.slider[port] + sx * SLIDER_SPEED))
                self.m.u8(L.CPU_LEVEL + base, min(9, int(0.8 * self.slider[port] + 0.5) + 1))
                if "A" in pressed[port]:
                    self.grabbed[port] = False  # A lets go
                self.m.u8(L.SLIDER_HELD + base, int(self.grabbed[port]))
                continue
            was_in_area = PORTRAIT_AREA[0] < y < PORTRAIT_AREA[1]
            x = min(35.0, max(-35.0, x + sx * CURSOR_SPEED))
            y = min(25.0, max(-25.0, y + sy * CURSOR_SPEED))
            self.m.f32(hand + L.CURSOR_X, x)
            self.m.f32(hand + L.CURSOR_Y, y)
            self._coin(port, x, y, was_in_area, "A" in pressed[port])
        ready = (
            all(
                self.m.u8(L.CSS_CHAR + L.CSS_STRIDE * (p - 1)) != L.NO_CHARACTER
                and self.m.u8(L.PORT_TYPE + L.CSS_STRIDE * (p - 1)) in (HUMAN, CPU)
                for p in (1, 2)
            )
            and not any(self.grabbed.values())
            and not any(self.holding.values())  # hidden while any hand holds something
        )
        self.m.u8(L.READY, 0 if ready else 0x20)
        if ready and any("START" in b for b in pressed.values()):
            self._enter_sss()

    def _coin(self, port, x, y, was_in_area, a_pressed):
        """The hand and its coin after a move (decomp rule 1), then what an A press does."""
        hand = L.CURSOR_BASE + 0x40 * (port - 1)
        base = L.CSS_STRIDE * (port - 1)
        in_area = PORTRAIT_AREA[0] < y < PORTRAIT_AREA[1]
        if self.holding[port] and y <= PORTRAIT_AREA[0]:
            self.holding[port] = False  # dropped below the portraits: the coin goes down with no character
            self.m.u8(L.CSS_CHAR + base, L.NO_CHARACTER)
        elif not self.holding[port] and in_area and not was_in_area:
            self.holding[port] = True  # an empty hand entering the portraits picks up its own coin
        char = self._portrait(x, y)
        if self.holding[port] and char is not None:
            self.m.u8(L.CSS_CHAR + base, char)  # the byte follows the carried coin, before any A
        if a_pressed:
            toggle = (-32.2 + 15.82 * (port - 1), -2.2)
            handle = self.handle(port)
            kind = self.m.u8(L.PORT_TYPE + base)
            if self.holding[port]:
                if char is not None:
                    self.holding[port] = False  # A puts the coin down on that character
            elif abs(x - toggle[0]) < 2.5 and abs(y - toggle[1]) < 2.0:
                self.m.u8(L.PORT_TYPE + base, {HUMAN: CPU, CPU: OFF, OFF: HUMAN}[kind])
            elif (x - handle[0]) ** 2 + (y - handle[1]) ** 2 < GRAB_RADIUS**2 and kind == CPU:
                self.grabbed[port] = True
                self.m.u8(L.SLIDER_HELD + base, 1)
        self.m.u8(hand + L.HAND_STATE, L.HAND_COIN if self.holding[port] else L.HAND_EMPTY)

    def handle(self, port):
        """Where the port's CPU-level slider handle is now."""
        return -30.9 + 15.4 * (port - 1) + self.slider[port], -15.12

    def _portrait(self, x, y):
        """The character whose portrait is under (x, y); None off the grid or on a hidden one."""
        for slot in range(25):
            row, col = divmod(slot, 9)
            if row == 2:
                col += 1
            px, py = -29.0 + 7.0 * col, 4.5 + 7.0 * (2 - row)
            if abs(x - px) < 3.5 and abs(y - py) < 3.5:
                if self.unlocked:
                    return slot
                if slot in LOCKED_SLOTS:
                    return LOCKED_SLOTS[slot]
                return None if slot in LOCKED_CHARACTERS else slot
        return None

    def _sss(self, pads, pressed):
        if self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                self._enter_game()
            return
        cursor = L.SSS_OBJECTS[-1]
        cx, cy = cursor + L.SSS_X, cursor + L.SSS_Y
        x, y = self.m.f32(cx), self.m.f32(cy)
        stick_y = 0.0
        for port in (1, 2):
            x += _axis(pads[port].main[0]) * CURSOR_SPEED
            y += _axis(pads[port].main[1]) * CURSOR_SPEED
            stick_y = stick_y or _axis(pads[port].main[1])
        x, y = min(27.0, max(-27.0, x)), min(19.0, max(-19.0, y))
        self.m.f32(cx, x)
        self.m.f32(cy, y)
        self.m.u8(L.SSS_STICK_Y, round(stick_y * 80))  # the byte before the stage: 0 at neutral
        for stage, (tx, ty) in STAGE_TARGETS.items():
            if abs(x - tx) < 2.0 and abs(y - ty) < 2.0 and (self.unlocked or stage not in LOCKED_STAGES):
                self.hovered_stage = stage  # hidden icons are never hovered
        if any("B" in b for b in pressed.values()):
            self._enter_css()  # B backs out to the character select
            return
        if any("A" in b for b in pressed.values()):
            over = [s for s, (tx, ty) in STAGE_TARGETS.items() if abs(x - tx) < 2.0 and abs(y - ty) < 2.0]
            if over and self.hovered_stage is not None:  # over a hidden icon: the last visible one hovered
                self.m.u8(L.STAGE, self.hovered_stage)
                self.countdown = 20  # loading
                self.m.u32(L.SSS_ROOT, 0)

    def _game(self, pads, pressed):
        if self.end_timer:
            self.end_timer -= 1
            if self.end_timer == 0:
                self._scene(2, 4)
            return
        if self.paused:
            if self.pause_timer:
                self.pause_timer -= 1  # too soon after pausing: START is ignored, with or without L+R+A
                return
            held = pads[1].buttons | pads[2].buttons
            if any("START" in b for b in pressed.values()):
                if {"L", "R", "A"} <= held:
                    self.quits += 1
                    self._enter_css()  # L+R+A+START: no contest, back to character select
                else:
                    self.paused = False
            return
        if any("START" in b for b in pressed.values()):
            self.paused, self.pause_timer = True, PAUSE_TIMER
            return
        self.game_frames += 1
        for port in (1, 2):
            self._player(port, pads[port], pressed[port])
        if self.time_limit and self.game_frames >= self.time_limit:
            self.end_timer = 1

    def _player(self, port, pad, pressed):
        s, e = L.static(port), L.entity(port)
        other = 3 - port
        if self.m.u32(s + L.S_ENTITY) == 0:
            return
        self.m.f32(e + L.E_ACTION_FRAME, self.m.f32(e + L.E_ACTION_FRAME) + 1.0)
        if self.dead_timer[port]:
            self.dead_timer[port] -= 1
            if self.dead_timer[port] == 0:
                if self.time_limit or self.m.u8(s + L.S_STOCKS) > 0:
                    self.m.u32(e + L.E_ACTION, STANDING)  # back on the stage
                    self.m.u16(s + L.S_PERCENT, 0)
                    self.m.f32(s + L.S_X, 0.0)
                else:
                    self.m.u32(s + L.S_ENTITY, 0)  # out of stocks: the fighter is gone
                    self.end_timer = GAME_END_FRAMES
            return
        if self.hitstun[port]:  # in a damage state: no moving, no attacking
            if self.hit_frame[port] != self.game_frames:  # hit earlier this frame (port 1 moves first): from the next
                self.hitstun[port] -= 1
                if self.hitstun[port] == 0:
                    self.m.u32(e + L.E_ACTION, STANDING)
                self.m.f32(e + L.E_HITSTUN, float(self.hitstun[port]))
            return
        is_cpu = self.m.u8(L.PORT_TYPE + L.CSS_STRIDE * (port - 1)) == CPU
        attack = False
        if is_cpu:
            level = self.m.u8(L.CPU_LEVEL + L.CSS_STRIDE * (port - 1))
            attack = self.game_frames % max(4, 100 - 10 * level) == 0
        else:
            vx = _axis(pad.main[0]) * 1.5
            x = min(80.0, max(-80.0, self.m.f32(s + L.S_X) + vx))
            self.m.f32(s + L.S_X, x)
            air = pad.main[1] > 0.8 or "Y" in pad.buttons
            self.m.f32(s + L.S_Y, 10.0 if air else 0.0)
            self.m.u32(e + L.E_IN_AIR, 1 if air else 0)
            self.m.u8(e + L.E_JUMPS, 1 if air else 0)
            self.m.f32(e + L.E_SPEED_GROUND_X_SELF, 0.0 if air else vx)
            self.m.f32(e + L.E_SPEED_AIR_X_SELF, vx if air else 0.0)
            if vx:
                self.m.f32(e + L.E_FACING, 1.0 if vx > 0 else -1.0)
            self.m.f32(e + L.E_SHIELD, 50.0 if "L" in pad.buttons else 60.0)
            attack = "A" in pressed
        self.m.u32(e + L.E_ACTION, ATTACKING if attack else STANDING)
        if attack:
            self._hit(other)

    def _hit(self, port):
        s, e = L.static(port), L.entity(port)
        if self.dead_timer[port] or self.m.u32(s + L.S_ENTITY) == 0:
            return
        percent = self.m.u16(s + L.S_PERCENT) + HIT
        self.m.u16(s + L.S_PERCENT, percent)
        if percent >= KO_PERCENT:
            self.m.u32(e + L.E_ACTION, 0x00)  # DeadDown
            self.m.f32(e + L.E_HITSTUN, 0.0)
            self.hitstun[port] = 0
            self.dead_timer[port] = DEAD_FRAMES
            if not self.time_limit:
                self.m.u8(s + L.S_STOCKS, self.m.u8(s + L.S_STOCKS) - 1)
            return
        # Hitstun written before the damage state, and after leaving it: a read between two writes
        # never sees a damage state with no hitstun.
        self.m.f32(e + L.E_HITSTUN, float(HITSTUN))
        self.m.u32(e + L.E_ACTION, DAMAGED)  # a hit in hitstun starts it again
        self.m.f32(e + L.E_SPEED_GROUND_X_SELF, 0.0)
        self.m.f32(e + L.E_SPEED_AIR_X_SELF, 0.0)
        self.hitstun[port], self.hit_frame[port] = HITSTUN, self.game_frames
