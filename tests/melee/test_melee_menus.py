"""The menu driver: its decisions on hand-made menu states, then whole resets against the
menu simulator in a fake Dolphin (tests/melee/menu_sim.py), checked by reading the fake's memory."""

from __future__ import annotations

import melee_layout as L
import pytest
from conftest import fake_memory
from melee_image import MEM1_SIZE, MemoryImage, write_menu, write_scene
from menu_sim import PAUSE_TIMER, MeleeSim, Mem, PadInput

from arena.errors import ArenaError
from arena_melee.menus import (
    ARRIVED,
    HOLD_FRAMES,
    QUIT_SEQUENCE,
    MenuDriver,
    PortPlan,
    slider_position,
    toggle_position,
)
from arena_melee.pads import RELEASED
from arena_melee.state import HAND_EMPTY, MenuState
from arena_melee.tables import CHARACTERS, STAGES

FALCON, FOX = CHARACTERS["falcon"], CHARACTERS["fox"]
FD = STAGES["final_destination"]


def menu(minor=0, major=2, types=None, chars=None, levels=None, cursors=None, ready=False, stage_cursor=None, hands=None,
         sliders_held=None):  # fmt: skip
    return MenuState(
        frame=0, major_scene=major, minor_scene=minor,
        port_types=types or {1: 0, 2: 0}, css_characters=chars or {1: 0x21, 2: 0x21},
        cpu_levels=levels or {1: 1, 2: 1}, cursors=cursors or {1: (0.0, 0.0), 2: (0.0, 0.0)},
        ready=ready, stage_cursor=stage_cursor, stage=0, hands=hands or {1: HAND_EMPTY, 2: HAND_EMPTY},
        sliders_held=sliders_held or {1: False, 2: False},
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
    # entering the portraits, each hand picked up its coin: on arrival, A puts it down
    on, carrying = {1: falcon, 2: (fox[0] + ARRIVED / 2, fox[1])}, {1: L.HAND_COIN, 2: L.HAND_COIN}
    out = d.decide(menu(cursors=on, hands=carrying))
    assert out[1].buttons == {"A"} and out[2].buttons == {"A"} and out[1].main == (0.5, 0.5)
    out = d.decide(menu(cursors=on, hands=carrying))  # a press is always followed by a release
    assert not out[1].buttons and not out[2].buttons


def test_an_empty_hand_among_the_portraits_leaves_them_to_pick_up_its_coin():
    # An empty hand picks up its coin only on entering the portraits (decomp rule 1).
    d = driver()
    out = d.decide(menu(cursors={1: FALCON.css_position, 2: (-22.0, 30.0)}))
    assert out[1].main[0] == 0.5 and out[1].main[1] < 0.5 and not out[1].buttons  # straight down
    assert out[2].main[1] < 0.5  # from above the portraits it simply comes down into them


def test_a_character_is_picked_only_once_the_hand_has_put_its_coin_down():
    # Decomp rule 1: while a hand carries its coin over a portrait, the character byte already
    # shows that character, before any A. Only A puts the coin down (hand state 2, empty).
    d = driver()
    chosen = {1: FALCON.css_id, 2: FOX.css_id}
    on = {1: FALCON.css_position, 2: FOX.css_position}
    carried = menu(chars=chosen, cursors=on, hands={1: L.HAND_COIN, 2: L.HAND_COIN})
    assert not d.port_done(d.plans[2], carried)
    out = d.decide(carried)
    assert out[1].buttons == {"A"} and out[2].buttons == {"A"} and out[1].main == (0.5, 0.5)
    d.decide(carried)  # release
    put_down = menu(chars=chosen, cursors=on)
    assert d.port_done(d.plans[2], put_down)
    out = d.decide(put_down)
    assert out[1].main[1] < 0.5 and not out[1].buttons  # port 1 is on its way to the toggle
    assert out[2] == RELEASED


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
    held = {1: True, 2: False}
    for level in (1, 4, 8):
        out = d.decide(menu(chars=chosen, types={1: 1, 2: 0}, levels={1: level, 2: 1}, cursors=at_slider, sliders_held=held))
        assert out[1].main[0] > 0.5 and not out[1].buttons
    out = d.decide(menu(chars=chosen, types={1: 1, 2: 0}, levels={1: 9, 2: 1}, cursors=at_slider, sliders_held=held))
    assert out[1].buttons == {"A"}  # level right: let go of the slider
    done = menu(chars=chosen, types={1: 1, 2: 0}, levels={1: 9, 2: 1}, cursors=at_slider, ready=True)
    assert d.port_done(d.plans[1], done)
    out = d.decide(done)
    assert out[2].buttons == {"START"}  # everyone set and the banner is up: the lead starts
    assert d.settled


def test_too_high_a_level_slides_left_and_a_missed_grab_is_tried_again():
    d = driver(cpu_level=3)
    state = dict(chars={1: FALCON.css_id, 2: FOX.css_id}, types={1: 1, 2: 0}, cursors={1: slider_position(1, 9), 2: (0, 0)})
    assert d.decide(menu(levels={1: 9, 2: 1}, **state))[1].buttons == {"A"}  # grab at level 9's handle
    out = d.decide(menu(levels={1: 9, 2: 1}, sliders_held={1: True, 2: False}, **state))
    assert out[1].main[0] < 0.5 and not out[1].buttons
    # the held byte says the grab missed: click the handle again, never tilt
    outs = [d.decide(menu(levels={1: 9, 2: 1}, **state))[1] for _ in range(6)]
    assert [bool(o.buttons) for o in outs] == [True, False] * 3 and all(o.main == (0.5, 0.5) for o in outs)


def test_the_slider_is_grabbed_at_its_handle_and_let_go_when_the_held_byte_says_so():
    # Decomp rule 5: the handle sits where the level is (level = int(0.8 * offset + 0.5) + 1), it is
    # grabbed only within about 2.2 of it, and 0x803F0E0E + 0x24 * i says whether it is held.
    d = driver(cpu_level=2)
    state = dict(chars={1: FALCON.css_id, 2: FOX.css_id}, types={1: 1, 2: 0})
    at_level_5 = (slider_position(1)[0] + 4 / 0.8, slider_position(1)[1])
    out = d.decide(menu(levels={1: 5, 2: 1}, cursors={1: at_level_5, 2: (0, 0)}, **state))
    assert out[1].buttons == {"A"}  # on the handle of level 5, not libmelee's spot: grab
    held = menu(levels={1: 5, 2: 1}, cursors={1: at_level_5, 2: (0, 0)}, sliders_held={1: True, 2: False}, **state)
    out = d.decide(held)
    assert out[1].main[0] < 0.5 and not out[1].buttons  # held (the byte says so): slide left
    done = menu(levels={1: 2, 2: 1}, cursors={1: at_level_5, 2: (0, 0)}, sliders_held={1: True, 2: False}, **state)
    assert not d.port_done(d.plans[1], done)  # still held
    out = d.decide(done)
    assert out[1].buttons == {"A"}  # the level is right and the slider held: let go


def test_the_simulated_slider_follows_its_handle():
    s = sim(cpu_level=5)
    s.m.u8(L.PORT_TYPE, 1)
    handle = s.handle(1)
    assert handle[0] == pytest.approx(slider_position(1)[0] + 4 / 0.8)
    steer(s, 1, (handle[0] - 4.0, handle[1]))
    tap(s, 1, "A")  # out of reach
    assert s.m.u8(L.SLIDER_HELD) == 0
    steer(s, 1, handle)
    frame(s, 1, buttons=("A",))
    assert s.m.u8(L.SLIDER_HELD) == 1
    for _ in range(40):  # 0.3 a frame at full tilt: 12 units, past level 9
        frame(s, 1, main=(1.0, 0.5))
    assert s.m.u8(L.CPU_LEVEL) == 9
    tap(s, 1, "A")
    assert s.m.u8(L.SLIDER_HELD) == 0 and s.m.u8(L.CPU_LEVEL) == 9


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


def test_the_quit_waits_out_the_pause_timer():
    # Decomp rule 6: pausing starts a 10-frame timer in which neither quit nor unpause is accepted.
    # Each decision lasts at least HOLD_FRAMES frames, so one pass of the sequence must quit.
    d = driver()
    outs = [d.decide(menu(minor=2))[2] for _ in range(len(QUIT_SEQUENCE))]
    starts = [i for i, o in enumerate(outs) if "START" in o.buttons]
    assert len(starts) == 2 and (starts[1] - starts[0]) * HOLD_FRAMES > PAUSE_TIMER
    s = sim("game")
    for out in QUIT_SEQUENCE:  # the fastest the env can play it: HOLD_FRAMES frames a decision
        for _ in range(HOLD_FRAMES):
            frame(s, 2, main=out.main, buttons=out.buttons)
    assert s.quits == 1 and s.scene() == (2, 0)


def test_describe_names_what_is_missing():
    d = driver(cpu_level=9)
    text = d.describe(
        menu(chars={1: FALCON.css_id, 2: 0x21}, types={1: 1, 2: 0}, levels={1: 4, 2: 1}, cursors={1: (1.0, 2.0), 2: None})
    )
    assert "port 1 is falcon, CPU level 4 (want falcon, CPU level 9)" in text
    assert "hand at unknown" in text and "ready banner not shown" in text


# -- the simulator's rules (the decompilation, docs/melee.md), in process -------------------


def sim(start="css", unlocked=True, cpu_level=1) -> MeleeSim:
    return MeleeSim(Mem(bytearray(MEM1_SIZE)), start=start, unlocked=unlocked, cpu_level=cpu_level)


def frame(s: MeleeSim, port: int, main=(0.5, 0.5), buttons=()) -> None:
    pads = {p: PadInput() for p in (1, 2, 3, 4)}
    pads[port].main, pads[port].buttons = main, set(buttons)
    s.frame(pads)


def tap(s: MeleeSim, port: int, button: str) -> None:
    frame(s, port, buttons=(button,))
    frame(s, port)


def hand(port: int) -> int:
    return L.CURSOR_BASE + 0x40 * (port - 1)


def steer(s: MeleeSim, port: int, target, stage=False) -> None:
    """Tilt port's stick until its hand (or the stage cursor) is within 0.7 of target."""
    at = L.SSS_OBJECTS[-1] if stage else hand(port)
    for _ in range(300):
        x, y = s.m.f32(at + L.CURSOR_X if not stage else at + L.SSS_X), s.m.f32(at + L.CURSOR_Y if not stage else at + L.SSS_Y)
        d = (target[0] - x, target[1] - y)
        if abs(d[0]) < 0.7 and abs(d[1]) < 0.7:
            return
        frame(s, port, main=tuple(0.5 if abs(v) < 0.7 else 0.5 + (0.5 if abs(v) > 2 else 0.25) * (1 if v > 0 else -1) for v in d))
    raise AssertionError(f"the cursor did not reach {target}")


def test_the_simulated_hand_carries_its_coin_and_the_byte_follows_it():
    s = sim()
    char, held = (lambda: s.m.u8(L.CSS_CHAR)), (lambda: s.m.u8(hand(1) + L.HAND_STATE))
    assert held() == L.HAND_EMPTY and char() == L.NO_CHARACTER
    steer(s, 1, FALCON.css_position)  # an empty hand entering the portraits picks up its coin
    assert held() == L.HAND_COIN and char() == FALCON.css_id  # the byte follows the coin, before A
    assert s.m.u8(L.READY) != 0  # no banner while a hand holds something
    steer(s, 1, toggle_position(1))  # carried below the portraits: down with no character
    assert held() == L.HAND_EMPTY and char() == L.NO_CHARACTER
    steer(s, 1, FALCON.css_position)
    tap(s, 1, "A")  # A puts it down on Falcon
    assert held() == L.HAND_EMPTY and char() == FALCON.css_id
    steer(s, 1, toggle_position(1))  # an empty hand leaves its coin where it is
    assert char() == FALCON.css_id
    tap(s, 1, "A")
    assert s.m.u8(L.PORT_TYPE) == 1  # the toggle works with the coin down and the hand empty


def test_a_fresh_save_hides_characters_and_stages_in_the_simulator():
    s = sim(unlocked=False)
    steer(s, 1, CHARACTERS["marth"].css_position)
    assert s.m.u8(L.CSS_CHAR) != CHARACTERS["marth"].css_id  # hidden: the coin never shows Marth
    steer(s, 1, CHARACTERS["luigi"].css_position)
    assert s.m.u8(L.CSS_CHAR) == CHARACTERS["pikachu"].css_id  # Pikachu takes Luigi's slot
    s = sim("sss", unlocked=False)
    steer(s, 2, FD.sss_position, stage=True)
    tap(s, 2, "A")  # A over a hidden icon, with no visible one hovered before: nothing
    assert s.scene() == (2, 1) and not s.countdown
    steer(s, 2, STAGES["pokemon_stadium"].sss_position, stage=True)
    steer(s, 2, FD.sss_position, stage=True)
    tap(s, 2, "A")  # ... and after one: that one
    assert s.countdown and s.m.u8(L.STAGE) == STAGES["pokemon_stadium"].stage_id
    s = sim("sss", unlocked=True)
    steer(s, 2, FD.sss_position, stage=True)
    tap(s, 2, "A")
    assert s.countdown and s.m.u8(L.STAGE) == FD.stage_id


# -- against the simulator ---------------------------------------------------------------------


def test_reset_enables_the_unlock_code_so_a_fresh_save_shows_every_stage_and_character(make_env):
    env = make_env(cpu_level=9, sim="css", char="falcon", cpu_char="marth", stage="final_destination", timeout=5.0)
    for ini in ("GALE01r2.ini", "GALE01.ini"):
        game = (env._dolphin.user_dir / "GameSettings" / ini).read_text()
        # as Debian's Dolphin ships it, enabled by its name (the header up to the creator)
        assert "$Unlock All Characters and Stages [Datel]\n0445BF28 FFFFFFFF\n0445BF2C FFFFFFFF" in game
        assert "[Gecko_Enabled]\n$Boot to CSS\n$Unlock All Characters and Stages\n" in game
    env.reset()
    m = fake_memory(env.dolphin_pid)
    assert m.u8(L.STAGE) == FD.stage_id and m.u8(L.CSS_CHAR) == CHARACTERS["marth"].css_id


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


def test_reset_moves_a_slider_that_starts_at_another_level(make_env):
    # The slider's handle sits at the level it shows: from level 7 the grab is not at level 1's spot.
    env = make_env(cpu_level=2, sim="css", timeout=5.0, fake_env={"FAKE_DOLPHIN_CPU_LEVEL": 7})
    env.reset()
    m = fake_memory(env.dolphin_pid)
    assert m.u8(L.CPU_LEVEL) == 2 and m.u8(L.SLIDER_HELD) == 0


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


def test_the_frame_counter_restarts_on_every_scene_change():
    # The decompilation: 0x80479D60 counts on menu screens too, and restarts at 0 on a scene change.
    s = sim("title")
    for _ in range(50):
        frame(s, 2)
    assert s.m.u32(L.FRAME) == 50  # counting on the title screen
    tap(s, 2, "START")  # title -> character select
    assert s.scene() == (2, 0) and s.m.u32(L.FRAME) == 2  # restarted by the press, one frame after it


def test_the_env_counts_game_frames_across_a_restarted_counter(make_env):
    # reset() leaves the counter low (the game scene just began); a second reset quits that game
    # and starts another, restarting it twice: frames still count from each game's start.
    env = make_env(cpu_level=9, act_every=3)
    for _ in range(2):
        env.reset()
        for _ in range(20):
            *_, infos = env.step({"p2": 0})
        assert 60 <= infos["p2"]["frames"] < 200
