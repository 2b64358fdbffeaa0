"""An example Arena plugin: copy this package to start your own.

It adds two things, each through one hook:

* the agent kind ``bot:lazy:LEVEL`` (LEVEL 1-9): a Pong paddle that only moves while the ball
  is coming toward it, and otherwise stays where it is;
* the command ``arena lazy-levels``, which prints the aim noise of each level.

Arena imports this module when it loads plugins (for every ``arena`` command, and in every match
worker), so keep the top of the module cheap: no numpy, torch or emulator imports here. Import
heavy libraries inside the functions that need them.
"""

from __future__ import annotations

import random

import arena
from arena.errors import ArenaError
from arena.plugins.agents import AgentKind, parse_level

# Pong's observation layout and actions, published by the built-in pong plugin. Importing this
# module is cheap: the emulator lives in arena_pong.env and loads only when a game starts.
from arena_pong import (
    BALL_VX,
    BALL_Y,
    DOWN,
    IN_PLAY,
    NOOP,
    OWN_PADDLE,
    POS_CENTER,
    POS_SCALE,
    TRACKER_NOISE,
    UP,
)

KIND = "bot:lazy"
LEVELS = range(1, len(TRACKER_NOISE) + 1)  # 1-9, the same aim noise as bot:tracker's levels
DEAD_ZONE = 4.0  # pixels: close enough, don't jitter
REDRAW_FRAMES = 30  # a new aim error every half second of game time


class LazyBot:
    """Chases the ball only while it comes toward its own paddle.

    Observations are seen from the bot's own side with its own paddle on the right, so
    ``BALL_VX > 0`` means "coming at me" whichever seat the bot plays.
    """

    def __init__(self, noise: float, act_every: int):
        self.noise = noise
        self.redraw_every = max(1, REDRAW_FRAMES // act_every)  # counted in agent steps
        self._rng = random.Random(0)
        self._steps = 0
        self._offset = 0.0

    def reset(self, seed: int) -> None:
        # Called before every game: reseed so a match is reproducible from --seed.
        self._rng.seed(seed)
        self._steps = 0
        self._offset = 0.0

    def act(self, observation) -> int:
        # Called every step: keep it plain Python, and never call Arena hooks from here.
        if self._steps % self.redraw_every == 0:
            self._offset = self._rng.uniform(-self.noise, self.noise)
        self._steps += 1
        if observation[IN_PLAY] < 0.5 or observation[BALL_VX] <= 0:
            return NOOP  # no ball, or it is moving away: be lazy
        target = observation[BALL_Y] * POS_SCALE + POS_CENTER + self._offset  # features -> pixels
        paddle = observation[OWN_PADDLE] * POS_SCALE + POS_CENTER
        if paddle > target + DEAD_ZONE:
            return UP  # smaller y is higher on the screen
        if paddle < target - DEAD_ZONE:
            return DOWN
        return NOOP


def build_lazy(args: str | None, env_spec, env_options) -> LazyBot:
    """Turn ``bot:lazy:LEVEL`` into a LazyBot; ``args`` is the text after ``bot:lazy:``.

    Arena calls this once in the main process to check the spec, then once per worker. Every
    problem the user can fix is an ArenaError with a one-line message (exit status 2).
    """
    if env_spec.name != "pong":
        raise ArenaError(f"{KIND} plays pong only, not env '{env_spec.name}'")
    if env_options.obs != "features":
        raise ArenaError(f"{KIND} needs the feature observations; drop '-o obs=pixels'")
    level = parse_level(KIND, args, LEVELS)
    return LazyBot(noise=TRACKER_NOISE[level - 1], act_every=env_options.act_every)


@arena.hookimpl
def arena_register_agents(register):
    # Called once per process when plugins load. Register a factory, not a live bot.
    register(
        AgentKind(
            name=KIND,
            build=build_lazy,
            usage=f"{KIND}:LEVEL (1-9)",
            description="Pong paddle that moves only while the ball comes toward it; aim noise 80..0 px",
        )
    )


@arena.hookimpl
def arena_register_commands(cli):
    # `cli` is the top-level click group; command names must not clash with other plugins'.
    @cli.command("lazy-levels")
    def lazy_levels() -> None:
        """Print the aim noise of each bot:lazy level."""
        for level in LEVELS:
            print(f"{KIND}:{level}  aim noise {TRACKER_NOISE[level - 1]:>2} px")
