"""Tic-tac-toe's rules, its options and its observation layout: plain Python, cheap to import.

The board is 9 cells, numbered like a phone keypad read from 0::

    0 | 1 | 2
    3 | 4 | 5
    6 | 7 | 8

An action is the cell to mark. A board is a tuple of 9 numbers **from one player's side**: ``+1``
that player's mark, ``-1`` the other's, ``0`` empty. That is also each seat's observation, so one
policy (or one bot) plays either seat. ``x`` moves first.

The env itself (a PettingZoo ``ParallelEnv``, with numpy) is in :mod:`arena_example_plugin.env`;
the bots in :mod:`arena_example_plugin.bots`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SEATS = ("x", "o")  # x moves first
CELLS = 9
OWN, OTHER, EMPTY = 1, -1, 0
CELL_NAMES = ("top-left", "top", "top-right", "left", "center", "right", "bottom-left", "bottom", "bottom-right")
LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))


@dataclass(frozen=True)
class TicTacToeOptions:
    """Options of the ``tictactoe`` env (``-o key=value``).

    There is no ``act_every`` and no ``delay``: a turn-based game has no action repeat and no
    reaction time (one move per step), and Arena reads their absence as 1 and 0.
    """

    illegal: Literal["lose", "random"] = "lose"
    """What a move onto a taken cell does: ``lose`` ends the game, lost by the player who made
    it; ``random`` plays a random free cell instead (drawn from the game's seed)."""


def winner(board) -> int:
    """``OWN`` or ``OTHER`` if that side has three in a line, else ``EMPTY`` (0)."""
    for a, b, c in LINES:
        if board[a] != EMPTY and board[a] == board[b] == board[c]:
            return board[a]
    return EMPTY


def free_cells(board) -> list[int]:
    return [cell for cell in range(CELLS) if board[cell] == EMPTY]


def to_move(board) -> bool | None:
    """Whether the player whose side ``board`` is seen from is to move: ``True`` when it has
    fewer marks (it is ``o``), ``False`` when it has more (it is ``x`` and has just moved), and
    ``None`` when the counts are equal: then it is ``x`` to move or ``o`` waiting, which the board
    alone cannot tell."""
    own, other = sum(1 for v in board if v == OWN), sum(1 for v in board if v == OTHER)
    return True if own < other else False if own > other else None


def show(board, marks: tuple[str, str] = ("X", "O")) -> str:
    """The board as three lines of text, ``OWN`` as ``marks[0]``, ``OTHER`` as ``marks[1]``."""
    glyph = {OWN: marks[0], OTHER: marks[1], EMPTY: "."}
    return "\n".join(" ".join(glyph[int(board[row * 3 + col])] for col in range(3)) for row in range(3))
