"""The observation: a game state as one float vector, like phillip's GameEmbedding.

Per player: scaled numbers (percent, stocks, facing, position, action frame, hitlag, hitstun,
jumps used, in-air, shield, invulnerable, the five speeds) and one-hots of the action state and
the character; then a one-hot of the stage. The observing player comes first, so one policy can
play either port ("its own side"). Values are clipped to [-CLIP, CLIP].
"""

from __future__ import annotations

import numpy as np

from arena_melee.state import GameState, PlayerState
from arena_melee.tables import NUM_EXTERNAL_CHARACTERS, NUM_STAGE_IDS

NUM_ACTION_STATES = 0x180  # phillip's embedding covers the 0x17E common and special states
XY_SCALE = 0.01  # stage coordinates run to about +-250
SPEED_SCALE = 0.5
CLIP = 10.0

# (name, scale): the scalar features of a player, in order.
PLAYER_SCALARS = (
    ("present", 1.0),
    ("percent", 0.01),
    ("stocks", 0.25),
    ("facing", 1.0),
    ("x", XY_SCALE),
    ("y", XY_SCALE),
    ("action_frame", 0.02),
    ("hitlag", 0.1),
    ("hitstun", 0.1),
    ("jumps_used", 1.0),
    ("in_air", 1.0),
    ("shield", 0.01),
    ("invulnerable", 1.0),
    ("speed_air_x_self", SPEED_SCALE),
    ("speed_y_self", SPEED_SCALE),
    ("speed_x_attack", SPEED_SCALE),
    ("speed_y_attack", SPEED_SCALE),
    ("speed_ground_x_self", SPEED_SCALE),
)
NUM_SCALARS = len(PLAYER_SCALARS)
ACTION_OFFSET = NUM_SCALARS
CHARACTER_OFFSET = ACTION_OFFSET + NUM_ACTION_STATES
PLAYER_SIZE = CHARACTER_OFFSET + NUM_EXTERNAL_CHARACTERS
STAGE_OFFSET = 2 * PLAYER_SIZE
OBS_SIZE = STAGE_OFFSET + NUM_STAGE_IDS
_SCALES = np.array([scale for _, scale in PLAYER_SCALARS], dtype=np.float32)


def embed_player(player: PlayerState, out: np.ndarray) -> None:
    """Write ``player`` into ``out`` (a zeroed slice of length PLAYER_SIZE)."""
    values = [float(getattr(player, name)) for name, _ in PLAYER_SCALARS]
    out[:NUM_SCALARS] = np.clip(np.asarray(values, dtype=np.float32) * _SCALES, -CLIP, CLIP)
    if player.present:
        out[ACTION_OFFSET + min(player.action_state, NUM_ACTION_STATES - 1)] = 1.0
    out[CHARACTER_OFFSET + min(player.character, NUM_EXTERNAL_CHARACTERS - 1)] = 1.0


def embed_game(state: GameState, own_port: int, other_port: int) -> np.ndarray:
    """The observation of the player on ``own_port``: itself, then the other player, then the stage."""
    out = np.zeros(OBS_SIZE, dtype=np.float32)
    embed_player(state.players[own_port], out[:PLAYER_SIZE])
    embed_player(state.players[other_port], out[PLAYER_SIZE:STAGE_OFFSET])
    out[STAGE_OFFSET + min(state.stage, NUM_STAGE_IDS - 1)] = 1.0
    return out
