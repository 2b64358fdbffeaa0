"""``ppo``: its documented defaults, an exact ratio on fresh data and on stale data (decoupled),
the clipped loss by hand, the surrogate falling (and staying clipped) on a fixed batch, the update
schedule (prepared once, the KL early stop before the step), learning MatchCue, and a snapshot
round trip."""

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
from arena_algorithms.ppo import PPOLearner, PPOParams

SMALL = dict(actor_sizes="32", critic_sizes="32")


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


def test_defaults():
    p = PPOParams()
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    assert learner.gamma == pytest.approx(0.99, abs=2e-4)  # Pong: 60 fps, its default act_every 2, 2.3 s half-life
    assert isinstance(learner.optimizer, torch.optim.Adam) and learner.optimizer.defaults["lr"] == 3e-4
    assert (p.clip, p.td_lambda, p.value_scale, p.entropy_scale, p.max_grad_norm) == (0.2, 0.95, 0.5, 0.01, 0.5)
    assert (p.sweeps, p.batches, p.batch_size, p.min_collect, p.experience_length) == (4, 4, 4, 16, 64)
    assert p.advantage_norm and p.value_clip == 0 and p.target_kl == 0
    # Separate 64x64 policy and value networks.
    assert [m.out_features for m in learner.model.actor.modules() if isinstance(m, nn.Linear)] == [64, 64, 3]
    assert [m.out_features for m in learner.model.critic.modules() if isinstance(m, nn.Linear)] == [64, 64, 1]
    assert not list(learner.model.embed.parameters())


def test_ratio_is_exact_on_the_data_s_own_weights():
    # The worker plays softmax mixed with 20% uniform and stores that log-probability; the learner
    # mixes its policy the same way, so before any step every ratio is 1.
    p = PPOParams(**SMALL, epsilon=0.2, seed=2)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    with torch.no_grad():  # a policy far from uniform, so that mixing matters
        learner.model.actor[-1].weight.normal_(0, 2.0)
    batch = Batch.stack(collect(learner, 4, 16))
    with torch.no_grad():
        _, metrics = learner.loss(learner.prepare(batch))
    assert metrics["stale_weight"] < 1e-5 and metrics["approx_kl"] < 1e-7 and metrics["clip_frac"] == 0
    unmixed = torch.log_softmax(learner.evaluate(batch).logits[:-1], -1).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
    assert (unmixed - batch.logp).abs().mean() > 0.05  # the unmixed policy would have been off


class StubPPO(PPOLearner):
    @classmethod
    def make_model(cls, params, obs_size, num_actions):
        return ValueIsObs(num_actions)


