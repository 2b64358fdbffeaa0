"""``bot:ttt:LEVEL``: scripted tic-tac-toe players (plain Python).

* level 1 plays a random free cell;
* level 2 completes its own line if it can, else blocks the other's, else plays a random free cell;
* level 3 is perfect (minimax over the whole game), choosing at random among equally good moves and
  preferring quicker wins and slower losses. Nothing beats it; two of them always draw.

A bot sees the board from its own side (``+1`` its marks) and is asked to act at every step, also
while it waits for the other seat's move: its answer is then ignored, so it answers cheaply.
"""

from __future__ import annotations

import random
from functools import cache

from arena_example_plugin.tictactoe import EMPTY, LINES, OTHER, OWN, free_cells, to_move, winner


class TicTacToeBot:
    """The Agent protocol (``reset``, ``act``) at one level."""

    def __init__(self, level: int):
        self.level = level
        self._rng = random.Random(0)

    def reset(self, seed: int) -> None:
        self._rng.seed(seed)  # the same --seed replays the same games

    def act(self, observation) -> int:
        board = tuple(int(round(float(v))) for v in observation)
        free = free_cells(board)
        if to_move(board) is False or not free:
            return 0  # the other seat is to move: any action is ignored
        if self.level >= 3:
            return self._rng.choice(best_moves(board))
        if self.level == 2:
            for side in (OWN, OTHER):  # win if possible, else block
                completing = completing_moves(board, side)
                if completing:
                    return self._rng.choice(completing)
        return self._rng.choice(free)


def completing_moves(board: tuple[int, ...], side: int) -> list[int]:
    """The free cells that would give ``side`` three in a line."""
    out = set()
    for line in LINES:
        values = [board[cell] for cell in line]
        if values.count(side) == 2 and values.count(EMPTY) == 1:
            out.add(line[values.index(EMPTY)])
    return sorted(out)


@cache
def negamax(board: tuple[int, ...]) -> int:
    """The value of ``board`` for the player to move (it sees itself as ``+1``) under perfect play:
    ``1 + empty cells left`` for a win (quicker is better), its negative for a loss, 0 for a draw.
    Tic-tac-toe has 5,478 legal positions: after the first search (about 20 ms) the cache holds
    them all."""
    if winner(board) == OTHER:  # the previous move won
        return -(1 + board.count(EMPTY))
    free = free_cells(board)
    if not free:
        return 0
    return max(-negamax(_after(board, cell)) for cell in free)


def best_moves(board: tuple[int, ...]) -> list[int]:
    """Every free cell whose move keeps the best value for the player to move."""
    values = {cell: -negamax(_after(board, cell)) for cell in free_cells(board)}
    best = max(values.values())
    return [cell for cell, value in values.items() if value == best]


def _after(board: tuple[int, ...], cell: int) -> tuple[int, ...]:
    """The board after the player to move marks ``cell``, seen from the other player's side."""
    return tuple(-OWN if i == cell else -v for i, v in enumerate(board))
