"""The Boxing emulator behind the PettingZoo Parallel API (imported lazily by ``make_boxing``).

Facts this relies on (measured on stable-retro 1.0.1):

* Only state ``Start`` ships, and in it the black boxer is the cartridge's computer whatever the
  number of players. Pressing SELECT once (game 2) then RESET gives a two-player game where
  player 1's joystick drives the black boxer. :func:`two_player_state` derives that state once,
  checks it, and caches it in ``$ARENA_HOME/cache/`` under a file lock.
* RAM (stable-retro addresses, 128 + the Atari's RAM index): 160/161 white/black x (ring 30..109),
  162/163 white/black y (ring 3..87; larger is lower), 146/147 white/black score (BCD, 0xC0 is a
  KO: 100), 144 minutes (high nibble), 145 seconds (BCD). The clock starts at 1:59 and the game
  stops at 0:00 (about 7,140 frames) or at a KO.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import tempfile
from pathlib import Path

import numpy as np

from arena import paths
from arena.errors import ArenaError
from arena.retro import RetroDuel
from arena.roms import ensure_ale_rom
from arena.screens import SeatScreens
from arena_boxing import (
    ACTION_MEANINGS,
    ACTIONS,
    CENTER_X,
    CENTER_Y,
    GAME_SECONDS,
    HALF_X,
    HALF_Y,
    KO_POINTS,
    NOOP,
    NUM_FEATURES,
    BoxingOptions,
)

GAME = "Boxing-Atari2600-v0"
SEATS = ("white", "black")
RAM_BASE = 128
WHITE_X, BLACK_X, WHITE_Y, BLACK_Y = 160, 161, 162, 163
WHITE_SCORE, BLACK_SCORE, MINUTES, SECONDS = 146, 147, 144, 145
KO = 0xC0
BUTTON, SELECT, RESET, UP, DOWN, LEFT, RIGHT = 0, 2, 3, 4, 5, 6, 7


def ensure_rom() -> None:
    """Import Boxing's ROM from ale-py into stable-retro on first use."""
    ensure_ale_rom(GAME, "Boxing", "boxing.bin")


def button_mask(fire: int, dx: int, dy: int) -> np.ndarray:
    """One joystick's 8-button mask for a move in *screen* directions (dy > 0 is down)."""
    mask = np.zeros(8, dtype=np.uint8)
    mask[BUTTON] = fire
    if dx:
        mask[RIGHT if dx > 0 else LEFT] = 1
    if dy:
        mask[DOWN if dy > 0 else UP] = 1
    return mask


def seat_masks(seat: str) -> list[np.ndarray]:
    """Each action's button mask for ``seat``: black's view is the ring turned 180 degrees, so its
    right is the screen's left and its up the screen's down."""
    sign = -1 if seat == "black" else 1
    return [button_mask(fire, sign * dx, sign * dy) for _, fire, dx, dy in ACTIONS]


def bcd(value: int) -> int:
    """A score byte as points (0xC0, shown as 'KO', is 100)."""
    value = int(value)
    if value == KO:
        return KO_POINTS
    return (value >> 4) * 10 + (value & 0x0F)


def clock(ram) -> int:
    """Seconds left on the cartridge's clock."""
    return (ram[MINUTES - RAM_BASE] >> 4) * 60 + bcd(ram[SECONDS - RAM_BASE])


def features(ram, seat: str) -> np.ndarray:
    """The 8-number observation of ``seat``, as if it played white.

    ``[own_x, own_y, other_x, other_y, dx, dy, clock, score_diff]``: positions centred on the ring
    and scaled to [-1, 1] (turned 180 degrees, i.e. negated, for black), ``dx, dy`` the other
    boxer minus the own one in the same units / 2, ``clock`` the seconds left / 120, ``score_diff``
    own points minus the other's / 100.
    """
    white = ((ram[WHITE_X - RAM_BASE] - CENTER_X) / HALF_X, (ram[WHITE_Y - RAM_BASE] - CENTER_Y) / HALF_Y)
    black = ((ram[BLACK_X - RAM_BASE] - CENTER_X) / HALF_X, (ram[BLACK_Y - RAM_BASE] - CENTER_Y) / HALF_Y)
    scores = (bcd(ram[WHITE_SCORE - RAM_BASE]), bcd(ram[BLACK_SCORE - RAM_BASE]))
    if seat == "black":
        own, other = (-black[0], -black[1]), (-white[0], -white[1])
        diff = scores[1] - scores[0]
    else:
        own, other, diff = white, black, scores[0] - scores[1]
    out = np.array(
        [
            own[0],
            own[1],
            other[0],
            other[1],
            (other[0] - own[0]) / 2,
            (other[1] - own[1]) / 2,
            clock(ram) / GAME_SECONDS,
            diff / KO_POINTS,
        ],
        dtype=np.float32,
    )
    return np.clip(out, -1.0, 1.0)