def test_clipped_loss_by_hand():
    p = PPOParams(epsilon=0.2, clip=0.2, value_clip=0.5, value_scale=0.5, entropy_scale=0.0, advantage_norm=False)
    learner = StubPPO(p, obs_size=1, num_actions=2, fps=60.0, device="cpu", act_every=2)
    with torch.no_grad():
        learner.model.bias.copy_(torch.tensor([0.0, math.log(3)]))
    # softmax (0.25, 0.75), mixed with 20% uniform: 0.8 * (0.25, 0.75) + 0.1 = (0.3, 0.7).
    trajectory = {
        "obs": [[1.0], [1.0], [1.0]],  # V = 1 now
        "prev_actions": [0, 1, 0],
        "starts": [True, False, False],
        "actions": [1, 0],
        "rewards": [0.0, 0.0],
        "terminated": [False, False],
        "truncated": [False, False],
        "trunc_values": [0.0, 0.0],
        "logp": [math.log(0.5), math.log(0.3)],  # the behaviour policy's
        "state": [],
    }
    floats = ("obs", "rewards", "trunc_values", "logp", "state")
    plain = Batch.stack([{k: np.asarray(v, dtype=np.float32 if k in floats else None) for k, v in trajectory.items()}])
    batch = plain.with_(
        advantages=torch.tensor([[1.0], [-2.0]]),
        returns=torch.tensor([[2.0], [2.0]]),
        values=torch.tensor([[0.0], [0.8]]),
        prox_logp=plain.logp,  # the pre-update policy is the one that played: every weight 1
    )
    # step 0: ratio 0.7 / 0.5 = 1.4, A = +1: min(1.4, 1.2) * 1  = 1.2  (clipped: no gradient)
    # step 1: ratio 0.3 / 0.3 = 1.0, A = -2: min(-2, -2)          = -2
    surrogate = -(1.2 - 2.0) / 2
    # critic, V = 1: step 0 max((1-2)^2, (0 + clamp(1, +-0.5) - 2)^2) = max(1, 2.25) = 2.25
    #                step 1 max((1-2)^2, (0.8 + 0.2 - 2)^2)             = 1
    value = 0.5 * (2.25 + 1.0) / 2
    loss, metrics = learner.loss(batch)
    assert metrics["loss/policy"] == pytest.approx(surrogate, rel=1e-6)
    assert metrics["loss/value"] == pytest.approx(value, rel=1e-6)
    assert loss.item() == pytest.approx(surrogate + 0.5 * value, rel=1e-6)
    assert metrics["clip_frac"] == 0.5
    assert metrics["approx_kl"] == pytest.approx((0.4 - math.log(1.4)) / 2, rel=1e-5)
    assert metrics["entropy"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=1e-6)
    # Only step 1 pushes: d/dbias of -(1/2) * (-2) * (0.8 * softmax_0 + 0.1) / 0.3, with
    # d softmax_0 / d bias = (0.25 * 0.75, -0.25 * 0.75): (0.5, -0.5). Unclipped, step 0 would add (0.15, -0.15).
    loss.backward()
    assert learner.model.bias.grad.tolist() == pytest.approx([0.5, -0.5], rel=1e-5)


def test_surrogate_falls_within_the_clip_on_a_fixed_batch():
    p = PPOParams(**SMALL, learning_rate=1e-2, reward_halflife=0.1, seed=1)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = learner.prepare(Batch.stack(collect(learner, 8, 16)))  # advantages fixed, as in an update
    first = learner.step(batch)
    for _ in range(40):
        last = learner.step(batch)
    assert abs(first["loss/policy"]) < 1e-5  # ratio 1 and normalised advantages: exactly 0
    assert last["loss/value"] < 0.6 * first["loss/value"]
    assert last["approx_kl"] > 0.01 and last["clip_frac"] > 0.2
    # Clipping caps the gain: each step contributes at most (1 + clip) * A where A > 0 and
    # (1 - clip) * A where A < 0; without the clip the ratios would run past it.
    a = batch.advantages
    a = (a - a.mean()) / (a.std() + 1e-8)
    floor = -torch.where(a > 0, (1 + p.clip) * a, (1 - p.clip) * a).mean().item()
    assert floor - 1e-6 <= last["loss/policy"] < 0.5 * floor  # more than half the most it can gain


def test_update_prepares_once_and_stops_at_target_kl_before_the_step(monkeypatch):
    p = PPOParams(**SMALL, learning_rate=1e-2, seed=4)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    trajectories = collect(learner, 16, 8)
    calls = []
    original = learner.prepare
    monkeypatch.setattr(learner, "prepare", lambda *args: calls.append(1) or original(*args))
    before = copy.deepcopy(learner.model.state_dict())
    metrics = learner.update(trajectories)
    assert len(calls) == 1  # before the sweeps, with the pre-update model
    assert metrics["grad_steps"] == 16 and metrics["early_stop"] == 0  # 4 sweeps x 4 minibatches

    stopping = PPOLearner(
        PPOParams(**SMALL, learning_rate=1e-2, seed=4, target_kl=1e-3), 3, 3, fps=60.0, device="cpu", act_every=2
    )
    stopping.model.load_state_dict(before)
    measured, applied = [], []
    loss, apply = stopping.loss, stopping.apply
    monkeypatch.setattr(stopping, "loss", lambda batch: measured.append(1) or loss(batch))
    monkeypatch.setattr(stopping, "apply", lambda value: applied.append(1) or apply(value))
    metrics = stopping.update(trajectories)
    assert metrics["early_stop"] == 1 and 1 <= metrics["grad_steps"] < 16
    # The minibatch that measured the KL past the limit was not stepped on.
    assert len(applied) == metrics["grad_steps"] == len(measured) - 1
    assert stopping.updates == 1


