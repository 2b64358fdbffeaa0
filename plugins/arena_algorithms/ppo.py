"""``ppo``: proximal policy optimisation, decoupled (Schulman et al. 2017; Hilton et al. 2021).

Each update, on the fresh trajectories (``batches * batch_size`` of them):

1. **Prepare, once, before any step.** The model as it stands (the *pre-update* policy ``pi_old``
   and critic ``V_old``) is run over every trajectory: GAE(gamma, ``td_lambda``) gives each step's
   advantage ``A_t`` and lambda-return ``R_t`` (terminated steps do not bootstrap; truncated ones
   bootstrap from the actor's value of the final observation), and ``log pi_old(a_t|s_t)`` is kept.
2. **Sweeps.** ``sweeps`` passes (PPO's epochs), each over ``batches`` shuffled minibatches of
   ``batch_size`` trajectories, ``batch_steps`` gradient steps on each, minimising::

       ratio  = pi(a_t|s_t) / pi_old(a_t|s_t)                       the trust region
       weight = min(rho_max, pi_old(a_t|s_t) / mu(a_t|s_t))         the behaviour correction
       loss   = -mean(weight * min(ratio * A, clamp(ratio, 1 - clip, 1 + clip) * A))   (A normalised per minibatch)
                + value_scale   * 0.5 * mean((V(s_t) - R_t)^2)       (optionally clipped around V_old)
                - entropy_scale * mean(entropy(pi(.|s_t)))

3. **Early stop, before the step.** With ``target_kl`` > 0, each minibatch first measures the
   approximate KL(pi_old || pi) = mean((ratio - 1) - log ratio); past ``target_kl`` the update
   ends without taking that step.

**Staleness: corrected (decoupled PPO).** Workers play on while the learner steps, so ``mu``, the
policy that played (stored by the worker), is often a version or two behind. Clipping against
``mu`` would count that lag against the trust region (with two workers, up to a third of the steps
sat outside the clip range before the first step) and measure the KL from the wrong policy.
Clipping against ``pi_old`` instead makes the first step's ratio exactly 1 and its clip fraction
0, however old the data; the truncated weight ``pi_old / mu`` corrects for who played.

Both ``mu`` and ``pi`` are the network's softmax mixed with Arena's exploration floor,
``(1 - epsilon) * softmax + epsilon / A``; the entropy bonus is on the unmixed softmax.

Defaults follow CleanRL's ``ppo.py`` / SB3's PPO: separate 64x64 tanh policy and value networks,
Adam at 3e-4, clip 0.2, 4 epochs of 4 minibatches, GAE lambda 0.95, value coefficient 0.5, entropy
0.01, grad norm 0.5, per-minibatch advantage normalisation, gamma 0.99 (``reward_halflife`` 2.3 s:
a 69-step half-life at 60 fps and Pong's default ``act_every`` 2, an env option). One update is
16 trajectories x 64 steps = 1,024 steps in minibatches of 256 (CleanRL's Atari setting). Value
clipping and ``target_kl`` are off by default (SB3's and CleanRL's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass

from arena.training import functional as F
from arena.training.learner import Batch, Learner
from arena.training.networks import ActorCritic, Model
from arena.training.params import ClipParams


@dataclass(frozen=True)
class PPOParams(ClipParams):
    """PPO hyperparameters: the actor-critic network's, the clip, the KL limit and the behaviour
    weight's truncation, at CleanRL's / SB3's defaults (see the module docstring)."""

    DEFAULTS = {
        "reward_halflife": 2.3,  # gamma 0.99 at 30 decisions a second
        "learning_rate": 3e-4,
        "activation": "tanh",
        "embed_sizes": "",  # separate policy and value networks
        "actor_sizes": "64,64",
        "critic_sizes": "64,64",
        "entropy_scale": 0.01,
        "experience_length": 64,
        "min_collect": 16,
        "sweeps": 4,
        "batches": 4,
        "batch_size": 4,
    }

    def __post_init__(self):
        super().__post_init__()
        if not self.clip > 0:
            raise ValueError(f"clip must be positive, got {self.clip}")


class PPOLearner(Learner):
    params_class = PPOParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it

    @classmethod
    def make_model(cls, params: PPOParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        return ActorCritic(params, obs_size, num_actions)

    def prepare(self, batch: Batch) -> Batch:
        return self.fixed_advantages(batch, self.params.td_lambda)

    def should_stop(self, metrics: dict[str, float]) -> bool:
        return bool(self.params.target_kl) and metrics["approx_kl"] > self.params.target_kl

    def loss(self, batch: Batch):
        p = self.params
        out = self.acting(batch)
        advantages = batch.advantages
        if p.advantage_norm:
            advantages = F.normalise_advantages(advantages)
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
            "stale_weight": (weights - 1).abs().mean().item(),  # how far the data's players were from pi_old
        }
