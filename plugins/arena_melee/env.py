"""Melee in Dolphin behind the PettingZoo Parallel API (imported lazily by ``melee.make_melee``).

Seats ``p1`` and ``p2`` are controller ports 1 and 2. Against the game's CPU, the CPU takes port
1 (as in phillip) and the agent port 2. Dolphin runs freely (at unlimited speed by default) and
the env follows it by polling the frame counter: a step sends the agents' pads, waits until at
least ``act_every`` frames have passed, and reads the new state. Dolphin may run a little past
that point before the read; ``frames`` counts the frames that really passed.
"""

from __future__ import annotations

import time
from collections import deque
from multiprocessing.util import Finalize

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena.errors import ArenaError
from arena_melee import MeleeOptions
from arena_melee.dolphin import Dolphin, check_iso, find_dolphin
from arena_melee.embed import CLIP, OBS_SIZE, embed_game
from arena_melee.memory import MeleeMemory, process_name
from arena_melee.menus import EXPECTED_NEXT, HOLD_FRAMES, MenuDriver, PortPlan
from arena_melee.pads import ACTION_COMMANDS, NUM_ACTIONS, RELEASED, Pad
from arena_melee.reward import died, game_over, rewards
from arena_melee.state import GameState, MenuState, Scene
from arena_melee.tables import CHARACTERS, STAGE_BY_ID, STAGES

SEATS = ("p1", "p2")
PORTS = {"p1": 1, "p2": 2}
CPU_SEAT = "p1"
POLL_S = 0.0002  # between reads of the frame counter while waiting for Dolphin


