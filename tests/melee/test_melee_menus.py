"""The menu driver: its decisions on hand-made menu states, then whole resets against the
menu simulator in a fake Dolphin (tests/melee/menu_sim.py), checked by reading the fake's memory."""

from __future__ import annotations

import melee_layout as L
import pytest
from conftest import fake_memory
from melee_image import MemoryImage, write_menu, write_scene

from arena.errors import ArenaError
from arena_melee.menus import (
    ARRIVED,
    QUIT_SEQUENCE,
    MenuDriver,
    PortPlan,
    slider_position,
    toggle_position,
)
from arena_melee.pads import RELEASED
from arena_melee.state import MenuState
from arena_melee.tables import CHARACTERS, STAGES

FALCON, FOX = CHARACTERS["falcon"], CHARACTERS["fox"]
FD = STAGES["final_destination"]


def menu(minor=0, major=2, types=None, chars=None, levels=None, cursors=None, ready=False, stage_cursor=None):
    return MenuState(
        frame=0, major_scene=major, minor_scene=minor,
        port_types=types or {1: 0, 2: 0}, css_characters=chars or {1: 0x21, 2: 0x21},
        cpu_levels=levels or {1: 1, 2: 1}, cursors=cursors or {1: (0.0, 0.0), 2: (0.0, 0.0)},
        ready=ready, stage_cursor=stage_cursor, stage=0,
    )  # fmt: skip


def driver(cpu_level=9):
    return MenuDriver([PortPlan(1, FALCON, cpu_level), PortPlan(2, FOX, None)], FD, lead=2)


# -- decisions ---------------------------------------------------------------------------------


def test_each_hand_moves_toward_its_character_then_clicks():
    d = driver()
    falcon, fox = FALCON.css_position, FOX.css_position
    assert falcon == (20.0, 18.5) and fox == (-22.0, 11.5)  # libmelee's grid formula
    out = d.decide(menu(cursors={1: (0.0, 0.0), 2: (0.0, 0.0)}))
    assert out[1].main[0] > 0.5 and out[1].main[1] > 0.5  # up-right toward Falcon
    assert out[2].main[0] < 0.5 and out[2].main[1] > 0.5  # up-left toward Fox
    assert not out[1].buttons and not out[2].buttons
    on = {1: falcon, 2: (fox[0] + ARRIVED / 2, fox[1])}
    out = d.decide(menu(cursors=on))
    assert out[1].buttons == {"A"} and out[2].buttons == {"A"} and out[1].main == (0.5, 0.5)
    out = d.decide(menu(cursors=on))  # a press is always followed by a release
    assert not out[1].buttons and not out[2].buttons


def test_the_cpu_port_is_toggled_then_its_level_slid_until_the_byte_reads_the_level():
    d = driver(cpu_level=9)
    chosen = {1: FALCON.css_id, 2: FOX.css_id}
    # character done, port still human: go and click the toggle
    out = d.decide(menu(chars=chosen, cursors={1: toggle_position(1), 2: (0.0, 0.0)}))
    assert out[1].buttons == {"A"}
    assert out[2] == RELEASED  # the human port is done once its character is chosen
    # CPU now, at level 1: click the slider, then tilt right while the level climbs
    at_slider = {1: slider_position(1), 2: (0.0, 0.0)}
    d.decide(menu(chars=chosen, types={1: 1, 2: 0}, levels={1: 1, 2: 1}, cursors=at_slider))  # release
    out = d.decide(menu(chars=chosen, types={1: 1, 2: 0}, levels={1: 1, 2: 1}, cursors=at_slider))
    assert out[1].buttons == {"A"}  # grab
    for level in (1, 4, 8):
        out = d.decide(menu(chars=chosen, types={1: 1, 2: 0}, levels={1: level, 2: 1}, cursors=at_slider))
        assert out[1].main[0] > 0.5 and not out[1].buttons
    done = menu(chars=chosen, types={1: 1, 2: 0}, levels={1: 9, 2: 1}, cursors=at_slider, ready=True)
    out = d.decide(done)
    assert out[1].buttons == {"A"}  # level right: let go of the slider
    assert d.port_done(d.plans[1], done)
    out = d.decide(done)
    assert out[2].buttons == {"START"}  # everyone set and the banner is up: the lead starts
    assert d.settled


def test_too_high_a_level_slides_left_and_a_stuck_slider_is_grabbed_again():
    d = driver(cpu_level=3)
    state = dict(chars={1: FALCON.css_id, 2: FOX.css_id}, types={1: 1, 2: 0}, cursors={1: slider_position(1), 2: (0, 0)})
    d.decide(menu(levels={1: 9, 2: 1}, **state))  # grab
    out = d.decide(menu(levels={1: 9, 2: 1}, **state))
    assert out[1].main[0] < 0.5
    outs = [d.decide(menu(levels={1: 9, 2: 1}, **state))[1] for _ in range(80)]
    # the level never moves, so the grab must have missed: after a while it clicks the slider again
    grabs = [i for i, o in enumerate(outs) if "A" in o.buttons]
    assert grabs and all(25 <= b - a for a, b in zip([-1] + grabs, grabs))
    assert all(o.main[0] < 0.5 for o in outs if not o.buttons)


def test_two_humans_need_human_ports():
    d = MenuDriver([PortPlan(1, FALCON), PortPlan(2, FOX)], FD, lead=1)
    out = d.decide(menu(chars={1: FALCON.css_id, 2: FOX.css_id}, types={1: 1, 2: 0}, cursors={1: toggle_position(1), 2: (0, 0)}))
    assert out[1].buttons == {"A"}  # a CPU where a human should be: toggle it


