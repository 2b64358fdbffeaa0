"""Returns, targets and losses as pure PyTorch functions.

Only training code imports this module (never the CLI start-up), so ``torch`` is imported at the
top.

Shape contract
--------------
Every per-step tensor is **time-major**: ``[T]`` for one environment or ``[T, B]`` for ``B``
environments stepped together. All per-step tensors passed to one call share that shape.

* ``rewards[t]``      reward received on step ``t`` (float).
* ``terminated[t]``   bool: step ``t`` ended its episode in a terminal state. Nothing follows it, so
  there is **no bootstrap**.
* ``truncated[t]``    bool: step ``t`` ended its episode for an outside reason (time limit, end of
  the match budget). The state was not terminal, so the return **bootstraps** from the value of the
  truncated step's next observation (the final observation, before any reset).
* ``values[t]``       V(s_t), the critic's value of the observation step ``t`` acted on.
* ``next_values[t]``  V(s_{t+1}), the value of the observation that step ``t`` led to. For a
  truncated step that is the final observation of the episode; for the last step of the rollout it
  is the value of the observation the next rollout starts from. Entries at terminated steps are
  ignored (multiplied by zero), so any finite number may stand there.

If both flags are set on a step, termination wins (gymnasium can report both). Episodes never leak
across a boundary: after a step with ``terminated | truncated`` set, the next entry belongs to a new
episode and contributes nothing to the earlier one.

The end of the rollout is not an episode boundary: the return is cut there and bootstraps from
``next_values[T - 1]`` (or ``last_value`` in :func:`discounted_returns`).

Returns and targets are computed without gradients; losses detach their targets and advantages.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "discounted_returns",
    "n_step_targets",
    "td_lambda_targets",
    "gae",
    "policy_gradient_loss",
    "value_loss",
    "entropy_loss",
    "ppo_clip_loss",
    "clipped_value_loss",
    "ratio_stats",
    "normalise_advantages",
    "vtrace",
    "next_q",
    "gamma_from_halflife",
]


def _check_steps(rewards: Tensor, **others: Tensor | None) -> None:
    """Check the time-major shape contract and the flag dtypes."""
    if rewards.dim() not in (1, 2):
        raise ValueError(f"rewards must be [T] or [T, B], got shape {tuple(rewards.shape)}")
    if rewards.shape[0] == 0:
        raise ValueError("rewards must hold at least one step (T >= 1)")
    for name, tensor in others.items():
        if tensor is None:
            continue
        if tensor.shape != rewards.shape:
            raise ValueError(f"{name} must have the shape of rewards {tuple(rewards.shape)}, got {tuple(tensor.shape)}")
        if name in ("terminated", "truncated") and tensor.dtype != torch.bool:
            raise TypeError(f"{name} must be a bool tensor, got {tensor.dtype}")


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@torch.no_grad()
def discounted_returns(
    rewards: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    last_value: Tensor | float,
    next_values: Tensor | None,
    gamma: float,
) -> Tensor:
    """Monte-Carlo discounted returns, cut at episode boundaries.

    ``G_t = r_t + gamma * (1 - terminated_t) * X_t`` with ``X_t`` the value after step ``t``:

    * ``next_values[t]`` if ``truncated[t]`` (bootstrap from the truncated step's next observation),
    * ``last_value`` if ``t = T - 1`` and the step ended no episode (the rollout is cut there),
    * ``G_{t+1}`` otherwise.

    Args:
        rewards: ``[T]`` or ``[T, B]`` float.
        terminated, truncated: bool, shaped like ``rewards``.
        last_value: V(s_T), the value after the rollout's last step: a scalar (``[]``) or ``[B]``.
        next_values: V(s_{t+1}) shaped like ``rewards``; only read where ``truncated`` is set.
            May be ``None`` when no step is truncated.
        gamma: discount in ``[0, 1]``.

    Returns:
        The returns, shaped like ``rewards``.
    """
    _check_steps(rewards, terminated=terminated, truncated=truncated, next_values=next_values)
    _check_unit("gamma", gamma)
    if next_values is None:
        if bool(truncated.any()):
            raise ValueError("next_values is needed to bootstrap truncated steps")
        next_values = torch.zeros_like(rewards)
    running = torch.as_tensor(last_value, dtype=rewards.dtype, device=rewards.device)
    running = running.expand(rewards.shape[1:]).clone()
    not_term = (~terminated).to(rewards.dtype)
    out = torch.empty_like(rewards)
    for t in range(rewards.shape[0] - 1, -1, -1):
        after = torch.where(truncated[t], next_values[t], running)
        running = rewards[t] + gamma * not_term[t] * after
        out[t] = running
    return out


@torch.no_grad()
def n_step_targets(
    rewards: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    n: int,
) -> Tensor:
    """n-step TD targets, cut at episode boundaries and at the end of the rollout.

    ``G_t = sum_{k<m} gamma^k r_{t+k} + gamma^m * (1 - terminated_{t+m-1}) * next_values[t+m-1]``
    where ``m <= n`` is the number of steps taken: it stops early at the first step ``t+k`` that
    is terminated (no bootstrap), truncated (bootstrap from its next observation) or the last of the
    rollout. ``n = 1`` is TD(0): ``r_t + gamma * (1 - terminated_t) * next_values[t]``.

    Args:
        rewards, next_values: ``[T]`` or ``[T, B]`` float.
        terminated, truncated: bool, shaped like ``rewards``.
        gamma: discount in ``[0, 1]``.
        n: number of steps, ``n >= 1``.

    Returns:
        The targets, shaped like ``rewards``.
    """
    _check_steps(rewards, next_values=next_values, terminated=terminated, truncated=truncated)
    _check_unit("gamma", gamma)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    T = rewards.shape[0]
    time = torch.arange(T, device=rewards.device).view((T,) + (1,) * (rewards.dim() - 1))
    time = time.expand(rewards.shape)

    def shifted(x: Tensor, k: int, fill: float | bool) -> Tensor:
        """``x[t + k]`` at each ``t``, ``fill`` past the end."""
        if k == 0:
            return x
        pad = torch.full((min(k, T),) + tuple(x.shape[1:]), fill, dtype=x.dtype, device=x.device)
        return torch.cat([x[k:], pad], dim=0)

    target = torch.zeros_like(rewards)
    scale = torch.ones_like(rewards)  # gamma^k while still accumulating, 0 once stopped
    for k in range(n):
        term_k = shifted(terminated, k, False)
        trunc_k = shifted(truncated, k, False)
        target = target + scale * shifted(rewards, k, 0.0)
        stop = term_k | trunc_k | (time + k >= T - 1) | torch.full_like(term_k, k == n - 1)
        boot = stop & ~term_k
        target = target + torch.where(boot, scale * gamma * shifted(next_values, k, 0.0), 0.0)
        scale = torch.where(stop, torch.zeros_like(scale), scale * gamma)
    return target


@torch.no_grad()
def td_lambda_targets(
    rewards: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    lam: float,
) -> Tensor:
    """TD(lambda) targets (the lambda-return), cut at episode boundaries.

    Backward recursion::

        G_t = r_t + gamma * (1 - terminated_t) * ((1 - lam) * next_values[t] + lam * G_{t+1})

    with ``G_{t+1}`` replaced by ``next_values[t]`` where step ``t`` ended its episode or is the
    last of the rollout. ``lam = 0`` gives TD(0); ``lam = 1`` gives :func:`discounted_returns`
    bootstrapped from ``next_values``. Equals ``gae(...)[1]`` when, within an episode,
    ``next_values[t] == values[t + 1]`` (as it is when both come from the same critic).

    Args:
        rewards, next_values: ``[T]`` or ``[T, B]`` float.
        terminated, truncated: bool, shaped like ``rewards``.
        gamma, lam: in ``[0, 1]``.

    Returns:
        The targets, shaped like ``rewards``.
    """
    _check_steps(rewards, next_values=next_values, terminated=terminated, truncated=truncated)
    _check_unit("gamma", gamma)
    _check_unit("lam", lam)
    not_term = (~terminated).to(rewards.dtype)
    ended = terminated | truncated
    out = torch.empty_like(rewards)
    following = next_values[-1]
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = torch.where(ended[t], next_values[t], following)
        mixed = (1.0 - lam) * next_values[t] + lam * following
        out[t] = rewards[t] + gamma * not_term[t] * mixed
        following = out[t]
    return out


@torch.no_grad()
def gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float,
    lam: float,
) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016).

    ::

        delta_t = r_t + gamma * (1 - terminated_t) * next_values[t] - values[t]
        A_t     = delta_t + gamma * lam * (1 - (terminated_t | truncated_t)) * A_{t+1}

    with ``A_T = 0``. A truncated step keeps its bootstrap in ``delta_t`` but stops the sum, so no
    advantage leaks from the next episode. ``lam = 1`` gives discounted returns minus values;
    ``lam = 0`` gives the one-step TD error.

    Args:
        rewards, values, next_values: ``[T]`` or ``[T, B]`` float.
        terminated, truncated: bool, shaped like ``rewards``.
        gamma, lam: in ``[0, 1]``.

    Returns:
        ``(advantages, returns)``, both shaped like ``rewards``, with ``returns = advantages +
        values`` (the TD(lambda) targets for the critic).
    """
    _check_steps(
        rewards,
        values=values,
        next_values=next_values,
        terminated=terminated,
        truncated=truncated,
    )
    _check_unit("gamma", gamma)
    _check_unit("lam", lam)
    not_term = (~terminated).to(rewards.dtype)
    not_ended = (~(terminated | truncated)).to(rewards.dtype)
    deltas = rewards + gamma * not_term * next_values - values
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * not_ended[t] * running
        advantages[t] = running
    return advantages, advantages + values


@torch.no_grad()
def vtrace(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    log_rhos: Tensor,
    gamma: float,
    lam: float = 1.0,
    rho_max: float = 1.0,
    c_max: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """V-trace targets and policy-gradient advantages (Espeholt et al. 2018, with lambda as in rlax)
    for data played by a behaviour policy ``mu`` while the learner's policy is ``pi``.

    ::

        rho_t   = min(rho_max, pi(a_t|s_t) / mu(a_t|s_t))          log_rhos = log pi - log mu
        c_t     = lam * min(c_max, pi / mu)
        delta_t = rho_t * (r_t + gamma * (1 - terminated_t) * next_values[t] - values[t])
        acc_t   = delta_t + gamma * c_t * (1 - (terminated_t | truncated_t)) * acc_{t+1},  acc_T = 0
        vs_t    = values[t] + acc_t                                  the critic's target
        A_t     = rho_t * (r_t + gamma * (1 - terminated_t) * (next_values[t] + lam * acc_{t+1}') - values[t])

    where ``acc_{t+1}'`` is 0 across a game's end. On-policy (``log_rhos`` 0) ``vs`` is the
    TD(lambda) return and ``A`` is GAE(lambda), exactly: off-policy, the truncated weights keep
    the correction's variance bounded.

    Args:
        rewards, values, next_values, log_rhos: ``[T]`` or ``[T, B]`` float.
        terminated, truncated: bool, shaped like ``rewards``.

    Returns:
        ``(vs, advantages)``, both shaped like ``rewards``.
    """
    _check_steps(rewards, values=values, next_values=next_values, terminated=terminated, truncated=truncated, log_rhos=log_rhos)
    _check_unit("gamma", gamma)
    _check_unit("lam", lam)
    rhos = log_rhos.exp()
    clipped_rhos = rhos.clamp(max=rho_max)
    cs = lam * rhos.clamp(max=c_max)
    not_term = (~terminated).to(rewards.dtype)
    not_ended = (~(terminated | truncated)).to(rewards.dtype)
    deltas = clipped_rhos * (rewards + gamma * not_term * next_values - values)
    acc = torch.empty_like(rewards)
    following = torch.zeros_like(rewards[0])  # acc_{t+1}, 0 past the end and across a game's end
    bootstrap = torch.empty_like(rewards)
    for t in range(rewards.shape[0] - 1, -1, -1):
        following = following * not_ended[t]
        bootstrap[t] = next_values[t] + lam * following
        following = deltas[t] + gamma * cs[t] * following
        acc[t] = following
    advantages = clipped_rhos * (rewards + gamma * not_term * bootstrap - values)
    return values + acc, advantages


@torch.no_grad()
def next_q(target_q: Tensor, online_q: Tensor | None = None) -> Tensor:
    """The value a Q-learning target bootstraps from, ``[...]`` from Q values ``[..., A]``.

    Without ``online_q``: ``max_a target_q`` (DQN). With it: Double DQN (van Hasselt et al. 2016),
    ``target_q[argmax_a online_q]``: the online network picks the action and the target network
    values it, so one network's overestimate is not both the choice and its value.
    """
    if online_q is None:
        return target_q.max(-1).values
    if online_q.shape != target_q.shape:
        raise ValueError(f"online_q {tuple(online_q.shape)} and target_q {tuple(target_q.shape)} differ")
    return target_q.gather(-1, online_q.argmax(-1, keepdim=True)).squeeze(-1)


def policy_gradient_loss(log_probs: Tensor, advantages: Tensor) -> Tensor:
    """REINFORCE / actor-critic policy loss: ``-mean(log_probs * advantages)``.

    Args:
        log_probs: log pi(a_t | s_t) of the actions taken, any shape.
        advantages: same shape; detached, so no gradient reaches the critic through them.

    Returns:
        A scalar to minimise.
    """
    if log_probs.shape != advantages.shape:
        raise ValueError(f"log_probs {tuple(log_probs.shape)} and advantages {tuple(advantages.shape)} differ")
    return -(log_probs * advantages.detach()).mean()


def value_loss(values: Tensor, targets: Tensor) -> Tensor:
    """Critic loss: ``0.5 * mean((values - targets)^2)``, with ``targets`` detached.

    Returns:
        A scalar to minimise; its gradient with respect to ``values`` is
        ``(values - targets) / N``.
    """
    if values.shape != targets.shape:
        raise ValueError(f"values {tuple(values.shape)} and targets {tuple(targets.shape)} differ")
    return 0.5 * (values - targets.detach()).pow(2).mean()


def entropy_loss(logits: Tensor) -> Tensor:
    """Mean negative entropy of categorical policies given by ``logits`` (``[..., A]``).

    ``-mean_over_batch(H)`` with ``H = -sum_a p_a log p_a`` in nats. Adding it (times a positive
    coefficient) to the loss pushes entropy up. A uniform policy over ``A`` actions gives
    ``-log A``; a ``-inf`` logit (a masked action) contributes nothing.
    """
    if logits.dim() < 1 or logits.shape[-1] == 0:
        raise ValueError(f"logits must be [..., A] with A >= 1, got {tuple(logits.shape)}")
    log_p = torch.log_softmax(logits, dim=-1)
    p = log_p.exp()
    # Zero the -inf log-probabilities before multiplying, so neither the value nor the gradient
    # of a masked action is 0 * inf = nan.
    safe_log_p = torch.where(p > 0, log_p, torch.zeros_like(log_p))
    return (p * safe_log_p).sum(dim=-1).mean()


def ppo_clip_loss(
    new_log_probs: Tensor, old_log_probs: Tensor, advantages: Tensor, clip: float, weights: Tensor | None = None
) -> Tensor:
    """PPO's clipped surrogate loss (Schulman et al. 2017), to minimise.

    ::

        ratio = exp(new_log_probs - old_log_probs)
        loss  = -mean(weights * min(ratio * A, clamp(ratio, 1 - clip, 1 + clip) * A))

    ``old_log_probs``, ``advantages`` and ``weights`` are detached. Once the ratio has moved past
    the clip range in the direction the advantage favours, the term is flat and gives no gradient.

    Decoupled PPO (Hilton et al. 2021) passes the learner's own pre-update policy as
    ``old_log_probs`` and the importance weight pre-update / behaviour policy (truncated) as
    ``weights``, so data played by older weights is corrected without shrinking the trust region.

    Args:
        new_log_probs, old_log_probs, advantages: the same shape.
        clip: the clip range epsilon, ``> 0``.
        weights: per-step weights (1 when omitted).
    """
    if not new_log_probs.shape == old_log_probs.shape == advantages.shape:
        raise ValueError(
            "new_log_probs, old_log_probs and advantages must share a shape, got "
            f"{tuple(new_log_probs.shape)}, {tuple(old_log_probs.shape)}, "
            f"{tuple(advantages.shape)}"
        )
    if not clip > 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    adv = advantages.detach()
    ratio = torch.exp(new_log_probs - old_log_probs.detach())
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * adv
    surrogate = torch.minimum(unclipped, clipped)
    if weights is not None:
        surrogate = weights.detach() * surrogate
    return -surrogate.mean()


def clipped_value_loss(values: Tensor, old_values: Tensor, targets: Tensor, clip: float) -> Tensor:
    """PPO's clipped critic loss (baselines' ``ppo2``), to minimise::

        clipped = old_values + clamp(values - old_values, -clip, clip)
        loss    = 0.5 * mean(max((values - targets)^2, (clipped - targets)^2))

    The larger of the two errors, so a value may not gain by moving more than ``clip`` from what
    the critic said before the update. ``old_values`` and ``targets`` are detached.
    """
    if not values.shape == old_values.shape == targets.shape:
        raise ValueError(
            f"values {tuple(values.shape)}, old_values {tuple(old_values.shape)} and targets {tuple(targets.shape)} differ"
        )
    if not clip > 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    old, targets = old_values.detach(), targets.detach()
    clipped = old + (values - old).clamp(-clip, clip)
    return 0.5 * torch.maximum((values - targets) ** 2, (clipped - targets) ** 2).mean()


@torch.no_grad()
def ratio_stats(new_log_probs: Tensor, old_log_probs: Tensor, clip: float) -> tuple[float, float]:
    """How far a policy has moved from ``old_log_probs``: ``(approx_kl, clip_fraction)``, with
    ``approx_kl = mean((ratio - 1) - log ratio)`` (an unbiased, never negative estimate of
    KL(old || new)) and the fraction of steps whose ratio is more than ``clip`` from 1."""
    log_ratio = new_log_probs - old_log_probs
    ratio = log_ratio.exp()
    return ((ratio - 1) - log_ratio).mean().item(), ((ratio - 1).abs() > clip).float().mean().item()


def normalise_advantages(advantages: Tensor) -> Tensor:
    """Advantages shifted and scaled to mean 0 and standard deviation 1 (one value stays as it is)."""
    if advantages.numel() < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def gamma_from_halflife(halflife_s: float, fps: float, act_every: int) -> float:
    """The discount whose weight halves after ``halflife_s`` seconds of play.

    The agent acts every ``act_every`` frames at ``fps`` frames per second, so a half-life of
    ``halflife_s * fps / act_every`` decisions: ``gamma = 0.5 ** (1 / that)``.
    For example 2 s at 60 fps acting every 2 frames is 60 decisions: ``0.5 ** (1 / 60)``.
    """
    for name, value in (("halflife_s", halflife_s), ("fps", fps), ("act_every", act_every)):
        if not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    steps = halflife_s * fps / act_every
    return 0.5 ** (1.0 / steps)
