"""A toy two-seat env for tests: no emulator, no CPU, no act_every or delay (a turn-free game).

Used in-process (tests/test_timing.py) and installed as a plugin's module (tests/test_plugin_errors.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CountOptions:
    """A turn-free toy: no act_every, no delay."""

    length: int = 10


class CountEnv:
    """Two seats say a number 0-2 each step for ``length`` steps; a seat scores when it says the
    step number mod 3. Observation: ``[step / length, step mod 3 == 0, 1, 2]``, flat."""

    def __init__(self, options: CountOptions, cpu_level=None, shape: tuple[int, ...] = (4,)):
        self.options, self.shape = options, shape  # ``shape``: what reset and step return
        self.possible_agents = ["p1", "p2"]
        self.agents: list[str] = []
        self._t = 0
        self._score = {"p1": 0, "p2": 0}

    def _obs(self):
        cue = np.zeros(4, np.float32)
        cue[0] = self._t / self.options.length
        cue[1 + self._t % 3] = 1.0
        return {seat: cue.reshape(self.shape).copy() for seat in self.possible_agents}

    def reset(self, seed=None, options=None):
        self._t, self._score = 0, {"p1": 0, "p2": 0}
        self.agents = list(self.possible_agents)
        return self._obs(), {seat: {} for seat in self.agents}

    def step(self, actions):
        rewards = {}
        for seat in self.agents:
            hit = int(actions.get(seat, 0)) == self._t % 3
            self._score[seat] += hit
            rewards[seat] = float(hit)
        self._t += 1
        done = self._t >= self.options.length
        seats = list(self.agents)
        if done:
            self.agents = []
        return self._obs(), rewards, dict.fromkeys(seats, done), dict.fromkeys(seats, False), {seat: {} for seat in seats}

    def scores(self):
        return dict(self._score)

    @property
    def frames(self) -> int:
        return self._t

    def close(self):
        pass
