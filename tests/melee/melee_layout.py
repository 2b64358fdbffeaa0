"""Where things live in Melee NTSC 1.02's memory, written out again from the reference.

Deliberately independent of ``arena_melee.memory``: the test images and the menu
simulator are built from these numbers (../shared/reference/melee-dolphin.md, section 2), so a
typo in the plugin's constants shows up as a failing read instead of agreeing with itself.
Addresses for the synthetic heap (entities, cursors) are our own choice, anywhere in MEM1.
"""

P1_STATIC = 0x80453080
STATIC_STRIDE = 0xE90
S_CHARACTER, S_X, S_Y, S_PERCENT, S_STOCKS, S_ENTITY = 0x04, 0x10, 0x14, 0x60, 0x8E, 0xB0

E_ACTION, E_FACING, E_ACTION_FRAME, E_IN_AIR = 0x70, 0x8C, 0x8F4, 0x140
E_JUMPS, E_HITLAG, E_HITSTUN, E_SHIELD, E_INVULNERABLE = 0x19C8, 0x19BC, 0x23A0, 0x19F8, 0x19EC
E_SPEED_AIR_X_SELF, E_SPEED_Y_SELF, E_SPEED_X_ATTACK, E_SPEED_Y_ATTACK, E_SPEED_GROUND_X_SELF = 0xE0, 0xE4, 0xEC, 0xF0, 0x14C

MAJOR, MINOR, FRAME, STAGE = 0x80479D30, 0x80479D33, 0x80479D60, 0x804D6CAD
PORT_TYPE, CSS_CHAR, CSS_STRIDE = 0x803F0E08, 0x803F0E0A, 0x24
CPU_LEVEL = 0x8048082F
CURSOR_PTRS = 0x804A0BC0
CURSOR_X, CURSOR_Y = 0xC, 0x10
READY = 0x804D6CF2
SSS_ROOT, SSS_LINK, SSS_X, SSS_Y = 0x80BDA810, 0x28, 0x38, 0x3C

# Our synthetic heap.
ENTITY_BASE, ENTITY_STRIDE = 0x80E00000, 0x3000
CURSOR_BASE = 0x80E10000  # + 0x40 * (port - 1)
SSS_OBJECT_1, SSS_OBJECT_2 = 0x80E11000, 0x80E11100

NO_CHARACTER = 0x21  # what the simulator shows before a character is picked (an assumption)


def static(port: int) -> int:
    return P1_STATIC + STATIC_STRIDE * (port - 1)


def entity(port: int) -> int:
    return ENTITY_BASE + ENTITY_STRIDE * (port - 1)
