"""``bot:lazy:LEVEL``: a Pong paddle that only moves while the ball is coming toward it.

It reads Pong's observation layout and actions, which the built-in pong plugin publishes
(``arena_pong``; importing it is cheap: the emulator lives in ``arena_pong.env``).
"""

from __future__ import annotations

import random

from arena_pong import BALL_VX, BALL_Y, DOWN, IN_PLAY, NOOP, OWN_PADDLE, POS_CENTER, POS_SCALE, UP

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