def test_stage_select_only_after_our_character_select():
    d = driver()
    out = d.decide(menu(minor=1, stage_cursor=(0.0, 0.0)))
    assert out[2].buttons == {"B"}  # not set up by us: back to the character select
    d.settled = True
    out = d.decide(menu(minor=1, stage_cursor=(0.0, 0.0)))
    assert out[2].main[0] > 0.5 and out[2].main[1] < 0.5  # FD is at (6.7, -9)
    out = d.decide(menu(minor=1, stage_cursor=FD.sss_position))
    assert out[2].buttons == {"A"}


def test_a_game_we_did_not_start_is_quit_and_post_game_skipped():
    d = driver()
    outs = [d.decide(menu(minor=2))[2] for _ in range(len(QUIT_SEQUENCE))]
    assert sum("START" in o.buttons for o in outs) == 2
    assert all({"L", "R", "A"} <= o.buttons for o in outs if "START" in o.buttons)  # never a lone START
    out = d.decide(menu(minor=4))
    assert out[1].buttons == {"START"} and out[2].buttons == {"START"}


def test_describe_names_what_is_missing():
    d = driver(cpu_level=9)
    text = d.describe(
        menu(chars={1: FALCON.css_id, 2: 0x21}, types={1: 1, 2: 0}, levels={1: 4, 2: 1}, cursors={1: (1.0, 2.0), 2: None})
    )
    assert "port 1 is falcon, CPU level 4 (want falcon, CPU level 9)" in text
    assert "hand at unknown" in text and "ready banner not shown" in text


# -- against the simulator ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "start,cpu_level",
    [("title", 9), ("css", 1), ("sss", 5), ("game", 9), ("postgame", 3)],
)
def test_reset_reaches_a_game_set_up_as_asked_from_any_menu(make_env, start, cpu_level):
    env = make_env(cpu_level=cpu_level, sim=start, char="fox", cpu_char="marth", stage="battlefield")
    obs, infos = env.reset()
    m = fake_memory(env.dolphin_pid)
    assert (m.u8(L.MAJOR), m.u8(L.MINOR)) == (2, 2)  # in a game
    assert m.u8(L.PORT_TYPE) == 1 and m.u8(L.PORT_TYPE + L.CSS_STRIDE) == 0  # port 1 CPU, port 2 human
    assert m.u8(L.CPU_LEVEL) == cpu_level  # the level byte the driver verified
    assert m.u8(L.CSS_CHAR) == CHARACTERS["marth"].css_id and m.u8(L.CSS_CHAR + L.CSS_STRIDE) == CHARACTERS["fox"].css_id
    assert m.u8(L.STAGE) == STAGES["battlefield"].stage_id
    assert m.u32(L.static(1) + L.S_CHARACTER) == CHARACTERS["marth"].external_id
    assert infos["p2"]["stocks"] == infos["p2"]["opponent_stocks"] == 4  # a fresh game
    assert infos["p2"]["percent"] == 0


def test_reset_with_two_agents_sets_two_human_ports(make_env):
    env = make_env(cpu_level=None, sim="css", char="falco", cpu_char="peach", stage="dreamland")
    env.reset()
    m = fake_memory(env.dolphin_pid)
    assert m.u8(L.PORT_TYPE) == 0 and m.u8(L.PORT_TYPE + L.CSS_STRIDE) == 0
    assert m.u8(L.CSS_CHAR) == CHARACTERS["peach"].css_id and m.u8(L.CSS_CHAR + L.CSS_STRIDE) == CHARACTERS["falco"].css_id
    assert m.u8(L.STAGE) == STAGES["dreamland"].stage_id


def test_second_reset_mid_game_quits_it_and_starts_a_new_one(make_env):
    env = make_env(cpu_level=9, sim="css")
    env.reset()
    for _ in range(20):
        _, _, _, _, infos = env.step({"p2": 9 if len(env.agents) and _ % 2 == 0 else 0})
    assert infos["p2"]["opponent_percent"] > 0
    _, infos = env.reset()
    assert infos["p2"]["opponent_percent"] == 0 and infos["p2"]["frames"] == 0 and env.frames == 0


def test_a_cpu_level_the_slider_cannot_reach_times_out_naming_the_screen(make_env):
    env = make_env(cpu_level=9, sim="css", timeout=1.5, fake_env={"FAKE_DOLPHIN_SLIDER_MAX": 5})
    with pytest.raises(ArenaError) as info:
        env.reset()
    message = str(info.value)
    assert "stayed on the character select screen for 1.5s waiting for the stage select screen" in message
    assert "CPU level 5 (want falcon, CPU level 9)" in message and "\n" not in message


def test_a_menu_the_driver_cannot_leave_times_out(make_env, melee_iso):
    image = MemoryImage()
    write_scene(image, 1, 0, 0)  # the main menu: only the Boot to CSS code gets past it
    image.save(melee_iso + ".pkl")
    env = make_env(sim=None, timeout=1.0, fake_env={"FAKE_DOLPHIN_IMAGE": melee_iso + ".pkl", "FAKE_DOLPHIN_TICK": 1})
    with pytest.raises(
        ArenaError,
        match=r"stayed on the menu screen for 1s waiting for the character select screen \(major scene 1, minor scene 0\)",
    ):
        env.reset()


def test_a_character_select_without_hands_times_out_naming_them(make_env, melee_iso):
    image = MemoryImage()
    write_scene(image, 2, 0, 0)
    for port in (1, 2):
        write_menu(image, port, port_type=0, css_char=0x21, cpu_level=1, cursor=None)
    image.save(melee_iso + ".pkl")
    env = make_env(sim=None, timeout=1.0, fake_env={"FAKE_DOLPHIN_IMAGE": melee_iso + ".pkl", "FAKE_DOLPHIN_TICK": 1})
    with pytest.raises(ArenaError, match="waiting for the stage select screen .*hand at unknown"):
        env.reset()
