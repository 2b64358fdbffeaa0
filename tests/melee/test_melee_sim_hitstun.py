"""Hitstun: the simulator puts a fighter that is hit (and not KO'd) in a damage action state whose
hitstun counts down a frame at a time, in which it does not act; in a running game the plugin's
reader and observation report that hitstun there, and 0 everywhere else."""

from __future__ import annotations

import melee_layout as L
import pytest
from melee_image import MEM1_SIZE
from menu_sim import HITSTUN, KO_PERCENT, MeleeSim, Mem, PadInput

from arena_melee.embed import ACTION_OFFSET, PLAYER_SCALARS, PLAYER_SIZE
from arena_melee.pads import ACTION_MEANINGS
from arena_melee.state import in_damage_state

HITSTUN_FEATURE = [name for name, _ in PLAYER_SCALARS].index("hitstun")
STANDING, DAMAGE_HIGH_1, DEAD_DOWN = 0x0E, 0x4B, 0x00


# -- the simulator, in process -----------------------------------------------------------------


def frame(sim: MeleeSim, **held) -> None:
    """One frame with ``p1=(stick_x, buttons)`` and ``p2=...`` held."""
    pads = {port: PadInput() for port in (1, 2, 3, 4)}
    for port in (1, 2):
        stick_x, buttons = held.get(f"p{port}", (0.5, ()))
        pads[port].main, pads[port].buttons = (stick_x, 0.5), set(buttons)
    sim.frame(pads)


def fighter(sim: MeleeSim, port: int) -> tuple[int, float, float, int]:
    """Its action state, hitstun field, x and percent."""
    s, e = L.static(port), L.entity(port)
    return sim.m.u32(e + L.E_ACTION), sim.m.f32(e + L.E_HITSTUN), sim.m.f32(s + L.S_X), sim.m.u16(s + L.S_PERCENT)


@pytest.mark.parametrize("attacker", [1, 2])  # port 1 moves first in a frame, port 2 second
def test_a_hit_puts_the_fighter_in_hitstun_that_counts_down(attacker):
    sim = MeleeSim(Mem(bytearray(MEM1_SIZE)), start="game")  # ports 1 and 2 both human
    hit = 3 - attacker
    frame(sim, **{f"p{attacker}": (0.5, ("A",))})
    action, hitstun, x, percent = fighter(sim, hit)
    assert (action, hitstun, percent) == (DAMAGE_HIGH_1, HITSTUN, 8)
    for left in range(HITSTUN - 1, 0, -1):
        # it walks and presses A every other frame: in hitstun, neither happens
        frame(sim, **{f"p{hit}": (1.0, ("A",) if left % 2 else ())})
        assert fighter(sim, hit) == (DAMAGE_HIGH_1, left, x, 8), left
        assert fighter(sim, attacker)[3] == 0
    frame(sim, **{f"p{hit}": (1.0, ())})
    assert fighter(sim, hit) == (STANDING, 0.0, x, 8)  # out of hitstun, standing
    frame(sim, **{f"p{hit}": (1.0, ("A",))})
    assert fighter(sim, hit)[2] > x and fighter(sim, attacker)[3] == 8  # acting again: it walks and hits


def test_a_hit_that_kos_goes_to_the_death_state_without_hitstun():
    sim = MeleeSim(Mem(bytearray(MEM1_SIZE)), start="game")
    sim.m.u16(L.static(2) + L.S_PERCENT, KO_PERCENT - 4)
    frame(sim, p1=(0.5, ("A",)))
    assert fighter(sim, 2)[:2] == (DEAD_DOWN, 0.0)
    assert sim.m.u8(L.static(2) + L.S_STOCKS) == sim.stocks - 1


# -- a running game, through the plugin's reader -----------------------------------------------


def test_a_hit_shows_hitstun_in_a_damage_state_counting_down(make_env):
    # the agent is p2, port 2; a level-9 CPU attacks every 10 frames; the agent walks and now and then presses A (more often
    # would keep the CPU in hitstun: it would never attack).
    env = make_env(cpu_level=9, act_every=1)
    obs, _ = env.reset()
    prev = env._state
    hits = recoveries = still = counted = 0
    for step in range(400):
        stick = "right" if step // 40 % 2 == 0 else "left"
        obs, _, _, _, infos = env.step({"p2": ACTION_MEANINGS.index(f"A+{stick}" if step % 16 == 0 else stick)})
        state = env._state
        for port, block in ((2, obs["p2"][:PLAYER_SIZE]), (1, obs["p2"][PLAYER_SIZE : 2 * PLAYER_SIZE])):
            p, before = state.players[port], prev.players[port]
            if not p.present:
                continue
            assert block[HITSTUN_FEATURE] == pytest.approx(0.1 * p.hitstun), (step, port)  # the observation's feature
            assert block[ACTION_OFFSET + p.action_state] == 1, (step, port)
            if in_damage_state(p.action_state):
                assert p.hitstun > 0, (step, port, hex(p.action_state))
            else:
                assert p.hitstun == 0, (step, port, hex(p.action_state))
            if in_damage_state(before.action_state) and in_damage_state(p.action_state) and p.percent == before.percent:
                # The same hitstun (a new hit adds percent; a KO's goes to the death states): it
                # does not rise. (How far it fell is the in-process test's: a read of the frame
                # counter and one of the fighter can be frames apart on a busy machine.)
                assert p.hitstun <= before.hitstun, (step, port)
                counted += p.hitstun < before.hitstun
                if port == 2:  # it does not act: no walking, no hit on the CPU
                    assert p.x == before.x and state.players[1].percent <= prev.players[1].percent, step
                    still += 1
            hits += port == 2 and in_damage_state(p.action_state) and not in_damage_state(before.action_state)
            recoveries += in_damage_state(before.action_state) and p.action_state == STANDING and p.hitstun == 0
        prev = state
        if not env.agents or infos["p2"]["opponent_kos"] >= 1 and hits >= 3 and recoveries >= 3 and still >= 3 and counted >= 3:
            break
    assert hits >= 3, "the CPU's hits never put the agent in a damage state"
    assert recoveries >= 3 and still >= 3 and counted >= 3, (recoveries, still, counted)
    assert infos["p2"]["opponent_kos"] >= 1  # the hit that KOs goes to the death states, not to hitstun
