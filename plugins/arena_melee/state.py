"""What the reader returns: the game as plain, immutable Python values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

DEAD_ACTION_MAX = 0xA  # action states 0x0-0xA are the death animations (phillip, libmelee)
# The damage (hitstun) action states, libmelee's Action enum DAMAGE_HIGH_1 0x4B .. DAMAGE_FLY_ROLL
# 0x5B. The hitstun field (+0x23A0) is a per-motion-state union: outside these it holds some other
# state's data, so the reader reports hitstun 0 there.
DAMAGE_ACTION_MIN, DAMAGE_ACTION_MAX = 0x4B, 0x5B


def in_damage_state(action_state: int) -> bool:
    return DAMAGE_ACTION_MIN <= action_state <= DAMAGE_ACTION_MAX


class Scene(str, Enum):  # noqa: UP042 (StrEnum would change str(), which messages use)
    """Where the game is, from the major and minor scene bytes."""

    MENU = "menu"  # title screen, main menu, memory-card prompts: anything outside VS mode
    CHARACTER_SELECT = "character select"
    STAGE_SELECT = "stage select"
    IN_GAME = "in game"
    POST_GAME = "post-game"


VS_MAJOR = 2
_VS_MINOR = {0: Scene.CHARACTER_SELECT, 1: Scene.STAGE_SELECT, 2: Scene.IN_GAME, 3: Scene.IN_GAME, 4: Scene.POST_GAME}


def scene_of(major: int, minor: int) -> Scene:
    """VS mode's minor scenes: 0 char select, 1 stage select, 2 game, 3 sudden death, 4 results."""
    if major != VS_MAJOR:
        return Scene.MENU
    return _VS_MINOR.get(minor, Scene.MENU)


@dataclass(frozen=True)
class PlayerState:
    """One port's player. ``present`` is False when its entity pointer is null (no fighter in
    the game: in menus, an empty port, or after the last stock); entity fields are then 0."""

    port: int
    present: bool
    character: int  # external character id (tables.CHARACTER_BY_EXTERNAL)
    x: float
    y: float
    percent: int
    stocks: int
    facing: float = 0.0  # 1.0 right, -1.0 left
    action_state: int = 0
    action_frame: float = 0.0
    in_air: bool = False
    jumps_used: int = 0
    hitlag: float = 0.0
    hitstun: float = 0.0  # 0 outside the damage action states (in_damage_state)
    shield: float = 0.0
    invulnerable: bool = False  # either the fighter's or its move's invulnerability is set
    speed_air_x_self: float = 0.0
    speed_y_self: float = 0.0
    speed_x_attack: float = 0.0
    speed_y_attack: float = 0.0
    speed_ground_x_self: float = 0.0

    @property
    def dead(self) -> bool:
        """In a death animation, or no longer in the game at all."""
        return not self.present or self.action_state <= DEAD_ACTION_MAX


@dataclass(frozen=True)
class GameState:
    frame: int
    major_scene: int
    minor_scene: int
    stage: int
    players: dict[int, PlayerState]  # port (1-4) -> player

    @property
    def scene(self) -> Scene:
        return scene_of(self.major_scene, self.minor_scene)


HAND_EMPTY = 2  # the char-select hand-state byte of a hand holding nothing (its coin is down)


@dataclass(frozen=True)
class MenuState:
    """What the menu driver needs on the character- and stage-select screens."""

    frame: int
    major_scene: int
    minor_scene: int
    port_types: dict[int, int]  # 0 human, 1 CPU, 3 off
    css_characters: dict[int, int]  # character-select grid id per port
    cpu_levels: dict[int, int]
    cursors: dict[int, tuple[float, float] | None]  # char-select hand per port; None if not set up
    ready: bool  # the "ready to fight" banner is shown
    stage_cursor: tuple[float, float] | None  # None when the stage-select cursor is not set up
    stage: int
    # What each char-select hand holds (port -> hand-state byte; None where the hand is not set
    # up): picking a character depends on it. And whether each port's CPU-level slider is held.
    hands: dict[int, int | None] = field(default_factory=dict)
    sliders_held: dict[int, bool] = field(default_factory=dict)

    @property
    def scene(self) -> Scene:
        return scene_of(self.major_scene, self.minor_scene)

    def hand_empty(self, port: int) -> bool:
        return self.hands.get(port) == HAND_EMPTY


PORT_HUMAN, PORT_CPU, PORT_OFF = 0, 1, 3
PORT_TYPE_NAMES = {PORT_HUMAN: "human", PORT_CPU: "CPU", PORT_OFF: "off"}
