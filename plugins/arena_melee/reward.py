"""phillip's reward (reward.py there) as pure functions of two consecutive game states.

A player's loss in a step is its deaths (0 or 1: the step where it enters a death animation,
action state <= 0xA) plus 0.01 x the damage it took (percent gained, never negative: the
percent drops back to 0 on respawn). A seat's reward is the enemy's loss minus its own. Deaths
are detected on the transition, not on an exact frame, so a step of several frames (or a poll
that missed frames) still counts each death once.
"""

from __future__ import annotations

from collections.abc import Iterable

from arena_melee.state import GameState, PlayerState, Scene

DAMAGE_WEIGHT = 0.01


def died(prev: PlayerState, cur: PlayerState) -> int:
    """1 on the step where a living player enters a death animation (or leaves the game)."""
    return int(not prev.dead and cur.dead)


def damage(prev: PlayerState, cur: PlayerState) -> int:
    return max(cur.percent - prev.percent, 0)


def loss(prev: PlayerState, cur: PlayerState) -> float:
    return died(prev, cur) + DAMAGE_WEIGHT * damage(prev, cur)


def rewards(prev: GameState, cur: GameState, ports: Iterable[int]) -> dict[int, float]:
    """Each port's reward: the other ports' losses minus its own."""
    ports = tuple(ports)
    losses = {p: loss(prev.players[p], cur.players[p]) for p in ports}
    total = sum(losses.values())
    return {p: (total - losses[p]) - losses[p] for p in ports}


def game_over(state: GameState, stock_mode: bool) -> bool:
    """The game has left the in-game scene (post-game), or, in a stock match, a player with no
    stocks left is dead (waiting for the death keeps its last death in the reward)."""
    if state.scene is not Scene.IN_GAME:
        return True
    return stock_mode and any(p.stocks == 0 and p.dead for p in state.players.values())
