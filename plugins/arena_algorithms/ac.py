"""``ac``: actor-critic (phillip's ac.py), one step of the advantage per trajectory step.

The model embeds the observation (``embed_sizes``), then a policy head (``actor_sizes``) and a
value head (``critic_sizes``). Advantages are GAE(``td_lambda``) over each trajectory, with the
critic trained toward the matching TD(lambda) targets. ``rac`` adds a GRU core (see rac.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from arena.training import functional as F
from arena.training.learner import Batch, Learner, Model, ModelOutput, RecurrentCore, mlp, numpy_gru, numpy_sequential
from arena.training.params import CommonParams, param, sizes


@dataclass(frozen=True)
class ACParams(CommonParams):
    """Actor-critic hyperparameters (the common ones plus these)."""

    actor_sizes: str = param("128,128", "policy head layer sizes, comma-separated", short="actor")
    critic_sizes: str = param("128,128", "value head layer sizes, comma-separated", short="critic")
    td_lambda: float = param(
        0.95, "GAE / TD(lambda) mixing: 1 is phillip's discounted return to the trajectory's end, 0 one-step TD", short="lam"
    )
    value_scale: float = param(0.5, "weight of the critic's loss beside the policy's", short="vs")
    advantage_norm: bool = param(True, "normalise advantages in each minibatch (mean 0, std 1)", short="anorm")
    shared_critic: bool = param(
        True,
        "the value head reads the policy's embedding (and GRU); false gives the critic its own network on the observation, as phillip's critic.py",
        short="shc",
    )

    def __post_init__(self):
        super().__post_init__()
        sizes(self.actor_sizes), sizes(self.critic_sizes)
        if not 0 <= self.td_lambda <= 1:
            raise ValueError(f"td_lambda must be between 0 and 1, got {self.td_lambda}")
        if self.value_scale < 0:
            raise ValueError(f"value_scale must be 0 or more, got {self.value_scale}")


class ActorCritic(Model):
    """Embedding -> [GRU over embedding + previous action] -> policy and value heads."""

    def __init__(self, params: ACParams, obs_size: int, num_actions: int, gru_size: int = 0):
        super().__init__()
        self.embed, width = mlp(obs_size, sizes(params.embed_sizes), params.activation)
        self.core = RecurrentCore(width, num_actions, gru_size) if gru_size else None
        self.state_size = gru_size
        width = gru_size or width
        actor, actor_out = mlp(width, sizes(params.actor_sizes), params.activation)
        # A critic of its own keeps the value loss's gradient out of the policy's features.
        self.shared_critic = params.shared_critic
        critic, critic_out = mlp(width if self.shared_critic else obs_size, sizes(params.critic_sizes), params.activation)
        self.actor = nn.Sequential(actor, nn.Linear(actor_out, num_actions))
        self.critic = nn.Sequential(critic, nn.Linear(critic_out, 1))
        # A small last policy layer starts near uniform, so early play explores.
        nn.init.orthogonal_(self.actor[-1].weight, gain=0.01)
        nn.init.zeros_(self.actor[-1].bias)

    def numpy_step(self):
        embed, actor, critic = numpy_sequential(self.embed), numpy_sequential(self.actor), numpy_sequential(self.critic)
        gru = numpy_gru(self.core) if self.core is not None else None
        shared = self.shared_critic

        def step(obs, prev_action, start, state):
            x = embed(obs)
            if gru is not None:
                x = state = gru(x, prev_action, np.zeros_like(state) if start else state)
            return actor(x), lambda: float(critic(x if shared else obs)[0]), state  # the critic only when asked

        return step

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:
        x = self.embed(obs)
        if self.core is not None:
            x, state = self.core(x, prev_actions, starts, state)
        return ModelOutput(self.actor(x), self.critic(x if self.shared_critic else obs).squeeze(-1), state)


class ACLearner(Learner):
    params_class = ACParams
    gru_size = 0  # rac sets its GRU width

    @classmethod
    def make_model(cls, params: ACParams, obs_size: int, num_actions: int) -> Model:
        return ActorCritic(params, obs_size, num_actions, gru_size=cls.gru_size_of(params))

    @classmethod
    def gru_size_of(cls, params) -> int:
        return 0

    def evaluate(self, batch: Batch):
        """Logits and values over obs[0..T] (T+1 steps), from each trajectory's stored state."""
        return self.model(batch.obs, batch.prev_actions, batch.starts, batch.state)

    def advantages(self, batch: Batch, values_all: torch.Tensor):
        p = self.params
        values = values_all[:-1]
        return F.gae(
            batch.rewards,
            values.detach(),
            batch.next_values(values_all),
            batch.terminated,
            batch.truncated,
            self.gamma,
            p.td_lambda,
        )

    def loss(self, batch: Batch):
        p = self.params
        out = self.evaluate(batch)
        logits, values = out.logits[:-1], out.values[:-1]
        advantages, returns = self.advantages(batch, out.values)
        if p.advantage_norm and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        log_probs = self.mixed_log_probs(logits, batch.actions)  # the policy the workers play
        policy = F.policy_gradient_loss(log_probs, advantages.detach())
        value = F.value_loss(values, returns)
        entropy = F.entropy_loss(logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        return loss, {"loss/policy": policy.item(), "loss/value": value.item(), "entropy": -entropy.item()}
