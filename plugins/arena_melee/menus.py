"""Getting from whatever menu the game is in to a fresh game with the chosen settings.

A closed loop, called once per few frames with the menu state just read; it returns each pad's
next state. On the character-select screen every port steers its own hand, as libmelee does:
pick the character (carry the port's coin to the portrait and press A: the character byte follows
a carried coin before A, so a character counts as picked only once the hand is empty); click the
port's human/CPU toggle until the port type reads as wanted; for a CPU, grab the level slider at
its handle (which sits where the current level is), tilt until the CPU-level byte reads the
level, and let go, going by the byte that says whether the slider is held. When every port is
set and the "ready to fight" banner shows, the lead port presses START. On the stage-select
screen the lead port steers the stage cursor to the stage and presses A. Only a game started
from a character select this driver completed counts: from a stage select it did not reach
itself it backs out with B, a game already running is quit with pause and L+R+A+START, the
post-game screen is skipped with START, and title and memory-card screens get START and A.

Coordinates and bytes: libmelee; the game's rules
that the driver follows: the game's decompilation (doldecomp/melee).
"""

from __future__ import annotations

from dataclasses import dataclass

from arena_melee.pads import RELEASED, ControllerState
from arena_melee.state import PORT_CPU, PORT_HUMAN, PORT_TYPE_NAMES, MenuState, Scene
from arena_melee.tables import CHARACTER_BY_CSS, Character, Stage

ARRIVED = 1.5  # how close the hand must be to a target to click it (libmelee's wiggle room)
FULL_TILT_DISTANCE = 10.0  # farther than this from the target: stick fully tilted
MIN_TILT = 0.3  # the smallest deflection used, well outside the stick's dead zone
HOLD_FRAMES = 2  # each decision is held at least this many frames, so Dolphin's poll sees it
# An empty hand picks up its own coin only when it enters the portraits (0.2 < y < 22); a hand
# carrying its coin below them puts it down with no character (decomp rule 1).
PORTRAITS_BOTTOM, PORTRAITS_TOP = 0.2, 22.0
BELOW_PORTRAITS = -2.0  # where an empty hand goes to leave the portraits and re-enter them

