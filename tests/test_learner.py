"""The learner base: acting in numpy equals the torch forward, the GRU's resets, trajectories and
shaping as the Collector records them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from arena.training.learner import Actor, Batch, RecurrentCore
from arena.training.rollout import Collector, sample_enemy

ALGORITHMS = ["ac", "rac", "dqn", "rdqn", "a2c", "ppo"]


def _learner(name: str, **overrides):
    from arena.plugins.manager import get_arena

    spec = get_arena().algorithms.get(name)
    params = spec.params_class()(seed=3, **overrides)
    return spec.learner_class(), params


@pytest.mark.parametrize("name, overrides", [(name, {}) for name in ALGORITHMS] + [("rac", {"shared_critic": True})])
def test_numpy_acting_equals_torch_forward(name, overrides):
    """Workers act with numpy_step (fast); it must compute what the learner trains: same logits
    and values along a sequence with a game restart in the middle."""
    cls, params = _learner(name, **overrides)
    torch.manual_seed(0)
    model = cls.make_model(params, 8, 3)
    for p in model.parameters():  # move off the near-zero initial policy layer
        p.data.normal_(0, 0.3)
    rng = np.random.default_rng(1)
    T = 9
    obs = rng.normal(size=(T, 8)).astype(np.float32)
    starts = np.zeros(T, bool)
    starts[[0, 5]] = True
    actor = Actor(model, 3)
    if actor._numpy is None:
        pytest.skip(f"{name} acts through torch")
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


@pytest.mark.parametrize("shared", [True, False])
def test_a_critic_of_its_own_keeps_the_value_gradient_out_of_the_policy(shared):
    """With ``shared_critic`` false the value loss moves only the critic's own layers; shared, it
    moves the embedding and the GRU the policy reads too."""
    cls, params = _learner("rac", shared_critic=shared)
    model = cls.make_model(params, 8, 3)
    T, B = 5, 2
    out = model(
        torch.randn(T, B, 8), torch.zeros(T, B, dtype=torch.long), torch.zeros(T, B, dtype=torch.bool), model.initial_state(B)
    )
    out.values.pow(2).mean().backward()
    moved = {name.split(".")[0] for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert moved == ({"embed", "core", "critic"} if shared else {"critic"})


def test_gru_chunks_equal_a_step_by_step_loop():
    """The fused GRU over stretches between resets equals one GRU cell step at a time with the
    state zeroed at each start."""
    torch.manual_seed(0)
    core = RecurrentCore(5, 3, 7)
    T, B = 6, 3
    x = torch.randn(T, B, 5)
    prev = torch.randint(0, 3, (T, B))
    starts = torch.zeros(T, B, dtype=torch.bool)
    starts[2, 1] = starts[4, 0] = True
    h0 = torch.randn(B, 7)
    out, h = core(x, prev, starts, h0)
    cell = torch.nn.GRUCell(8, 7)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in core.gru.state_dict().items()})
    state, expected = h0, []
    inputs = torch.cat([x, torch.nn.functional.one_hot(prev, 3).float()], -1)
    for t in range(T):
        state = cell(inputs[t], state * (~starts[t]).float().unsqueeze(-1))
        expected.append(state)
    torch.testing.assert_close(out, torch.stack(expected), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h, state, rtol=1e-5, atol=1e-6)


def test_actor_mixes_epsilon_into_its_policy():
    """(1 - eps) * softmax + eps / A: with logits (0, 0, ln 2) and eps 0.3 the probabilities are
    (0.7/4 + 0.1, 0.7/4 + 0.1, 0.7/2 + 0.1) = (0.275, 0.275, 0.45), and log-probabilities match."""

    class Fixed(torch.nn.Module):
        state_size = 0

        def numpy_step(self):
            return lambda obs, prev, start, state: (np.array([0.0, 0.0, math.log(2)]), 0.0, state)

    actor = Actor(Fixed(), 3, epsilon=0.3, seed=0)
    counts = np.zeros(3)
    for _ in range(20000):
        action, logp = actor.step(np.zeros(1, np.float32))
        counts[action] += 1
        assert logp == pytest.approx(math.log([0.275, 0.275, 0.45][action]))
    np.testing.assert_allclose(counts / counts.sum(), [0.275, 0.275, 0.45], atol=0.015)


class _Line:
    """A 1-D walk: obs [position]; the game ends (terminated) at step 3 or is cut off at step 5."""

    def __init__(self, end: str):
        self.end, self.frames, self.t = end, 0, 0
        self.potential = lambda obs: -abs(float(obs[0]))

    def reset(self):
        self.t = 0
        return np.array([2.0], np.float32)

    def step(self, action):
        self.t += 1
        self.frames += 1
        obs = np.array([2.0 - self.t], np.float32)
        terminated = self.end == "terminated" and self.t == 3
        truncated = self.end == "truncated" and self.t == 3
        info = {"enemy": "x", "score": 1, "opponent_score": 0, "outcome": 1.0} if terminated or truncated else {}
        return obs, 1.0 if terminated else 0.0, terminated, truncated, info


class _ConstantValue(torch.nn.Module):
    state_size = 0

    def numpy_step(self):
        return lambda obs, prev, start, state: (np.zeros(2), lambda: 10.0 + float(obs[0]), state)


@pytest.mark.parametrize("end", ["terminated", "truncated"])
def test_collector_records_shaped_rewards_and_boundaries(end):
    """Shaping adds shaping * (gamma * phi(s') - phi(s)) with phi(s') = 0 after a terminal step.

    phi = -|x|, x = 2, 1, 0, -1 over a game; gamma 0.5, shaping 1:
    step 0: 0 + (0.5 * -1 - -2) = 1.5; step 1: 0 + (0.5 * 0 - -1) = 1.0;
    step 2: terminated: 1 + (0 - 0) = 1.0; truncated: 0 + (0.5 * -1 - 0) = -0.5, and the actor's
    value of the final observation (x = -1: 10 - 1 = 9) is stored for the bootstrap.
    """
    env = _Line(end)
    collector = Collector(env, Actor(_ConstantValue(), 2), length=4, gamma=0.5, shaping=1.0)
    traj, games = collector.collect()
    last = 1.0 if end == "terminated" else -0.5
    np.testing.assert_allclose(traj["rewards"][:3], [1.5, 1.0, last])
    assert traj["terminated"].tolist() == [False, False, end == "terminated", False]
    assert traj["truncated"].tolist() == [False, False, end == "truncated", False]
    assert traj["trunc_values"][2] == (9.0 if end == "truncated" else 0.0)
    assert traj["starts"].tolist() == [True, False, False, True, False]  # step 3 begins a new game
    np.testing.assert_allclose(traj["obs"][:, 0], [2, 1, 0, 2, 1])
    assert traj["prev_actions"][3] == 0  # a new game has no previous action
    assert len(games) == 1 and games[0]["outcome"] == 1.0 and games[0]["reward"] == (1.0 if end == "terminated" else 0.0)


def test_next_values_bootstrap_from_the_final_observation_when_cut_off():
    traj = {
        "obs": np.zeros((4, 1), np.float32), "prev_actions": np.zeros(4, np.int64), "starts": np.zeros(4, bool),
        "actions": np.zeros(3, np.int64), "rewards": np.zeros(3, np.float32), "terminated": np.array([False, False, False]),
        "truncated": np.array([False, True, False]), "trunc_values": np.array([0, 7.5, 0], np.float32),
        "logp": np.zeros(3, np.float32), "state": np.zeros(0, np.float32),
    }  # fmt: skip
    batch = Batch.stack([traj])
    values_all = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    assert batch.next_values(values_all)[:, 0].tolist() == [2.0, 7.5, 4.0]


def test_sample_enemy_follows_the_distribution():
    import random

    rng = random.Random(0)
    distribution = [("cpu", "cpu", 0.25), ("self", "self", 0.75)]
    draws = [sample_enemy(rng, distribution)[0] for _ in range(8000)]
    assert draws.count("cpu") / len(draws) == pytest.approx(0.25, abs=0.02)


def test_an_epsilon_action_barely_moves_a_sharp_policy():
    """Once the softmax is sharp, an action the epsilon floor picked has a bare log-probability
    near -20 and a gradient of size ~1 on its logit; under the mixed policy the workers play its
    probability is >= epsilon / A, and the gradient shrinks by the softmax's share in it."""
    from arena_algorithms.ac import ACLearner, ACParams

    learner = ACLearner(ACParams(epsilon=0.03), 8, 3, device="cpu")
    logits = torch.tensor([[[0.0, 0.0, 20.0]]], requires_grad=True)
    action = torch.tensor([[0]])
    mixed = learner.mixed_log_probs(logits, action)
    assert mixed.item() == pytest.approx(math.log(0.97 / (2 + math.exp(20)) + 0.03 / 3), rel=1e-6)  # ~ log 0.01
    (grad_mixed,) = torch.autograd.grad(mixed.sum(), logits)
    bare = torch.log_softmax(logits, -1)[0, 0, 0]
    (grad_bare,) = torch.autograd.grad(bare, logits)
    assert grad_bare.abs().max() > 0.99
    assert grad_mixed.abs().max() < 1e-6
    # with epsilon 0 the mixture is the softmax itself
    plain = ACLearner(ACParams(epsilon=0.0), 8, 3, device="cpu")
    assert plain.mixed_log_probs(logits, action).item() == pytest.approx(bare.item())


def test_linear_lr_schedule_falls_to_zero_at_the_budget():
    from arena_algorithms.ac import ACLearner, ACParams

    learner = ACLearner(ACParams(learning_rate=1e-3, lr_schedule="linear"), 8, 3, device="cpu")
    for fraction, lr in ((0.0, 1e-3), (0.25, 7.5e-4), (1.0, 0.0), (1.5, 0.0)):
        learner.set_progress(fraction)
        assert learner.optimizer.param_groups[0]["lr"] == pytest.approx(lr)
    constant = ACLearner(ACParams(learning_rate=1e-3), 8, 3, device="cpu")
    constant.set_progress(0.9)
    assert constant.optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
