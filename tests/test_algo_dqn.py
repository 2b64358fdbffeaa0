"""dqn and rdqn: targets by hand, replay schedule, a falling TD loss, learning, snapshots."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from algo_utils import GymSeatEnv, MatchCue, RecallCue, train_on

from arena.training.learner import Actor, Batch
from arena.training.rollout import Collector
from arena_algorithms.dqn import DQNLearner, DQNParams
from arena_algorithms.rdqn import RDQNLearner, RDQNParams

SMALL = dict(embed_sizes="32", q_sizes="32", experience_length=16, batch_size=8, shaping=0.0, device="cpu", seed=0)
ALGORITHMS = {"dqn": (DQNLearner, DQNParams, {}), "rdqn": (RDQNLearner, RDQNParams, {"gru_size": 32})}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def learner(name: str, obs_size: int = 3, num_actions: int = 3, fps: float = 60, act_every: int = 2, **overrides):
    cls, params_cls, extra = ALGORITHMS[name]
    return cls(params_cls(**{**SMALL, **extra, **overrides}), obs_size, num_actions, fps=fps, device="cpu", act_every=act_every)


def collect(learner, env, count: int, epsilon: float = 0.0, seed: int = 0) -> list[dict]:
    """``count`` consecutive trajectories played by a copy of the learner's model."""
    actor = Actor(copy.deepcopy(learner.model), learner.num_actions, epsilon=epsilon, seed=seed)
    collector = Collector(GymSeatEnv(env, seed=seed), actor, learner.params.experience_length, learner.gamma, 0.0)
    return [collector.collect()[0] for _ in range(count)]


def constant_q(model, values) -> None:
    """Make ``model`` output the same Q values for every input (its last layer: zero weights)."""
    last = model.head[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(values))


def three_step_batch() -> Batch:
    """Two trajectories of 3 steps. Column 0: a step, a cut-off game (the actor valued its final
    observation 5), a game over. Column 1: three steps of one game, cut by the trajectory's end."""
    T, B = 3, 2
    batch = Batch(
        obs=torch.randn(T + 1, B, 3),
        prev_actions=torch.zeros(T + 1, B, dtype=torch.long),
        starts=torch.tensor([[True, True], [False, False], [True, False], [True, False]]),
        actions=torch.tensor([[1, 0], [0, 1], [2, 2]]),
        rewards=torch.tensor([[1.0, 1.0], [0.5, 2.0], [2.0, 3.0]]),
        terminated=torch.tensor([[False, False], [False, False], [True, False]]),
        truncated=torch.tensor([[False, False], [True, False], [False, False]]),
        trunc_values=torch.tensor([[0.0, 0.0], [5.0, 0.0], [0.0, 0.0]]),
        logp=torch.zeros(T, B),
        state=torch.zeros(B, 0),
    )
    return batch


@pytest.mark.parametrize("name", ["dqn", "rdqn"])
@pytest.mark.parametrize(
    "n_step, want",
    [
        # gamma = 0.5; the target network says max Q = 2 everywhere; the cut-off game bootstraps from 5.
        # n = 1:  1 + .5*2 = 2 | .5 + .5*5 = 3 | 2 (game over)     ;  1 + .5*2 = 2 | 2 + .5*2 = 3 | 3 + .5*2 = 4
        (1, [[2.0, 2.0], [3.0, 3.0], [2.0, 4.0]]),
        # n = 3:  1 + .5*.5 + .25*5 = 2.5 (stops at the cut) | 3 | 2 ;  1 + .5*2 + .25*3 + .125*2 = 3 | 2 + .5*3 + .25*2 = 4 | 4
        (3, [[2.5, 3.0], [3.0, 4.0], [2.0, 4.0]]),
    ],
)
def test_targets_by_hand(name, n_step, want):
    # reward_halflife 1 s at 4 fps acting every 4 frames: a half-life of one step, gamma = 0.5.
    q = learner(name, fps=4, reward_halflife=1.0, act_every=4, n_step=n_step, double=False)
    assert q.gamma == 0.5
    batch = three_step_batch()
    if name == "rdqn":
        batch.state = torch.randn(2, 32)
    constant_q(q.target, [0.5, 2.0, -1.0])
    constant_q(q.model, [0.0, 1.0, -1.0])  # the online net must not be what bootstraps
    torch.testing.assert_close(q.targets(batch), torch.tensor(want))
    # The loss regresses Q(s, a) = [0, 1, -1][a] toward those targets with a Huber loss.
    taken = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    errors = (torch.tensor(want) - taken).abs()
    huber = torch.where(errors < 1, 0.5 * errors**2, errors - 0.5)
    loss, metrics = q.loss(batch)
    assert loss.item() == pytest.approx(float(huber.mean()))
    assert metrics["loss/td"] == pytest.approx(float(huber.mean()))


