"""Sonic The Hedgehog and Airstriker (Genesis, through stable-retro) as the A2C course played them.

Both are one-player games played head to head: the two seats take turns from the same start (the
same level and seed) and the higher score wins, the way the retro contest ranked its entries.
Training plays the first seat's turn alone. Each game is wrapped as the course wrapped Sonic
(:mod:`arena_sonic.wrappers`): 7 button combinations, rewards x 0.01 with only new progress
paying, 96x96 grayscale screens in a stack of 4. Airstriker ships with stable-retro, so CI runs
every path Sonic takes; Sonic's ROM is the user's to import (``arena roms import``).

This module stays cheap to import: the emulator lives in :mod:`arena_sonic.env`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from arena import hookimpl
from arena.plugins.envs import EnvSpec

SEATS = ("first", "second")  # turn order: the first seat plays its turn, then the second
# The course's 7 actions (arena_sonic.wrappers.SONIC_ACTIONS), named as the env reports them.
ACTION_MEANINGS = ("LEFT", "RIGHT", "LEFT+DOWN", "RIGHT+DOWN", "DOWN", "DOWN+B", "B")
FRAME_SIZE, STACK = 96, 4  # the course's screens: arena_sonic.wrappers.FRAME_SIZE, STACK
CONTEST_FRAMES = 18_000  # the retro contest cut an episode after 4,500 steps of 4 frames (5 minutes)

# The course's 13 training levels, in its order, and its held-out test level.
SONIC_TRAINING_LEVELS = (
    "SpringYardZone.Act3", "SpringYardZone.Act2", "GreenHillZone.Act3", "GreenHillZone.Act1",
    "StarLightZone.Act2", "StarLightZone.Act1", "MarbleZone.Act2", "MarbleZone.Act1", "MarbleZone.Act3",
    "ScrapBrainZone.Act2", "LabyrinthZone.Act2", "LabyrinthZone.Act1", "LabyrinthZone.Act3",
)  # fmt: skip
SONIC_TEST_LEVEL = "GreenHillZone.Act2"
SONIC_LEVELS = (
    *SONIC_TRAINING_LEVELS, SONIC_TEST_LEVEL, "ScrapBrainZone.Act1", "SpringYardZone.Act1", "StarLightZone.Act3",
)  # every level stable-retro has a start state for  # fmt: skip


@dataclass(frozen=True)
class TurnsOptions:
    """Options of a one-player game played in turns (``-o key=value``)."""

    GAME: ClassVar[str] = ""
    ALL_LEVELS: ClassVar[tuple[str, ...]] = ()
    ALL_MEANS: ClassVar[tuple[str, ...]] = ()  # what levels=all plays

    act_every: int = 4
    """Emulator frames each action is held (action repeat): one agent step. The course acted on
    every frame (``-o act_every=1``, with ``--set reward_halflife=1.15`` for its gamma 0.99); 4,
    Atari's usual repeat, gives the network a quarter of the screens to read."""
    max_frames: int = CONTEST_FRAMES
    """Frames after which a turn is cut off (truncated) and scored as it stands: the retro
    contest's 5 minutes."""
    noop_max: int = 30
    """Up to this many no-op frames at the start of a turn, drawn from the game's seed: both seats
    of a game get the same, so they start alike, and other seeds start elsewhere."""
    sticky: float = 0.0
    """Each step, the probability that the previous action is repeated instead of the new one,
    drawn from the game's seed (ALE's sticky actions; the course had none)."""
    levels: str = ""
    """The levels games are played on: ``all``, one level, or a comma-separated list. A game's
    seed picks its level (seed modulo the number of levels), so a match of N games and a training
    run's workers go round them; each game's record says which it played."""

    def __post_init__(self):
        for name, low in (("act_every", 1), ("max_frames", 1), ("noop_max", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if not 0.0 <= self.sticky < 1.0:
            raise ValueError(f"sticky must be in [0, 1), got {self.sticky}")
        self.level_list()  # an unknown level is bad input now, not in a worker

    def level_list(self) -> tuple[str, ...]:
        """The levels this game goes round, in order."""
        text = self.levels.strip()
        if text == "all":
            return self.ALL_MEANS
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in self.ALL_LEVELS]
        if unknown or not names:
            what = f"no level '{unknown[0]}'" if unknown else "no level given"
            raise ValueError(f"{self.GAME} has {what}; levels: all, or any of {', '.join(self.ALL_LEVELS)}")
        return names


@dataclass(frozen=True)
class AirstrikerOptions(TurnsOptions):
    """Options of the ``airstriker`` environment (``-o key=value``)."""

    GAME: ClassVar[str] = "Airstriker"
    ALL_LEVELS: ClassVar[tuple[str, ...]] = ("Level1",)
    ALL_MEANS: ClassVar[tuple[str, ...]] = ("Level1",)

    levels: str = "Level1"
    """Airstriker has one level, ``Level1``."""


@dataclass(frozen=True)
class SonicOptions(TurnsOptions):
    """Options of the ``sonic`` environment (``-o key=value``)."""

    GAME: ClassVar[str] = "Sonic The Hedgehog"
    ALL_LEVELS: ClassVar[tuple[str, ...]] = SONIC_LEVELS
    ALL_MEANS: ClassVar[tuple[str, ...]] = SONIC_TRAINING_LEVELS

    levels: str = "all"
    """``all``: the course's 13 training levels; its held-out test level is
    ``GreenHillZone.Act2``."""


@dataclass(frozen=True)
class Game:
    """What differs between the games played in turns: stable-retro's name, the scenario whose
    reward is the score, and where a user gets the ROM (``None``: it ships with stable-retro)."""

    retro: str
    title: str
    scenario: str | None = None
    rom_source: str | None = None


AIRSTRIKER_GAME = Game(retro="Airstriker-Genesis-v0", title="Airstriker (Genesis)")
SONIC_GAME = Game(
    retro="SonicTheHedgehog-Genesis-v0",
    title="Sonic The Hedgehog (Genesis)",
    scenario="contest",  # the retro contest's reward: progress to the level's end, plus a bonus for finishing fast
    rom_source="buy it (e.g. Steam's SEGA Mega Drive & Genesis Classics, whose ROMs folder holds it)",
)


def turns_spec(name: str, game: Game, options: type[TurnsOptions], description: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``game`` played in turns with the course's wrappers."""

    def make(options: TurnsOptions, cpu_level: int | None):
        from arena_sonic.env import TurnsEnv  # the emulator is imported only here

        return TurnsEnv(game, options)

    def require(options: TurnsOptions) -> None:
        from arena.roms import require_rom

        require_rom(game.retro, game.title, game.rom_source)

    return EnvSpec(
        name=name,
        make=make,
        description=description,
        seats=SEATS,
        num_actions=len(ACTION_MEANINGS),
        options=options,
        action_meanings=ACTION_MEANINGS,
        observation_shape=lambda options: (FRAME_SIZE, FRAME_SIZE, STACK),
        records=True,
        single_player=True,
        require=require,
    )


AIRSTRIKER = turns_spec(
    "airstriker", AIRSTRIKER_GAME, AirstrikerOptions,
    "Airstriker (Genesis, ships with stable-retro): one-player shooter, two agents compared on score",
)  # fmt: skip
SONIC = turns_spec(
    "sonic", SONIC_GAME, SonicOptions,
    "Sonic The Hedgehog (Genesis; import your ROM) as the A2C course trained it, compared on score",
)  # fmt: skip


@hookimpl
def arena_register_envs(register):
    register(AIRSTRIKER)
    register(SONIC)
