"""``ac``: actor-critic (phillip's ac.py), corrected for data played by older weights with V-trace.

The network is :class:`~arena.training.networks.ActorCritic`: an embedding (``embed_sizes``), then a
policy head (``actor_sizes``) and a value head (``critic_sizes``), feed-forward.

One update, on the fresh trajectories (``min_collect``), in minibatches of ``batch_size``, one
gradient step on each (phillip's schedule: ``sweeps``, ``batches``, ``batch_steps`` 1)::

    pi, V    = the model now, over obs[0..T]
    rho_t    = min(1, pi(a_t|s_t) / mu(a_t|s_t))       mu: the behaviour policy the worker stored
    vs, A    = V-trace(lambda = td_lambda) from V and rho   (arena.training.functional.vtrace)
    loss     = -mean(A_t * log pi(a_t|s_t))                     A normalised per minibatch
               + value_scale   * 0.5 * mean((V(s_t) - vs_t)^2)
               - entropy_scale * mean(entropy(pi(.|s_t)))

**Staleness: corrected.** Workers play on while the learner steps, so a trajectory was played by
weights one or two updates old; ``rho`` and V-trace's truncated trace weights correct for that
(and for any further steps inside one update). On data played by the current weights, ``rho`` is
1, ``vs`` the TD(lambda) return and ``A`` GAE(lambda): phillip's update exactly.

``mu`` is the network's softmax mixed with Arena's exploration floor, ``(1 - epsilon) * softmax +
epsilon / A``; ``pi`` is mixed the same way (:meth:`~arena.training.learner.Learner.mixed_log_probs`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from arena.training import functional as F
from arena.training.learner import Batch, Learner
from arena.training.networks import ActorCritic, Model
from arena.training.params import ActorCriticParams


@dataclass(frozen=True)
class ACParams(ActorCriticParams):
    """Actor-critic hyperparameters: the common ones and the actor-critic network's, at phillip's
    defaults (an update every 8 trajectories of 32 steps, learning rate 3e-4, entropy 0.02)."""


class ACLearner(Learner):
    params_class = ACParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it

    @classmethod
    def make_model(cls, params: ACParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        return ActorCritic(params, obs_size, num_actions)

    def loss(self, batch: Batch):
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
        if p.advantage_norm:
            advantages = F.normalise_advantages(advantages)
        policy = F.policy_gradient_loss(log_probs, advantages)
        value = F.value_loss(values, vs)
        entropy = F.entropy_loss(logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        with torch.no_grad():
            rho = log_rhos.exp()
        return loss, {
            "loss/policy": policy.item(),
            "loss/value": value.item(),
            "entropy": -entropy.item(),
            "rho_clipped": (rho > 1).float().mean().item(),  # share of steps whose weight V-trace truncated
        }
