"""``ppo``: proximal policy optimisation with the clipped surrogate (Schulman et al. 2017).

Each update, on the ``batches * batch_size`` freshest trajectories:

1. **Advantages once.** The critic as it stands before the update values every observation, and
   GAE(gamma, ``td_lambda``) gives each step's advantage ``A_t`` and lambda-return ``R_t``
   (terminated steps do not bootstrap, truncated ones bootstrap from the actor's value of the final
   observation). These stay fixed for the whole update, as do the old values ``V_old``.
2. **Sweeps.** ``sweeps`` passes (PPO's epochs), each over ``batches`` shuffled minibatches of
   ``batch_size`` trajectories, ``batch_steps`` gradient steps on each, minimising::

       ratio = pi_new(a_t|s_t) / mu(a_t|s_t)
       loss  = -mean(min(ratio * A, clamp(ratio, 1 - clip, 1 + clip) * A))    (A normalised per minibatch)
               + value_scale   * 0.5 * mean((V(s_t) - R_t)^2)                 (optionally clipped around V_old)
               - entropy_scale * mean(entropy(pi(.|s_t)))

3. **Early stop.** With ``target_kl`` > 0, the update ends as soon as a minibatch's approximate
   KL(mu || pi_new) = mean((ratio - 1) - log ratio) exceeds it.

**The ratio is exact.** ``mu`` is the behaviour policy whose log-probability the worker stored
(``batch.logp``): the network's softmax mixed with Arena's exploration floor,
``(1 - epsilon) * softmax(logits) + epsilon / A`` (see :class:`arena.training.learner.Actor`). The learner mixes
its new policy the same way before taking the ratio, so on the data's own weights the ratio is 1
up to float rounding, and data from workers a version behind is weighted by its true ratio. The
entropy bonus is on the unmixed softmax (the part the network controls).

Defaults follow CleanRL's ``ppo.py`` / SB3's PPO: separate 64x64 tanh policy and value networks,
Adam at 3e-4, clip 0.2, 4 epochs of 4 minibatches, GAE lambda 0.95, value coefficient 0.5, entropy
0.01, grad norm 0.5, per-minibatch advantage normalisation, gamma 0.99 (``reward_halflife`` 2.3 s:
a 69-step half-life at 60 fps and Pong's default ``act_every`` 2, an env option; at
``-o act_every=4`` it would take 4.6 s). One update is 16 trajectories x 64 steps = 1,024 steps in minibatches of 256 (CleanRL's
Atari setting). Value clipping is off by default (SB3's default; it rarely helps,
Andrychowicz et al. 2021); ``target_kl`` is off by default (CleanRL's and SB3's).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import numpy as np
import torch

from arena.training import functional as F
from arena.training.learner import Batch
from arena.training.params import param
from arena_algorithms.ac import ACLearner, ACParams


@dataclass(frozen=True)
class ClipParams:
    """PPO's own hyperparameters, also rac's (whose ``clip`` turns them on): mixed into a params
    class beside :class:`ACParams`."""

    clip: float = param(
        0.2, "clip range of the probability ratio: the surrogate is flat outside [1 - clip, 1 + clip]", short="cr"
    )
    value_clip: float = param(
        0.0,
        "clip the critic's change from its pre-update values to this range (CleanRL's clip_vloss); 0 turns it off",
        short="vclip",
    )
    target_kl: float = param(
        0.0,
        "stop an update early once a minibatch's approximate KL from the behaviour policy exceeds this; 0 never stops",
        short="kl",
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("clip", "value_clip", "target_kl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")


@dataclass(frozen=True)
class PPOParams(ClipParams, ACParams):
    """PPO hyperparameters: ``ac`` 's plus the clip range and the early stop (see the module docstring).

    Every default the module docstring promises is set here rather than inherited, so tuning the
    common defaults for ``rac`` does not change ``ppo``.
    """

    # -- CleanRL / SB3 PPO's defaults, set here whether or not ac's are the same --
    reward_halflife: float = param(
        2.3,
        "discount as a half-life in seconds of game time: gamma = 0.5 ** (1 / (halflife * fps / act_every)); 2.3 s is gamma 0.99 at 60 fps, act_every 2",
        short="hl",
    )
    learning_rate: float = param(3e-4, "optimiser step size (CleanRL / SB3: 3e-4)", short="lr")
    optimizer: Literal["adam", "rmsprop", "sgd"] = param("adam", "optimiser: adam (CleanRL / SB3), rmsprop or sgd", short="opt")
    activation: Literal["elu", "relu", "tanh"] = param(
        "tanh", "hidden-layer activation: elu, relu or tanh (CleanRL / SB3: tanh)", short="act"
    )
    embed_sizes: str = param(
        "", "layer sizes of a trunk shared by the policy and value networks (none: separate networks)", short="embed"
    )
    actor_sizes: str = param("64,64", "policy network layer sizes, comma-separated", short="actor")
    critic_sizes: str = param("64,64", "value network layer sizes, comma-separated", short="critic")
    td_lambda: float = param(0.95, "GAE lambda: 1 is the discounted return to the trajectory's end, 0 one-step TD", short="lam")
    value_scale: float = param(0.5, "value coefficient: weight of the critic's loss beside the policy's", short="vs")
    entropy_scale: float = param(
        0.01, "entropy coefficient: weight of the entropy bonus in the policy loss (CleanRL / SB3 Atari: 0.01)", short="ent"
    )
    max_grad_norm: float = param(
        0.5, "gradients are clipped to this global norm (CleanRL / SB3: 0.5); 0 turns clipping off", short="gn"
    )
    advantage_norm: bool = param(
        True, "normalise advantages in each minibatch (mean 0, std 1), as CleanRL / SB3 do", short="anorm"
    )
    experience_length: int = param(64, "agent steps in each trajectory (an update is batches * batch_size of them)", short="xl")
    min_collect: int = param(
        16, "fresh trajectories that must arrive before the next update (batches * batch_size uses them all)", short="mc"
    )
    sweeps: int = param(4, "epochs: passes over an update's trajectories")
    batches: int = param(4, "minibatches in one update: an update uses batches * batch_size trajectories")
    batch_size: int = param(4, "trajectories in one minibatch", short="bs")

    def __post_init__(self):
        super().__post_init__()
        if not self.clip > 0:
            raise ValueError(f"clip must be positive, got {self.clip}")


@dataclass
class PPOBatch(Batch):
    """A :class:`Batch` with what PPO fixes before its sweeps, each ``[T, B]``."""

    advantages: torch.Tensor
    returns: torch.Tensor
    old_values: torch.Tensor

    def select(self, columns: torch.Tensor) -> PPOBatch:
        """The trajectories ``columns`` (indices into B)."""
        return PPOBatch(
            **{
                f.name: getattr(self, f.name)[columns] if f.name == "state" else getattr(self, f.name)[:, columns]
                for f in fields(self)
            }
        )


class PPOLearner(ACLearner):
    params_class = PPOParams

    @torch.no_grad()
    def prepare(self, batch: Batch) -> PPOBatch:
        """``batch`` with its advantages, lambda-returns and values under the current critic."""
        values_all = self.evaluate(batch).values
        advantages, returns = self.advantages(batch, values_all)
        return PPOBatch(
            **{f.name: getattr(batch, f.name) for f in fields(Batch)},
            advantages=advantages,
            returns=returns,
            old_values=values_all[:-1],
        )

    def update(self, trajectories: list[dict]) -> dict[str, float]:
        """Advantages once with the pre-update critic, then ``sweeps`` x ``batches`` x ``batch_steps``
        steps (stopping early past ``target_kl``)."""
        p = self.params
        use = trajectories[-p.batches * p.batch_size :]
        full = self.prepare(Batch.stack(use, self.device))
        metrics: dict[str, list[float]] = {}
        generator = torch.Generator().manual_seed(p.seed * 1_000_003 + self.updates)
        stopped = False
        for _ in range(p.sweeps):
            order = torch.randperm(len(use), generator=generator)
            for start in range(0, len(use), p.batch_size):
                batch = full.select(order[start : start + p.batch_size].to(self.device))
                for _ in range(p.batch_steps):
                    step = self.step(batch)
                    for key, value in step.items():
                        metrics.setdefault(key, []).append(value)
                    if p.target_kl and step["approx_kl"] > p.target_kl:
                        stopped = True
                        break
                if stopped:
                    break
            if stopped:
                break
        self.updates += 1
        out = {key: float(np.mean(values)) for key, values in metrics.items()}
        out["early_stop"] = float(stopped)
        out["minibatch_steps"] = float(len(metrics.get("loss", [])))
        return out

    def loss(self, batch: Batch):
        """The PPO loss on a minibatch; a plain :class:`Batch` gets its advantages from the current
        critic first (as if it were a whole update)."""
        p = self.params
        if not isinstance(batch, PPOBatch):
            batch = self.prepare(batch)
        out = self.evaluate(batch)
        logits, values = out.logits[:-1], out.values[:-1]
        advantages = batch.advantages
        if p.advantage_norm and advantages.numel() > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        new_logp = self.mixed_log_probs(logits, batch.actions)
        policy = F.ppo_clip_loss(new_logp, batch.logp, advantages, p.clip)
        if p.value_clip > 0:
            clipped = batch.old_values + (values - batch.old_values).clamp(-p.value_clip, p.value_clip)
            value = 0.5 * torch.maximum((values - batch.returns) ** 2, (clipped - batch.returns) ** 2).mean()
        else:
            value = F.value_loss(values, batch.returns)
        entropy = F.entropy_loss(logits)
        loss = policy + p.value_scale * value + p.entropy_scale * entropy
        with torch.no_grad():
            log_ratio = new_logp - batch.logp
            ratio = log_ratio.exp()
            approx_kl = ((ratio - 1) - log_ratio).mean().item()
            clip_frac = ((ratio - 1).abs() > p.clip).float().mean().item()
        return loss, {
            "loss/policy": policy.item(),
            "loss/value": value.item(),
            "entropy": -entropy.item(),
            "approx_kl": approx_kl,
            "clip_frac": clip_frac,
            "ratio_dev": (ratio - 1).abs().mean().item(),
        }
