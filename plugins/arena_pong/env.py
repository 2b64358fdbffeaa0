"""The Pong emulator behind the PettingZoo Parallel API (imported lazily by ``pong.make_pong``).

Facts this relies on (measured on stable-retro 1.0.1):

* ``Start.2P``: both paddles are driven from player 0's button slot. Bits 4/5 (UP/DOWN) move the
  green right paddle, bits 6/7 (LEFT/RIGHT) the orange left one; bit 0 serves for green and bit
  15 for orange. After a point the ball comes back only when the scorer presses its serve bit,
  so both serve bits are always pressed.
* ``Start`` (one player): the agent is the green right paddle; the cartridge plays the left.
* RAM: ``score1`` is the left (orange) player's points, ``score2`` the right (green) player's;
  ``ball_y == 0`` means no ball in play; smaller paddle positions are higher on the screen.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from arena.errors import ArenaError
from arena.retro import RetroDuel
from arena.roms import ensure_ale_rom
from arena.screens import SeatScreens
from arena_pong import DOWN, NOOP, POS_CENTER, POS_SCALE, UP, PongOptions

GAME = "Pong-Atari2600-v0"
SEATS = ("left", "right")
NUM_FEATURES = 8
PADDLE_HALF = 6  # paddle position + 6 is its centre in ball coordinates
MIRROR_X = 256  # ball x seen from the left seat: 256 - x (paddles sit near x=69 and x=187)
VELOCITY_SCALE = 4.0
AIM_SCALE = 64.0
SERVE_BITS = (0, 15)
MIN_FRAMES_PER_POINT = 50  # a serve crosses the court in well over 50 frames
TWO_PLAYER_BITS = {"right": {UP: 4, DOWN: 5}, "left": {UP: 6, DOWN: 7}}


def ensure_rom() -> None:
    """Import Pong's ROM from ale-py into stable-retro on first use."""
    ensure_ale_rom(GAME, "Pong", "pong.bin")


def merge_actions(left: int, right: int) -> np.ndarray:
    """Both seats' actions as the 16-button mask of ``Start.2P`` (all in player 0's slot)."""
    mask = np.zeros(16, dtype=np.uint8)
    mask[list(SERVE_BITS)] = 1
    for seat, action in (("left", left), ("right", right)):
        bit = TWO_PLAYER_BITS[seat].get(int(action))
        if bit is not None:
            mask[bit] = 1
    return mask


def one_player_mask(right: int) -> np.ndarray:
    """The right seat's action as the 8-button mask of ``Start`` (the CPU plays left)."""
    mask = np.zeros(8, dtype=np.uint8)
    mask[0] = 1
    bit = TWO_PLAYER_BITS["right"].get(int(right))
    if bit is not None:
        mask[bit] = 1
    return mask


def features(ram: dict, previous: dict | None, frames_between: int, seat: str) -> np.ndarray:
    """The 8-number observation of ``seat``, as if it played the right paddle.

    ``[ball_x, ball_y, ball_vx, ball_vy, own_paddle, other_paddle, in_play, aim]``: positions
    centred and scaled to about [-1, 1], velocities in pixels per frame / 4, ``aim`` the ball's
    height minus the paddle centre / 64. For the left seat x and vx are mirrored.
    """
    mirror = seat == "left"
    in_play = ram["ball_y"] != 0
    own, other = (ram["p2_pos"], ram["p1_pos"]) if mirror else (ram["p1_pos"], ram["p2_pos"])
    own_c, other_c = own + PADDLE_HALF, other + PADDLE_HALF
    out = np.zeros(NUM_FEATURES, dtype=np.float32)
    out[4] = (own_c - POS_CENTER) / POS_SCALE
    out[5] = (other_c - POS_CENTER) / POS_SCALE
    if in_play:
        x = MIRROR_X - ram["ball_x"] if mirror else ram["ball_x"]
        out[0] = (x - POS_CENTER) / POS_SCALE
        out[1] = (ram["ball_y"] - POS_CENTER) / POS_SCALE
        out[6] = 1.0
        out[7] = (ram["ball_y"] - own_c) / AIM_SCALE
        if previous is not None and previous["ball_y"] != 0:
            dx = (ram["ball_x"] - previous["ball_x"]) / frames_between
            dy = (ram["ball_y"] - previous["ball_y"]) / frames_between
            if abs(dx) <= 8 and abs(dy) <= 8:  # larger jumps are a re-serve, not motion
                out[2] = (-dx if mirror else dx) / VELOCITY_SCALE
                out[3] = dy / VELOCITY_SCALE
    return np.clip(out, -1.0, 1.0)


