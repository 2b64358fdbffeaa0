"""Boxing behind the PettingZoo Parallel API: the derived two-player state, per-seat rewards and
views, the boxer bot's ladder, and `arena match` / `arena train` on it through the CLI.

stable-retro allows ONE emulator per process, so every env here comes from the ``make_env``
fixture, which closes the previous env before building the next one. ``ARENA_HOME`` points into
``tmp_path``, so the derived state is cached there, never in the repository.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_train import run_arena

from arena.errors import ArenaError
from arena_boxing import (
    ACTION_INDEX,
    ACTION_MEANINGS,
    BOXER_NOISE,
    BOXER_PUNCH,
    BOXING,
    DX,
    DY,
    FIRE,
    NOOP,
    OTHER_X,
    OWN_X,
    OWN_Y,
    SCORE_DIFF,
    BoxerBot,
    BoxingOptions,
    build_boxer,
)
from arena_boxing.env import (
    BLACK_SCORE,
    BLACK_X,
    BLACK_Y,
    RAM_BASE,
    WHITE_SCORE,
    WHITE_X,
    WHITE_Y,
    BoxingEnv,
    _ram,
    bcd,
    cache_path,
    features,
    seat_masks,
)

SEATS = ("white", "black")
LEFT, RIGHT, UP, DOWN = (ACTION_INDEX[0, -1, 0], ACTION_INDEX[0, 1, 0], ACTION_INDEX[0, 0, -1], ACTION_INDEX[0, 0, 1])


@pytest.fixture
def make_env(tmp_path, monkeypatch):
    """``make_env(options, cpu_level=None)`` -> BoxingEnv; at most one alive at a time."""
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    alive: list[BoxingEnv] = []

    def make(options: BoxingOptions | None = None, cpu_level: int | None = None) -> BoxingEnv:
        while alive:
            alive.pop().close()
        env = BoxingEnv(options, cpu_level)
        alive.append(env)
        return env

    try:
        yield make
    finally:
        while alive:
            alive.pop().close()


def ram_with(white: tuple[int, int], black: tuple[int, int], scores: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The Atari's 128 bytes with the boxers at ``white``/``black`` (x, y), BCD ``scores``, 1:30 left."""
    ram = np.zeros(128, dtype=np.uint8)
    ram[144 - RAM_BASE] = 0x10  # 1 minute (high nibble)
    ram[145 - RAM_BASE] = 0x30  # 30 seconds (BCD)
    for address, value in zip((WHITE_X, WHITE_Y, BLACK_X, BLACK_Y, WHITE_SCORE, BLACK_SCORE), (*white, *black, *scores)):
        ram[address - RAM_BASE] = value
    return ram


# -- pure parts -------------------------------------------------------------------------------


def test_actions_and_the_black_seat_joystick_is_turned_around():
    assert len(ACTION_MEANINGS) == BOXING.num_actions == 18
    assert ACTION_MEANINGS[:6] == ("noop", "fire", "up", "right", "left", "down")
    white, black = seat_masks("white"), seat_masks("black")
    # buttons: 0 fire, 4 up, 5 down, 6 left, 7 right
    assert set(np.flatnonzero(white[RIGHT])) == {7} and set(np.flatnonzero(black[RIGHT])) == {6}
    assert set(np.flatnonzero(white[UP])) == {4} and set(np.flatnonzero(black[UP])) == {5}
    assert set(np.flatnonzero(black[ACTION_INDEX[1, 1, -1]])) == {0, 6, 5}  # uprightfire
    assert not white[NOOP].any() and set(np.flatnonzero(black[FIRE])) == {0}


def test_scores_are_bcd_and_ko_is_100():
    assert bcd(0x00) == 0 and bcd(0x19) == 19 and bcd(0x99) == 99 and bcd(0xC0) == 100


