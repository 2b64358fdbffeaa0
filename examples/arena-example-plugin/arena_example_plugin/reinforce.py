"""``reinforce``: REINFORCE with a learned baseline (Williams 1992) on Arena's learner API.

Imported (with torch) only when training or playing a ``reinforce`` snapshot; the plugin's
``__init__`` names it by string in its ``AlgorithmSpec``.

The policy is an MLP on the observation (``embed_sizes`` hidden layers, then one logit per
action); the baseline ``b(s)`` is a separate MLP (``baseline_sizes``) trained to predict the
return. Both see each observation number ``x`` as ``max(x, 0)`` and ``max(-x, 0)``
(``split_signs``): on tic-tac-toe's +1/-1/0 board "this cell is taken" is then a sum of two
inputs, and REINFORCE learns the legal moves in a fraction of the games. On a minibatch of
trajectories, time-major ``[T, B]``::

    G_t  = r_t + gamma * (1 - terminated_t) * G_{t+1}       the discounted return, within one game
    A_t  = G_t - b(s_t)                                     the advantage
    loss = -mean(log pi(a_t | s_t) * A_t)                   the policy gradient
           + baseline_scale * 0.5 * mean((b(s_t) - G_t)^2)  the baseline's regression
           - entropy_scale * mean(H(pi(. | s_t)))           an entropy bonus

``log pi`` is the log-probability under the policy the workers play (the softmax mixed with
``epsilon`` of uniform choice: :meth:`Learner.mixed_log_probs`). Workers cut play into
trajectories of ``experience_length`` steps, not whole games, so where a trajectory ends in the
middle of a game ``G`` bootstraps from the baseline's value of the next observation, and at a
truncated step from the value of the game's final observation; everywhere else it is the plain
Monte-Carlo return. A tic-tac-toe game is at most 9 steps, so almost every return is a whole game's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from arena.training import functional as F
from arena.training.learner import Batch, Learner
from arena.training.networks import Model, ModelOutput, mlp, numpy_sequential
from arena.training.params import CommonParams, param, sizes


@dataclass(frozen=True)
class ReinforceParams(CommonParams):
    """The common hyperparameters (``arena train --plugin reinforce --list-params`` lists them
    all), two with other defaults for short turn-based games, plus the baseline's and the inputs'."""

    reward_halflife: float = param(
        10.0,
        "discount as a half-life in seconds of game time: gamma = 0.5 ** (1 / (halflife * fps / act_every)); "
        "a turn-based env runs at 1 step a second (tictactoe), so this is 10 moves, about a whole game",
        short="hl",
    )
    learning_rate: float = param(1e-2, "the optimiser's step size (large for small networks and short runs)", short="lr")
    baseline_sizes: str = param("64", "layer sizes of the baseline network, comma-separated", short="base")
    baseline_scale: float = param(0.5, "weight of the baseline's squared error beside the policy loss", short="bsc")
    split_signs: bool = param(
        True,
        "feed each observation number x to both networks as two, max(x, 0) and max(-x, 0): on a board of "
        "+1/-1/0 'taken' becomes linear in the inputs; without it the policy learns far more slowly which moves are legal",
        short="split",
    )

    def __post_init__(self):
        super().__post_init__()  # checks the common fields
        sizes(self.baseline_sizes)  # raises on a malformed list
        if self.baseline_scale < 0:
            raise ValueError(f"baseline_scale must be 0 or more, got {self.baseline_scale}")


class PolicyAndBaseline(Model):
    """Two feed-forward networks on the observation: the policy's logits and the baseline."""

    def __init__(self, params: ReinforceParams, obs_size: int, num_actions: int):
        super().__init__()
        self.split = params.split_signs
        inputs = 2 * obs_size if self.split else obs_size
        hidden, width = mlp(inputs, sizes(params.embed_sizes), params.activation)
        self.policy = nn.Sequential(hidden, nn.Linear(width, num_actions))
        hidden, width = mlp(inputs, sizes(params.baseline_sizes), params.activation)
        self.baseline = nn.Sequential(hidden, nn.Linear(width, 1))
        nn.init.orthogonal_(self.policy[-1].weight, gain=0.01)  # start near the uniform policy: early play explores
        nn.init.zeros_(self.policy[-1].bias)

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:
        # obs [T, B, D]; feed-forward, so prev_actions and starts are unused and state is [B, 0].
        x = torch.cat([obs.clamp(min=0), (-obs).clamp(min=0)], -1) if self.split else obs
        return ModelOutput(self.policy(x), self.baseline(x).squeeze(-1), state)

    def numpy_step(self):
        # Workers act one step at a time: numpy copies of the networks are ~10x faster than torch.
        policy, baseline, split = numpy_sequential(self.policy), numpy_sequential(self.baseline), self.split

        def step(obs, prev_action, start, state):
            x = np.concatenate([np.maximum(obs, 0), np.maximum(-obs, 0)]) if split else obs
            return policy(x), lambda: float(baseline(x)[0]), state  # the value only when asked

        return step


class ReinforceLearner(Learner):
    params_class = ReinforceParams

    @classmethod
    def make_model(cls, params: ReinforceParams, obs_size: int, num_actions: int) -> Model:
        return PolicyAndBaseline(params, obs_size, num_actions)

    def loss(self, batch: Batch):
        p = self.params
        out = self.model(batch.obs, batch.prev_actions, batch.starts, batch.state)  # over obs[0..T]
        logits, values = out.logits[:-1], out.values[:-1]
        returns = F.discounted_returns(
            batch.rewards,
            batch.terminated,
            batch.truncated,
            last_value=out.values[-1].detach(),  # b(obs[T]): where the trajectory cuts a game short
            next_values=batch.next_values(out.values),  # read only at truncated steps
            gamma=self.gamma,
        )
        advantages = returns - values.detach()
        policy = F.policy_gradient_loss(self.mixed_log_probs(logits, batch.actions), advantages)
        baseline = F.value_loss(values, returns)
        entropy = F.entropy_loss(logits)  # the negative entropy: minimising it raises the entropy
        loss = policy + p.baseline_scale * baseline + p.entropy_scale * entropy
        metrics = {
            "loss/policy": policy.item(),
            "loss/baseline": baseline.item(),
            "entropy": -entropy.item(),
            "return": returns.mean().item(),
        }
        return loss, metrics
