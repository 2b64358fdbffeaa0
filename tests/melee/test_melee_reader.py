"""The game-state reader, through the real dolphin-memory-engine, against a fake Dolphin.

Each test writes a synthetic memory image (addresses from tests/melee/melee_layout.py, written
independently of the plugin) into a fake Dolphin process and reads it back with the plugin.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys

import melee_layout as L
import pytest
from melee_image import MemoryImage, Player, write_menu, write_player, write_scene, write_stage_cursor

from arena.errors import ArenaError
from arena_melee.memory import MeleeMemory, process_name
from arena_melee.state import PlayerState, Scene

# Values exactly representable as f32, different for every field and both ports.
# P1 is in a damage state (0x58, DAMAGE_FLY_NEUTRAL), so its hitstun counts.
P1 = Player(character=0x02, x=-12.5, y=33.25, percent=87, stocks=3, facing=-1.0, action_state=0x58,
            action_frame=7.0, in_air=1, jumps_used=2, hitlag=3.0, hitstun=12.5, shield=45.75, invulnerable=1,
            speed_air_x_self=1.25, speed_y_self=-2.5, speed_x_attack=0.75, speed_y_attack=-0.125,
            speed_ground_x_self=0.0625)  # fmt: skip
P2 = Player(character=0x00, x=40.0, y=-0.5, percent=300, stocks=1, facing=1.0, action_state=0x155,
            action_frame=21.5, in_air=0, jumps_used=0, hitlag=0.0, hitstun=0.0, shield=60.0, invulnerable=0,
            speed_air_x_self=-3.0, speed_y_self=0.5, speed_x_attack=-1.5, speed_y_attack=2.25,
            speed_ground_x_self=-1.75)  # fmt: skip


def expected(port: int, p: Player) -> PlayerState:
    fields = {f.name for f in dataclasses.fields(PlayerState)} - {"port", "present"}
    values = {name: getattr(p, name) for name in fields}
    values["in_air"] = bool(p.in_air)
    values["invulnerable"] = bool(p.invulnerable or p.move_invulnerable)
    values["hitstun"] = p.hitstun if p.action_state in L.DAMAGE_STATES else 0.0
    return PlayerState(port=port, present=True, **values)


def game_image(frame=1234, p1=P1, p2=P2, major=2, minor=2, stage=25) -> MemoryImage:
    image = MemoryImage()
    write_scene(image, major, minor, frame, stage)
    write_player(image, 1, p1)
    write_player(image, 2, p2)
    return image


def test_reads_every_field_of_both_players(start_fake, hooked):
    start_fake(game_image())
    state = hooked().read_state()
    assert (state.frame, state.major_scene, state.minor_scene, state.stage) == (1234, 2, 2, 25)
    assert state.scene is Scene.IN_GAME
    assert state.players[1] == expected(1, P1)
    assert state.players[2] == expected(2, P2)
    assert not state.players[1].dead and not state.players[2].dead


def test_fighter_fields_are_read_through_the_gobjs_fighter_pointer(start_fake, hooked):
    # The image keeps each Fighter's data at GObj+0x400, not +0x60, and fills the old place with
    # other numbers: a reader that adds the offsets to the GObj reads those.
    image = game_image()
    e = L.entity(1)
    image.u32(e + L.E_ACTION, 0x155).f32(e + L.E_FACING, -7.0).f32(e + L.E_SHIELD, 1.5)
    start_fake(image)
    assert hooked().read_state().players[1] == expected(1, P1)


def test_reads_ports_3_and_4_and_follows_changes(start_fake, hooked):
    fake = start_fake(game_image())
    memory = hooked()
    image = MemoryImage()
    write_player(image, 4, dataclasses.replace(P1, percent=5, entity=0x80E20000))
    fake.write(image)
    assert memory.read_state(ports=(4,)).players[4] == dataclasses.replace(expected(4, P1), percent=5)
    # The reader sees the memory as it is now, every call.
    fake.write(game_image(frame=1240, p2=dataclasses.replace(P2, x=41.5, percent=301)))
    state = memory.read_state()
    assert state.frame == 1240 and state.players[2].x == 41.5 and state.players[2].percent == 301
    assert memory.read_frame() == 1240


def test_null_player_pointer_gives_a_player_that_is_not_present(start_fake, hooked):
    start_fake(game_image(p2=dataclasses.replace(P2, entity=None)))
    state = hooked().read_state()
    p2 = state.players[2]
    assert p2.present is False
    # the static block is still read: the HUD's percent and stocks, position, character
    assert (p2.percent, p2.stocks, p2.x, p2.y, p2.character) == (300, 1, 40.0, -0.5, 0x00)
    # nothing is read through the null pointer
    assert (p2.action_state, p2.action_frame, p2.shield, p2.facing, p2.in_air) == (0, 0.0, 0.0, 0.0, False)
    assert p2.dead  # out of the game counts as dead for the reward
    assert state.players[1] == expected(1, P1)


@pytest.mark.parametrize("pointer", [0x00000000, 0x00001234, 0x81800000, 0xFFFFFFF0, 0x817FF000])
def test_pointers_outside_mem1_are_treated_as_null(start_fake, hooked, pointer):
    # 0x817FF000 is inside MEM1 but the entity's fields would run past its end.
    image = MemoryImage().u32(0x80453080 + 0xB0, pointer)
    fake = start_fake(game_image(p1=dataclasses.replace(P1, entity=None)))
    fake.write(image)
    assert hooked().read_state().players[1].present is False


@pytest.mark.parametrize("action_state,dead", [(0x0, True), (0x4, True), (0xA, True), (0xB, False), (0xE, False), (0x155, False)])
def test_dead_players_are_action_states_up_to_0xA(start_fake, hooked, action_state, dead):
    start_fake(game_image(p1=dataclasses.replace(P1, action_state=action_state, stocks=0)))
    p1 = hooked().read_state().players[1]
    assert p1.present and p1.action_state == action_state
    assert p1.dead is dead


@pytest.mark.parametrize(
    "action_state,hitstun",
    [(0x14, 0.0), (0x0E, 0.0), (0x4A, 0.0), (0x4B, 12.5), (0x50, 12.5), (0x5B, 12.5), (0x5C, 0.0), (0xB5, 0.0)],
)
def test_hitstun_counts_only_in_damage_states(start_fake, hooked, action_state, hitstun):
    # +0x23A0 is a per-motion-state union: outside libmelee's damage states (DAMAGE_HIGH_1 0x4B ..
    # DAMAGE_FLY_ROLL 0x5B) it holds some other state's data, here 12.5, and reads as no hitstun.
    start_fake(game_image(p1=dataclasses.replace(P1, action_state=action_state, hitstun=12.5)))
    p1 = hooked().read_state().players[1]
    assert (p1.action_state, p1.hitstun) == (action_state, hitstun)


@pytest.mark.parametrize("move,body,invulnerable", [(0, 0, False), (1, 0, True), (0, 1, True), (2, 0, True), (1, 2, True)])
def test_invulnerable_when_either_flag_is_set(start_fake, hooked, move, body, invulnerable):
    # A move's invulnerability at fighter+0x1988 (entity +0x19E8) beside the one at fighter+0x198C
    # (entity +0x19EC): either makes the fighter invulnerable.
    start_fake(game_image(p1=dataclasses.replace(P1, move_invulnerable=move, invulnerable=body)))
    assert hooked().read_state().players[1].invulnerable is invulnerable


@pytest.mark.parametrize(
    "major,minor,scene",
    [
        (0, 0, Scene.MENU),  # title screen
        (1, 0, Scene.MENU),  # main menu
        (1, 2, Scene.MENU),
        (2, 0, Scene.CHARACTER_SELECT),
        (2, 1, Scene.STAGE_SELECT),
        (2, 2, Scene.IN_GAME),
        (2, 3, Scene.IN_GAME),  # sudden death
        (2, 4, Scene.POST_GAME),
        (2, 5, Scene.MENU),
        (8, 2, Scene.MENU),  # another major scene's "in game" is not VS mode
    ],
)
def test_scene_detection(start_fake, hooked, major, minor, scene):
    start_fake(game_image(major=major, minor=minor))
    memory = hooked()
    assert memory.read_state().scene is scene
    assert memory.read_menu().scene is scene


def test_reads_the_menus(start_fake, hooked):
    image = MemoryImage()
    write_scene(image, 2, 0, 77, stage=6)
    write_menu(image, 1, port_type=1, css_char=7, cpu_level=9, cursor=(-30.5, -15.25))
    write_menu(image, 2, port_type=0, css_char=10, cpu_level=3, cursor=(12.0, 4.5), hand_state=L.HAND_COIN)
    image.u8(0x804D6CF2, 0)  # ready banner shown
    image.u8(0x803F0E0E, 1)  # port 1's CPU-level slider is held
    write_stage_cursor(image, (6.75, -9.0))
    fake = start_fake(image)
    memory = hooked()
    menu = memory.read_menu()
    assert menu.hands == {1: 2, 2: L.HAND_COIN} and menu.hand_empty(1) and not menu.hand_empty(2)
    assert menu.sliders_held == {1: True, 2: False}
    assert menu.scene is Scene.CHARACTER_SELECT and menu.frame == 77 and menu.stage == 6
    assert menu.port_types == {1: 1, 2: 0}
    assert menu.css_characters == {1: 7, 2: 10}
    assert menu.cpu_levels == {1: 9, 2: 3}
    assert menu.cursors == {1: (-30.5, -15.25), 2: (12.0, 4.5)}
    assert menu.ready is True
    assert menu.stage_cursor == (6.75, -9.0)
    # not set up: a null hand pointer, a hidden banner, a null stage-cursor chain
    update = MemoryImage()
    write_menu(update, 2, port_type=3, css_char=0x21, cpu_level=1, cursor=None)
    update.u8(0x804D6CF2, 0x20)
    write_stage_cursor(update, None)
    fake.write(update)
    menu = memory.read_menu()
    assert menu.cursors == {1: (-30.5, -15.25), 2: None} and menu.hands[2] is None
    assert menu.port_types[2] == 3 and menu.ready is False and menu.stage_cursor is None


def test_the_stage_is_the_selected_icon_byte_not_the_stick_byte(start_fake, hooked):
    # Decomp rule 2: 0x804D6CAE is the selected stage icon; 0x804D6CAD before it is the stage
    # select's stick Y, 0 after the neutral A press that picked the stage.
    image = game_image(stage=25)
    image.u8(0x804D6CAE, 25).u8(0x804D6CAD, 0)
    start_fake(image)
    memory = hooked()
    assert memory.read_state().stage == 25
    assert memory.read_menu().stage == 25


def test_the_stage_cursor_is_read_through_the_static_pointer_chain(start_fake, hooked):
    # Decomp rule 4: [[[0x804D7820] + 0x10] + 0x28] + 0x38 / + 0x3C. The old root 0x80BDA810 is a
    # heap address; here it points at an unrelated object that the old chain reads as (-27, 19).
    image = MemoryImage()
    write_scene(image, 2, 1, 5)
    write_stage_cursor(image, (6.75, -9.0), stale=(-27.0, 19.0))
    fake = start_fake(image)
    memory = hooked()
    assert memory.read_menu().stage_cursor == (6.75, -9.0)
    first, second, _ = L.SSS_OBJECTS
    for link in (0x804D7820, first + 0x10, second + 0x28):  # a null link anywhere: no cursor
        fake.write(MemoryImage().u32(link, 0))
        assert memory.read_menu().stage_cursor is None
        write_stage_cursor(image, (6.75, -9.0))
        fake.write(image)
    assert memory.read_menu().stage_cursor == (6.75, -9.0)


def test_hook_without_dolphin_is_status_not_running(start_fake):
    with pytest.raises(ArenaError) as info:
        MeleeMemory(process_name()).hook(timeout=0.3)
    message = str(info.value)
    assert "notRunning" in message and process_name() in message and "\n" not in message


def test_hook_with_dolphin_but_no_game_is_status_no_emu(start_fake):
    start_fake(FAKE_DOLPHIN_NO_EMU=1)
    with pytest.raises(ArenaError) as info:
        MeleeMemory(process_name()).hook(timeout=0.5)
    message = str(info.value)
    assert "noEmu" in message and "no game is running" in message and "\n" not in message


def test_reads_after_dolphin_died_are_a_clear_error(start_fake, hooked):
    fake = start_fake(game_image())
    calls = []

    def check(grace):  # what the env passes: raise the real cause when Dolphin is gone
        calls.append(grace)
        if fake.proc.poll() is not None:
            raise ArenaError(f"Dolphin was killed by signal {-fake.proc.returncode}")

    memory = hooked(check=check)
    assert memory.read_frame() == 1234
    fake.proc.send_signal(signal.SIGKILL)
    fake.proc.wait()
    with pytest.raises(ArenaError, match="Dolphin was killed by signal 9"):
        memory.read_state()
    assert calls == [1.0]  # once, with time for an exit under way
    plain = MeleeMemory(process_name())
    plain._dme = memory._dme  # no check(): the read error itself, on one line
    with pytest.raises(ArenaError, match="reading Melee's memory from Dolphin .* failed"):
        plain.read_frame()


def test_one_process_hooks_one_name(start_fake, hooked):
    start_fake(game_image())
    hooked()  # this process's name is now fixed for dolphin-memory-engine
    with pytest.raises(ArenaError, match="one Dolphin per process"):
        MeleeMemory("dolphin-other").hook(timeout=0.2)


READ_ONE = """
import sys
from arena_melee.memory import MeleeMemory
memory = MeleeMemory(sys.argv[1]).hook(timeout=10)
print(memory.read_frame(), memory.read_state().players[1].percent)
"""


def test_two_processes_hook_their_own_fake_dolphins_at_once(start_fake, fake_dolphin_bin, tmp_path):
    # Two Dolphins with their own names, each read by its own process at the same time.
    from conftest import FakeDolphin

    fakes = []
    try:
        for index, (frame, percent) in enumerate(((111, 11), (222, 22))):
            image = game_image(frame=frame, p1=dataclasses.replace(P1, percent=percent))
            tmp = tmp_path / f"twin{index}"
            tmp.mkdir()
            image.save(tmp / "image.pkl")
            fakes.append(
                FakeDolphin(fake_dolphin_bin, tmp, {"FAKE_DOLPHIN_IMAGE": str(tmp / "image.pkl")}, f"dolphin-twin{index}")
            )
        readers = [
            subprocess.Popen([sys.executable, "-c", READ_ONE, f"dolphin-twin{i}"], stdout=subprocess.PIPE, text=True)
            for i in range(2)
        ]
        outputs = [reader.communicate(timeout=60)[0].split() for reader in readers]
        assert [r.returncode for r in readers] == [0, 0]
        assert outputs == [["111", "11"], ["222", "22"]]
    finally:
        for fake in fakes:
            fake.stop()
