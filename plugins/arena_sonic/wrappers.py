"""The Sonic A2C course's wrappers, over one Genesis player's buttons, rewards and screen.

The course (Thomas Simonini's "A2C with Sonic the Hedgehog", on gym-retro) wrapped each level's
env in this order: a discretizer to 7 button combinations, reward x 0.01, the screen in grayscale
at 96x96, a stack of the last 4 frames, and "allow backtracking" (only progress beyond the
furthest point so far pays). Here each is a small object over plain numpy arrays, so the env owns
the emulator and calls them in that order, and every one is tested on Airstriker, which ships
with stable-retro and has Sonic's 12-button Genesis pad.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from arena import screens
from arena.screens import FrameStack  # noqa: F401 (the course's stack: arena's shared one)

GENESIS_BUTTONS = ("B", "A", "MODE", "START", "UP", "DOWN", "LEFT", "RIGHT", "C", "Y", "X", "Z")
# The course's 7 actions, in its order.
SONIC_ACTIONS = (("LEFT",), ("RIGHT",), ("LEFT", "DOWN"), ("RIGHT", "DOWN"), ("DOWN",), ("DOWN", "B"), ("B",))
REWARD_SCALE = 0.01
FRAME_SIZE = 96
STACK = 4


class Discretizer:
    """Action index -> the pad's button mask: combination ``i`` presses ``combos[i]``'s buttons."""

    def __init__(self, buttons: Sequence[str], combos: Sequence[Sequence[str]] = SONIC_ACTIONS):
        unknown = sorted({b for combo in combos for b in combo} - set(buttons))
        if unknown:
            raise ValueError(f"buttons {unknown} are not on this pad ({', '.join(buttons)})")
        self.combos = tuple(tuple(combo) for combo in combos)
        self.masks = np.array([[b in combo for b in buttons] for combo in self.combos], dtype=np.uint8)
        self.masks.setflags(write=False)

    @property
    def meanings(self) -> tuple[str, ...]:
        return tuple("+".join(combo) for combo in self.combos)

    def __len__(self) -> int:
        return len(self.combos)

    def __call__(self, action: int) -> np.ndarray:
        if not 0 <= action < len(self.combos):
            raise ValueError(f"action must be 0-{len(self.combos) - 1} ({', '.join(self.meanings)}), got {action}")
        return self.masks[action]


def grayscale(frame: np.ndarray, size: int = FRAME_SIZE) -> np.ndarray:
    """An RGB screen as ``[size, size]`` uint8 luma shrunk by area averaging (the course's OpenCV
    ``INTER_AREA``), at the course's 96x96: :func:`arena.screens.grayscale`."""
    return screens.grayscale(frame, size)


class Backtracking:
    """The course's "allow backtracking": the (scaled) rewards add up to a running position; a step
    pays only how far that position passes the furthest one so far, so going back costs nothing
    and only new ground pays."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.position = 0.0
        self.furthest = 0.0

    def __call__(self, reward: float) -> float:
        self.position += reward
        paid = max(0.0, self.position - self.furthest)
        self.furthest = max(self.furthest, self.position)
        return paid
