"""``a2c``: synchronous advantage actor-critic with GAE (the openai-baselines A2C used on Sonic).

One update = one gradient step on every fresh trajectory together (``min_collect`` trajectories of
``experience_length`` steps, all in one minibatch: ``batch_size = min_collect``, ``batches = sweeps =
batch_steps = 1``), so the policy that played is the policy being improved. The loss is
:class:`~arena_algorithms.ac.ACLearner`'s::

    A_t, R_t = GAE(gamma, td_lambda) over each trajectory, from the critic's values (detached)
    loss     = -mean(log pi(a_t|s_t) * A_t)                    policy gradient
               + value_scale   * 0.5 * mean((V(s_t) - R_t)^2)  critic toward the lambda-return
               - entropy_scale * mean(entropy(pi(.|s_t)))      exploration bonus

What differs from ``ac`` are baselines' A2C defaults (``baselines/a2c/a2c.py`` and its ``mlp``
network): a 64x64 tanh trunk shared by both heads (each head one linear layer), RMSprop (decay
0.99, eps 1e-5) at learning rate 7e-4, gradients clipped to norm 0.5, value coefficient 0.5,
entropy coefficient 0.01, no advantage normalisation, and gamma 0.99.

Differences from baselines, and why:

* **Steps per env**: ``experience_length`` 16 (baselines: 5 steps x 16 envs = 80 a step). Arena's
  workers send one trajectory per message, so 16 steps x 16 trajectories = 256 steps an update
  keeps the per-message and per-update costs small beside the emulator, and gives GAE(0.95) a
  horizon longer than a handful of steps.
* **GAE**: lambda 0.95 (``td_lambda``; baselines' A2C uses plain n-step returns, lambda = 1).
* **gamma** comes from ``reward_halflife``: gamma = 0.5 ** (1 / (halflife * fps / act_every)),
  with ``act_every`` the env's option (``-o act_every``). gamma = 0.99 is a half-life of
  ln 0.5 / ln 0.99 = 69 agent steps; at Pong's 60 fps with its default ``act_every`` 2 (30
  decisions a second) that is 69 / 30 = 2.3 s of game time (the default here); at
  ``-o act_every=4`` it would be 4.6 s, at ``-o act_every=1`` 1.15 s. The half-life is in
  seconds, so changing ``act_every`` alone changes gamma: keep gamma 0.99 by scaling
  ``reward_halflife`` with it.
* **Exploration floor**: workers play ``(1 - epsilon) * pi + epsilon / A`` (Arena's common
  ``epsilon`` 0.02). A2C does not correct for it (nor for workers a version behind); the bias is
  that small. Set ``epsilon=0`` for baselines' exact on-policy gradient.
* No learning-rate schedule (baselines decays it linearly to 0 over a fixed budget; Arena runs
  resume and have no fixed end).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from arena.training.params import param
from arena_algorithms.ac import ACLearner, ACParams


@dataclass(frozen=True)
class A2CParams(ACParams):
    """A2C hyperparameters: ``ac`` 's, with baselines' A2C defaults (see the module docstring).

    Every default the module docstring promises is set here rather than inherited, so tuning the
    common defaults for ``rac`` does not change ``a2c``.
    """

    # gamma 0.99 at Pong's 30 decisions a second (60 fps, its default act_every 2): 0.5 ** (1 / (2.3 * 30)) = 0.99
    reward_halflife: float = param(
        2.3,
        "discount as a half-life in seconds of game time: gamma = 0.5 ** (1 / (halflife * fps / act_every)); 2.3 s is gamma 0.99 at 60 fps, act_every 2",
        short="hl",
    )
    learning_rate: float = param(7e-4, "optimiser step size (baselines' A2C: 7e-4)", short="lr")
    optimizer: Literal["adam", "rmsprop", "sgd"] = param(
        "rmsprop", "optimiser: adam, rmsprop (baselines' A2C: decay 0.99, eps 1e-5) or sgd", short="opt"
    )
    activation: Literal["elu", "relu", "tanh"] = param(
        "tanh", "hidden-layer activation: elu, relu or tanh (baselines' mlp: tanh)", short="act"
    )
    embed_sizes: str = param(
        "64,64", "layer sizes of the trunk shared by the policy and value heads, comma-separated", short="embed"
    )
    actor_sizes: str = param("", "policy head hidden layers after the shared trunk (none: one linear layer)", short="actor")
    critic_sizes: str = param("", "value head hidden layers after the shared trunk (none: one linear layer)", short="critic")
    td_lambda: float = param(
        0.95, "GAE lambda: 1 is the n-step return to the trajectory's end (baselines' A2C), 0 one-step TD", short="lam"
    )
    value_scale: float = param(0.5, "value coefficient: weight of the critic's loss beside the policy's", short="vs")
    entropy_scale: float = param(
        0.01, "entropy coefficient: weight of the entropy bonus in the policy loss (baselines' A2C: 0.01)", short="ent"
    )
    max_grad_norm: float = param(
        0.5, "gradients are clipped to this global norm (baselines' A2C: 0.5); 0 turns clipping off", short="gn"
    )
    advantage_norm: bool = param(
        False, "normalise advantages in each minibatch (mean 0, std 1); baselines' A2C does not", short="anorm"
    )
    experience_length: int = param(16, "steps per env: agent steps in each trajectory (baselines: 5)", short="xl")
    batch_size: int = param(
        16, "trajectories in the one minibatch; keep it equal to min_collect so each update uses all fresh play", short="bs"
    )
    min_collect: int = param(
        16, "fresh trajectories (of experience_length steps each) gathered for each synchronous update", short="mc"
    )


class A2CLearner(ACLearner):
    """``ac`` 's loss on the synchronous schedule: each update is one step on all fresh trajectories."""

    params_class = A2CParams
