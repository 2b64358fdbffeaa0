"""MeleeEnv end to end on a fake Dolphin running the menu simulator: the Parallel API, rewards,
scores, options, errors, and the Dolphin process and user folder the env manages."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import melee_layout as L
import numpy as np
import pytest
from conftest import fake_memory

from arena.errors import ArenaError
from arena_melee.embed import ACTION_OFFSET, CHARACTER_OFFSET, OBS_SIZE, PLAYER_SIZE, STAGE_OFFSET
from arena_melee.pads import ACTION_MEANINGS, NUM_ACTIONS
from arena_melee.tables import CHARACTERS, STAGES

NOOP, JAB = 0, ACTION_MEANINGS.index("A")


def jabber(step: int) -> int:
    return JAB if step % 2 == 0 else NOOP  # press, release: one attack every two steps


def test_parallel_api_against_the_cpu(make_env):
    from pettingzoo.test import parallel_api_test

    env = make_env(cpu_level=9)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=60)
    assert not [str(w.message) for w in caught if "pettingzoo" in w.filename]
    assert env.possible_agents == ["p2"]
    assert env.action_space("p2").n == NUM_ACTIONS == 54
    assert env.observation_space("p2").shape == (OBS_SIZE,) == (900,)  # as docs/melee.md says


def test_parallel_api_two_agents(make_env):
    from pettingzoo.test import parallel_api_test

    env = make_env(cpu_level=None)
    parallel_api_test(env, num_cycles=60)
    assert env.possible_agents == ["p1", "p2"]


def test_a_game_against_the_cpu_to_the_last_stock(make_env):
    # In the simulator a jab deals 8% and 60% is a KO; a level-1 CPU attacks every 90 frames.
    env = make_env(cpu_level=1, char="fox", cpu_char="falcon")
    obs, infos = env.reset(seed=3)
    assert list(obs) == ["p2"] and obs["p2"].dtype == np.float32
    total, step, expected = 0.0, 0, 0.0
    prev = infos["p2"]
    terminations = truncations = None
    while env.agents:
        obs, rewards, terminations, truncations, infos = env.step({"p2": jabber(step)})
        step += 1
        assert list(rewards) == ["p2"]
        total += rewards["p2"]
        info = infos["p2"]
        # the reward, rebuilt from what infos report: KOs and damage on both sides
        dealt = (info["kos"] - prev["kos"]) + 0.01 * max(info["opponent_percent"] - prev["opponent_percent"], 0)
        taken = (info["opponent_kos"] - prev["opponent_kos"]) + 0.01 * max(info["percent"] - prev["percent"], 0)
        assert rewards["p2"] == pytest.approx(dealt - taken), step
        expected += dealt - taken
        prev = info
        assert env.observation_space("p2").contains(obs["p2"])
    assert terminations == {"p2": True} and truncations == {"p2": False}
    scores = env.scores()
    assert scores == {"p1": info["opponent_kos"], "p2": 4}  # four KOs: all the CPU's stocks
    assert scores["p1"] < 4 and info["opponent_stocks"] == 0
    assert total == pytest.approx(expected) and total > 2
    assert env.frames == info["frames"] >= 2 * step  # at least act_every=2 frames a step
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"p2": NOOP})


def test_two_agents_rewards_are_opposite_and_observations_own_side_first(make_env):
    env = make_env(cpu_level=None, char="fox", cpu_char="marth", stage="yoshis_story")
    obs, _ = env.reset()
    # each seat sees itself first: p1's own block is p2's "other" block and vice versa
    np.testing.assert_array_equal(obs["p1"][:PLAYER_SIZE], obs["p2"][PLAYER_SIZE:STAGE_OFFSET])
    np.testing.assert_array_equal(obs["p2"][:PLAYER_SIZE], obs["p1"][PLAYER_SIZE:STAGE_OFFSET])
    for seat, char in (("p1", "marth"), ("p2", "fox")):
        one_hot = obs[seat][CHARACTER_OFFSET : CHARACTER_OFFSET + 32]
        assert one_hot.argmax() == CHARACTERS[char].external_id and one_hot.sum() == 1
        assert obs[seat][STAGE_OFFSET + STAGES["yoshis_story"].stage_id] == 1
        assert obs[seat][ACTION_OFFSET + 0x0E] == 1  # standing (Wait)
    step = 0
    while env.agents:
        obs, rewards, _, _, infos = env.step({"p1": jabber(step), "p2": NOOP})
        step += 1
        assert rewards["p1"] == pytest.approx(-rewards["p2"])
        assert obs["p1"][1] == pytest.approx(infos["p1"]["percent"] * 0.01)  # own percent, scaled
        assert obs["p2"][PLAYER_SIZE + 1] == pytest.approx(infos["p1"]["percent"] * 0.01)
    assert env.scores() == {"p1": 4, "p2": 0}


def test_moves_show_up_in_the_observation(make_env):
    env = make_env(cpu_level=9, act_every=4)
    obs, _ = env.reset()
    x0 = obs["p2"][4]
    right = ACTION_MEANINGS.index("right")
    for _ in range(5):
        obs, *_ = env.step({"p2": right})
    assert obs["p2"][4] > x0 + 0.05  # x (scaled by 0.01) grew: the pad reached the game
    assert obs["p2"][3] == 1.0  # facing right
    obs, *_ = env.step({"p2": ACTION_MEANINGS.index("Y")})
    obs, *_ = env.step({"p2": ACTION_MEANINGS.index("Y")})
    assert obs["p2"][10] == 1.0 and obs["p2"][5] > 0  # in the air, above the stage


@pytest.mark.parametrize("delay", [1, 3])
def test_delay_returns_observations_delay_steps_old(make_env, delay):
    from arena_melee.embed import embed_game

    env = make_env(cpu_level=9, delay=delay)
    obs, _ = env.reset()
    fresh = [embed_game(env._state, 2, 1)]
    seen = [obs["p2"]]
    for step in range(12):
        obs, *_ = env.step({"p2": jabber(step)})
        fresh.append(embed_game(env._state, 2, 1))
        seen.append(obs["p2"])
    for t in range(len(seen)):
        np.testing.assert_array_equal(seen[t], fresh[max(0, t - delay)], err_msg=f"t={t}")
    assert any(not np.array_equal(a, b) for a, b in zip(seen, fresh))


def test_max_frames_truncates_and_act_every_spaces_steps(make_env):
    env = make_env(cpu_level=1, act_every=5, max_frames=40)
    env.reset()
    steps, frames = 0, [0]
    while env.agents:
        _, _, terminations, truncations, infos = env.step({"p2": NOOP})
        steps += 1
        frames.append(env.frames)
    assert truncations == {"p2": True} and terminations == {"p2": False}
    assert env.frames >= 40 and all(b - a >= 5 for a, b in zip(frames, frames[1:]))
    assert steps <= 8


def test_a_time_match_ends_on_the_post_game_screen(make_env):
    env = make_env(cpu_level=1, fake_env={"FAKE_DOLPHIN_TIME_LIMIT": 150})
    _, infos = env.reset()
    assert infos["p2"]["stocks"] == 0  # no stocks in a time match: not a reason to stop
    while env.agents:
        _, _, terminations, _, _ = env.step({"p2": NOOP})
    # The 150-frame clock ran out. It starts with the game, and reset() returns a few frames in
    # (more on a busy machine), so the env counts a little less than 150; the last read may land a
    # few frames past the end (the fake runs unthrottled, and a busy machine reads late), but
    # nowhere near the 28,800-frame cap.
    assert terminations == {"p2": True} and 100 <= env.frames <= 150 + 30
    m = fake_memory(env.dolphin_pid)
    time.sleep(0.1)
    assert (m.u8(L.MAJOR), m.u8(L.MINOR)) == (2, 4)  # the game went to the post-game screen
    env.reset()  # and the next reset skips it


def test_bad_actions_are_errors(make_env):
    env = make_env(cpu_level=9)
    env.reset()
    with pytest.raises(ValueError, match="0-53; got p2=54"):
        env.step({"p2": 54})
    with pytest.raises(KeyError):
        env.step({})


# -- Dolphin failing ---------------------------------------------------------------------------


def test_dolphin_exiting_mid_game_is_a_clear_error(make_env):
    env = make_env(cpu_level=1, fake_env={"FAKE_DOLPHIN_EXIT_AFTER": 0.8})  # a game lasts ~3 s
    env.reset()
    with pytest.raises(ArenaError) as info:
        for _ in range(10_000):
            env.step({"p2": NOOP})
    message = str(info.value)
    assert message.startswith("Dolphin exited with status 3; its last output: ")
    assert message.endswith("fake Dolphin: emulation crashed") and "\n" not in message


def test_dolphin_exiting_at_boot_is_a_clear_error(make_env):
    with pytest.raises(ArenaError, match="Dolphin exited with status 1; its last output: .*Could not boot the specified file$"):
        make_env(fake_env={"FAKE_DOLPHIN_BOOT_FAIL": 1})


def test_dolphin_running_no_game_is_status_no_emu(make_env):
    with pytest.raises(ArenaError, match=r"runs but no game is running in it \(status noEmu\) after 1s"):
        make_env(timeout=1.0, fake_env={"FAKE_DOLPHIN_NO_EMU": 1})


def test_dolphin_hanging_is_a_clear_error(make_env):
    env = make_env(cpu_level=1, timeout=1.0, fake_env={"FAKE_DOLPHIN_FREEZE_AFTER": 0.8})
    env.reset()
    with pytest.raises(ArenaError, match=r"Dolphin hangs: Melee's frame counter stayed at \d+ for 1s"):
        for _ in range(10_000):
            env.step({"p2": NOOP})


# -- the process and the user folder -----------------------------------------------------------


def test_fresh_user_folder_is_set_up_for_pipes_and_headless_speed(make_env):
    env = make_env(cpu_level=9)
    user = env._dolphin.user_dir
    dolphin_ini = (user / "Config" / "Dolphin.ini").read_text()
    for line in ("SIDevice0 = 6", "SIDevice1 = 6", "SIDevice2 = 0", "GFXBackend = Null", "EmulationSpeed = 0",
                 "EnableCheats = True", "Backend = No Audio Output", "BackgroundInput = True"):  # fmt: skip
        assert line in dolphin_ini, line
    pads = (user / "Config" / "GCPadNew.ini").read_text()
    assert "[GCPad1]\nDevice = Pipe/0/arena_pad1\nButtons/A = `Button A`" in pads
    assert "[GCPad2]\nDevice = Pipe/0/arena_pad2" in pads
    for binding in ("Main Stick/Up = `Axis MAIN Y +`", "C-Stick/Left = `Axis C X -`", "Triggers/L-Analog = `Axis L +`",
                    "Buttons/Start = `Button START`", "D-Pad/Right = `Button D_RIGHT`"):  # fmt: skip
        assert binding in pads, binding
    for ini in ("GALE01r2.ini", "GALE01.ini"):
        game = (user / "GameSettings" / ini).read_text()
        assert "[Gecko]\n$Boot to CSS [Dan Salvato, Achilles]\n041BFA20 38600002" in game
        assert "[Gecko_Enabled]\n$Boot to CSS" in game
    for port in (1, 2):
        assert (user / "Pipes" / f"arena_pad{port}").is_fifo()
    # Dolphin runs under this process's name, reading both FIFOs
    pid = env.dolphin_pid
    assert Path(f"/proc/{pid}/comm").read_text().strip() == f"dolphin-{os.getpid()}"[:15]
    held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    assert {str(user / "Pipes" / "arena_pad1"), str(user / "Pipes" / "arena_pad2")} <= held
    run_dir = env._dolphin.run_dir
    env.close()
    assert not Path(f"/proc/{pid}").exists() and not run_dir.exists()
    env.close()  # twice is fine


def test_an_existing_user_folder_is_updated_not_replaced_and_locked(make_env, tmp_path):
    user = tmp_path / "my-dolphin"
    (user / "Config").mkdir(parents=True)
    (user / "Config" / "Dolphin.ini").write_text("[General]\nISOPath0 = /games\n[Core]\nGFXBackend = Vulkan\nCPUThread = True\n")
    (user / "GameSettings").mkdir()
    (user / "GameSettings" / "GALE01r2.ini").write_text("[Gecko]\n$My code\n04000000 00000000\n[Gecko_Enabled]\n$My code\n")
    env = make_env(cpu_level=9, user_dir=str(user))
    env.reset()
    ini = (user / "Config" / "Dolphin.ini").read_text()
    assert "ISOPath0 = /games" in ini and "CPUThread = True" in ini  # the user's settings stay
    assert "GFXBackend = Null" in ini and "Vulkan" not in ini
    game = (user / "GameSettings" / "GALE01r2.ini").read_text()
    assert "$My code\n04000000 00000000" in game and "041BFA20 38600002" in game
    assert game.count("[Gecko]") == 1 and "[Gecko_Enabled]\n$My code\n$Boot to CSS" in game
    from arena_melee.dolphin import Dolphin

    other = Dolphin("/bin/true", env.options.iso, name="dolphin-x", user_dir=str(user))
    with pytest.raises(ArenaError, match="user folder .*my-dolphin is in use by another Melee env"):
        other.prepare()
    other.stop()
    env.close()
    assert user.exists() and (user / "Pipes" / "arena_pad1").is_fifo()  # the user's folder is kept


@pytest.mark.parametrize("stubborn", [1, 5])
def test_stop_gets_past_a_dolphin_that_ignores_sigterm(make_env, stubborn):
    env = make_env(cpu_level=9, fake_env={"FAKE_DOLPHIN_STUBBORN": stubborn})
    pid = env.dolphin_pid
    started = time.monotonic()
    code = env._dolphin.stop(timeout=0.5)
    assert not Path(f"/proc/{pid}").exists()
    assert code == (0 if stubborn == 1 else -9)  # a second SIGTERM, or else SIGKILL
    assert time.monotonic() - started < 3


def test_an_env_never_closed_stops_its_dolphin_when_collected(fake_dolphin_bin, melee_iso, monkeypatch):
    import gc

    from arena_melee import MeleeOptions
    from arena_melee.env import MeleeEnv

    monkeypatch.setenv("FAKE_DOLPHIN_SIM", "css")
    env = MeleeEnv(MeleeOptions(iso=melee_iso, dolphin=fake_dolphin_bin), 9)
    pid, run_dir = env.dolphin_pid, env._dolphin.run_dir
    del env
    gc.collect()
    assert not Path(f"/proc/{pid}").exists() and not run_dir.exists()