def cache_path() -> Path:
    """Where the derived two-player state is kept: ``$ARENA_HOME/cache/``, per stable-retro version
    (a save state belongs to the emulator that wrote it)."""
    import stable_retro

    version = str(getattr(stable_retro, "__version__", "unknown")).strip()
    return (paths.data_dir() / "cache" / f"Boxing-Atari2600-v0.2P.stable-retro-{version}.state").resolve()


def _ram(data) -> np.ndarray:
    return data.memory.blocks[RAM_BASE]


def _press(em, p0: np.ndarray, p1: np.ndarray | None, frames: int) -> None:
    em.set_button_mask(p0, 0)
    if p1 is not None:  # None: one-player game, the cartridge boxes black
        em.set_button_mask(p1, 1)
    for _ in range(frames):
        em.step()


def _is_two_player(em, data, state: bytes) -> bool:
    """Whether ``state`` gives player 1 the black boxer: left alone, black stays put (the
    cartridge's computer would walk toward white); on player 1's LEFT it moves left. Leaves the
    emulator in ``state``'s game, 40 frames on."""
    idle = np.zeros(8, dtype=np.uint8)
    try:
        em.set_state(state)
    except Exception:
        return False
    start = (int(_ram(data)[BLACK_X - RAM_BASE]), int(_ram(data)[BLACK_Y - RAM_BASE]))
    _press(em, idle, idle, 20)
    still = (int(_ram(data)[BLACK_X - RAM_BASE]), int(_ram(data)[BLACK_Y - RAM_BASE])) == start
    _press(em, idle, button_mask(0, -1, 0), 20)
    moved = int(_ram(data)[BLACK_X - RAM_BASE]) <= start[0] - 10
    return still and moved


def derive_two_player_state(em, data) -> bytes:
    """From the shipped ``Start`` (already loaded in ``em``): SELECT once (game 2), RESET."""
    idle = np.zeros(8, dtype=np.uint8)
    select, reset = np.zeros(8, dtype=np.uint8), np.zeros(8, dtype=np.uint8)
    select[SELECT] = 1
    reset[RESET] = 1
    _press(em, idle, idle, 5)
    _press(em, select, idle, 5)
    _press(em, idle, idle, 5)
    _press(em, reset, idle, 5)
    _press(em, idle, idle, 5)
    return em.get_state()


def two_player_state(em, data) -> bytes:
    """The two-player state: from the cache if it is there and checks out, else derived from the
    shipped one (``em`` must have it loaded) and cached. A lock keeps parallel workers from
    deriving and writing it at once; the file is replaced atomically, so readers never see half."""
    shipped = em.get_state()
    path = cache_path()
    state = _read_state(path)
    if state is not None and _is_two_player(em, data, state):
        return state
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = open(path.with_name(path.name + ".lock"), "w")
    except OSError:
        lock = None  # an unwritable ARENA_HOME: derive every time, cache nothing
    try:
        if lock is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = _read_state(path)
            if state is not None and _is_two_player(em, data, state):
                return state
        em.set_state(shipped)
        state = derive_two_player_state(em, data)
        if not _is_two_player(em, data, state):
            raise ArenaError(
                "could not derive Boxing's two-player state (SELECT then RESET did not hand the black boxer to "
                "player 2); is the ROM stable-retro's Boxing-Atari2600-v0?"
            )
        if lock is not None:
            try:
                with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as tmp:
                    with gzip.open(tmp, "wb") as gz:
                        gz.write(state)
                os.replace(tmp.name, path)
            except OSError:
                pass  # caching is an optimisation
        return state
    finally:
        if lock is not None:
            lock.close()


