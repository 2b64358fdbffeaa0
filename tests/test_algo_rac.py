"""rac: recurrent actor-critic. Stored states and resets, a falling loss, memory, snapshots."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
from algo_utils import GymSeatEnv, RecallCue, train_on

from arena.training.learner import Actor, Batch
from arena.training.rollout import Collector
from arena_algorithms.ac import ACParams
from arena_algorithms.rac import RACLearner, RACParams

SMALL = dict(
    embed_sizes="32", actor_sizes="32", critic_sizes="32", gru_size=32, experience_length=16, batch_size=8, min_collect=8,
    batch_steps=4, learning_rate=2e-3, shaping=0.0, device="cpu", seed=0,
)  # fmt: skip


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def learner(**overrides) -> RACLearner:
    return RACLearner(RACParams(**dict(SMALL, **overrides)), 3, 2, fps=60, device="cpu", act_every=4)  # the env's act_every


def collect(learner, count: int, epsilon: float = 0.0, seed: int = 0) -> list[dict]:
    """``count`` consecutive trajectories of RecallCue played by a copy of the learner's model."""
    actor = Actor(copy.deepcopy(learner.model), learner.num_actions, epsilon=epsilon, seed=seed)
    collector = Collector(GymSeatEnv(RecallCue(), seed=seed), actor, learner.params.experience_length, learner.gamma, 0.0)
    return [collector.collect()[0] for _ in range(count)]


def test_defaults_are_ac_defaults_plus_a_128_gru_a_critic_of_its_own_and_ppos_update():
    params = RACParams()
    update = {
        "shared_critic": False,
        "learning_rate": 1.5e-4,
        "entropy_scale": 0.01,
        "sweeps": 4,
        "batches": 4,
        "min_collect": 32,
    }
    for field in dataclasses.fields(ACParams):
        assert getattr(params, field.name) == update.get(field.name, field.default), field.name
    assert params.gru_size == 128 and params.clip == 0.2
    assert params.batches * params.batch_size == params.min_collect  # an update uses every fresh trajectory
    model = RACLearner(params, 5, 3, device="cpu").model
    assert model.state_size == 128
    assert model.core.gru.input_size == 128 + 3  # the embedding plus the one-hot previous action
    assert [m.out_features for m in model.actor.modules() if isinstance(m, torch.nn.Linear)] == [128, 128, 3]
    assert [m.in_features for m in model.critic.modules() if isinstance(m, torch.nn.Linear)] == [
        5,
        128,
        128,
    ]  # reads the observation
    with pytest.raises(ValueError, match="gru_size"):
        RACParams(gru_size=0)


def test_learner_replays_what_the_actor_computed_from_stored_states():
    # Games of 4 steps cut into trajectories of 6: most trajectories begin mid-game, so the stored
    # state matters, and a game starts inside each, so the reset at `starts` matters too.
    rac = learner(experience_length=6)
    trajectories = collect(rac, 5)
    assert any(np.abs(t["state"]).sum() > 0 for t in trajectories)
    batch = Batch.stack(trajectories)
    assert not batch.starts[0].all() and batch.starts[1:].any()
    with torch.no_grad():
        out = rac.evaluate(batch)
        logp = torch.log_softmax(out.logits[:-1], -1).gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        torch.testing.assert_close(logp, batch.logp, atol=1e-5, rtol=1e-5)
        # Starting from zeros instead of the stored state changes the answer, so the state is used.
        zeroed = dataclasses.replace(batch, state=torch.zeros_like(batch.state))
        assert not torch.allclose(rac.evaluate(zeroed).logits[:-1], out.logits[:-1], atol=1e-4)


def test_state_resets_at_starts():
    rac = learner()
    batch = Batch.stack(collect(rac, 2))
    batch.starts[:] = False
    batch.starts[3] = True
    noise = dataclasses.replace(batch, state=torch.randn_like(batch.state))
    with torch.no_grad():
        a, b = rac.evaluate(batch).logits, rac.evaluate(noise).logits
    assert not torch.allclose(a[:3], b[:3])
    torch.testing.assert_close(a[3:], b[3:])


def learnable_rewards(trajectories: list[dict], remembers: bool) -> list[dict]:
    """RecallCue trajectories (games aligned to trajectories) with a return the critic can learn
    exactly, whatever the actions: a critic that remembers (reading the GRU) is paid 1 at each
    game's end when its cue was the first; one that reads only the observation, 1 on the step
    whose observation says "answer now"."""
    out = []
    for trajectory in trajectories:
        assert trajectory["starts"][0]
        trajectory = dict(trajectory, rewards=np.zeros_like(trajectory["rewards"]))
        for t, ended in enumerate(trajectory["terminated"]):
            if trajectory["starts"][t]:
                cue = int(trajectory["obs"][t].argmax())
            trajectory["rewards"][t] = float(ended and cue == 0) if remembers else float(trajectory["obs"][t][2])
        out.append(trajectory)
    return out