def test_features_from_each_seat_own_view():
    # white at (30, 3), the ring's top-left corner; black at (109, 87), the bottom-right; 12-5
    ram = ram_with((30, 3), (109, 87), (0x12, 0x05))
    white, black = features(ram, "white"), features(ram, "black")
    np.testing.assert_allclose(white, [-1, -1, 1, 1, 1, 1, 90 / 120, 7 / 100], atol=1e-6)
    # black sees the ring turned 180 degrees: itself in the top-left corner too, 7 points behind
    np.testing.assert_allclose(black, [-1, -1, 1, 1, 1, 1, 90 / 120, -7 / 100], atol=1e-6)
    # off-centre: white at x 50 (-19.5 px from the centre), black at y 60 (+15 px)
    ram = ram_with((50, 45), (69, 60))
    white, black = features(ram, "white"), features(ram, "black")
    assert white[OWN_X] == pytest.approx(-19.5 / 39.5) and black[OTHER_X] == pytest.approx(19.5 / 39.5)
    assert black[OWN_Y] == pytest.approx(-15 / 42) and white[DY] == pytest.approx(15 / 42 / 2)
    # each sees the other ahead to its right (19 px), whichever seat it plays
    assert white[DX] == pytest.approx(black[DX]) == pytest.approx(19 / 39.5 / 2)
    assert white[SCORE_DIFF] == 0.0


def test_bot_levels_and_bad_levels():
    options = BoxingOptions()
    assert len(BOXER_NOISE) == len(BOXER_PUNCH) == 9
    assert list(BOXER_NOISE) == sorted(BOXER_NOISE, reverse=True) and list(BOXER_PUNCH) == sorted(BOXER_PUNCH)
    bot = build_boxer("9", BOXING, options)
    assert (bot.noise, bot.punch) == (0, 1.0)
    assert build_boxer("1", BOXING, options).punch < build_boxer("5", BOXING, options).punch
    for bad, words in (("0", "1-9"), ("10", "1-9"), ("x", "bad level"), (None, "needs a level")):
        with pytest.raises(ArenaError, match=words):
            build_boxer(bad, BOXING, options)
    with pytest.raises(ArenaError, match="obs=pixels"):
        build_boxer("5", BOXING, BoxingOptions(obs="pixels"))
    with pytest.raises(ArenaError, match="act_every"):
        BOXING.parse_options(["act_every=0"])


def test_bot_closes_in_and_punches_from_a_flank():
    bot = BoxerBot(noise=0, punch=1.0, act_every=4)
    bot.reset(0)
    far = np.array([-1, -1, 1, 1, 1, 1, 1, 0], dtype=np.float32)  # the other boxer down-right
    assert ACTION_MEANINGS[bot.act(far)] == "downright"
    # 16 px in front, 16 px above it (dx 16/79, dy 16/84 in feature units): in reach, no move
    here = np.array([0, 0, 0, 0, 16 / 79, 16 / 84, 1, 0], dtype=np.float32)
    assert ACTION_MEANINGS[bot.act(here)] == "fire"
    lazy = BoxerBot(noise=0, punch=0.0, act_every=4)
    assert ACTION_MEANINGS[lazy.act(here)] == "noop"


# -- the emulator -----------------------------------------------------------------------------


def black_xy(env: BoxingEnv) -> tuple[int, int]:
    ram = _ram(env._data)
    return int(ram[BLACK_X - RAM_BASE]), int(ram[BLACK_Y - RAM_BASE])


def test_derived_state_gives_player_2_the_black_boxer(make_env):
    # Fails on the shipped state: there the cartridge walks black toward white on its own.
    env = make_env(BoxingOptions(noop_max=0, sticky=0.0))
    cached = cache_path()
    assert cached.is_file()
    written = cached.stat().st_mtime_ns
    obs, _ = env.reset(seed=0)
    start = black_xy(env)
    assert start == (109, 87)
    for _ in range(15):
        obs, *_ = env.step({"white": NOOP, "black": NOOP})
    assert black_xy(env) == start
    # black's "right" (its own view) is the screen's left: toward white, a pixel a frame
    for _ in range(10):
        obs, *_ = env.step({"white": NOOP, "black": RIGHT})
    x = black_xy(env)[0]
    assert start[0] - 40 <= x <= start[0] - 35
    assert obs["black"][OWN_X] == pytest.approx(-(x - 69.5) / 39.5)
    # the next env reuses the cached state: nothing rewritten, and black still waits for player 2
    env = make_env(BoxingOptions(noop_max=0, sticky=0.0))
    env.reset(seed=0)
    for _ in range(15):
        env.step({"white": NOOP, "black": NOOP})
    assert black_xy(env) == start
    assert cached.stat().st_mtime_ns == written


