"""``rac``: recurrent actor-critic (phillip's rac.py), Arena's default algorithm.

The network is :class:`~arena.training.networks.ActorCritic` with a GRU core::

    policy: obs -> embedding (embed_sizes) -> GRU(gru_size) over [embedding, one-hot previous action]
                -> actor layers (actor_sizes, 128x128) -> logits
    value:  obs -> critic layers (critic_sizes, 128x128) -> V

The critic is a network of its own, as in phillip (rac.py's actor, critic.py's critic): the value
loss's gradient never reaches the embedding and GRU the policy reads (``shared_critic=true`` shares
them). The previous action as input tells the net what it did (actions are held the env's
``act_every`` frames and the game may lag by its ``delay``), and the state carries what the
current observation does not show.

**Whole sequences from stored states.** Each trajectory carries ``state``, the actor's GRU state
before ``obs[0]``; the learner unrolls the GRU over all ``experience_length`` steps from it,
resetting where ``starts[t]`` marks a game's first observation, exactly as the actor did. Gradients
flow through time across the whole trajectory.

**The update, with ``clip`` > 0 (the default): decoupled PPO**, as ``ppo`` (see ppo.py):

1. Prepare once, before any step: the pre-update policy ``pi_old`` and critic over every
   trajectory; GAE(``td_lambda``) advantages ``A`` and lambda-returns ``R``; ``log pi_old``.
2. ``sweeps`` passes over ``batches`` shuffled minibatches of ``batch_size`` trajectories::

       ratio  = pi / pi_old,   weight = min(rho_max, pi_old / mu)
       loss   = -mean(weight * min(ratio * A, clamp(ratio, 1 - clip, 1 + clip) * A))
                + value_scale * 0.5 * mean((V - R)^2) - entropy_scale * entropy

3. With ``target_kl`` > 0, the update ends before the step whose minibatch measures KL(pi_old || pi)
   past it.

**With ``clip=0``: phillip's update**, one plain policy-gradient step on each fresh minibatch (one
sweep, one step per minibatch) with V-trace's truncated weights ``rho = min(1, pi / mu)`` (as
``ac``)::

    vs, A = V-trace(lambda = td_lambda) from V and rho
    loss  = -mean(A * log pi) + value_scale * 0.5 * mean((V - vs)^2) - entropy_scale * entropy

**Staleness: corrected, both ways.** Workers play on while the learner steps, so the behaviour
policy ``mu`` the worker stored is a version or two behind: decoupled PPO clips against
``pi_old`` (the first step's clip fraction is 0 however old the data) and weights by
``pi_old / mu``; phillip's update corrects with V-trace.

Defaults: one update is 4 minibatches x 8 trajectories of 32 steps (1,024 steps), 4 sweeps, clip
0.2, learning rate 1.5e-4; why, in bench/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from arena.training import functional as F
from arena.training.learner import Batch, Learner
from arena.training.networks import ActorCritic, Model
from arena.training.params import ClipParams, param


@dataclass(frozen=True)
class RACParams(ClipParams):
    """Recurrent actor-critic hyperparameters: the actor-critic network's, decoupled PPO's and the
    GRU's width.

    ``gru_size`` defaults to 128, phillip's ``actor_rnn_layers=[128]``: as wide as the 128-unit
    embedding in front of it and the 128x128 heads behind it.
    """

    DEFAULTS = {
        "shared_critic": False,  # phillip's critic of its own
        "learning_rate": 1.5e-4,
        "entropy_scale": 0.01,
        "sweeps": 4,
        "batches": 4,
        "min_collect": 32,
    }
    gru_size: int = param(
        128, "width of the GRU core (its recurrent state); input is the embedding plus the one-hot previous action", short="gru"
    )

    # What a snapshot or params.json written before a field existed was trained with.
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {"shared_critic": True, "clip": 0.0}

    def __post_init__(self):
        super().__post_init__()
        if self.gru_size < 1:
            raise ValueError(f"gru_size must be positive, got {self.gru_size}")


class RACLearner(Learner):
    params_class = RACParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it

    @classmethod
    def make_model(cls, params: RACParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        return ActorCritic(params, obs_size, num_actions, gru_size=params.gru_size)

    @property
    def phillip(self) -> bool:
        """``clip=0``: one plain step on each fresh minibatch."""
        return self.params.clip == 0

    @property
    def sweeps(self) -> int:
        return 1 if self.phillip else self.params.sweeps

    @property
    def batch_steps(self) -> int:
        return 1 if self.phillip else self.params.batch_steps

    def prepare(self, batch: Batch) -> Batch:
        if self.phillip:
            return batch  # V-trace is computed per minibatch, from the weights each step starts with
        return self.fixed_advantages(batch, self.params.td_lambda)

    def should_stop(self, metrics: dict[str, float]) -> bool:
        return bool(self.params.target_kl) and not self.phillip and metrics["approx_kl"] > self.params.target_kl

    def loss(self, batch: Batch):
        return self.phillip_loss(batch) if self.phillip else self.clipped_loss(batch)

    def clipped_loss(self, batch: Batch):
        p = self.params
        out = self.acting(batch)
        advantages = self.normalised(batch.advantages)
        new_logp = self.mixed_log_probs(out.logits, batch.actions)
        weights = (batch.prox_logp - batch.logp).exp().clamp(max=p.rho_max)
        policy = F.ppo_clip_loss(new_logp, batch.prox_logp, advantages, p.clip, weights)
        if p.value_clip > 0:
            value = F.clipped_value_loss(out.values, batch.values, batch.returns, p.value_clip)
        else:
            value = F.value_loss(out.values, batch.returns)
        entropy = F.entropy_loss(out.logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        approx_kl, clip_frac = F.ratio_stats(new_logp, batch.prox_logp, p.clip)
        return loss, {
            "loss/policy": policy.item(),
            "loss/value": value.item(),
            "entropy": -entropy.item(),
            "approx_kl": approx_kl,
            "clip_frac": clip_frac,
            "stale_weight": (weights - 1).abs().mean().item(),
        }

    def phillip_loss(self, batch: Batch):
        p = self.params
        out = self.evaluate(batch)
        logits, values = out.logits[:-1], out.values[:-1]
        log_probs = self.mixed_log_probs(logits, batch.actions)
        log_rhos = log_probs.detach() - batch.logp
        vs, advantages = F.vtrace(
            batch.rewards,
            values.detach(),
            batch.next_values(out.values),
            batch.terminated,
            batch.truncated,
            log_rhos,
            self.gamma,
            p.td_lambda,
        )
        policy = F.policy_gradient_loss(log_probs, self.normalised(advantages))
        value = F.value_loss(values, vs)
        entropy = F.entropy_loss(logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        return loss, {
            "loss/policy": policy.item(),
            "loss/value": value.item(),
            "entropy": -entropy.item(),
            "rho_clipped": (log_rhos > 0).float().mean().item(),
        }

    def normalised(self, advantages: torch.Tensor) -> torch.Tensor:
        return F.normalise_advantages(advantages) if self.params.advantage_norm else advantages
