"""A one-player stable-retro game played in turns, behind the PettingZoo Parallel API (imported
lazily by ``arena_sonic``'s ``make``).

A game is two turns from the same start: the level the game's seed picks, the same no-op start
and the same sticky-action draws. ``agents`` is the seat whose turn it is (``["first"]``, then
``["second"]``, then ``[]``); the step that ends the first turn returns the first seat's last
observation and the second seat's first. ``reset(options={"alone": True})`` plays the first turn
only (training). Each seat's score is its own turn's: the game's score for Airstriker, the
contest's progress reward for Sonic. Rewards are the course's (:mod:`arena_sonic.wrappers`): the
score's change x 0.01, paid only past the furthest point so far.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena.errors import ArenaError
from arena.games.replay import RetroMovie, second_turn
from arena_sonic import FRAME_SIZE, SEATS, STACK, Game, TurnsOptions
from arena_sonic.wrappers import GENESIS_BUTTONS, REWARD_SCALE, Backtracking, Discretizer, FrameStack, grayscale

NOOP = np.zeros(len(GENESIS_BUTTONS), dtype=np.uint8)


class TurnsEnv(ParallelEnv):
    """Two seats taking turns at a one-player game (see the module docstring)."""

    metadata = {"name": "arena_turns_v0", "render_modes": []}

    def __init__(self, game: Game, options: TurnsOptions):
        import stable_retro

        from arena.roms import require_rom

        self.game = game
        self.options = options
        self.levels = options.level_list()
        require_rom(game.retro, game.title, game.rom_source)
        try:
            self._retro = stable_retro.make(
                game.retro,
                state=self.levels[0],
                scenario=game.scenario,
                render_mode=None,
                use_restricted_actions=stable_retro.Actions.ALL,
            )
        except RuntimeError as exc:
            raise ArenaError(
                f"cannot start the {game.title} emulator: {exc} (one emulator per process: close() the other env)"
            ) from None
        retro = self._retro.unwrapped
        if tuple(retro.buttons) != GENESIS_BUTTONS:
            self.close()
            raise ArenaError(f"{game.retro} has buttons {retro.buttons}, not the Genesis pad the course's actions need")
        self._em, self._data = retro.em, retro.data
        self._movie = RetroMovie(self._retro)
        self._pad = Discretizer(GENESIS_BUTTONS)
        self._stack = FrameStack(STACK)
        self._progress = Backtracking()
        self.possible_agents = list(SEATS)
        self.agents: list[str] = []
        shape = (FRAME_SIZE, FRAME_SIZE, STACK)
        self.observation_spaces = {seat: spaces.Box(0, 255, shape, dtype=np.uint8) for seat in SEATS}
        self.action_spaces = {seat: spaces.Discrete(len(self._pad)) for seat in SEATS}
        self.level: str | None = None
        self._level_loaded: str | None = None
        self._seed = 0
        self._turns = 2
        self._armed: str | None = None
        self._game_movie: str | None = None
        self._scores = {seat: 0 for seat in SEATS}
        self._raw = 0.0  # the turn's score as a float (Sonic's contest reward is fractional)
        self._frames = 0
        self._turn_frames = 0

    def observation_space(self, agent):
        return self.observation_spaces[agent]

    def action_space(self, agent):
        return self.action_spaces[agent]

    @property
    def frames(self) -> int:
        """Emulator frames played since the reset, both turns."""
        return self._frames

    def scores(self) -> dict[str, int]:
        return dict(self._scores)

    def record(self, path: str) -> None:
        """Record the next game's turns as input movies: the first to ``path``, the second beside it
        (:func:`arena.games.replay.second_turn`); each is complete when its turn ends."""
        self._armed = path

    def render(self):
        return self._em.get_screen()

    # -- turns ---------------------------------------------------------------------------------------

    def _start_turn(self, seat: str) -> np.ndarray:
        if self.level != self._level_loaded:
            self._retro.unwrapped.load_state(self.level)
            self._level_loaded = self.level
        if self._game_movie is not None:
            self._movie.record(self._game_movie if seat == SEATS[0] else str(second_turn(self._game_movie)))
        self._movie.begin()
        self._retro.reset()
        # Both turns draw the same no-ops and sticky actions: the seats start and slip alike.
        self._rng = np.random.default_rng(self._seed)
        noops = int(self._rng.integers(0, self.options.noop_max + 1)) if self.options.noop_max else 0
        self._press(NOOP, noops)
        self._data.update_ram()
        self._data.current_reward()  # the no-ops' points are nobody's
        self._progress.reset()
        self._raw = 0.0
        self._turn_frames = 0
        self._last = 0
        self.agents = [seat]
        return self._stack.reset(grayscale(self._em.get_screen(), FRAME_SIZE))

    def _press(self, mask: np.ndarray, frames: int) -> None:
        if self._movie.movie is not None:
            self._movie.press(self._em, [mask], frames)
        else:
            self._em.set_button_mask(mask, 0)
            for _ in range(frames):
                self._em.step()
        self._frames += frames
        self._turn_frames += frames

    def _infos(self) -> dict:
        return {seat: {"score": self._scores[seat], "level": self.level, "frames": self._frames} for seat in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._seed = 0 if seed is None else int(seed)
        self.level = self.levels[self._seed % len(self.levels)]
        self._turns = 1 if (options or {}).get("alone") else 2
        self._scores = {seat: 0 for seat in SEATS}
        self._frames = 0
        self._game_movie, self._armed = self._armed, None  # record() arms the next game only
        observation = self._start_turn(SEATS[0])
        return {SEATS[0]: observation}, self._infos()

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() after the game ended: call reset()")
        seat = self.agents[0]
        action = int(actions[seat])
        if not 0 <= action < len(self._pad):
            raise ValueError(f"actions are 0-{len(self._pad) - 1} ({', '.join(self._pad.meanings)}); got {action}")
        if self.options.sticky and self._rng.random() < self.options.sticky:
            action = self._last
        self._last = action
        self._press(self._pad(action), self.options.act_every)
        self._data.update_ram()
        gained = float(self._data.current_reward())
        self._raw += gained
        self._scores[seat] = int(round(self._raw))
        reward = self._progress(gained * REWARD_SCALE)
        terminated = bool(self._data.is_done())
        truncated = not terminated and self._turn_frames >= self.options.max_frames
        observations = {seat: self._stack.push(grayscale(self._em.get_screen(), FRAME_SIZE))}
        infos = self._infos()
        if terminated or truncated:
            self._movie.end()
            turn = SEATS.index(seat) + 1
            if turn < self._turns:
                following = SEATS[turn]
                observations[following] = self._start_turn(following)
                infos.update(self._infos())
            else:
                self.agents = []
        return observations, {seat: reward}, {seat: terminated}, {seat: truncated}, infos

    def close(self):
        if getattr(self, "_retro", None) is not None:
            self._movie.end()
            self._retro.close()
            self._retro = None
            self._em = None
