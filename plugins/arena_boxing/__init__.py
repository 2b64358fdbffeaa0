"""Boxing (Atari 2600, through stable-retro), two players or one against the cartridge, and its
scripted boxer bot.

This module stays cheap to import: the emulator lives in :mod:`arena_boxing.env` and is
imported only when a game is built.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from arena import hookimpl
from arena.errors import ArenaError
from arena.plugins.agents import AgentKind, parse_level
from arena.plugins.envs import EnvSpec

# The 18 actions of the Atari joystick, in ALE's order: (fire, dx, dy) with dx > 0 right and
# dy > 0 down *as the seat sees the ring* (the black seat's view is turned 180 degrees, see
# arena_boxing.env, so its "right" is the screen's left).
ACTIONS = (
    ("noop", 0, 0, 0),
    ("fire", 1, 0, 0),
    ("up", 0, 0, -1),
    ("right", 0, 1, 0),
    ("left", 0, -1, 0),
    ("down", 0, 0, 1),
    ("upright", 0, 1, -1),
    ("upleft", 0, -1, -1),
    ("downright", 0, 1, 1),
    ("downleft", 0, -1, 1),
    ("upfire", 1, 0, -1),
    ("rightfire", 1, 1, 0),
    ("leftfire", 1, -1, 0),
    ("downfire", 1, 0, 1),
    ("uprightfire", 1, 1, -1),
    ("upleftfire", 1, -1, -1),
    ("downrightfire", 1, 1, 1),
    ("downleftfire", 1, -1, 1),
)
ACTION_MEANINGS = tuple(name for name, *_ in ACTIONS)
ACTION_INDEX = {(fire, dx, dy): i for i, (_, fire, dx, dy) in enumerate(ACTIONS)}
NOOP, FIRE = 0, 1

# Observation layout, shared by the env and the bot (see arena_boxing.env.features()).
OWN_X, OWN_Y, OTHER_X, OTHER_Y, DX, DY, CLOCK, SCORE_DIFF = range(8)
NUM_FEATURES = 8
# The ring, in RAM pixels (measured): x 30..109, y 3..87. Features are (x - 69.5) / 39.5 and
# (y - 45) / 42, so each boxer's position is in [-1, 1] and turning the ring 180 degrees (the
# black seat's view) negates it. DX, DY are the other boxer minus the own one, in the same units.
RING_X, RING_Y = (30, 109), (3, 87)
CENTER_X, CENTER_Y = (RING_X[0] + RING_X[1]) / 2, (RING_Y[0] + RING_Y[1]) / 2
HALF_X, HALF_Y = (RING_X[1] - RING_X[0]) / 2, (RING_Y[1] - RING_Y[0]) / 2
GAME_SECONDS = 120
KO_POINTS = 100


@dataclass(frozen=True)
class BoxingOptions:
    """Options of the ``boxing`` environment (``-o key=value``)."""

    act_every: int = 4
    """Emulator frames each action is held (action repeat): one agent step. 60 frames are one
    second; a boxer moves one pixel a frame and a punch takes about 20 frames, so Atari's usual 4
    loses little. Every command (training, evaluation games, ``arena match``, leaderboards) plays
    at this unless ``-o act_every=N``."""
    max_frames: int = 10_000
    """Frames after which a game is cut off (truncated) and scored as it stands. The cartridge's
    2-minute clock ends a game after about 7,140 frames, so this is only a safety net."""
    noop_max: int = 30
    """Up to this many no-op frames at reset, drawn from the game's seed (shifts the start)."""
    sticky: float = 0.02
    """Each step, the probability that a seat's previous action is repeated instead of its new one
    (ALE's sticky actions), drawn from the game's seed. The emulator and the cartridge's computer
    are deterministic: without this a deterministic agent plays the same game for every seed.
    0 turns it off."""
    obs: Literal["features", "pixels"] = "features"
    """``features``: 8 numbers read from RAM (both boxers, their offset, the clock, the score
    difference) from the seat's own side; ``pixels``: the last 4 screens in grayscale shrunk to
    84x84 by area averaging, ``[84, 84, 4]`` uint8 (Nature DQN's; :mod:`arena.screens`), turned 180
    degrees for the black seat (its boxer stays black). The raw screen is ``env.render()``."""

    def __post_init__(self):
        for name, low in (("act_every", 1), ("max_frames", 1), ("noop_max", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not 0.0 <= self.sticky < 1.0:
            raise ValueError(f"sticky must be in [0, 1), got {self.sticky}")


PIXELS_SHAPE = (84, 84, 4)  # -o obs=pixels: arena.screens.SHAPE (not imported here: it imports numpy)


def make_boxing(options: BoxingOptions, cpu_level: int | None):
    from arena_boxing.env import BoxingEnv  # the emulator is imported only here

    return BoxingEnv(options, cpu_level)


def boxing_observation_shape(options: BoxingOptions) -> tuple[int, ...]:
    return (NUM_FEATURES,) if options.obs == "features" else PIXELS_SHAPE


BOXING = EnvSpec(
    name="boxing",
    make=make_boxing,
    description="Atari 2600 Boxing on stable-retro: two boxers, or white vs the cartridge's computer",
    seats=("white", "black"),
    num_actions=len(ACTIONS),
    options=BoxingOptions,
    cpu_seat="black",
    cpu_levels=(),
    action_meanings=ACTION_MEANINGS,
    fps=60.0,
    observation_shape=boxing_observation_shape,
    potential=None,
    records=True,
)

# Where a punch scores (measured against a still boxer, RAM pixels): the boxers cannot get closer
# than 14 px in x; a punch lands when the heads are 11-22 px apart in y (closer, the other's
# gloves guard), for 2 points up to 16 px apart in x and 1 point up to 28 px.
REACH_X = 16
OFFSET_Y = 16
PUNCH_X = 28
PUNCH_Y = (11, 22)

# Levels 1-9: aim noise in RAM pixels (redrawn every 30 frames) and the chance to punch each step
# the other's head is in reach. The punch rate is the knob that matters (aim noise alone barely
# does: noise 40 with every punch thrown still beats the cartridge). Measured over whole 2-minute
# games at act_every 4, sides alternating, score difference of the higher level: 2 vs 1 won 6 of
# 6 (+24..+43), 3 vs 2 5/6, 4 vs 3 6/6, 5 vs 4 4/6, 6 vs 5 4/6, 7 vs 6 6/6, 8 vs 7 5/6, 9 vs 8 5/6
# (a hit knocks the other boxer back, so games between near-equals swing to KOs either way).
# Against the cartridge's computer (2 games each): level 1 -67, 2 -53, 3 -21, 4 -6, 5 +8, 6 -5,
# 7 +12, 8 +7, 9 +55 (KOs it): the computer sits near levels 5-6.
BOXER_NOISE = (40, 32, 24, 18, 12, 8, 5, 3, 0)
BOXER_PUNCH = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0)
BOXER_REDRAW_FRAMES = 30


class BoxerBot:
    """Walks to a punching spot beside the other boxer (16 px in front of it, 16 px above or below,
    whichever is nearer) plus an aim error redrawn every 30 frames of game time, and punches with
    probability ``punch`` each step the other's head is in reach.

    Works on the observation alone, so it plays either seat.
    """

    def __init__(self, noise: float, punch: float, act_every: int):
        self.noise = noise
        self.punch = punch
        self.redraw_every = max(1, BOXER_REDRAW_FRAMES // act_every)
        self._rng = random.Random(0)
        self._steps = 0
        self._offset = (0.0, 0.0)

    def reset(self, seed: int) -> None:
        self._rng.seed(seed)
        self._steps = 0

    def act(self, observation) -> int:
        if self._steps % self.redraw_every == 0:
            self._offset = (self._rng.uniform(-self.noise, self.noise), self._rng.uniform(-self.noise, self.noise))
        self._steps += 1
        dx = float(observation[DX]) * 2 * HALF_X  # the other boxer minus this one, in pixels
        dy = float(observation[DY]) * 2 * HALF_Y
        side = -1.0 if dx >= 0 else 1.0  # stay on this side of the other boxer
        above = -1.0 if dy >= 0 else 1.0  # and on the nearer of its two flanks
        to_x = dx + side * REACH_X + self._offset[0]
        to_y = dy + above * OFFSET_Y + self._offset[1]
        move_x = 0 if abs(to_x) < 2 else (1 if to_x > 0 else -1)
        move_y = 0 if abs(to_y) < 2 else (1 if to_y > 0 else -1)
        in_reach = abs(dx) <= PUNCH_X and PUNCH_Y[0] <= abs(dy) <= PUNCH_Y[1]
        fire = 1 if in_reach and self._rng.random() < self.punch else 0
        return ACTION_INDEX[fire, move_x, move_y]


def build_boxer(args, env_spec, env_options):
    if env_spec.name != "boxing":
        raise ArenaError(f"bot:boxer plays boxing only, not env '{env_spec.name}'")
    if env_options.obs != "features":
        raise ArenaError("bot:boxer needs the feature observations; drop '-o obs=pixels'")
    level = parse_level("bot:boxer", args, range(1, len(BOXER_NOISE) + 1))
    return BoxerBot(noise=BOXER_NOISE[level - 1], punch=BOXER_PUNCH[level - 1], act_every=env_options.act_every)


@hookimpl
def arena_register_envs(register):
    register(BOXING)


@hookimpl
def arena_register_agents(register):
    register(
        AgentKind(
            name="bot:boxer",
            build=build_boxer,
            usage="bot:boxer:LEVEL (1-9)",
            description="Boxing bot that closes in and punches, aim noise and punch rate by level 1..9",
        )
    )
