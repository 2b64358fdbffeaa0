"""Where things live in Melee NTSC 1.02's memory, written out again from the reference.

Deliberately independent of ``arena_melee.memory``: the test images and the menu simulator are
built from these numbers (docs/melee.md: phillip, libmelee and Slippi, as corrected by
the game's decompilation), so a typo in the plugin's constants shows up as a failing
read instead of agreeing with itself.
Addresses for the synthetic heap (entities, cursors) are our own choice, anywhere in MEM1.
"""

P1_STATIC = 0x80453080
STATIC_STRIDE = 0xE90
S_CHARACTER, S_X, S_Y, S_PERCENT, S_STOCKS, S_ENTITY = 0x04, 0x10, 0x14, 0x60, 0x8E, 0xB0

E_ACTION, E_FACING, E_ACTION_FRAME, E_IN_AIR = 0x70, 0x8C, 0x8F4, 0x140
E_JUMPS, E_HITLAG, E_HITSTUN, E_SHIELD, E_INVULNERABLE = 0x19C8, 0x19BC, 0x23A0, 0x19F8, 0x19EC
# fighter+0x1988, beside the invulnerable state at fighter+0x198C (entity +0x19EC): a move's own
# invulnerability (the decompilation; entity offset = fighter offset + 0x60)
E_MOVE_INVULNERABLE = 0x19E8
# Hitstun (+0x23A0) is a per-motion-state union: it means hitstun only in libmelee's damage action
# states, DAMAGE_HIGH_1 0x4B .. DAMAGE_FLY_ROLL 0x5B.
DAMAGE_STATES = range(0x4B, 0x5B + 1)
E_SPEED_AIR_X_SELF, E_SPEED_Y_SELF, E_SPEED_X_ATTACK, E_SPEED_Y_ATTACK, E_SPEED_GROUND_X_SELF = 0xE0, 0xE4, 0xEC, 0xF0, 0x14C

MAJOR, MINOR, FRAME = 0x80479D30, 0x80479D33, 0x80479D60
# The selected stage icon (BF 24, FD 25, ...); the byte before it is the stage select's stick Y,
# 0 after a neutral press (the decompilation).
STAGE, SSS_STICK_Y = 0x804D6CAE, 0x804D6CAD
PORT_TYPE, CSS_CHAR, CSS_STRIDE = 0x803F0E08, 0x803F0E0A, 0x24
CPU_LEVEL = 0x8048082F
SLIDER_HELD = 0x803F0E0E  # + 0x24 * (port - 1): nonzero while the CPU-level slider is held (decomp rule 5)
CURSOR_PTRS = 0x804A0BC0
CURSOR_X, CURSOR_Y = 0xC, 0x10
HAND_STATE = 0x5  # u8 in the hand: 2 when it holds nothing (decomp rule 1)
HAND_EMPTY, HAND_COIN = 2, 1  # 1 for "holds its coin" is our choice: only 2 is from the reference
READY = 0x804D6CF2
# The stage-select cursor: [[[0x804D7820] + 0x10] + 0x28] + 0x38 (x) / + 0x3C (y), decomp rule 4.
SSS_ROOT, SSS_LINKS, SSS_X, SSS_Y = 0x804D7820, (0x10, 0x28), 0x38, 0x3C
SSS_HEAP_ROOT = 0x80BDA810  # the old root: a heap address, holding whatever the heap holds there
# "Unlock All Characters and Stages [Datel]", as Dolphin's GALE01r2.ini ships it (decomp rule 3).
UNLOCK_CODE = ("0445BF28 FFFFFFFF", "0445BF2C FFFFFFFF")

# Our synthetic heap.
ENTITY_BASE, ENTITY_STRIDE = 0x80E00000, 0x3000
# The GObj's pointer to its Fighter data, and the E_ offsets' origin: they count from the GObj as
# if the Fighter data sat at +0x60 (the retail heap's layout, which the simulator keeps). The test
# image puts it elsewhere (+0x400), so a reader that skips the pointer reads nothing.
GOBJ_FIGHTER, FIGHTER_AT, FIGHTER_ELSEWHERE = 0x2C, 0x60, 0x400
CURSOR_BASE = 0x80E10000  # + 0x40 * (port - 1)
SSS_OBJECTS = (0x80E11000, 0x80E11100, 0x80E11200)  # the chain's three links
SSS_STALE = 0x80E11300  # what the old heap root points at in our model: an unrelated object

NO_CHARACTER = 0x21  # what the simulator shows before a character is picked (an assumption)


def static(port: int) -> int:
    return P1_STATIC + STATIC_STRIDE * (port - 1)


def entity(port: int) -> int:
    return ENTITY_BASE + ENTITY_STRIDE * (port - 1)
