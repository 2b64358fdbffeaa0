"""``ac``: its loss by hand (normalised advantages, entropy), falling on a fixed batch, learning
MatchCue, and a snapshot round trip."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from algo_utils import GymSeatEnv, MatchCue, ValueIsObs, train_on

from arena.training.learner import Actor, Batch
from arena.training.params import to_dict
from arena.training.rollout import Collector
from arena.training.snapshot import load_snapshot, save_snapshot
from arena_algorithms.ac import ACLearner, ACParams

SMALL = dict(embed_sizes="32", actor_sizes="32", critic_sizes="32")


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


class StubAC(ACLearner):
    @classmethod
    def make_model(cls, params, obs_size, num_actions):
        return ValueIsObs(num_actions)


def test_loss_by_hand():
    # gamma 0.5, lambda 0.5; the policy is (1/6, 2/6, 3/6) everywhere.
    p = ACParams(reward_halflife=1.0, td_lambda=0.5, entropy_scale=0.1, value_scale=0.25, epsilon=0.0)  # bare softmax by hand
    learner = StubAC(p, obs_size=1, num_actions=3, fps=1.0, device="cpu")
    with torch.no_grad():
        learner.model.bias.copy_(torch.log(torch.tensor([1.0, 2.0, 3.0])))
    trajectory = {
        "obs": [[1.0], [2.0], [3.0], [4.0]],  # = V(s)
        "prev_actions": [0, 1, 0, 2],
        "starts": [True, False, True, True],
        "actions": [1, 0, 2],
        "rewards": [1.0, 5.0, 3.0],
        "terminated": [False, True, False],
        "truncated": [False, False, True],
        "trunc_values": [0.0, 0.0, 10.0],
        "logp": [math.log(2 / 6), math.log(1 / 6), math.log(3 / 6)],  # played by this policy: V-trace's weights are 1
        "state": [],
    }
    floats = ("obs", "rewards", "trunc_values", "logp", "state")
    batch = Batch.stack([{k: np.asarray(v, dtype=np.float32 if k in floats else None) for k, v in trajectory.items()}])
    # GAE as in test_algo_a2c: A = (1.75, 3, 5); mean 3.25, sample std sqrt(5.375 / 2).
    advantages = [1.75, 3.0, 5.0]
    std = math.sqrt(((1.75 - 3.25) ** 2 + (3 - 3.25) ** 2 + (5 - 3.25) ** 2) / 2)
    normalised = [(a - 3.25) / std for a in advantages]
    log_probs = [math.log(2 / 6), math.log(1 / 6), math.log(3 / 6)]  # of actions 1, 0, 2
    policy = -sum(lp * a for lp, a in zip(log_probs, normalised)) / 3
    value = 0.5 * sum(a * a for a in advantages) / 3  # returns = A + V
    entropy = -sum(q * math.log(q) for q in (1 / 6, 2 / 6, 3 / 6))

    loss, metrics = learner.loss(batch)
    assert metrics["loss/policy"] == pytest.approx(policy, rel=1e-5)
    assert metrics["loss/value"] == pytest.approx(value, rel=1e-6)
    assert metrics["entropy"] == pytest.approx(entropy, rel=1e-6)
    assert loss.item() == pytest.approx(policy + 0.25 * value - 0.1 * entropy, rel=1e-5)
    assert metrics["rho_clipped"] == 0

    # Played by an older policy that chose each action with probability 1/3: pi / mu for the
    # probabilities (2/6, 1/6, 3/6) is (1, 0.5, 1.5), truncated to (1, 0.5, 1). V-trace by hand:
    # delta_2 = 1 * 5 = 5 (cut off), delta_1 = 0.5 * 3 = 1.5 (ended), delta_0 = 1 * 1 = 1;
    # acc_0 = delta_0 + gamma * lambda * min(1, rho_0) * acc_1 = 1 + 0.5 * 0.5 * 1.5 = 1.375.
    stale = batch.with_(logp=torch.full_like(batch.logp, math.log(1 / 3)))
    _, metrics = learner.loss(stale)
    vs_minus_v = [1.375, 1.5, 5.0]
    assert metrics["loss/value"] == pytest.approx(0.5 * sum(a * a for a in vs_minus_v) / 3, rel=1e-6)
    assert metrics["rho_clipped"] == pytest.approx(1 / 3)


def test_loss_falls_on_a_fixed_batch():
    p = ACParams(**SMALL, learning_rate=3e-3, reward_halflife=0.1, seed=1)
    learner = ACLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = Batch.stack(collect(learner, 8, 16))

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
    # MatchCue's rewards do not depend on earlier actions: a short horizon (gamma 0.63) suits it.
    p = ACParams(**SMALL, learning_rate=3e-3, reward_halflife=0.1, experience_length=16, seed=0)
    learner = ACLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    curve = train_on(learner, MatchCue, updates=50)
    assert curve[0] < 7  # random play: 16 / 3 = 5.3 a game
    assert sum(curve[-5:]) / 5 > 13


def test_snapshot_round_trip(tmp_path):
    p = ACParams(**SMALL, experience_length=8, seed=3)
    learner = ACLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    learner.update(collect(learner, 16, 8))  # the optimiser has state worth saving
    meta = {"algorithm": "ac", "params": to_dict(p), "env": "match-cue", "env_options": {}, "obs_size": 3, "num_actions": 3}
    path = save_snapshot(tmp_path / "snap.pt", meta, learner.state_dict())

    snap = load_snapshot(path)
    fresh = ACLearner(
        ACParams(**snap.meta["params"]), snap.meta["obs_size"], snap.meta["num_actions"], fps=60.0, device="cpu", act_every=2
    )
    fresh.load_state_dict(snap.learner)
    assert fresh.params == p and fresh.updates == 1

    more = collect(learner, 16, 8, seed=9)
    batch = Batch.stack(more)
    ours, theirs = learner.evaluate(batch), fresh.evaluate(batch)
    assert torch.equal(ours.logits, theirs.logits) and torch.equal(ours.values, theirs.values)
    learner.update(more)  # the optimiser state came back too: the next update is the same
    fresh.update(more)
    for a, b in zip(learner.model.parameters(), fresh.model.parameters()):
        assert torch.equal(a, b)
