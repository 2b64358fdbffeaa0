"""The ``tictactoe`` env: two seats behind the PettingZoo Parallel API, as Arena plays them.

Imported by ``make_tictactoe`` only when a game is built (it imports numpy and PettingZoo).

The Parallel API has every live agent act at every step, so in a turn-based game **both seats
act every step**: the seat to move places its mark, and the other seat's action is ignored (it
may send anything). Observations are the board from each seat's own side (``+1`` own mark,
``-1`` the other's, ``0`` empty; see :mod:`arena_example_plugin.tictactoe`), rewards ``+1`` and
``-1`` for the winner and the loser on the last step and ``0`` otherwise (a draw is 0-0), and
when the game ends both seats are terminated and ``agents`` becomes ``[]``.
"""

from __future__ import annotations

import random

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from arena_example_plugin.tictactoe import CELLS, EMPTY, SEATS, TicTacToeOptions, free_cells, show, winner

X_MARK, O_MARK = 1, -1  # the board from x's side: x's marks are +1, o's are -1


class TicTacToeEnv(ParallelEnv):
    """Tic-tac-toe for seats ``x`` (moves first) and ``o``; there is no built-in CPU."""

    metadata = {"name": "arena_tictactoe_v0", "render_modes": ["ansi"]}

    def __init__(self, options: TicTacToeOptions | None = None):
        self.options = options or TicTacToeOptions()
        self.render_mode = "ansi"
        self.possible_agents = list(SEATS)
        self.agents: list[str] = []
        self.observation_spaces = {seat: spaces.Box(-1.0, 1.0, (CELLS,), dtype=np.float32) for seat in SEATS}
        self.action_spaces = {seat: spaces.Discrete(CELLS) for seat in SEATS}
        self._board = [EMPTY] * CELLS  # from x's side
        self._steps = 0
        self._result: str | None = None  # the winning seat, "draw", or None while playing
        self._rng = random.Random(0)

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    @property
    def mover(self) -> str:
        """The seat to move now."""
        return SEATS[sum(1 for v in self._board if v != EMPTY) % 2]

    @property
    def frames(self) -> int:
        """Steps since the last reset: one move each (a forfeiting illegal move included)."""
        return self._steps

    def reset(self, seed: int | None = None, options: dict | None = None):
        self._rng.seed(seed)  # only illegal=random draws from it
        self._board = [EMPTY] * CELLS
        self._steps = 0
        self._result = None
        self.agents = list(SEATS)
        return self._observations(), {seat: {} for seat in SEATS}

    def step(self, actions: dict[str, int]):
        if not self.agents:
            raise RuntimeError("step() after the game ended; call reset() first")
        seat = self.mover
        if seat not in actions:
            raise ValueError(f"no action for seat '{seat}', the one to move (got actions for {sorted(actions)})")
        other = SEATS[1 - SEATS.index(seat)]
        cell = int(actions[seat])
        infos: dict[str, dict] = {s: {} for s in SEATS}
        self._steps += 1
        if not (0 <= cell < CELLS and self._board[cell] == EMPTY):
            infos[seat]["illegal"] = cell
            if self.options.illegal == "lose":
                self._result = other
            else:
                cell = self._rng.choice(free_cells(self._board))
        if self._result is None:
            self._board[cell] = X_MARK if seat == "x" else O_MARK
            line = winner(self._board)
            if line != EMPTY:
                self._result = "x" if line == X_MARK else "o"
            elif not free_cells(self._board):
                self._result = "draw"
        over = self._result is not None
        rewards = {s: 0.0 for s in SEATS}
        if self._result in SEATS:
            rewards[self._result], rewards[SEATS[1 - SEATS.index(self._result)]] = 1.0, -1.0
        observations = self._observations()
        if over:
            self.agents = []
        return observations, rewards, {s: over for s in SEATS}, {s: False for s in SEATS}, infos

    def scores(self) -> dict[str, int]:
        """1 for the winner and 0 for the other; 0-0 for a draw or a game still going."""
        return {seat: int(self._result == seat) for seat in SEATS}

    def _observations(self) -> dict[str, np.ndarray]:
        board = np.asarray(self._board, dtype=np.float32)
        return {"x": board, "o": -board}  # each from its own side: +1 own mark

    def render(self) -> str:
        return show(self._board)

    def close(self) -> None:
        pass  # nothing to release
