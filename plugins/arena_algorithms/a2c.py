"""``a2c``: advantage actor-critic as the Sonic A2C course trained it (Thomas Simonini's Deep
Reinforcement Learning Course, "A2C with Sonic the Hedgehog", on OpenAI baselines).

**Synchronous.** Every worker is one env: each plays ``experience_length`` steps (the course's
``nsteps``, 2048) with the current weights, then waits; the update uses one trajectory from every
worker (the course's 13 envs, one per level), and the workers play on only with the new weights.
So there is no staleness to correct: every trajectory was played by the policy being improved.

One update::

    V_old    = the critic before the update, over every observation
    A, R     = GAE(gamma 0.99, td_lambda 0.95) from V_old; R = A + V_old  (A not normalised)
    4 sweeps (the course's epochs) x 8 minibatches of single steps, shuffled:
        loss = -mean(A_t * log pi(a_t|s_t))                         plain policy gradient: no ratio, no clip
               + value_scale * 0.5 * mean((V(s_t) - R_t)^2)          value_scale 1: the course's 0.5 * mean((V - R)^2)
               - 0.01 * mean(entropy(pi(.|s_t)))
        RMSprop as TensorFlow computes it (decay 0.99, eps 1e-5 inside the square root, its
        average starting at 1), learning rate 2e-4, constant; global gradient norm clipped to 0.5.

The later sweeps reuse the batch without a correction, as the course did (``sweeps=1`` is a plain
A2C step). The network is the course's head on a shared trunk: a 512-unit ReLU layer (the
course's fully connected layer; its convolutional encoder is for pixels), then a policy layer
(initial scale 0.01) and a value layer, orthogonally initialised (gain sqrt(2)). There is no
exploration floor (``epsilon`` 0): the course sampled from the softmax.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from arena.training import functional as F
from arena.training.learner import Batch, Learner
from arena.training.networks import ActorCritic, Model, orthogonal_init
from arena.training.params import ActorCriticParams


@dataclass(frozen=True)
class A2CParams(ActorCriticParams):
    """A2C hyperparameters at the Sonic course's defaults (see the module docstring). ``batches``
    counts minibatches of single steps; ``min_collect`` and ``batch_size`` are unused (an update is
    one trajectory from every worker)."""

    DEFAULTS = {
        "reward_halflife": 2.3,  # gamma 0.99 at Pong's 30 decisions a second
        "epsilon": 0.0,
        "entropy_scale": 0.01,
        "learning_rate": 2e-4,
        "optimizer": "rmsprop_tf",
        "activation": "relu",
        "embed_sizes": "512",
        "actor_sizes": "",
        "critic_sizes": "",
        "td_lambda": 0.95,
        "value_scale": 1.0,
        "advantage_norm": False,
        "experience_length": 2048,
        "sweeps": 4,
        "batches": 8,
    }


class A2CLearner(Learner):
    params_class = A2CParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it
    synchronous = True

    @classmethod
    def make_model(cls, params: A2CParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        model = ActorCritic(params, obs_size, num_actions)
        orthogonal_init(model)
        nn.init.orthogonal_(model.critic[-1].weight, gain=1.0)
        model.small_policy_layer()
        return model

    def prepare(self, batch: Batch) -> Batch:
        return self.fixed_advantages(batch, self.params.td_lambda)

    def minibatches(self, batch: Batch, generator: torch.Generator) -> Iterator[Batch]:
        """One sweep: every step once, shuffled into ``batches`` minibatches."""
        order = torch.randperm(batch.steps, generator=generator).to(self.device)
        for part in order.chunk(self.params.batches):
            yield batch.transitions(part)

    def loss(self, batch: Batch):
        p = self.params
        out = self.acting(batch)
        advantages = batch.advantages
        if p.advantage_norm:
            advantages = F.normalise_advantages(advantages)
        policy = F.policy_gradient_loss(self.mixed_log_probs(out.logits, batch.actions), advantages)
        value = F.value_loss(out.values, batch.returns)
        entropy = F.entropy_loss(out.logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        return loss, {"loss/policy": policy.item(), "loss/value": value.item(), "entropy": -entropy.item()}
