"""``arena ttt-show X O``: one game of tic-tac-toe between two agent specs, printed move by move.

A command can use Arena as a library: here it resolves agent specs (bots, ``random``, a trained
agent's path) through the loaded plugins and plays the env directly, as a match worker would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from arena.plugins.agents import resolve
from arena.plugins.manager import get_arena
from arena_example_plugin.tictactoe import CELL_NAMES, CELLS, SEATS


def show_game(x: str, o: str, *, seed: int = 0, pairs: Iterable[str] = (), echo: Callable[[str], None] = print) -> dict:
    """Play ``x`` (moves first) against ``o``; print the board after each move; the scores."""
    arena = get_arena()
    spec = arena.envs.get("tictactoe")
    options = spec.parse_options(list(pairs))
    players = {seat: resolve(who, arena.agents, spec, options) for seat, who in zip(SEATS, (x, o))}  # `cpu` is refused here
    env = spec.make(options, None)
    try:
        observations, _ = env.reset(seed=seed)
        for index, seat in enumerate(SEATS):
            players[seat].reset(seed * 1000 + index + 1)
        echo(f"x: {x}   o: {o}   seed {seed}")
        while env.agents:
            mover = env.mover
            actions = {seat: players[seat].act(observations[seat]) for seat in env.agents}
            observations, _, _, _, infos = env.step(actions)
            cell = int(actions[mover])
            name = CELL_NAMES[cell] if 0 <= cell < CELLS else "off the board"
            if "illegal" not in infos[mover]:
                illegal = ""
            elif options.illegal == "lose":
                illegal = f": not a free cell, so {mover} loses"
            else:
                illegal = ": not a free cell, so a random free one instead"
            echo(f"\n{mover} plays {cell} ({name}){illegal}\n{env.render()}")
        scores = env.scores()
        won = [seat for seat in SEATS if scores[seat] > scores[SEATS[1 - SEATS.index(seat)]]]
        echo(f"\n{won[0]} ({x if won[0] == 'x' else o}) wins" if won else "\ndraw")
        return scores
    finally:
        env.close()
