"""Synthetic Melee memory images, and tiny GameCube DOLs that carry them into a real Dolphin.

``MemoryImage`` collects big-endian writes at console addresses. The fake Dolphin copies an
image into its 32 MiB mapping; ``build_dol`` turns one into a DOL whose data sections Dolphin
loads at those very addresses and whose code spins (``b .``, 0x48000000) or echoes the pads.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass

import melee_layout as L

MEM1 = 0x80000000
MEM1_SIZE = 0x01800000
SHM_SIZE = 0x02000000  # Dolphin's mapping of GameCube memory is 32 MiB


class MemoryImage:
    def __init__(self):
        self.writes: dict[int, bytes] = {}

    def write(self, address: int, data: bytes) -> MemoryImage:
        assert MEM1 <= address and address + len(data) <= MEM1 + MEM1_SIZE, hex(address)
        self.writes[address] = bytes(data)
        return self

    def u8(self, a, v):
        return self.write(a, struct.pack(">B", v))  # noqa: E704

    def u16(self, a, v):
        return self.write(a, struct.pack(">H", v))  # noqa: E704

    def u32(self, a, v):
        return self.write(a, struct.pack(">I", v))  # noqa: E704

    def f32(self, a, v):
        return self.write(a, struct.pack(">f", v))  # noqa: E704

    def regions(self, gap: int = 0x1000, align: int = 32) -> list[tuple[int, bytes]]:
        """Contiguous (address, bytes) spans covering every write, zero-filled between writes."""
        spans: list[list] = []
        for address in sorted(self.writes):
            data = self.writes[address]
            start = address - address % align
            end = address + len(data)
            if spans and start <= spans[-1][1] + gap:
                spans[-1][1] = max(spans[-1][1], end)
            else:
                spans.append([start, end])
        out = []
        for start, end in spans:
            end += -end % align
            buf = bytearray(end - start)
            for address, data in self.writes.items():
                if start <= address < end:
                    buf[address - start : address - start + len(data)] = data
            out.append((start, bytes(buf)))
        return out

    def apply(self, memory) -> None:
        """Copy into a buffer laid out like Dolphin's mapping (console address - 0x80000000)."""
        for address, data in self.writes.items():
            memory[address - MEM1 : address - MEM1 + len(data)] = data

    def save(self, path) -> None:
        with open(path, "wb") as f:
            pickle.dump(self.writes, f)

    @classmethod
    def load(cls, path) -> MemoryImage:
        image = cls()
        with open(path, "rb") as f:
            image.writes = pickle.load(f)
        return image


@dataclass
class Player:
    """One player as the test wants it to read back; ``entity=None`` writes a null pointer."""

    character: int = 0x00
    x: float = 0.0
    y: float = 0.0
    percent: int = 0
    stocks: int = 4
    entity: int | None = 1  # 1: the default heap address for this port
    facing: float = 1.0
    action_state: int = 0x0E
    action_frame: float = 1.0
    in_air: int = 0
    jumps_used: int = 0
    hitlag: float = 0.0
    hitstun: float = 0.0
    shield: float = 60.0
    invulnerable: int = 0
    move_invulnerable: int = 0  # fighter+0x1988: a move's invulnerability
    speed_air_x_self: float = 0.0
    speed_y_self: float = 0.0
    speed_x_attack: float = 0.0
    speed_y_attack: float = 0.0
    speed_ground_x_self: float = 0.0