def stale_trajectories(learner, steps: int = 3):
    """Trajectories played by ``learner`` 's weights, then ``learner`` trained ``steps`` updates
    further on other data: what a worker a few versions behind sends."""
    old = collect(learner, 16, 8, seed=5)
    for seed in range(steps):
        learner.update(collect(learner, 16, 8, seed=20 + seed))
    return old


def test_stale_data_clip_fraction_is_zero_before_the_first_step():
    p = PPOParams(**SMALL, learning_rate=1e-2, seed=6)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = Batch.stack(stale_trajectories(learner))
    with torch.no_grad():
        prepared = learner.prepare(batch)
        _, metrics = learner.loss(prepared)
    # The data is stale: against the behaviour policy many ratios would sit outside the clip range ...
    behaviour_ratio = (prepared.prox_logp - batch.logp).exp()
    assert ((behaviour_ratio - 1).abs() > p.clip).float().mean() > 0.1
    # ... but the trust region is measured from the learner's own pre-update policy.
    assert metrics["clip_frac"] == 0 and metrics["approx_kl"] < 1e-7
    assert metrics["stale_weight"] > 0.05  # the behaviour correction sees the lag


def test_stale_data_is_weighted_by_the_truncated_behaviour_ratio():
    p = PPOParams(**SMALL, seed=6, advantage_norm=False, rho_max=1.0)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    batch = learner.prepare(Batch.stack(collect(learner, 4, 8)))
    stale = batch.with_(logp=batch.logp - 1.0)  # pi_old / mu = e: truncated to 1
    fresh_loss, _ = learner.loss(batch)
    stale_loss, _ = learner.loss(stale)
    assert stale_loss.item() == pytest.approx(fresh_loss.item(), rel=1e-6)
    halved = batch.with_(logp=batch.logp + math.log(2))  # pi_old / mu = 1/2: each step counts half
    half_loss, half = learner.loss(halved)
    _, full = learner.loss(batch)
    assert half["loss/policy"] == pytest.approx(0.5 * full["loss/policy"], rel=1e-5)


def test_learns_match_cue():
    # MatchCue's rewards do not depend on earlier actions: a short horizon (gamma 0.63) suits it.
    p = PPOParams(**SMALL, learning_rate=1e-3, reward_halflife=0.1, experience_length=16, seed=0)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    curve = train_on(learner, MatchCue, updates=25)
    assert curve[0] < 7  # random play: 16 / 3 = 5.3 a game
    assert sum(curve[-5:]) / 5 > 13


def test_snapshot_round_trip(tmp_path):
    p = PPOParams(**SMALL, experience_length=8, seed=3)
    learner = PPOLearner(p, obs_size=3, num_actions=3, fps=60.0, device="cpu", act_every=2)
    learner.update(collect(learner, 16, 8))  # the optimiser has state worth saving
    meta = {"algorithm": "ppo", "params": to_dict(p), "env": "match-cue", "env_options": {}, "obs_size": 3, "num_actions": 3}
    path = save_snapshot(tmp_path / "snap.pt", meta, learner.state_dict())

    snap = load_snapshot(path)
    fresh = PPOLearner(
        PPOParams(**snap.meta["params"]), snap.meta["obs_size"], snap.meta["num_actions"], fps=60.0, device="cpu", act_every=2
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
