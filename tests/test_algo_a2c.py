"""``a2c``: the Sonic course's defaults, TensorFlow's RMSprop, the GAE it trains on (hand-computed),
minibatches of single steps, its loss falling on a fixed batch, learning MatchCue, and a snapshot
round trip."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from algo_utils import GymSeatEnv, MatchCue, ValueIsObs, train_on
from torch import nn

from arena.training.learner import Actor, Batch, RMSpropTF
from arena.training.params import to_dict
from arena.training.rollout import Collector
from arena.training.snapshot import load_snapshot, save_snapshot
from arena_algorithms.a2c import A2CLearner, A2CParams


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def collect(learner, count: int, length: int, seed: int = 0) -> list[dict]:
    """``count`` trajectories of MatchCue played by a copy of ``learner`` 's model, as a worker would."""
    actor = Actor(copy.deepcopy(learner.model), learner.num_actions, epsilon=learner.params.epsilon, seed=seed)
    collector = Collector(GymSeatEnv(MatchCue(), seed=seed), actor, length, learner.gamma, learner.params.shaping)
    return [collector.collect()[0] for _ in range(count)]


def test_defaults_are_the_sonic_course_s():
    p = A2CParams()
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    # Pong: 60 fps, act_every 2 (Pong's default env option) -> gamma 0.99 from the 2.3 s half-life.
    assert learner.gamma == pytest.approx(0.99, abs=2e-4)
    assert isinstance(learner.optimizer, RMSpropTF)
    assert learner.optimizer.defaults == {"lr": 2e-4, "alpha": 0.99, "eps": 1e-5}
    assert (p.td_lambda, p.entropy_scale, p.max_grad_norm, p.advantage_norm, p.epsilon) == (0.95, 0.01, 0.5, False, 0.0)
    assert p.value_scale * 0.5 == 0.5  # the course's 0.5 * mean((V - R)^2)
    assert (p.experience_length, p.sweeps, p.batches, p.lr_schedule) == (2048, 4, 8, "constant")
    assert A2CLearner.synchronous  # one trajectory from every worker, all played by the current weights
    # A shared 512-unit ReLU trunk, a linear policy head and a linear value head.
    linears = [m.out_features for m in learner.model.modules() if isinstance(m, nn.Linear)]
    assert linears == [512, 3, 1]


def test_tf_rmsprop_takes_the_small_first_steps_the_references_took():
    # A gradient of 1e-3 on every weight: TensorFlow's RMSprop (average starting at 1, eps inside
    # the root) moves lr * 1e-3 / sqrt(0.99); torch's moves lr * 1e-3 / (sqrt(1e-8) + 1e-5), ~9,000x more.
    moved = {}
    for name, make in (("tf", RMSpropTF), ("torch", torch.optim.RMSprop)):
        weight = nn.Parameter(torch.zeros(4))
        optimizer = make([weight], lr=2e-4, alpha=0.99, eps=1e-5)
        weight.grad = torch.full((4,), 1e-3)
        optimizer.step()
        moved[name] = weight.abs().max().item()
    assert moved["tf"] == pytest.approx(2e-4 * 1e-3 / math.sqrt(0.99 + 1e-8 + 1e-5), rel=1e-4)
    assert moved["torch"] / moved["tf"] > 1000


def test_minibatches_are_single_steps_each_used_once_a_sweep():
    p = A2CParams(embed_sizes="16", experience_length=16, batches=8, seed=1)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = learner.prepare(Batch.stack(collect(learner, 2, 16)))
    parts = list(learner.minibatches(batch, torch.Generator().manual_seed(0)))
    assert len(parts) == 8 and all(part.actions.shape == (1, 4) for part in parts)
    seen = sorted((part.obs[0, :, :].tolist(), part.advantages[0].tolist()) for part in parts)
    assert sum(len(advantages) for _, advantages in seen) == 32
    flat = sorted(a for part in parts for a in part.advantages[0].tolist())
    assert flat == pytest.approx(sorted(batch.advantages.flatten().tolist()))
    metrics = learner.update(collect(learner, 2, 16))
    assert metrics["grad_steps"] == 4 * 8  # the course's 4 epochs x 8 minibatches


def as_arrays(trajectory: dict) -> dict:
    """A hand-written trajectory as the Collector's numpy arrays."""
    floats = ("obs", "rewards", "trunc_values", "logp", "state")
    return {k: np.asarray(v, dtype=np.float32 if k in floats else None) for k, v in trajectory.items()}


class StubA2C(A2CLearner):
    @classmethod
    def make_model(cls, params, obs_size, num_actions):
        return ValueIsObs(num_actions)