@pytest.mark.parametrize("name", ["dqn", "rdqn"])
def test_double_dqn_values_the_online_network_s_pick_with_the_target_network(name):
    q = learner(name, fps=4, reward_halflife=1.0, act_every=4, n_step=1)
    assert q.params.double  # the default
    batch = three_step_batch()
    if name == "rdqn":
        batch.state = torch.randn(2, 32)
    constant_q(q.target, [0.5, 2.0, -1.0])
    constant_q(q.model, [1.0, 0.0, -1.0])  # the online net picks action 0, which the target values 0.5 (its max: 2)
    # n = 1: 1 + .5*.5 = 1.25 | .5 + .5*5 = 3 (cut off) | 2 (game over);  1.25 | 2.25 | 3.25
    want = torch.tensor([[1.25, 1.25], [3.0, 2.25], [2.0, 3.25]])
    taken = torch.tensor([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])  # Q(s, a) = [1, 0, -1][a]
    errors = (want - taken).abs()
    huber = torch.where(errors < 1, 0.5 * errors**2, errors - 0.5)
    assert q.loss(batch)[0].item() == pytest.approx(float(huber.mean()))
    plain = learner(name, fps=4, reward_halflife=1.0, act_every=4, n_step=1, double=False)
    plain.model.load_state_dict(q.model.state_dict()), plain.target.load_state_dict(q.target.state_dict())
    assert plain.loss(batch)[0].item() != pytest.approx(float(huber.mean()))  # max_a Q_target: 2, not 0.5


