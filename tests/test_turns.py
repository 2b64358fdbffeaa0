"""One-player games played head to head (Airstriker, and Sonic without its ROM): two seats taking
turns from the same start, training alone, matches, leaderboards and replays over score games.

stable-retro allows ONE emulator per process: every env here comes from the ``make_env`` fixture,
which closes the previous one first.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from test_train import run_arena

from arena.games.replay import check_movie, play_movie, second_turn
from arena.plugins.manager import load_plugins
from arena.training.plan import plan_training
from arena.training.rollout import ALONE, SeatEnv
from arena_sonic import (
    ACTION_MEANINGS,
    AIRSTRIKER,
    SONIC,
    SONIC_TRAINING_LEVELS,
    AirstrikerOptions,
    SonicOptions,
)
from arena_sonic.env import TurnsEnv
from arena_sonic.wrappers import GENESIS_BUTTONS, REWARD_SCALE, Discretizer

PLUGINS = "agents,pong,sonic,algorithms,enemies"


@pytest.fixture
def make_env():
    """``make_env(**options)`` -> an Airstriker TurnsEnv; at most one alive at a time."""
    alive: list[TurnsEnv] = []

    def make(**options) -> TurnsEnv:
        while alive:
            alive.pop().close()
        env = AIRSTRIKER.make(AirstrikerOptions(**options), None)
        alive.append(env)
        return env

    yield make
    while alive:
        alive.pop().close()


def play_turn(env: TurnsEnv, seat: str, actions: np.random.Generator, out: dict) -> None:
    """Play ``seat``'s whole turn with actions drawn from ``actions``; ``out`` collects what it saw."""
    while env.agents == [seat]:
        observations, rewards, terminations, truncations, _ = env.step({seat: int(actions.integers(7))})
        assert set(rewards) == {seat}  # only the seat whose turn it is gets a reward
        out["reward"] = out.get("reward", 0.0) + rewards[seat]
        out["steps"] = out.get("steps", 0) + 1
        if terminations[seat] or truncations[seat]:
            out["last"] = observations
            out["ended"] = (terminations[seat], truncations[seat])


def test_the_seats_take_turns_from_the_same_start(make_env):
    env = make_env()
    observations, infos = env.reset(seed=7)
    assert env.agents == ["first"] and set(observations) == {"first"}
    assert observations["first"].shape == (96, 96, 4) and observations["first"].dtype == np.uint8
    assert infos["first"]["level"] == "Level1"
    first, second = {}, {}
    play_turn(env, "first", np.random.default_rng(0), first)
    assert env.agents == ["second"]
    assert set(first["last"]) == {"first", "second"}  # the ending step hands over the second's first screen
    frames_after_first = env.frames
    play_turn(env, "second", np.random.default_rng(0), second)  # the same actions...
    assert env.agents == []
    scores = env.scores()
    assert scores["first"] > 0  # a random pilot shoots something down in a whole game
    assert scores["first"] == scores["second"]  # ...from the same start give the same game
    assert first["steps"] == second["steps"]
    assert env.frames - frames_after_first == 4 * second["steps"]  # its no-ops came with the handover
    assert first["ended"] == (True, False)  # the game ended by its rules: lives gone
    # the course's reward: the score's change x 0.01, only new progress pays (Airstriker's only grows)
    assert first["reward"] == pytest.approx(scores["first"] * REWARD_SCALE)

    env.reset(seed=7)
    other = {}
    play_turn(env, "first", np.random.default_rng(1), other)  # other actions, another game
    assert other["steps"] != first["steps"] or env.scores()["first"] != scores["first"]


def test_alone_plays_the_first_turn_only_and_a_turn_is_cut_at_max_frames(make_env):
    env = make_env(max_frames=200, noop_max=0)
    env.reset(seed=1, options={"alone": True})
    out = {}
    play_turn(env, "first", np.random.default_rng(0), out)
    assert env.agents == [] and env.scores()["second"] == 0
    assert out["ended"] == (False, True) and env.frames == 200  # truncated, not ended by the game
    with pytest.raises(RuntimeError, match="reset"):
        env.step({"first": 0})


def test_the_actions_are_the_courses_seven_on_the_genesis_pad():
    pad = Discretizer(GENESIS_BUTTONS)
    assert pad.meanings == ACTION_MEANINGS == AIRSTRIKER.action_meanings == SONIC.action_meanings
    assert AIRSTRIKER.num_actions == SONIC.num_actions == 7
    assert AIRSTRIKER.single_player and SONIC.single_player and not AIRSTRIKER.has_cpu


def test_levels_all_a_list_or_one_and_the_seed_picks_each_games_level():
    assert SonicOptions().level_list() == SONIC_TRAINING_LEVELS and len(SONIC_TRAINING_LEVELS) == 13
    assert SonicOptions(levels="GreenHillZone.Act2").level_list() == ("GreenHillZone.Act2",)
    assert SonicOptions(levels="MarbleZone.Act1, GreenHillZone.Act1").level_list() == ("MarbleZone.Act1", "GreenHillZone.Act1")
    for bad, says in (("GreenHillZone.Act9", "no level 'GreenHillZone.Act9'"), (",", "no level given")):
        with pytest.raises(ValueError, match=says) as error:
            SonicOptions(levels=bad)
        assert "GreenHillZone.Act1" in str(error.value)  # the message lists the levels there are
    assert AirstrikerOptions().level_list() == ("Level1",)


def test_a_level_the_game_does_not_have_is_one_line_exit_2(tmp_path):
    done = run_arena(tmp_path, "match", "random", "random", "--env", "airstriker", "-o", "levels=Level2",
                     ARENA_LOAD_PLUGINS=PLUGINS)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.strip().count("\n") == 0 and "Airstriker has no level 'Level2'; levels: all, or any of Level1" in done.stderr
    )
    assert not (tmp_path / "home").exists()  # nothing written


