"""phillip's reward: hand-computed cases, then a scripted game read through a fake Dolphin."""

from __future__ import annotations

import dataclasses

import pytest
from melee_image import MemoryImage, Player, write_player, write_scene

from arena_melee.reward import damage, died, game_over, loss, rewards
from arena_melee.state import GameState, PlayerState


def player(port, percent=0, stocks=4, action=0x0E, present=True):
    return PlayerState(port=port, present=present, character=0, x=0.0, y=0.0, percent=percent, stocks=stocks,
                       action_state=action)  # fmt: skip


def game(p1, p2, minor=2):
    return GameState(frame=0, major_scene=2, minor_scene=minor, stage=25, players={1: p1, 2: p2})


def test_damage_is_percent_gained_never_negative():
    assert damage(player(1, 10), player(1, 25)) == 15
    assert damage(player(1, 80), player(1, 0)) == 0  # respawn resets the percent


def test_a_death_counts_on_entering_a_death_animation_only():
    assert died(player(1, action=0x0E), player(1, action=0x00)) == 1
    assert died(player(1, action=0x0E), player(1, action=0x0A)) == 1
    assert died(player(1, action=0x00), player(1, action=0x03)) == 0  # still dying: not again
    assert died(player(1, action=0x0E), player(1, action=0x0B)) == 0
    assert died(player(1, action=0x0E), player(1, present=False)) == 1  # gone without a death seen
    assert died(player(1, action=0x02), player(1, present=False)) == 0  # the death was counted


def test_loss_and_rewards_by_hand():
    assert loss(player(1, 10), player(1, 30)) == pytest.approx(0.2)
    assert loss(player(1, 50, action=0x0E), player(1, 0, action=0x01)) == pytest.approx(1.0)
    # p1 deals 12% and takes 5%: +0.12 - 0.05 for p1, the opposite for p2
    r = rewards(game(player(1, 0), player(2, 0)), game(player(1, 5), player(2, 12)), (1, 2))
    assert r[1] == pytest.approx(0.07) and r[2] == pytest.approx(-0.07)
    # p2 dies with 20% more on the same step: p1 gets 1 + 0.2
    r = rewards(game(player(1, 5), player(2, 40)), game(player(1, 5), player(2, 60, action=0x00)), (1, 2))
    assert r == {1: pytest.approx(1.2), 2: pytest.approx(-1.2)}


def test_game_over():
    assert not game_over(game(player(1), player(2)), stock_mode=True)
    assert game_over(game(player(1), player(2), minor=4), stock_mode=True)  # post-game screen
    assert game_over(game(player(1), player(2), minor=0), stock_mode=False)  # left the game
    last = player(2, stocks=0, action=0x00)
    assert game_over(game(player(1), last), stock_mode=True)
    assert not game_over(game(player(1), player(2, stocks=0, action=0x0E)), stock_mode=True)  # death first
    assert not game_over(game(player(1, stocks=0), player(2, stocks=0)), stock_mode=False)  # time match


# A scripted game, one memory image per polled frame: (frame, p1, p2, expected p1 reward).
ALIVE = 0x0E
SCRIPT = [
    (100, dict(percent=0), dict(percent=0), None),
    (102, dict(percent=0), dict(percent=12), 0.12),  # p1 hits p2
    (104, dict(percent=7), dict(percent=17), 0.05 - 0.07),  # trade
    (106, dict(percent=7), dict(percent=17, action_state=0x00, stocks=3), 1.0),  # p2 KO'd
    (108, dict(percent=7), dict(percent=0, action_state=0x04, stocks=3), 0.0),  # still dying, percent reset
    (110, dict(percent=7), dict(percent=0, stocks=3), 0.0),  # p2 back on stage
    (112, dict(percent=20), dict(percent=0, stocks=3), -0.13),
    (118, dict(percent=20, action_state=0x02, stocks=0), dict(percent=3, stocks=3), -1.0 + 0.03),  # p1's last stock
    (120, dict(percent=20, entity=None, stocks=0), dict(percent=3, stocks=3), 0.0),  # p1's fighter is gone
]


def test_reward_over_a_scripted_game_read_through_a_fake_dolphin(start_fake, hooked):
    fake = start_fake(MemoryImage())
    memory = hooked()
    prev = None
    total = {1: 0.0, 2: 0.0}
    deaths = {1: 0, 2: 0}
    overs = []
    for frame, p1, p2, expected in SCRIPT:
        image = MemoryImage()
        write_scene(image, 2, 2, frame)
        write_player(image, 1, dataclasses.replace(Player(action_state=ALIVE), **p1))
        write_player(image, 2, dataclasses.replace(Player(action_state=ALIVE), **p2))
        fake.write(image)
        state = memory.read_state()
        assert state.frame == frame
        if prev is not None:
            r = rewards(prev, state, (1, 2))
            assert r[1] == pytest.approx(expected), frame
            assert r[2] == pytest.approx(-expected), frame
            for port in (1, 2):
                total[port] += r[port]
                deaths[port] += died(prev.players[port], state.players[port])
        overs.append(game_over(state, stock_mode=True))
        prev = state
    assert deaths == {1: 1, 2: 1}
    # One KO each; p1 dealt 12 + 5 + 3 = 20%, p2 dealt 7 + 13 = 20%: an even game.
    assert total[1] == pytest.approx((1 + 0.01 * 20) - (1 + 0.01 * 20))
    assert total[2] == pytest.approx(-total[1])
    assert overs == [False] * 7 + [True, True]  # over once p1 is dead with no stocks
