"""Pixel observations: the shared screens (grayscale 84x84, 4 frames), the Nature-DQN encoder and
its numpy acting path, plan checks, and every built-in algorithm training on Pong from pixels
(`-o obs=pixels`) into a snapshot that `arena match` plays."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from test_train import run_arena

from arena.errors import ArenaError
from arena.screens import SHAPE, FrameStack, SeatScreens, grayscale
from arena.training.learner import Actor, Batch
from arena.training.networks import NatureEncoder, numpy_encoder

ALGORITHMS = ["ac", "rac", "dqn", "rdqn", "a2c", "ppo"]
IMAGE = (84, 84, 4)


def _learner(name: str, **overrides):
    from arena.plugins.manager import get_arena

    spec = get_arena().algorithms.get(name)
    return spec.learner_class(), spec.params_class()(seed=3, **overrides)


def _images(count: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *IMAGE), dtype=np.uint8)


def test_seat_screens_stack_shrunk_grayscale_frames_from_each_side():
    rng = np.random.default_rng(0)
    screens = [rng.integers(0, 256, (210, 160, 3), dtype=np.uint8) for _ in range(5)]
    seats = SeatScreens({"left": (1,), "right": ()})
    first = seats.reset(screens[0])
    assert first["right"].shape == SHAPE and first["right"].dtype == np.uint8
    assert all((first["right"][..., i] == grayscale(screens[0])).all() for i in range(4))
    for screen in screens[1:]:
        obs = seats.push(screen)
    np.testing.assert_array_equal(obs["right"], np.stack([grayscale(s) for s in screens[1:]], axis=-1))
    np.testing.assert_array_equal(obs["left"], obs["right"][:, ::-1])  # area averaging commutes with the mirror
    # the Sonic course's stack is the same one
    assert FrameStack().reset(grayscale(screens[0], 96)).shape == (96, 96, 4)


def test_numpy_encoder_equals_torch():
    torch.manual_seed(0)
    encoder = NatureEncoder(IMAGE)
    for p in encoder.parameters():
        if p.ndim == 1:
            p.data.normal_(0, 0.1)
    images = _images(3)
    run = numpy_encoder(encoder)
    with torch.no_grad():
        expected = encoder(torch.from_numpy(images)).numpy()
    assert expected.shape == (3, 512) and (expected > 0).mean() > 0.2
    np.testing.assert_allclose(np.stack([run(image) for image in images]), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name, overrides", [(name, {}) for name in ALGORITHMS] + [("rac", {"shared_critic": True})])
def test_numpy_acting_on_pixels_equals_torch_forward(name, overrides):
    """As tests/test_learner.py checks for feature vectors: what workers act with (numpy) is what
    the learner trains (torch), along a sequence with a game restart in the middle."""
    cls, params = _learner(name, **overrides)
    torch.manual_seed(0)
    model = cls.make_model(params, IMAGE, 3)
    for p in model.parameters():  # move off zero biases and the near-zero initial policy layer
        if p.ndim == 1 or p.shape[0] in (1, 3):
            p.data.normal_(0, 0.3)
    T = 6
    obs = _images(T)
    starts = np.zeros(T, bool)
    starts[[0, 4]] = True
    actor = Actor(model, 3)
    assert actor._numpy is not None
    logits_np, values_np, prev = [], [], []
    for t in range(T):
        if starts[t]:
            actor.reset()
        prev.append(actor.prev_action)
        logits, value, _ = actor._forward(obs[t])
        logits_np.append(logits)
        values_np.append(value() if callable(value) else value)
        actor.step(obs[t])
    with torch.no_grad():
        out = model(
            torch.from_numpy(obs)[:, None], torch.tensor(prev)[:, None], torch.from_numpy(starts)[:, None], model.initial_state(1)
        )
    np.testing.assert_allclose(np.stack(logits_np), out.logits[:, 0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.array(values_np), out.values[:, 0].numpy(), rtol=1e-4, atol=1e-5)
    # the torch acting path (a model without numpy_step) gives the same
    actor._numpy = None
    actor.reset()
    np.testing.assert_allclose(actor._forward(obs[0])[0], logits_np[0], rtol=1e-4, atol=1e-5)


def test_trajectories_keep_pixels_as_uint8():
    from arena.training.rollout import _Seat

    cls, params = _learner("ac")
    actor = Actor(cls.make_model(params, IMAGE, 3), 3)
    seat = _Seat(actor, 2, 0.99, None, 0.0)
    images = _images(3)
    seat.begin(images[0])
    for image in images[1:]:
        seat.act(0)
        seat.observe(image, 0.0, False, False)
    traj = seat.finish()
    assert traj["obs"].dtype == np.uint8 and traj["obs"].shape == (3, *IMAGE)
    np.testing.assert_array_equal(traj["obs"], images)
    assert Batch.stack([traj]).obs.dtype == torch.uint8


def test_plan_takes_images_only_for_learners_that_do():
    from arena.training.plan import _observations

    class Flat:
        pass

    class Images:
        images = True

    def check(shape, learner):
        spec = SimpleNamespace(name="algo", learner_class=lambda: learner, learner="m:L", params="m:P")
        arena = SimpleNamespace(algorithms=SimpleNamespace(owner=lambda name: "third", __contains__=lambda self, n: True))
        env = SimpleNamespace(name="game", observation_shape=None if shape is None else lambda options: shape)
        return _observations(arena, spec, env, None)

    assert check((8,), Flat) == 8
    assert check(IMAGE, Images) == IMAGE
    with pytest.raises(
        ArenaError, match=r"algorithm 'algo' \(plugin 'third'\) learns from flat observations only.*drop -o obs=pixels"
    ):
        check(IMAGE, Flat)
    for shape in ((2, 2), None):
        with pytest.raises(ArenaError, match=r"training needs a flat vector \(N,\) or an image \(H, W, C\).*observation_shape"):
            check(shape, Images)


@pytest.mark.slow
@pytest.mark.parametrize("env_name, flipped", [("pong", {"left": (1,)}), ("boxing", {"black": (0, 1)})])
def test_pixel_observations_from_the_emulated_games(env_name, flipped):
    from arena.plugins.manager import get_arena

    spec = get_arena().envs.get(env_name)
    options = spec.parse_options(["obs=pixels"])
    assert tuple(spec.observation_shape(options)) == SHAPE
    env = spec.make(options, None)
    try:
        obs, _ = env.reset(seed=1)
        (other, axes), (seat,) = next(iter(flipped.items())), set(env.possible_agents) - set(flipped)
        for _ in range(3):
            for view in obs.values():
                assert view.shape == SHAPE and view.dtype == np.uint8
                assert env.observation_space(seat).contains(view)
            np.testing.assert_array_equal(obs[seat][..., -1], grayscale(env.render()))  # the newest frame is last
            np.testing.assert_array_equal(obs[other], np.flip(obs[seat], axes))
            before = obs[seat]
            obs = env.step({s: 0 for s in env.agents})[0]
            np.testing.assert_array_equal(obs[seat][..., :-1], before[..., 1:])
    finally:
        env.close()


TINY_PIXELS = ("--set", "experience_length=8", "--set", "min_collect=2", "--set", "batch_size=2")
PIXEL_SETS = {
    "ac": TINY_PIXELS,
    "rac": (*TINY_PIXELS, "--set", "batches=1", "--set", "sweeps=1"),
    "dqn": (*TINY_PIXELS, "--set", "learning_starts=2"),
    "rdqn": (*TINY_PIXELS, "--set", "learning_starts=2"),
    "a2c": ("--set", "experience_length=8", "--set", "batches=2", "--set", "sweeps=1"),
    "ppo": (*TINY_PIXELS, "--set", "batches=1", "--set", "sweeps=1"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_algorithm_trains_on_pong_pixels_and_its_snapshot_plays(tmp_path, name):
    proc = run_arena(
        tmp_path, "train", "--plugin", name, *PIXEL_SETS[name], "--workers", "1", "--steps", "16", "--name", "px",
        "--snapshot-every", "1", "--eval-every", "0", "-o", "obs=pixels", "-o", "points=1",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_arena(tmp_path, "match", "experiments/px", "cpu", "-o", "obs=pixels", "--games", "1", "-o", "points=1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mean score difference (experiments/px - cpu)" in proc.stdout
    if name == "ac":  # a pixel snapshot says so when the env gives features
        proc = run_arena(tmp_path, "match", "experiments/px", "cpu", "--games", "1", "-o", "points=1")
        assert proc.returncode == 2 and "sees images of shape (84, 84, 4)" in proc.stderr, proc.stderr