def test_advantages_by_hand_with_terminated_and_truncated_steps():
    # gamma = 0.5 ** (1 / (1 s * 1 fps / 1)) = 0.5; lambda 0.5; no normalisation.
    p = A2CParams(reward_halflife=1.0, td_lambda=0.5, value_scale=0.5)  # the learner's act_every: 1
    learner = StubA2C(p, obs_size=1, num_actions=3, fps=1.0, device="cpu")
    assert learner.gamma == 0.5
    # Step 0 plays on; step 1 ends its game (terminated); step 2 is cut off (truncated) with the
    # actor's V(final obs) = 10. obs[3] (V = 4) is the next game's first: it must not be used.
    trajectory = {
        "obs": [[1.0], [2.0], [3.0], [4.0]],
        "prev_actions": [0, 1, 0, 2],
        "starts": [True, False, True, True],
        "actions": [1, 0, 2],
        "rewards": [1.0, 5.0, 3.0],
        "terminated": [False, True, False],
        "truncated": [False, False, True],
        "trunc_values": [0.0, 0.0, 10.0],
        "logp": [math.log(1 / 3)] * 3,
        "state": [],
    }
    batch = Batch.stack([as_arrays(trajectory)])
    # delta_0 = 1 + 0.5 * V(s1)=2 - V(s0)=1 = 1;   A_0 = 1 + 0.5 * 0.5 * A_1 = 1.75
    # delta_1 = 5 + 0 (terminated)     - 2 = 3;   A_1 = 3 (its game ended)
    # delta_2 = 3 + 0.5 * 10 (truncated) - 3 = 5; A_2 = 5 (its game ended)
    batch = learner.prepare(batch)
    assert batch.advantages[:, 0].tolist() == [1.75, 3.0, 5.0]
    assert batch.returns[:, 0].tolist() == [2.75, 5.0, 8.0]
    # ... and the loss trains on exactly these: the critic's loss is 0.5 * mean(A^2) (returns =
    # A + V), the policy's log(3) * mean(A) (a uniform policy's log-prob is -log 3).
    loss, metrics = learner.loss(batch)
    assert metrics["loss/value"] == pytest.approx(0.5 * (1.75**2 + 3**2 + 5**2) / 3)
    assert metrics["loss/policy"] == pytest.approx(math.log(3) * (1.75 + 3 + 5) / 3)
    assert metrics["entropy"] == pytest.approx(math.log(3))
    assert loss.item() == pytest.approx(metrics["loss/policy"] + 0.5 * metrics["loss/value"] - 0.01 * math.log(3), rel=1e-6)


def test_loss_falls_on_a_fixed_batch():
    p = A2CParams(embed_sizes="32", optimizer="adam", learning_rate=1e-2, reward_halflife=0.1, advantage_norm=True, seed=1)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = learner.prepare(Batch.stack(collect(learner, 8, 16)))

    def p_correct():  # the probability of the rewarded action (the cue) on the batch's observations
        with torch.no_grad():
            probs = torch.softmax(learner.evaluate(batch).logits[:-1], -1)
        return float((probs * batch.obs[:-1]).sum(-1).mean())

    before = p_correct()
    first = learner.step(batch)
    for _ in range(30):  # not to convergence: a policy gradient on one fixed batch overfits its noise
        last = learner.step(batch)
    assert last["loss/value"] < 0.6 * first["loss/value"]  # about half: the rest is the targets' own noise
    assert last["loss"] < first["loss"]
    assert before < 0.4 and p_correct() > 0.5


def test_learns_match_cue():
    # MatchCue's rewards do not depend on earlier actions, so a short horizon (gamma 0.63) is the
    # right one; a larger step suits the tiny net.
    p = A2CParams(embed_sizes="32", learning_rate=1e-3, reward_halflife=0.1, experience_length=16, seed=0)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    curve = train_on(learner, MatchCue, updates=50)
    assert curve[0] < 7  # random play: 16 / 3 = 5.3 a game
    assert sum(curve[-5:]) / 5 > 13
    assert learner.updates == 50


def test_snapshot_round_trip(tmp_path):
    p = A2CParams(embed_sizes="16", experience_length=16, seed=3)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    learner.update(collect(learner, 16, 16))  # the optimiser has state worth saving
    meta = {"algorithm": "a2c", "params": to_dict(p), "env": "match-cue", "env_options": {}, "obs_size": 3, "num_actions": 3}
    path = save_snapshot(tmp_path / "snap.pt", meta, learner.state_dict())

    snap = load_snapshot(path)
    fresh = A2CLearner(
        A2CParams(**snap.meta["params"]), snap.meta["obs_size"], snap.meta["num_actions"], fps=60.0, device="cpu", act_every=2
    )
    fresh.load_state_dict(snap.learner)
    assert fresh.params == p and fresh.updates == 1

    more = collect(learner, 16, 16, seed=9)
    batch = Batch.stack(more)
    ours, theirs = learner.evaluate(batch), fresh.evaluate(batch)
    assert torch.equal(ours.logits, theirs.logits) and torch.equal(ours.values, theirs.values)
    learner.update(more)  # the optimiser state came back too: the next update is the same
    fresh.update(more)
    for a, b in zip(learner.model.parameters(), fresh.model.parameters()):
        assert torch.equal(a, b)
