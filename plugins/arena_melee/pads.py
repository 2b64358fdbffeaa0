"""Controller input through Dolphin's pipe pads, and the discrete action set.

Dolphin opens every FIFO in ``<user>/Pipes/`` at start-up and reads lines like ``PRESS A``,
``RELEASE B``, ``SET MAIN 0.5 1`` and ``SET L 1`` from it (Dolphin's Pipes.cpp; see
docs/melee.md). Each write here carries the pad's whole state, so a
lost or merged write never leaves a button stuck.

Plain Python (``os`` only): the registration module reads the action names from here.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from arena.errors import ArenaError

BUTTONS = ("A", "B", "X", "Y", "Z", "START", "L", "R", "D_UP", "D_DOWN", "D_LEFT", "D_RIGHT")
NEUTRAL = (0.5, 0.5)


def _num(value: float) -> str:
    return f"{float(value):.4g}"


@dataclass(frozen=True)
class ControllerState:
    """One frame of a GameCube pad: pressed buttons, both sticks and both analog triggers.

    Sticks are ``(x, y)`` in [0, 1] with 0.5 neutral and y = 1 up; triggers are in [0, 1].
    """

    buttons: frozenset[str] = frozenset()
    main: tuple[float, float] = NEUTRAL
    c: tuple[float, float] = NEUTRAL
    l: float = 0.0  # noqa: E741 (the trigger's name)
    r: float = 0.0

    def __post_init__(self):
        unknown = set(self.buttons) - set(BUTTONS)
        if unknown:
            raise ValueError(f"unknown buttons {sorted(unknown)}; valid: {', '.join(BUTTONS)}")
        for name, value in (("main", self.main), ("c", self.c)):
            if len(value) != 2 or not all(0.0 <= v <= 1.0 for v in value):
                raise ValueError(f"{name} stick must be (x, y) in [0, 1], got {value}")
        if not (0.0 <= self.l <= 1.0 and 0.0 <= self.r <= 1.0):
            raise ValueError(f"triggers must be in [0, 1], got l={self.l} r={self.r}")

    def commands(self) -> bytes:
        """The pipe commands that put a pad in exactly this state."""
        lines = [f"{'PRESS' if b in self.buttons else 'RELEASE'} {b}" for b in BUTTONS]
        lines.append(f"SET MAIN {_num(self.main[0])} {_num(self.main[1])}")
        lines.append(f"SET C {_num(self.c[0])} {_num(self.c[1])}")
        lines.append(f"SET L {_num(self.l)}")
        lines.append(f"SET R {_num(self.r)}")
        return ("\n".join(lines) + "\n").encode("ascii")


RELEASED = ControllerState()

# The discrete action set, in the spirit of phillip's: one of six button choices (none, A, B, Z,
# Y to jump, L to shield) times the main stick at nine positions (neutral and eight directions,
# phillip's axis granularity of 3). Action 0 is "nothing pressed, stick neutral".
BUTTON_CHOICES = ("none", "A", "B", "Z", "Y", "L")
STICKS = (
    ("neutral", (0.5, 0.5)),
    ("up", (0.5, 1.0)),
    ("up-right", (1.0, 1.0)),
    ("right", (1.0, 0.5)),
    ("down-right", (1.0, 0.0)),
    ("down", (0.5, 0.0)),
    ("down-left", (0.0, 0.0)),
    ("left", (0.0, 0.5)),
    ("up-left", (0.0, 1.0)),
)


def _action_state(button: str, stick: tuple[float, float]) -> ControllerState:
    if button == "none":
        return ControllerState(main=stick)
    if button == "L":  # digital L plus a fully pressed analog trigger: a full shield
        return ControllerState(frozenset({"L"}), main=stick, l=1.0)
    return ControllerState(frozenset({button}), main=stick)


ACTIONS: tuple[ControllerState, ...] = tuple(_action_state(button, stick) for button in BUTTON_CHOICES for _, stick in STICKS)


def _meaning(button: str, stick: str) -> str:
    if button == "none":
        return "noop" if stick == "neutral" else stick
    return button if stick == "neutral" else f"{button}+{stick}"


ACTION_MEANINGS: tuple[str, ...] = tuple(_meaning(button, stick) for button in BUTTON_CHOICES for stick, _ in STICKS)
ACTION_COMMANDS: tuple[bytes, ...] = tuple(a.commands() for a in ACTIONS)  # written every step
NUM_ACTIONS = len(ACTIONS)


class Pad:
    """The writing end of one pipe pad. Dolphin holds the reading end from its start-up."""

    def __init__(self, path: str):
        self.path = str(path)
        self.fd: int | None = None

    def open(self, timeout: float, check: Callable[[], None] | None = None) -> Pad:
        """Open once Dolphin reads the FIFO; ``check()`` may raise if Dolphin died meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Non-blocking: with no reader yet this fails (ENXIO) instead of hanging.
                self.fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                return self
            except FileNotFoundError:
                raise ArenaError(f"pad pipe {self.path} does not exist; the Dolphin user folder lacks its Pipes/ FIFO") from None
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise ArenaError(f"cannot open pad pipe {self.path}: {exc.strerror}") from None
            if check is not None:
                check()
            if time.monotonic() > deadline:
                raise ArenaError(
                    f"Dolphin did not open its pad pipe {self.path} within {timeout:g}s "
                    f"(GCPadNew.ini must say Device = Pipe/0/{os.path.basename(self.path)}); raise -o timeout=SECONDS if Dolphin is slow to start"
                )
            time.sleep(0.02)

    def send(self, data: bytes) -> None:
        if self.fd is None:
            raise RuntimeError(f"pad {self.path} is not open")
        try:
            # Well under PIPE_BUF, so the write is atomic: all of it or EAGAIN.
            os.write(self.fd, data)
        except BlockingIOError:
            raise ArenaError(f"Dolphin stopped reading pad pipe {self.path} (its buffer is full): is Dolphin hung?") from None
        except BrokenPipeError:
            raise ArenaError(f"Dolphin closed pad pipe {self.path}: did it exit?") from None

    def set(self, state: ControllerState) -> None:
        self.send(state.commands())

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            finally:
                self.fd = None