A = ControllerState(frozenset({"A"}))
B = ControllerState(frozenset({"B"}))
START = ControllerState(frozenset({"START"}))
LRA = ControllerState(frozenset({"L", "R", "A"}), l=1.0, r=1.0)
LRA_START = ControllerState(frozenset({"L", "R", "A", "START"}), l=1.0, r=1.0)
# VS mode's way out of a game is START while paused, with L+R+A held. Holding L+R+A, press START
# twice: the first pauses (or quits if already paused), the second quits. Never a lone START,
# which could unpause. Pausing starts a 10-frame timer in which START is ignored (decomp rule 6),
# so the second START comes more than PAUSE_FRAMES later: each decision lasts HOLD_FRAMES or more.
PAUSE_FRAMES = 10
_PAUSE_WAIT = (LRA,) * (PAUSE_FRAMES // HOLD_FRAMES + 1)
QUIT_SEQUENCE = (LRA, LRA, LRA_START, *_PAUSE_WAIT, LRA_START, LRA, RELEASED, RELEASED)
# Title screen and memory-card prompts: START and A, slowly enough for each screen to load.
MENU_SEQUENCE = (START, RELEASED, RELEASED, RELEASED, RELEASED, A, RELEASED, RELEASED, RELEASED, RELEASED)


def toggle_position(port: int) -> tuple[float, float]:
    """The port's human/CPU toggle on the character-select screen."""
    return -32.2 + 15.82 * (port - 1), -2.2


def slider_position(port: int, level: int = 1) -> tuple[float, float]:
    """The port's CPU-level slider handle at ``level``: the level is int(0.8 * offset + 0.5) + 1
    of the handle's offset along the slider (decomp rule 5), taking libmelee's handle position
    as level 1's (an assumption: libmelee is the only source, and it needs the disc)."""
    return -30.9 + 15.4 * (port - 1) + (level - 1) / 0.8, -15.12


@dataclass(frozen=True)
class PortPlan:
    """What one port should end up as: a character, and a CPU level or None for a human."""

    port: int
    character: Character
    cpu_level: int | None = None

    @property
    def port_type(self) -> int:
        return PORT_HUMAN if self.cpu_level is None else PORT_CPU


def tilt(delta: float) -> float:
    if abs(delta) < ARRIVED / 2:
        return 0.5
    size = min(max(abs(delta) / FULL_TILT_DISTANCE * 0.5, MIN_TILT), 0.5)
    return 0.5 + size if delta > 0 else 0.5 - size


def toward(cursor: tuple[float, float], target: tuple[float, float]) -> ControllerState:
    return ControllerState(main=(tilt(target[0] - cursor[0]), tilt(target[1] - cursor[1])))


def arrived(cursor: tuple[float, float], target: tuple[float, float]) -> bool:
    return abs(cursor[0] - target[0]) < ARRIVED and abs(cursor[1] - target[1]) < ARRIVED


class MenuDriver:
    """One reset's way through the menus; ``decide`` is called with each fresh menu state."""

    def __init__(self, plans: list[PortPlan], stage: Stage, lead: int):
        self.plans = {plan.port: plan for plan in plans}
        self.stage = stage
        self.lead = lead
        self.settled = False  # START pressed on a character select set up as planned: the next game is ours
        self._last: dict[int, ControllerState] = {port: RELEASED for port in self.plans}
        self._scene = None
        self._step = 0  # decisions since the scene last changed

    # -- helpers -------------------------------------------------------------------------------

    def _tap(self, port: int, press: ControllerState) -> ControllerState:
        # Alternate press and release: a held button is one press, however long.
        return RELEASED if self._last[port].buttons else press

    def _click(self, port: int, cursor: tuple[float, float], target: tuple[float, float]) -> ControllerState:
        if not arrived(cursor, target):
            return toward(cursor, target)
        return self._tap(port, A)

    # -- screens -------------------------------------------------------------------------------

    @staticmethod
    def picked(plan: PortPlan, menu: MenuState) -> bool:
        """The port's coin is down on its character: the byte matches and the hand is empty."""
        return menu.css_characters.get(plan.port) == plan.character.css_id and menu.hand_empty(plan.port)

    def port_done(self, plan: PortPlan, menu: MenuState) -> bool:
        port = plan.port
        return (
            self.picked(plan, menu)
            and menu.port_types.get(port) == plan.port_type
            and (plan.cpu_level is None or menu.cpu_levels.get(port) == plan.cpu_level)
            and not menu.sliders_held.get(port)
        )

    def _character_select_port(self, plan: PortPlan, menu: MenuState) -> ControllerState:
        port = plan.port
        cursor = menu.cursors.get(port)
        if cursor is None:
            return RELEASED  # the hand is not set up yet (the screen is loading)
        level = menu.cpu_levels.get(port)
        if menu.sliders_held.get(port):
            # The slider first: while it is held the hand may not read as empty, nor click anything.
            if plan.cpu_level is not None and level != plan.cpu_level and menu.port_types.get(port) == PORT_CPU:
                return ControllerState(main=(0.65 if level < plan.cpu_level else 0.35, 0.5))
            return self._tap(port, A)  # the level is right (or no slider is wanted): let go
        if not self.picked(plan, menu):
            if menu.hand_empty(port) and PORTRAITS_BOTTOM < cursor[1] < PORTRAITS_TOP:
                # An empty hand among the portraits picks nothing up: leave them, to enter again.
                return toward(cursor, (cursor[0], BELOW_PORTRAITS))
            # Carry the coin to the portrait (the byte shows it already) and put it down with A.
            return self._click(port, cursor, plan.character.css_position)
        if menu.port_types.get(port) != plan.port_type:
            return self._click(port, cursor, toggle_position(port))  # needs the coin down, the hand empty
        if plan.cpu_level is not None and level != plan.cpu_level:
            # Grab the handle where the current level puts it (within about 2.2 of it).
            return self._click(port, cursor, slider_position(port, level or 1))
        return RELEASED

    def _character_select(self, menu: MenuState) -> dict[int, ControllerState]:
        ready = menu.ready and all(self.port_done(plan, menu) for plan in self.plans.values())
        out = {plan.port: self._character_select_port(plan, menu) for plan in self.plans.values()}
        if ready:
            out = {port: RELEASED for port in self.plans}
            out[self.lead] = self._tap(self.lead, START)
            if out[self.lead].buttons:
                self.settled = True
        else:
            self.settled = False  # (back) on a character select that is not set up yet
        return out

    def _stage_select(self, menu: MenuState) -> dict[int, ControllerState]:
        out = {port: RELEASED for port in self.plans}
        if not self.settled:
            out[self.lead] = self._tap(self.lead, B)  # characters not chosen by us: back to them
        elif menu.stage_cursor is not None:
            out[self.lead] = self._click(self.lead, menu.stage_cursor, self.stage.sss_position)
        return out

    def decide(self, menu: MenuState) -> dict[int, ControllerState]:
        """The pads' next states for this menu state (hold them HOLD_FRAMES frames)."""
        scene = menu.scene
        self._step = self._step + 1 if scene is self._scene else 0
        self._scene = scene
        released = {port: RELEASED for port in self.plans}
        if scene is Scene.CHARACTER_SELECT:
            out = self._character_select(menu)
        elif scene is Scene.STAGE_SELECT:
            out = self._stage_select(menu)
        elif scene is Scene.IN_GAME:
            out = released
            if not self.settled:  # someone else's game (or one we cut off): quit it
                out[self.lead] = QUIT_SEQUENCE[self._step % len(QUIT_SEQUENCE)]
        elif scene is Scene.POST_GAME:
            out = {port: self._tap(port, START) for port in self.plans}
        else:
            out = released
            out[self.lead] = MENU_SEQUENCE[self._step % len(MENU_SEQUENCE)]
        self._last = out
        return out

    # -- diagnostics ---------------------------------------------------------------------------

    def describe(self, menu: MenuState) -> str:
        """What the menus show, for timeout errors."""
        scene = menu.scene
        if scene is Scene.CHARACTER_SELECT:
            parts = []
            for plan in self.plans.values():
                p = plan.port
                want = f"{plan.character.name}" + (f", CPU level {plan.cpu_level}" if plan.cpu_level else ", human")
                level = f" level {menu.cpu_levels.get(p)}" if menu.port_types.get(p) == PORT_CPU else ""
                have = (
                    f"{CHARACTER_BY_CSS.get(menu.css_characters.get(p), menu.css_characters.get(p))}, "
                    f"{PORT_TYPE_NAMES.get(menu.port_types.get(p), menu.port_types.get(p))}{level}"
                )
                hand = menu.hands.get(p)
                holding = "" if hand is None or menu.hand_empty(p) else f" holding something (hand state {hand})"
                parts.append(f"port {p} is {have} (want {want}), hand at {_xy(menu.cursors.get(p))}{holding}")
            return "; ".join(parts) + f"; ready banner {'shown' if menu.ready else 'not shown'}"
        if scene is Scene.STAGE_SELECT:
            return f"stage cursor at {_xy(menu.stage_cursor)}, {self.stage.name} is at {_xy(self.stage.sss_position)}"
        return f"major scene {menu.major_scene}, minor scene {menu.minor_scene}"


def _xy(point) -> str:
    return "unknown" if point is None else f"({point[0]:.1f}, {point[1]:.1f})"


EXPECTED_NEXT = {
    Scene.MENU: Scene.CHARACTER_SELECT,
    Scene.CHARACTER_SELECT: Scene.STAGE_SELECT,
    Scene.STAGE_SELECT: Scene.IN_GAME,
    Scene.IN_GAME: Scene.CHARACTER_SELECT,
    Scene.POST_GAME: Scene.CHARACTER_SELECT,
}