def write_player(image: MemoryImage, port: int, p: Player) -> None:
    s = L.static(port)
    image.u32(s + L.S_CHARACTER, p.character).f32(s + L.S_X, p.x).f32(s + L.S_Y, p.y)
    image.u16(s + L.S_PERCENT, p.percent).u8(s + L.S_STOCKS, p.stocks)
    if p.entity is None:
        image.u32(s + L.S_ENTITY, 0)
        return
    e = L.entity(port) if p.entity == 1 else p.entity
    image.u32(s + L.S_ENTITY, e)
    image.u32(e + L.GOBJ_FIGHTER, e + L.FIGHTER_ELSEWHERE)
    e += L.FIGHTER_ELSEWHERE - L.FIGHTER_AT  # the E_ offsets count from here now
    image.u32(e + L.E_ACTION, p.action_state).f32(e + L.E_FACING, p.facing)
    image.f32(e + L.E_ACTION_FRAME, p.action_frame).u32(e + L.E_IN_AIR, p.in_air)
    image.u8(e + L.E_JUMPS, p.jumps_used).f32(e + L.E_HITLAG, p.hitlag).f32(e + L.E_HITSTUN, p.hitstun)
    image.f32(e + L.E_SHIELD, p.shield).u32(e + L.E_INVULNERABLE, p.invulnerable)
    image.u32(e + L.E_MOVE_INVULNERABLE, p.move_invulnerable)
    image.f32(e + L.E_SPEED_AIR_X_SELF, p.speed_air_x_self).f32(e + L.E_SPEED_Y_SELF, p.speed_y_self)
    image.f32(e + L.E_SPEED_X_ATTACK, p.speed_x_attack).f32(e + L.E_SPEED_Y_ATTACK, p.speed_y_attack)
    image.f32(e + L.E_SPEED_GROUND_X_SELF, p.speed_ground_x_self)


def write_scene(image: MemoryImage, major: int, minor: int, frame: int, stage: int = 25, stick_y: int = 0) -> None:
    """Scene bytes and frame counter; ``stage`` is the selected icon, ``stick_y`` the byte before it."""
    image.u8(L.MAJOR, major).u8(L.MINOR, minor).u32(L.FRAME, frame).u8(L.STAGE, stage).u8(L.SSS_STICK_Y, stick_y)


def write_menu(image: MemoryImage, port: int, *, port_type: int, css_char: int, cpu_level: int,
               cursor: tuple[float, float] | None, hand_state: int = L.HAND_EMPTY) -> None:  # fmt: skip
    base = L.CSS_STRIDE * (port - 1)
    image.u8(L.PORT_TYPE + base, port_type).u8(L.CSS_CHAR + base, css_char).u8(L.CPU_LEVEL + base, cpu_level)
    if cursor is None:
        image.u32(L.CURSOR_PTRS + 4 * (port - 1), 0)
    else:
        hand = L.CURSOR_BASE + 0x40 * (port - 1)
        image.u32(L.CURSOR_PTRS + 4 * (port - 1), hand).f32(hand + L.CURSOR_X, cursor[0]).f32(hand + L.CURSOR_Y, cursor[1])
        image.u8(hand + L.HAND_STATE, hand_state)


def write_stage_cursor(image: MemoryImage, xy: tuple[float, float] | None, stale: tuple[float, float] = (-27.0, 19.0)) -> None:
    """The stage-select cursor at ``xy`` through the static chain (None: a null root); the old heap
    root 0x80BDA810 points at an unrelated object that reads as ``stale`` through the old chain."""
    objects = L.SSS_OBJECTS
    if xy is None:
        image.u32(L.SSS_ROOT, 0)
    else:
        image.u32(L.SSS_ROOT, objects[0])
        image.u32(objects[0] + L.SSS_LINKS[0], objects[1]).u32(objects[1] + L.SSS_LINKS[1], objects[2])
        image.f32(objects[2] + L.SSS_X, xy[0]).f32(objects[2] + L.SSS_Y, xy[1])
    image.u32(L.SSS_HEAP_ROOT, L.SSS_STALE).u32(L.SSS_STALE + 0x28, L.SSS_STALE + 0x40)
    image.f32(L.SSS_STALE + 0x40 + L.SSS_X, stale[0]).f32(L.SSS_STALE + 0x40 + L.SSS_Y, stale[1])


# -- DOLs --------------------------------------------------------------------------------------

ENTRY = 0x80003100
SPIN = 0x48000000  # b . (branch to self)
PAD_ECHO_AT = 0x80001000  # where the pad-echo program copies SI's input buffers, and its counter


def _lis(rd, imm):
    return (15 << 26) | (rd << 21) | (imm & 0xFFFF)  # noqa: E704