def test_cpu_mode_white_only_and_the_cartridge_moves_black(make_env):
    env = make_env(BoxingOptions(noop_max=0), cpu_level=0)
    assert env.possible_agents == ["white"]
    obs, infos = env.reset(seed=0)
    assert list(obs) == ["white"] and env.scores() == {"white": 0, "black": 0}
    start = obs["white"][OTHER_X]
    for _ in range(15):
        obs, rewards, *_ = env.step({"white": NOOP})
        assert list(rewards) == ["white"]
    assert obs["white"][OTHER_X] < start  # the cartridge walks black toward white


def test_rewards_per_seat_are_opposite_and_sum_to_the_score(make_env):
    env = make_env(BoxingOptions(sticky=0.0))
    bots = {seat: build_boxer("9" if seat == "white" else "3", BOXING, env.options) for seat in SEATS}
    obs, _ = env.reset(seed=1)
    for bot in bots.values():
        bot.reset(1)
    totals = {seat: 0.0 for seat in SEATS}
    for _ in range(300):  # 1,200 frames: 20 seconds of boxing
        obs, rewards, terminations, truncations, infos = env.step({seat: bots[seat].act(obs[seat]) for seat in SEATS})
        assert rewards["white"] == -rewards["black"]
        for seat in SEATS:
            totals[seat] += rewards[seat]
        if not env.agents:
            break
    scores = env.scores()
    assert scores["white"] + scores["black"] > 0  # punches landed
    assert totals["white"] == scores["white"] - scores["black"] == -totals["black"]
    assert infos["white"]["score"] == infos["black"]["opponent_score"] == scores["white"]
    assert obs["white"][SCORE_DIFF] == pytest.approx(-obs["black"][SCORE_DIFF])


def test_pixels_black_is_turned_around(make_env):
    env = make_env(BoxingOptions(obs="pixels", noop_max=0))
    obs, _ = env.reset(seed=0)
    for seat in SEATS:
        assert obs[seat].shape == (84, 84, 4) and env.observation_space(seat).contains(obs[seat])
    np.testing.assert_array_equal(obs["black"], obs["white"][::-1, ::-1])


def test_bad_action_is_a_clear_error(make_env):
    env = make_env(BoxingOptions())
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0-17.*black=18"):
        env.step({"white": NOOP, "black": 18})


@pytest.mark.slow
def test_parallel_api_and_a_whole_game_ends_on_the_clock_or_a_ko(make_env):
    from pettingzoo.test import parallel_api_test

    env = make_env(BoxingOptions(act_every=8))
    parallel_api_test(env, num_cycles=100)
    obs, _ = env.reset(seed=2)
    rng = np.random.default_rng(2)
    while env.agents:
        obs, rewards, terminations, truncations, infos = env.step({seat: int(rng.integers(18)) for seat in SEATS})
    assert terminations == {"white": True, "black": True} and truncations == {"white": False, "black": False}
    assert infos["white"]["clock"] == 0 or max(env.scores().values()) == 100
    assert 6_500 < env.frames < 7_300


# -- through the CLI --------------------------------------------------------------------------


@pytest.mark.slow
def test_arena_match_bot_vs_cpu(tmp_path):
    proc = run_arena(
        tmp_path,
        "match",
        "bot:boxer:9",
        "cpu",
        "--env",
        "boxing",
        "-n",
        "1",
        "--workers",
        "1",
        ARENA_LOAD_PLUGINS="agents,boxing",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "bot:boxer:9" in proc.stdout and "mean score difference" in proc.stdout, proc.stdout


def test_arena_match_bad_level_is_one_line(tmp_path):
    proc = run_arena(tmp_path, "match", "bot:boxer:10", "cpu", "--env", "boxing", ARENA_LOAD_PLUGINS="agents,boxing")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bot:boxer:10" in lines[0] and "1-9" in lines[0], proc.stderr


@pytest.mark.slow
def test_arena_train_rac_on_boxing_writes_a_snapshot(tmp_path):
    from arena.training.snapshot import list_snapshots

    sets = ("--set", "embed_sizes=8", "--set", "actor_sizes=8", "--set", "critic_sizes=8", "--set", "experience_length=8",
            "--set", "min_collect=2", "--set", "batch_size=2")  # fmt: skip
    proc = run_arena(
        tmp_path, "train", "--plugin", "rac", "--env", "boxing", "--workers", "1", "--steps", "32", "--eval-every", "0",
        "--name", "box", *sets, ARENA_LOAD_PLUGINS="agents,boxing,algorithms,enemies",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = tmp_path / "experiments" / "box"
    assert list_snapshots(folder), proc.stdout
