"""Two seats on one stable-retro emulator: what Arena's Atari duels (Pong, Boxing) share.

:class:`RetroDuel` is a PettingZoo ``ParallelEnv`` that opens the emulator, records movies
(``--record``), holds each seat's spaces, repeats a seat's last action with ``sticky``
probability, starts a game with 0-``noop_max`` no-op frames drawn from the game's seed, and ends a
step the same way for every game. A game subclasses it and says what is its own: its buttons
(``_press``, which hands one mask per player to :meth:`RetroDuel._hold`), its scores and
observations, and when its game ends. Its options need ``obs``, ``act_every``, ``max_frames``,
``noop_max`` and ``sticky``.

stable-retro allows one emulator per process: a second one raises, even after the first is garbage.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena.errors import ArenaError
from arena.games.replay import RetroMovie
from arena.screens import SHAPE as PIXELS_SHAPE


class RetroDuel(ParallelEnv):
    """Two seats on one emulator; with ``cpu`` only ``player_seat`` is an agent and the cartridge
    plays the other."""

    seats: tuple[str, str]  # the game's seats, in order
    player_seat: str  # the seat a lone agent takes against the cartridge
    title: str  # the game's name in messages: "Pong"
    noop: int = 0  # the action that presses nothing

    def __init__(self, options: Any, cpu: bool, num_features: int, num_actions: int):
        self.options = options
        self.cpu = cpu
        self.possible_agents = [self.player_seat] if cpu else list(self.seats)
        self.agents: list[str] = []
        if options.obs == "pixels":
            obs_space = spaces.Box(0, 255, PIXELS_SHAPE, dtype=np.uint8)
        else:
            obs_space = spaces.Box(-1.0, 1.0, (num_features,), dtype=np.float32)
        self.observation_spaces = {seat: obs_space for seat in self.possible_agents}
        self.action_spaces = {seat: spaces.Discrete(num_actions) for seat in self.possible_agents}
        self._rng = np.random.default_rng()
        self._frames = 0
        self._last_actions = {seat: self.noop for seat in self.seats}
        self._retro = None

    def _open(self, game: str, state: str, **make: Any) -> None:
        """Start the emulator on ``game``'s ``state`` (one player against the cartridge, else two),
        with the screen (``-o obs=pixels``) or the RAM as stable-retro's observation."""
        import stable_retro

        obs_type = stable_retro.Observations.IMAGE if self.options.obs == "pixels" else stable_retro.Observations.RAM
        try:
            self._retro = stable_retro.make(
                game, state=state, players=1 if self.cpu else 2, render_mode=None, obs_type=obs_type, **make
            )
        except RuntimeError as exc:
            raise ArenaError(
                f"cannot start the {self.title} emulator: {exc} (one emulator per process: close() the other env)"
            ) from None
        self._em = self._retro.unwrapped.em
        self._data = self._retro.unwrapped.data
        self._movie = RetroMovie(self._retro)  # --record: the game's inputs as a .bk2

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    @property
    def frames(self) -> int:
        return self._frames

    def record(self, path: str) -> None:
        """Record the next game's input movie (a ``.bk2``) to ``path``; it is complete when the game ends."""
        self._movie.record(path)

    def _hold(self, masks: list[np.ndarray], frames: int) -> None:
        """Hold one button mask per player for ``frames`` emulator frames (into the movie when recording)."""
        self._movie.press(self._em, masks, frames)
        self._frames += frames

    def _begin(self, seed: int | None) -> int:
        """Reset the emulator for a new game; the number of no-op frames it starts with (drawn
        from the game's seed)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._movie.begin()
        self._retro.reset()
        self._frames = 0
        self.agents = list(self.possible_agents)
        self._last_actions = {seat: self.noop for seat in self.seats}
        return int(self._rng.integers(0, self.options.noop_max + 1)) if self.options.noop_max else 0

    def _choose(self, actions: dict[str, int]) -> dict[str, int]:
        """Each seat's action this step: a seat without one presses nothing, and with ``sticky``
        an agent's seat repeats its last action with that probability (the cartridge's never)."""
        if not self.agents:
            raise RuntimeError("step() after the game ended: call reset()")
        chosen = {seat: int(actions.get(seat, self.noop)) for seat in self.seats}
        if self.options.sticky:
            for seat in self.agents:
                if self._rng.random() < self.options.sticky:
                    chosen[seat] = self._last_actions[seat]
        self._last_actions = chosen
        return chosen

    def _end_step(self, observations: dict, gain: float, terminated: bool, truncated: bool, infos: dict):
        """The step's return, ``gain`` being ``player_seat``'s points less the other seat's this
        step (each seat's reward is its own side of it); a finished game has no agents left."""
        agents = self.agents
        out = (
            observations,
            {seat: float(gain if seat == self.player_seat else -gain) for seat in agents},
            {seat: terminated for seat in agents},
            {seat: truncated for seat in agents},
            infos,
        )
        if terminated or truncated:
            self.agents = []
            self._movie.end()
        return out

    def render(self):
        return self._em.get_screen()

    def close(self):
        if getattr(self, "_retro", None) is not None:
            self._movie.end()
            self._retro.close()
            self._retro = None
            self._em = None