class MeleeEnv(ParallelEnv):
    """Two seats of Melee; with ``cpu_level`` set (1-9), port 1 is the game's CPU at that level."""

    metadata = {"name": "arena_melee_v0", "render_modes": []}

    def __init__(self, options: MeleeOptions, cpu_level: int | None = None):
        self.options = options
        self.cpu_level = cpu_level
        self.possible_agents = ["p2"] if cpu_level is not None else list(SEATS)
        self.agents: list[str] = []
        box = spaces.Box(-CLIP, CLIP, (OBS_SIZE,), dtype=np.float32)
        self.observation_spaces = {seat: box for seat in self.possible_agents}
        self.action_spaces = {seat: spaces.Discrete(NUM_ACTIONS) for seat in self.possible_agents}
        self.stage = STAGES[options.stage]
        characters = {"p1": CHARACTERS[options.cpu_char], "p2": CHARACTERS[options.char]}
        self._plans = [PortPlan(PORTS[seat], characters[seat], cpu_level if seat == CPU_SEAT else None) for seat in SEATS]
        self._lead = PORTS[self.possible_agents[0]]  # a human port presses START and picks the stage
        self._timeout = options.timeout
        self._frames = 0
        self._kos = {1: 0, 2: 0}
        self._stock_mode = False
        self._state: GameState | None = None
        self._history: dict[str, deque] = {}
        self._pads: dict[int, Pad] = {}
        self._memory: MeleeMemory | None = None
        self._dolphin = Dolphin(
            find_dolphin(options.dolphin),
            check_iso(options.iso),
            name=process_name(),
            user_dir=options.user_dir,
            speed=options.speed,
            pad_ports=(1, 2),
        )
        # Stop Dolphin even if close() is never called: match workers keep their env until the
        # process exits, and multiprocessing runs these finalizers then (atexit does not).
        self._stop_dolphin = Finalize(self, self._dolphin.stop, exitpriority=10)
        try:
            self._dolphin.start()
            self._pads = {port: Pad(self._dolphin.pipe_path(port)) for port in (1, 2)}
            for pad in self._pads.values():
                pad.open(self._timeout, check=self._dolphin.check)
            self._memory = self._make_memory().hook(self._timeout)
        except BaseException:
            self.close()
            raise

    def _make_memory(self) -> MeleeMemory:
        return MeleeMemory(self._dolphin.name, check=self._dolphin.check)

    # -- PettingZoo ----------------------------------------------------------------------------

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def dolphin_pid(self) -> int | None:
        return self._dolphin.pid

    def scores(self) -> dict[str, int]:
        """KOs: how many times each seat's opponent died in this game."""
        return {"p1": self._kos[1], "p2": self._kos[2]}

    # -- waiting on Dolphin --------------------------------------------------------------------

    def _wait_frames(self, after: int, frames: int) -> int:
        """Poll until the frame counter is ``frames`` past ``after`` (or restarted); the new value."""
        seen, since = after, time.monotonic()
        while True:
            frame = self._memory.read_frame()
            if frame >= after + frames or frame < after:
                return frame
            now = time.monotonic()
            if frame != seen:
                seen, since = frame, now
            elif now - since > self._timeout:
                self._dolphin.check()
                raise ArenaError(
                    f"Dolphin hangs: Melee's frame counter stayed at {frame} for {self._timeout:g}s "
                    "(raise -o timeout=SECONDS if the machine is very slow)"
                )
            time.sleep(POLL_S)

    def _send(self, port: int, data: bytes) -> None:
        try:
            self._pads[port].send(data)
        except ArenaError:
            self._dolphin.check(grace=1.0)  # the clearer message when Dolphin is gone
            raise

    # -- menus ---------------------------------------------------------------------------------

    def _drive_menus(self, driver: MenuDriver, done) -> MenuState:
        """Feed ``driver`` fresh menu states until ``done(menu)``; the menu state that was done.
        Raises if a screen does not change within the timeout."""
        scene, scene_since = None, time.monotonic()
        while True:
            menu = self._memory.read_menu()
            if menu.scene is not scene:
                scene, scene_since = menu.scene, time.monotonic()
            if done(menu):
                return menu
            if time.monotonic() - scene_since > self._timeout:
                waiting = (
                    "the players to appear in the game"
                    if scene is Scene.IN_GAME and driver.settled
                    else f"the {EXPECTED_NEXT[scene].value} screen"
                )
                raise ArenaError(
                    f"Melee stayed on the {scene.value} screen for {self._timeout:g}s waiting for {waiting} "
                    f"({driver.describe(menu)}); is the ISO NTSC 1.02? raise -o timeout=SECONDS if Dolphin is slow"
                )
            for port, pad_state in driver.decide(menu).items():
                self._send(port, pad_state.commands())
            # Count the hold from after the send, not from the menu read: on a slow machine the read
            # can be frames old, and a press then released at once is never seen by the game.
            self._wait_frames(self._memory.read_frame(), HOLD_FRAMES)

    def _start_game(self) -> GameState:
        driver = MenuDriver(self._plans, self.stage, self._lead)
        started: list[GameState] = []

        def in_our_game(menu: MenuState) -> bool:
            if menu.scene is Scene.IN_GAME and driver.settled:
                state = self._memory.read_state()
                if all(p.present for p in state.players.values()):
                    started.append(state)
                    return True
            return False

        self._drive_menus(driver, in_our_game)
        self._verify_stage(started[0])
        return started[0]

    def _verify_stage(self, state: GameState) -> None:
        if state.stage != self.stage.stage_id:
            got = STAGE_BY_ID.get(state.stage, f"id {state.stage}")
            raise ArenaError(f"the stage select picked {got}, not {self.stage.name} (stage id {self.stage.stage_id})")

    def quit_game(self) -> None:
        """Leave a running game for the character select (pause, then L+R+A+START), as ``reset``
        does with a game it did not start."""
        for port in self._pads:
            self._send(port, RELEASED.commands())
        self.agents = []
        self._drive_menus(MenuDriver(self._plans, self.stage, self._lead), lambda menu: menu.scene is Scene.CHARACTER_SELECT)

    # -- observations --------------------------------------------------------------------------

    def _observe(self, state: GameState) -> dict:
        out = {}
        for seat in self.possible_agents:
            own = PORTS[seat]
            fresh = embed_game(state, own, 3 - own)
            history = self._history[seat]
            history.append(fresh)
            out[seat] = history[0]  # with delay d: what the game looked like d steps ago
        return out

    def _infos(self) -> dict:
        players = self._state.players
        infos = {}
        for seat in self.possible_agents:
            own, other = PORTS[seat], 3 - PORTS[seat]
            infos[seat] = {
                "frames": self._frames,
                "stocks": players[own].stocks,
                "opponent_stocks": players[other].stocks,
                "percent": players[own].percent,
                "opponent_percent": players[other].percent,
                "kos": self._kos[own],
                "opponent_kos": self._kos[other],
            }
        return infos

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Go through the menus to a new game. ``seed`` is accepted but Melee's own RNG is not seeded."""
        for port in self._pads:
            self._send(port, RELEASED.commands())
        state = self._start_game()
        self._state = state
        self._frames = 0
        self._kos = {1: 0, 2: 0}
        self._stock_mode = all(p.stocks > 0 for p in state.players.values())  # time matches have none
        self.agents = list(self.possible_agents)
        delay = self.options.delay
        self._history = {seat: deque(maxlen=delay + 1) for seat in self.agents}
        first = {seat: embed_game(state, PORTS[seat], 3 - PORTS[seat]) for seat in self.agents}
        for seat in self.agents:
            self._history[seat].extend([first[seat]] * delay)
        return self._observe(state), self._infos()

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() after the game ended: call reset()")
        for seat in self.agents:
            action = int(actions[seat])
            if not 0 <= action < NUM_ACTIONS:
                raise ValueError(f"Melee actions are 0-{NUM_ACTIONS - 1}; got {seat}={action}")
            self._send(PORTS[seat], ACTION_COMMANDS[action])
        prev = self._state
        self._wait_frames(prev.frame, self.options.act_every)
        state = self._memory.read_state()
        self._frames += state.frame - prev.frame if state.frame >= prev.frame else state.frame
        self._state = state
        by_port = rewards(prev, state, (1, 2))
        for port in (1, 2):
            self._kos[3 - port] += died(prev.players[port], state.players[port])
        terminated = game_over(state, self._stock_mode)
        truncated = not terminated and self._frames >= self.options.max_frames
        agents = self.agents
        observations = self._observe(state)
        infos = self._infos()
        if terminated or truncated:
            for seat in agents:
                self._send(PORTS[seat], RELEASED.commands())
            self.agents = []
        return (
            observations,
            {seat: float(by_port[PORTS[seat]]) for seat in agents},
            {seat: terminated for seat in agents},
            {seat: truncated for seat in agents},
            infos,
        )

    def render(self):
        return None

    def close(self):
        for pad in self._pads.values():
            try:
                if self._dolphin.alive():
                    pad.set(RELEASED)
            except (ArenaError, OSError):
                pass
            pad.close()
        self._pads = {}
        if self._memory is not None:
            self._memory.unhook()
            self._memory = None
        if getattr(self, "_stop_dolphin", None) is not None:
            self._stop_dolphin()  # runs Dolphin.stop once