@pytest.mark.parametrize("name", ["dqn", "rdqn"])
def test_model_is_a_softmax_of_q_over_temperature(name):
    q = learner(name, temperature=0.5)
    batch = Batch.stack(collect(q, MatchCue(), 2, epsilon=0.2))
    with torch.no_grad():
        out = q.model(batch.obs, batch.prev_actions, batch.starts, batch.state)
    torch.testing.assert_close(out.logits, out.q / 0.5)
    torch.testing.assert_close(out.values, (torch.softmax(out.q / 0.5, -1) * out.q).sum(-1))
    # The actor played that policy with epsilon's uniform share mixed in.
    probs = 0.8 * torch.softmax(out.logits[:-1], -1) + 0.2 / 3
    logp = probs.log().gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(logp, batch.logp, atol=1e-5, rtol=1e-5)
    # ... and values a cut-off game's final observation as the model does (trunc_values).
    assert batch.starts[0, 0]
    assert Actor(copy.deepcopy(q.model), 3).value(batch.obs[0, 0].numpy()) == pytest.approx(float(out.values[0, 0]), abs=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        DQNParams(temperature=0.0)


def test_rdqn_starts_each_sequence_from_the_stored_state():
    # Games of 4 steps cut into trajectories of 6: most begin mid-game with a non-zero state.
    q = learner("rdqn", num_actions=2, experience_length=6, temperature=1.0)
    batch = Batch.stack(collect(q, RecallCue(), 5))
    assert batch.state.abs().sum() > 0 and not batch.starts[0].all()
    with torch.no_grad():
        online, first = q.online_q(batch)
        online = online[:-1]  # the steps that acted
        assert first == 0
        logp = torch.log_softmax(online / 1.0, -1).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(logp, batch.logp, atol=1e-5, rtol=1e-5)  # what the actor computed
        zeroed = dataclasses.replace(batch, state=torch.zeros_like(batch.state))
        assert not torch.allclose(q.online_q(zeroed)[0][:-1], online, atol=1e-4)
        # Burn-in: the first steps only advance the state; the rest are the same numbers.
        burned = learner("rdqn", num_actions=2, experience_length=6, temperature=1.0, burn_in=2)
        burned.model.load_state_dict(q.model.state_dict())
        rest, first = burned.online_q(batch)
        assert first == 2
        torch.testing.assert_close(rest[:-1], online[2:])


def test_replay_schedule():
    q = learner(
        "dqn",
        replay_size=40,
        learning_starts=16,
        min_collect=4,
        batch_size=4,
        batches=2,
        sweeps=3,
        batch_steps=2,
        target_update=6,
    )
    trajectories = collect(q, MatchCue(), 60, epsilon=1.0)
    initial = copy.deepcopy(q.model.state_dict())
    assert q.wants() == 16  # fill the buffer to learning_starts first
    metrics = q.update(trajectories[:10])
    assert "loss" not in metrics and metrics["replay"] == 10 and q.grad_steps == 0  # 10 < 16: collect only
    assert q.wants() == 6
    metrics = q.update(trajectories[10:16])
    assert q.grad_steps == 3 * 2 * 2  # sweeps x batches x batch_steps
    assert metrics["replay"] == 16 and "loss/td" in metrics
    # Synced at gradient steps 6 and 12: the target is now the online net, and no longer the first.
    for key, value in q.target.state_dict().items():
        assert torch.equal(value, q.model.state_dict()[key])
    assert not torch.equal(q.target.state_dict()["head.1.weight"], initial["head.1.weight"])
    q.step(q.replay.sample(4, "cpu"))  # step 13: no sync
    assert not torch.equal(q.target.state_dict()["head.1.weight"], q.model.state_dict()["head.1.weight"])
    q.update(trajectories[16:60])
    assert len(q.replay) == 40 and q.replay.trajectories[0] is trajectories[20]  # the newest replay_size
    assert q.updates == 3


@pytest.mark.parametrize("name", ["dqn", "rdqn"])
def test_td_loss_falls_on_a_fixed_batch_with_a_fixed_target(name):
    env = MatchCue() if name == "dqn" else RecallCue()
    # One-step targets: r + gamma * max Q_target(s'), with the target frozen, is a fixed regression.
    q = learner(name, num_actions=int(env.action_space.n), learning_rate=1e-3, target_update=10**6, n_step=1)
    batch = Batch.stack(collect(q, env, 8, epsilon=1.0))
    target_before = copy.deepcopy(q.target.state_dict())
    first = q.step(batch)["loss/td"]
    for _ in range(150):
        last = q.step(batch)["loss/td"]
    assert last < 0.1 * first, (first, last)
    for key, value in q.target.state_dict().items():
        assert torch.equal(value, target_before[key])


def test_dqn_learns_to_match_a_cue():
    q = learner("dqn", learning_rate=1e-3, reward_halflife=0.1, batches=4)
    curve = train_on(q, MatchCue, 40)
    assert curve[0] < 8  # random play: 16/3 a game
    assert np.mean(curve[-5:]) > 14, curve


def test_rdqn_learns_to_recall_a_cue():
    q = learner("rdqn", num_actions=2, learning_rate=2e-3, batch_steps=4)
    curve = train_on(q, RecallCue, 60)
    assert np.mean(curve[:3]) < 0.7  # chance: 1/2
    assert np.mean(curve[-5:]) > 0.9, curve


@pytest.mark.parametrize("name", ["dqn", "rdqn"])
def test_snapshot_round_trip(name, tmp_path):
    from arena.plugins.manager import get_arena
    from arena.training.snapshot import load_snapshot, save_snapshot
    from arena.training.trained import build_model

    q = learner(name, target_update=10**6)
    batch = Batch.stack(collect(q, MatchCue(), 4, epsilon=0.5))
    for _ in range(3):
        q.step(batch)
    meta = {
        "algorithm": name,
        "params": dataclasses.asdict(q.params),
        "env": "cue",
        "env_options": {},
        "obs_size": 3,
        "num_actions": 3,
    }
    snapshot = load_snapshot(save_snapshot(tmp_path / "000000000001.pt", meta, q.state_dict()))

    restored = learner(name, seed=5, target_update=10**6)
    restored.load_state_dict(snapshot.learner)
    model, params = build_model(snapshot, get_arena())
    assert params == q.params and restored.grad_steps == q.grad_steps == 3
    args = (batch.obs, batch.prev_actions, batch.starts, batch.state)
    with torch.no_grad():
        want, want_target = q.model(*args), q.target(*args)
        assert not torch.equal(want.q, want_target.q)  # the target lags: both must be saved
        for got in (restored.model(*args), model(*args)):
            torch.testing.assert_close(got.q, want.q, rtol=0, atol=0)
        torch.testing.assert_close(restored.target(*args).q, want_target.q, rtol=0, atol=0)
    assert restored.step(batch)["loss"] == pytest.approx(q.step(batch)["loss"], rel=1e-6)
