"""Screens as pixel observations: grayscale, shrunk by area averaging, the last frames stacked.

The field's default since Nature DQN (Mnih et al., 2015) is what :class:`SeatScreens` gives: each
step's screen in grayscale at 84x84, the last 4 stacked channel last (``[84, 84, 4]`` uint8), each
seat from its own side. Emulated envs build one for ``-o obs=pixels`` and push every screen they
show; the Sonic course's wrappers use :func:`grayscale` (at 96x96) and :class:`FrameStack` too.
Pillow does the shrinking; nothing here imports torch.
"""

from __future__ import annotations

from collections import deque

import numpy as np

SIZE = 84  # Nature DQN's frame side
DEPTH = 4  # frames stacked
SHAPE = (SIZE, SIZE, DEPTH)


def grayscale(frame: np.ndarray, size: int = SIZE) -> np.ndarray:
    """An RGB screen ``[H, W, 3]`` as ``[size, size]`` uint8 luma (0.299 R + 0.587 G + 0.114 B),
    shrunk by averaging each output pixel's area of the screen, as OpenCV's ``INTER_AREA`` does
    (Pillow's BOX filter)."""
    from PIL import Image

    return np.asarray(Image.fromarray(frame, "RGB").convert("L").resize((size, size), Image.Resampling.BOX))


class FrameStack:
    """The last ``depth`` frames, channel last (``[size, size, depth]``); a reset fills it with
    the first frame, as baselines' FrameStack did."""

    def __init__(self, depth: int = DEPTH):
        self.frames: deque[np.ndarray] = deque(maxlen=depth)

    def reset(self, frame: np.ndarray) -> np.ndarray:
        self.frames.extend([frame] * self.frames.maxlen)
        return self.observation()

    def push(self, frame: np.ndarray) -> np.ndarray:
        self.frames.append(frame)
        return self.observation()

    def observation(self) -> np.ndarray:
        return np.stack(self.frames, axis=-1)


class SeatScreens:
    """Each seat's stack of its last :data:`DEPTH` screens, grayscale at :data:`SIZE` square.

    ``flips``: for each seat, the axes its view is flipped along (``()``: as the screen shows it),
    so every seat sees the game from its own side: Pong's left seat ``(1,)`` (mirrored), Boxing's
    black ``(0, 1)`` (turned 180 degrees). The screen is shrunk once, then flipped per seat:
    area averaging commutes with flips.
    """

    def __init__(self, flips: dict[str, tuple[int, ...]], size: int = SIZE, depth: int = DEPTH):
        self.flips = dict(flips)
        self.size = size
        self.stacks = {seat: FrameStack(depth) for seat in self.flips}

    def _views(self, screen: np.ndarray) -> dict[str, np.ndarray]:
        small = grayscale(screen, self.size)
        return {seat: np.flip(small, axes) if axes else small for seat, axes in self.flips.items()}

    def reset(self, screen: np.ndarray) -> dict[str, np.ndarray]:
        """A game's first screen, filling every seat's stack: ``{seat: [size, size, depth] uint8}``."""
        return {seat: self.stacks[seat].reset(view) for seat, view in self._views(screen).items()}

    def push(self, screen: np.ndarray) -> dict[str, np.ndarray]:
        """The next screen: each seat's stack with it as the newest frame (the last channel)."""
        return {seat: self.stacks[seat].push(view) for seat, view in self._views(screen).items()}