@pytest.mark.parametrize("shared", [False, True])
def test_loss_falls_on_a_fixed_batch(shared):
    # On a fixed batch the policy term alone is unbounded below (the log-probability of an action
    # with a negative advantage can fall forever); a strong entropy bonus keeps it in check so the
    # critic's fit shows.
    rac = learner(batch_steps=1, learning_rate=1e-3, entropy_scale=0.3, epsilon=0.0, shared_critic=shared)
    with torch.no_grad():
        batch = rac.prepare(Batch.stack(learnable_rewards(collect(rac, 8, epsilon=0.5), remembers=shared)))
    first = rac.step(batch)
    steps = [rac.step(batch) for _ in range(100)]
    assert np.mean([m["loss/value"] for m in steps[-10:]]) < 0.2 * first["loss/value"]
    assert np.mean([m["loss"] for m in steps[-10:]]) < first["loss"] - 0.05


def test_clip_0_is_phillips_update_and_clip_above_0_is_decoupled_ppo():
    """``clip`` 0: V-trace's loss (as ``ac``) and one step on each fresh minibatch, whatever
    ``sweeps`` and ``batch_steps`` say; ``clip`` above 0: PPO's decoupled loss and its sweeps."""
    from arena_algorithms.ac import ACLearner
    from arena_algorithms.ppo import PPOLearner

    for clip, reference in ((0.0, ACLearner), (0.2, PPOLearner)):
        rac = learner(clip=clip, sweeps=4, batches=2, batch_size=4, min_collect=8, batch_steps=2)
        with torch.no_grad():
            batch = rac.prepare(Batch.stack(collect(rac, 4, epsilon=0.5)))
        got, got_metrics = rac.loss(batch)
        want, want_metrics = reference.loss(rac, batch)
        assert got.item() == want.item() and got_metrics.keys() == want_metrics.keys()
        metrics = rac.update(collect(rac, 8, epsilon=0.5, seed=1))
        assert ("clip_frac" in metrics) == (clip > 0)
        # phillip's: 8 fresh trajectories in minibatches of 4, one step each; PPO's: 4 sweeps x 2 x 2 steps
        assert metrics["grad_steps"] == (16 if clip else 2)


def test_stale_data_clip_fraction_is_zero_before_the_first_step():
    rac = learner(learning_rate=1e-2)
    stale = collect(rac, 8, epsilon=0.5)
    for seed in range(3):  # the learner moves on while a worker still plays the old weights
        rac.update(collect(rac, 8, epsilon=0.5, seed=10 + seed))
    with torch.no_grad():
        prepared = rac.prepare(Batch.stack(stale))
        _, metrics = rac.loss(prepared)
    behaviour_ratio = (prepared.prox_logp - prepared.logp).exp()
    assert ((behaviour_ratio - 1).abs() > rac.params.clip).float().mean() > 0.1  # stale indeed
    assert metrics["clip_frac"] == 0 and metrics["approx_kl"] < 1e-7


# phillip's update: one step on each fresh minibatch (8 trajectories in 4 minibatches of 2)
PHILLIPS_UPDATE = dict(clip=0.0, batch_size=2, entropy_scale=0.02)


@pytest.mark.parametrize("update", [{}, PHILLIPS_UPDATE], ids=["clipped", "phillips"])
def test_learns_to_recall_a_cue(update):
    rac = learner(**update)
    curve = train_on(rac, RecallCue, 40)
    assert np.mean(curve[:3]) < 0.7  # starts near chance (1/2)
    assert np.mean(curve[-5:]) > 0.9, curve


def test_snapshot_round_trip(tmp_path):
    from arena.plugins.manager import get_arena
    from arena.training.snapshot import load_snapshot, save_snapshot
    from arena.training.trained import build_model

    rac = learner()
    with torch.no_grad():
        batch = rac.prepare(Batch.stack(collect(rac, 4, epsilon=0.5)))
    for _ in range(3):
        rac.step(batch)
    meta = {
        "algorithm": "rac",
        "params": dataclasses.asdict(rac.params),
        "env": "recall",
        "env_options": {},
        "obs_size": 3,
        "num_actions": 2,
    }
    snapshot = load_snapshot(save_snapshot(tmp_path / "000000000001.pt", meta, rac.state_dict()))

    restored = learner(seed=5)
    restored.load_state_dict(snapshot.learner)
    model, params = build_model(snapshot, get_arena())
    assert params == rac.params
    with torch.no_grad():
        want = rac.evaluate(batch)
        for got in (restored.evaluate(batch), model(batch.obs, batch.prev_actions, batch.starts, batch.state)):
            torch.testing.assert_close(got.logits, want.logits, rtol=0, atol=0)
            torch.testing.assert_close(got.values, want.values, rtol=0, atol=0)
    # The optimiser came back too: the next step is the same.
    assert restored.updates == rac.updates
    assert restored.step(batch)["loss"] == pytest.approx(rac.step(batch)["loss"], rel=1e-6)