def _sonic_installed() -> bool:
    from arena.errors import ArenaError

    try:
        SONIC.check_installed(SonicOptions())
    except ArenaError:
        return False
    return True


@pytest.mark.skipif(_sonic_installed(), reason="this machine has Sonic's ROM imported")
@pytest.mark.parametrize(
    "args",
    [
        ("match", "random", "random", "--env", "sonic"),
        ("train", "--plugin", "a2c", "--env", "sonic", "--steps", "100"),
        ("train", "--plugin", "a2c", "--env", "sonic", "--dry-run"),
    ],
)
def test_sonic_without_its_rom_says_in_one_line_how_to_import_it(tmp_path, args):
    done = run_arena(tmp_path, *args, ARENA_LOAD_PLUGINS=PLUGINS)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "Sonic The Hedgehog (Genesis) needs its ROM" in line and "arena roms import PATH" in line
    assert not (tmp_path / "home" / "matches").exists() and not (tmp_path / "experiments").exists()


def test_training_plays_its_turn_alone_and_judges_against_random(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", PLUGINS)
    monkeypatch.setenv("ARENA_EXPERIMENTS", str(tmp_path / "experiments"))
    monkeypatch.chdir(tmp_path)
    arena = load_plugins()
    plan = plan_training("a2c", env="airstriker", arena=arena)
    assert plan.name == "a2c_env=airstriker"  # the one-player default enemies are not in the name
    assert [e.spec for e in plan.pool.entries] == ["random"] and plan.enemies.endswith("solo.json")
    pong = plan_training("a2c", env="pong", enemies="solo", arena=arena)
    assert "enemies=solo" in pong.name  # on a two-player game the same file is a choice to name

    seat = SeatEnv(arena, "airstriker", AirstrikerOptions(max_frames=400), seed=3)
    seat.distribution = [("random", "random", 1.0)]  # what the pool broadcasts: never played here
    try:
        observation = seat.reset()
        assert observation.shape == (96, 96, 4) and seat.seat == "first" and seat.enemy is None
        rewards, info, steps = 0.0, {}, 0
        while not info:
            observation, reward, terminated, truncated, info = seat.step(steps % 7)
            rewards += reward
            steps += 1
        assert info["enemy"] == ALONE and info["outcome"] is None and info["opponent_score"] is None
        assert info["score"] == seat._env.scores()["first"] and rewards == pytest.approx(info["score"] * REWARD_SCALE)
        assert seat.frames == seat._env.frames  # the second seat's turn was never played
    finally:
        seat.close()


@pytest.mark.slow
def test_train_match_leaderboard_and_replays_on_airstriker(tmp_path):
    """From the command line: a2c trains from pixels alone, plays a recorded match against random,
    both turns' movies replay to the recorded scores, and a leaderboard ranks the two on score."""
    env = {"ARENA_LOAD_PLUGINS": PLUGINS, "ARENA_LEADERBOARDS": str(tmp_path / "boards")}
    done = run_arena(tmp_path, "train", "--plugin", "a2c", "--env", "airstriker", "--steps", "256", "--workers", "1",
                     "--set", "experience_length=128", "--set", "sweeps=1", "--set", "batches=2",
                     "-o", "max_frames=600", "--name", "air", **env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "score " in done.stdout and "against random:" in done.stdout
    agent = "experiments/air"
    assert os.path.isdir(tmp_path / agent)

    log = tmp_path / "m.jsonl"
    done = run_arena(tmp_path, "match", agent, "random", "--env", "airstriker", "-o", "max_frames=600", "--games", "2",
                     "--record", "--log", str(log), **env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 2 and {r["a_seat"] for r in records} == {"first", "second"}  # sides alternate
    for record in records:
        assert record["status"] == "ok" and record["level"] == "Level1"
        b_seat = "second" if record["a_seat"] == "first" else "first"
        assert (record["score_a"], record["score_b"]) == (record["score"][record["a_seat"]], record["score"][b_seat])
        diff = record["score_a"] - record["score_b"]
        assert record["winner"] == ("a" if diff > 0 else "b" if diff < 0 else "draw")
        first, second = record["replay"], second_turn(record["replay"])
        assert second.is_file()
        assert check_movie(first).frames + check_movie(second).frames == record["frames"]
        assert play_movie(first)["score"] == record["score"]["first"]  # the emulator is deterministic
        assert play_movie(second)["score"] == record["score"]["second"]

    gif = tmp_path / "game.gif"
    done = run_arena(tmp_path, "replay", records[0]["replay"], "--out", str(gif), **env)
    assert done.returncode == 0 and gif.is_file(), done.stderr

    boards = tmp_path / "boards"
    boards.mkdir()
    definition = {"env": "airstriker", "options": {"max_frames": 600}, "entrants": [agent, "random"]}
    (boards / "scores.json").write_text(json.dumps(definition))
    done = run_arena(tmp_path, "leaderboard", "run", "scores", "--games", "4", "--workers", "1", "--record", **env)
    assert done.returncode == 0, done.stderr
    shown = run_arena(tmp_path, "leaderboard", "show", "scores", "--json", **env)
    rows = json.loads(shown.stdout)
    assert {r["name"] for r in rows} == {agent, "random"} and sum(r["games"] for r in rows) == 8
    report = run_arena(tmp_path, "leaderboard", "report", "scores", "--out", str(tmp_path / "report"), **env)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report" / "index.html").read_text().count(">replay</a>") == 4