def _ori(ra, rs, imm):
    return (24 << 26) | (rs << 21) | (ra << 16) | (imm & 0xFFFF)  # noqa: E704


def _stw(rs, d, ra):
    return (36 << 26) | (rs << 21) | (ra << 16) | (d & 0xFFFF)  # noqa: E704


def _lwz(rd, d, ra):
    return (32 << 26) | (rd << 21) | (ra << 16) | (d & 0xFFFF)  # noqa: E704


def _addi(rd, ra, imm):
    return (14 << 26) | (rd << 21) | (ra << 16) | (imm & 0xFFFF)  # noqa: E704


def _b(offset):
    return (18 << 26) | (offset & 0x3FFFFFC)  # noqa: E704


def pad_echo_code() -> list[int]:
    """PowerPC that makes the serial interface poll pads 1 and 2 and copies what it reads
    (SICnINBUFH/L) to PAD_ECHO_AT + 0..15 forever, bumping a counter at +16 each loop."""
    code = [
        _lis(3, 0xCC00), _ori(3, 3, 0x6400),  # r3 = SI registers
        _lis(4, 0x0040), _ori(4, 4, 0x0300),  # 0x00400300: "poll a standard controller"
        _stw(4, 0x00, 3), _stw(4, 0x0C, 3),  # SIC0OUTBUF, SIC1OUTBUF
        _lis(5, 0x0007), _ori(5, 5, 0x02F0), _stw(5, 0x30, 3),  # SIPOLL: X=7, Y=2, channels 0-3 on
        _lis(6, 0x8000), _stw(6, 0x38, 3),  # SISR: write the output buffers
        _lis(7, PAD_ECHO_AT >> 16), _ori(7, 7, PAD_ECHO_AT & 0xFFFF),
    ]  # fmt: skip
    loop = len(code)
    code += [
        _lwz(8, 0x04, 3), _stw(8, 0, 7), _lwz(8, 0x08, 3), _stw(8, 4, 7),
        _lwz(8, 0x10, 3), _stw(8, 8, 7), _lwz(8, 0x14, 3), _stw(8, 12, 7),
        _lwz(9, 16, 7), _addi(9, 9, 1), _stw(9, 16, 7),
    ]  # fmt: skip
    code.append(_b((loop - len(code)) * 4))
    return code


def build_dol(image: MemoryImage | None = None, code: list[int] | None = None) -> bytes:
    """A DOL: ``code`` (default: spin) as text section 0 at ENTRY, the image as data sections."""
    text = b"".join(struct.pack(">I", word) for word in (code or [SPIN]))
    text += bytes(-len(text) % 32)
    sections = [(ENTRY, text)]
    data = image.regions() if image is not None else []
    if len(data) > 11:
        raise ValueError(f"an image of {len(data)} spans does not fit a DOL's 11 data sections")
    header = bytearray(0x100)
    offset = 0x100
    body = bytearray()

    def put(kind_offset, address_offset, size_offset, index, address, blob):
        nonlocal offset
        struct.pack_into(">I", header, kind_offset + 4 * index, offset)
        struct.pack_into(">I", header, address_offset + 4 * index, address)
        struct.pack_into(">I", header, size_offset + 4 * index, len(blob))
        body.extend(blob)
        offset += len(blob)

    put(0x00, 0x48, 0x90, 0, *sections[0])  # text: file offsets 0x00, addresses 0x48, sizes 0x90
    for index, (address, blob) in enumerate(data):
        put(0x1C, 0x64, 0xAC, index, address, blob)  # data: 0x1C, 0x64, 0xAC
    struct.pack_into(">I", header, 0xE0, ENTRY)
    return bytes(header) + bytes(body)


def melee_iso_header(game_id: bytes = b"GALE01", revision: int = 2) -> bytes:
    """The first 0x440 bytes of a GameCube disc: enough for the plugin's ISO check."""
    header = bytearray(0x440)
    header[0:6] = game_id
    header[7] = revision
    struct.pack_into(">I", header, 0x1C, 0xC2339F3D)
    name = b"Super Smash Bros Melee"
    header[0x20 : 0x20 + len(name)] = name
    return bytes(header)