def _read_state(path: Path) -> bytes | None:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except (OSError, EOFError):
        return None


class BoxingEnv(RetroDuel):
    """Two-seat Boxing. With ``cpu_level`` set, only ``white`` is an agent and the cartridge's
    computer boxes black."""

    metadata = {"name": "arena_boxing_v0", "render_modes": []}
    seats = SEATS
    player_seat = "white"
    title = "Boxing"
    noop = NOOP

    def __init__(self, options: BoxingOptions | None = None, cpu_level: int | None = None):
        import stable_retro

        super().__init__(options or BoxingOptions(), cpu_level is not None, NUM_FEATURES, len(ACTIONS))
        ensure_rom()
        self._open(GAME, "Start", use_restricted_actions=stable_retro.Actions.ALL)
        if RAM_BASE not in self._data.memory.blocks:
            raise ArenaError(f"unexpected Boxing RAM layout in stable-retro: blocks {list(self._data.memory.blocks)}")
        if not self.cpu:
            try:
                self._retro.reset()  # loads the shipped Start
                self._retro.unwrapped.initial_state = two_player_state(self._em, self._data)
            except BaseException:
                self.close()
                raise
        self._masks = {seat: seat_masks(seat) for seat in SEATS}
        self._scores = (0, 0)
        # -o obs=pixels: each seat's last 4 screens at 84x84 grayscale, black's turned 180 degrees.
        self._screens = SeatScreens({seat: (0, 1) if seat == "black" else () for seat in self.possible_agents})

    def scores(self) -> dict[str, int]:
        return {"white": self._scores[0], "black": self._scores[1]}

    def clock(self) -> int:
        """Seconds left on the cartridge's clock."""
        return clock(_ram(self._data))

    def _press(self, white: int, black: int, frames: int) -> None:
        if not (0 <= white < len(ACTIONS) and 0 <= black < len(ACTIONS)):
            raise ValueError(
                f"Boxing actions are 0-{len(ACTIONS) - 1} ({', '.join(ACTION_MEANINGS)}); got white={white}, black={black}"
            )
        # One player: the cartridge boxes black, so only white's mask reaches the emulator.
        masks = [self._masks["white"][white]] + ([] if self.cpu else [self._masks["black"][black]])
        self._hold(masks, frames)

    def _read_scores(self) -> tuple[int, int]:
        ram = _ram(self._data)
        return bcd(ram[WHITE_SCORE - RAM_BASE]), bcd(ram[BLACK_SCORE - RAM_BASE])

    def _observe(self, first: bool = False) -> dict:
        if self.options.obs == "pixels":
            screen = self._em.get_screen()  # a game's first fills the stacks
            return self._screens.reset(screen) if first else self._screens.push(screen)
        ram = _ram(self._data)
        return {seat: features(ram, seat) for seat in self.possible_agents}

    def _infos(self) -> dict:
        scores = self.scores()
        clock_left = self.clock()
        return {
            seat: {
                "score": scores[seat],
                "opponent_score": scores["white" if seat == "black" else "black"],
                "frames": self._frames,
                "clock": clock_left,
            }
            for seat in self.possible_agents
        }

    def _over(self) -> bool:
        return max(self._scores) >= KO_POINTS or self.clock() == 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._press(NOOP, NOOP, self._begin(seed))
        self._scores = self._read_scores()
        return self._observe(first=True), self._infos()

    def step(self, actions: dict[str, int]):
        chosen = self._choose(actions)
        before = self._scores
        self._press(chosen["white"], chosen["black"], self.options.act_every)
        self._scores = self._read_scores()
        white_gain = (self._scores[0] - before[0]) - (self._scores[1] - before[1])
        terminated = self._over()
        truncated = not terminated and self._frames >= self.options.max_frames
        return self._end_step(self._observe(), white_gain, terminated, truncated, self._infos())
