"""``a2c``: its documented defaults, the GAE it trains on (hand-computed), its loss falling on a
fixed batch, learning MatchCue, and a snapshot round trip."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from algo_utils import GymSeatEnv, MatchCue, ValueIsObs, train_on
from torch import nn

from arena.training.learner import Actor, Batch
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


def test_defaults_are_baselines_a2c():
    p = A2CParams()
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    # Pong: 60 fps, act_every 2 (Pong's default env option) -> gamma 0.99 from the 2.3 s half-life.
    assert learner.gamma == pytest.approx(0.99, abs=2e-4)
    assert isinstance(learner.optimizer, torch.optim.RMSprop)
    assert learner.optimizer.defaults["lr"] == 7e-4
    assert (p.td_lambda, p.value_scale, p.entropy_scale, p.max_grad_norm) == (0.95, 0.5, 0.01, 0.5)
    # Synchronous: one step on all fresh trajectories.
    assert (p.sweeps, p.batches, p.batch_steps, p.batch_size) == (1, 1, 1, p.min_collect)
    # A 64x64 trunk shared by a linear policy head and a linear value head.
    linears = [m.out_features for m in learner.model.modules() if isinstance(m, nn.Linear)]
    assert linears == [64, 64, 3, 1]


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
    p = A2CParams(reward_halflife=1.0, td_lambda=0.5, advantage_norm=False)  # the learner's act_every: 1
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
    advantages, returns = learner.advantages(batch, learner.evaluate(batch).values)
    assert advantages[:, 0].tolist() == [1.75, 3.0, 5.0]
    assert returns[:, 0].tolist() == [2.75, 5.0, 8.0]
    # ... and the loss trains on exactly these: the critic's loss is 0.5 * mean(A^2) (returns =
    # A + V), the policy's log(3) * mean(A) (a uniform policy's log-prob is -log 3).
    loss, metrics = learner.loss(batch)
    assert metrics["loss/value"] == pytest.approx(0.5 * (1.75**2 + 3**2 + 5**2) / 3)
    assert metrics["loss/policy"] == pytest.approx(math.log(3) * (1.75 + 3 + 5) / 3)
    assert metrics["entropy"] == pytest.approx(math.log(3))
    assert loss.item() == pytest.approx(metrics["loss/policy"] + 0.5 * metrics["loss/value"] - 0.01 * math.log(3), rel=1e-6)


def test_loss_falls_on_a_fixed_batch():
    p = A2CParams(embed_sizes="32", learning_rate=3e-3, reward_halflife=0.1, seed=1)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
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
    # MatchCue's rewards do not depend on earlier actions, so a short horizon (gamma 0.63) is the
    # right one; a larger step suits the tiny net.
    p = A2CParams(embed_sizes="32", learning_rate=3e-3, reward_halflife=0.1, seed=0)
    learner = A2CLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    curve = train_on(learner, MatchCue, updates=50)
    assert curve[0] < 7  # random play: 16 / 3 = 5.3 a game
    assert sum(curve[-5:]) / 5 > 13
    assert learner.updates == 50


def test_snapshot_round_trip(tmp_path):
    p = A2CParams(embed_sizes="16", seed=3)
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
