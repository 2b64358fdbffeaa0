"""The Sonic A2C course's wrappers, each checked by hand and on Airstriker (it ships with
stable-retro and has Sonic's 12-button Genesis pad)."""

from __future__ import annotations

import numpy as np
import pytest

from arena_sonic.wrappers import (
    GENESIS_BUTTONS,
    REWARD_SCALE,
    SONIC_ACTIONS,
    Backtracking,
    Discretizer,
    FrameStack,
    grayscale,
)

AIRSTRIKER = "Airstriker-Genesis-v0"


@pytest.fixture(scope="module")
def airstriker():
    stable_retro = pytest.importorskip("stable_retro")
    env = stable_retro.make(AIRSTRIKER, render_mode=None)
    yield env
    env.close()


def test_the_course_actions_on_airstrikers_pad(airstriker):
    assert tuple(airstriker.buttons) == GENESIS_BUTTONS
    pad = Discretizer(airstriker.buttons)
    assert len(pad) == 7 and pad.meanings == ("LEFT", "RIGHT", "LEFT+DOWN", "RIGHT+DOWN", "DOWN", "DOWN+B", "B")
    for action, combo in enumerate(SONIC_ACTIONS):
        pressed = {b for b, on in zip(airstriker.buttons, pad(action)) if on}
        assert pressed == set(combo)


def test_the_buttons_reach_the_game(airstriker):
    pad = Discretizer(airstriker.buttons)

    def screen_after(action: int) -> np.ndarray:
        airstriker.reset(seed=0)
        for _ in range(90):
            obs, *_ = airstriker.step(pad(action))
        return obs

    left, right = screen_after(0), screen_after(1)
    assert (left != right).any()  # the ship went different ways
    assert (screen_after(1) == right).all()  # and the emulator is deterministic


def test_a_combination_with_a_button_the_pad_lacks_is_refused():
    with pytest.raises(ValueError, match=r"\['START2'\] are not on this pad"):
        Discretizer(GENESIS_BUTTONS, [("START2",)])
    with pytest.raises(ValueError, match="action must be 0-6"):
        Discretizer(GENESIS_BUTTONS)(7)


def test_grayscale_weighs_the_channels_and_averages_each_pixels_area():
    frame = np.zeros((192, 192, 3), np.uint8)
    frame[..., 0] = 200  # pure red: luma 0.299 * 200
    assert (grayscale(frame) == round(0.299 * 200)).all()
    frame = np.zeros((192, 192, 3), np.uint8)
    frame[::2, ::2] = 255  # one white pixel in each 2x2 block: a quarter of its area
    assert grayscale(frame).shape == (96, 96) and (np.abs(grayscale(frame).astype(int) - 64) <= 1).all()


def test_grayscale_of_a_real_screen(airstriker):
    airstriker.reset(seed=0)
    for _ in range(60):
        screen, *_ = airstriker.step(np.zeros(12, np.uint8))
    small = grayscale(screen)
    assert screen.shape == (224, 320, 3) and small.shape == (96, 96) and small.dtype == np.uint8
    assert small.std() > 1  # the game's picture, not a flat field
    assert abs(float(small.mean()) - float((screen @ np.array([0.299, 0.587, 0.114])).mean())) < 2


def test_the_stack_starts_full_of_the_first_frame_and_keeps_the_last_four():
    frames = [np.full((96, 96), i, np.uint8) for i in range(6)]
    stack = FrameStack()
    first = stack.reset(frames[0])
    assert first.shape == (96, 96, 4) and (first == 0).all()
    for frame in frames[1:]:
        out = stack.push(frame)
    assert [int(out[0, 0, k]) for k in range(4)] == [2, 3, 4, 5]  # oldest first, newest last


def test_backtracking_pays_only_new_ground():
    track = Backtracking()
    paid = [track(r) for r in (1.0, -0.5, 0.3, 0.4, -2.0, 1.0)]
    assert paid == pytest.approx([1.0, 0.0, 0.0, 0.2, 0.0, 0.0])  # 1, 0.5, 0.8, 1.2, -0.8, 0.2
    track.reset()
    assert track(0.5) == 0.5


def test_the_course_pipeline_on_airstriker(airstriker):
    """Discretize, scale, grayscale, stack, backtrack: what a Sonic worker sees, on Airstriker."""
    pad, stack, track = Discretizer(airstriker.buttons), FrameStack(), Backtracking()
    rng = np.random.default_rng(0)
    screen, _ = airstriker.reset(seed=0)
    obs = stack.reset(grayscale(screen))
    raw = paid = 0.0
    for frame in range(600):
        if frame % 4 == 0:  # held 4 frames: B fires on a press, so a new choice every frame seldom does
            action = int(rng.integers(len(pad)))
        screen, reward, terminated, truncated, _ = airstriker.step(pad(action))
        obs = stack.push(grayscale(screen))
        raw += reward
        paid += track(reward * REWARD_SCALE)
        if terminated or truncated:
            break
    assert obs.shape == (96, 96, 4) and obs.dtype == np.uint8
    assert raw > 0  # Airstriker's score only grows: every point is new ground
    assert paid == pytest.approx(raw * REWARD_SCALE)