class PongEnv(RetroDuel):
    """Two-seat Pong. With ``cpu_level`` set, only ``right`` is an agent and the cartridge plays left."""

    metadata = {"name": "arena_pong_v0", "render_modes": []}
    seats = SEATS
    player_seat = "right"
    title = "Pong"
    noop = NOOP

    def __init__(self, options: PongOptions | None = None, cpu_level: int | None = None):
        super().__init__(options or PongOptions(), cpu_level is not None, NUM_FEATURES, 3)
        ensure_rom()
        self._open(GAME, "Start" if self.cpu else "Start.2P")
        # RAM variables read straight from the emulator's live memory: update_ram() + lookup_all()
        # cost 20-45 us a step, six byte reads ~1 us. Every Pong variable is one unsigned byte.
        (self._ram_base,) = self._data.memory.blocks.keys()
        variables = self._data.list_variables()
        if any(v["type"] != "|u1" for v in variables.values()):
            raise ArenaError(f"unexpected Pong RAM variables in stable-retro's data.json: {variables}")
        self._ram_vars = [(name, v["address"] - self._ram_base) for name, v in variables.items()]
        self._masks = {}
        for left in (NOOP, UP, DOWN):
            for right in (NOOP, UP, DOWN):
                mask = merge_actions(left, right)
                self._masks[left, right] = (mask[:8].copy(), mask[8:].copy())
        self._masks_1p = {right: one_player_mask(right) for right in (NOOP, UP, DOWN)}
        self._ram: dict | None = None
        self._history: dict[str, deque] = {}
        # -o obs=pixels: each seat's last 4 screens at 84x84 grayscale, the left seat's mirrored.
        self._screens = SeatScreens({seat: (1,) if seat == "left" else () for seat in self.possible_agents})

    def scores(self) -> dict[str, int]:
        return {"left": int(self._ram["score1"]), "right": int(self._ram["score2"])}

    def _press(self, left: int, right: int, frames: int) -> None:
        try:
            masks = [self._masks_1p[right]] if self.cpu else self._masks[left, right]
        except KeyError:
            raise ValueError(f"Pong actions are 0 (noop), 1 (up), 2 (down); got left={left}, right={right}") from None
        self._hold(masks, frames)

    def _read_ram(self) -> dict:
        ram = self._data.memory.blocks[self._ram_base]
        return {name: ram[offset] for name, offset in self._ram_vars}

    def _observe(self, previous: dict | None, frames_between: int) -> dict:
        if self.options.obs == "pixels":
            screen = self._em.get_screen()  # a game's first (previous is None) fills the stacks
            return self._screens.reset(screen) if previous is None else self._screens.push(screen)
        return {seat: features(self._ram, previous, frames_between, seat) for seat in self.possible_agents}

    def _seen(self, fresh: dict) -> dict:
        # With delay d the agent acts on what the game looked like d steps ago.
        out = {}
        for seat, obs in fresh.items():
            history = self._history[seat]
            history.append(obs)
            out[seat] = history[0]
        return out

    def _infos(self) -> dict:
        scores = self.scores()
        return {
            seat: {
                "score": scores[seat],
                "opponent_score": scores["left" if seat == "right" else "right"],
                "frames": self._frames,
            }
            for seat in self.possible_agents
        }

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._press(NOOP, NOOP, self._begin(seed))
        self._ram = self._read_ram()
        fresh = self._observe(None, 1)
        self._history = {
            seat: deque([fresh[seat]] * (self.options.delay + 1), maxlen=self.options.delay + 1) for seat in self.agents
        }
        return self._seen(fresh), self._infos()

    def step(self, actions: dict[str, int]):
        chosen = self._choose(actions)
        previous = self._ram
        self._press(chosen["left"], chosen["right"], self.options.act_every)
        self._ram = self._read_ram()
        gains = (self._ram["score1"] - previous["score1"], self._ram["score2"] - previous["score2"])
        glitch = max(gains) > 1 + self.options.act_every // MIN_FRAMES_PER_POINT
        if glitch:
            # After a very long rally the cartridge can add several points in one frame: not
            # play. End the game there, scored as it stood.
            self._ram = previous
            gains = (0, 0)
        terminated = not glitch and max(self._ram["score1"], self._ram["score2"]) >= self.options.points
        truncated = glitch or (not terminated and self._frames >= self.options.max_frames)
        observations = self._seen(self._observe(previous, self.options.act_every))
        return self._end_step(observations, gains[1] - gains[0], terminated, truncated, self._infos())
