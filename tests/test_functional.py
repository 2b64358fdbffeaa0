"""Returns, targets and losses in ``arena.training.functional``, checked against hand-computed numbers.

The hand cases use ``gamma = 0.5`` (and ``lam = 0.5``) so every number is an exact binary
fraction; the arithmetic is written out in the comments. Then closed forms (lambda = 1 and 0, n = 1
and n >= T), and loop-vs-vectorised equality against plain-Python scalar references on random data.
"""

from __future__ import annotations

import math

import pytest
import torch

from arena.training import functional as fn
from arena.training.functional import (
    discounted_returns,
    entropy_loss,
    gae,
    gamma_from_halflife,
    n_step_targets,
    policy_gradient_loss,
    ppo_clip_loss,
    td_lambda_targets,
    value_loss,
)

F, T_ = False, True
G = 0.5  # gamma for the hand cases


def f64(*xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def flags(*xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.bool)


def close(actual: torch.Tensor, expected) -> None:
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    torch.testing.assert_close(actual, expected, rtol=0, atol=1e-12)


R = f64(1.0, 2.0, 3.0)
NONE = flags(F, F, F)
MID = flags(F, T_, F)  # the episode ends on step 1; step 2 starts a new one


# ---------------------------------------------------------------- discounted_returns, by hand


def test_returns_no_boundary():
    # G2 = 3 + .5 * 4 (last_value) = 5;  G1 = 2 + .5 * 5 = 4.5;  G0 = 1 + .5 * 4.5 = 3.25
    close(discounted_returns(R, NONE, NONE, 4.0, None, G), [3.25, 4.5, 5.0])


def test_returns_termination_mid_sequence():
    # G2 = 3 + .5 * 4 = 5;  G1 = 2 (terminal: no bootstrap, nothing from G2);  G0 = 1 + .5 * 2 = 2
    close(discounted_returns(R, MID, NONE, 4.0, None, G), [2.0, 2.0, 5.0])


def test_returns_truncation_mid_sequence_bootstraps():
    # next_values[1] = 10 is V(final observation of the truncated episode); the other entries are
    # never read (poison them).
    nv = f64(1e6, 10.0, 1e6)
    # G2 = 3 + .5 * 4 = 5;  G1 = 2 + .5 * 10 = 7 (not 2, not 2 + .5 * 5);  G0 = 1 + .5 * 7 = 4.5
    close(discounted_returns(R, NONE, MID, 4.0, nv, G), [4.5, 7.0, 5.0])


def test_returns_termination_on_last_step_ignores_last_value():
    # G2 = 3;  G1 = 2 + .5 * 3 = 3.5;  G0 = 1 + .5 * 3.5 = 2.75
    close(discounted_returns(R, flags(F, F, T_), NONE, 4.0, None, G), [2.75, 3.5, 3.0])


def test_returns_truncation_on_last_step_uses_next_values_not_last_value():
    # G2 = 3 + .5 * 8 = 7;  G1 = 2 + .5 * 7 = 5.5;  G0 = 1 + .5 * 5.5 = 3.75
    nv = f64(1e6, 1e6, 8.0)
    close(discounted_returns(R, NONE, flags(F, F, T_), 4.0, nv, G), [3.75, 5.5, 7.0])


def test_returns_both_flags_means_terminated():
    nv = f64(1e6, 10.0, 1e6)
    close(discounted_returns(R, MID, MID, 4.0, nv, G), [2.0, 2.0, 5.0])


def test_returns_batch_time_major():
    # Columns: the three hand cases above, side by side ([T, B] = [3, 3]).
    rewards = torch.stack([R, R, R], dim=1)
    terminated = torch.stack([NONE, MID, NONE], dim=1)
    truncated = torch.stack([NONE, NONE, MID], dim=1)
    nv = torch.stack([f64(0, 0, 0), f64(0, 0, 0), f64(1e6, 10.0, 1e6)], dim=1)
    out = discounted_returns(rewards, terminated, truncated, f64(4.0, 4.0, 4.0), nv, G)
    close(out, [[3.25, 2.0, 4.5], [4.5, 2.0, 7.0], [5.0, 5.0, 5.0]])
    # A per-column last_value: column 1 gets 0 -> G2 = 3, the rest of column 1 is unchanged.
    out = discounted_returns(rewards, terminated, truncated, f64(4.0, 0.0, 4.0), nv, G)
    close(out[:, 1], [2.0, 2.0, 3.0])


def test_returns_needs_next_values_when_truncated():
    with pytest.raises(ValueError, match="next_values"):
        discounted_returns(R, NONE, MID, 4.0, None, G)


# ---------------------------------------------------------------- n_step_targets, by hand

NV = f64(10.0, 20.0, 30.0)  # V(s1), V(s2), V(s3)


def test_n_step_no_boundary():
    # n = 2:  G0 = 1 + .5*2 + .25*V(s2)=20 -> 1 + 1 + 5 = 7
    #         G1 = 2 + .5*3 + .25*V(s3)=30 -> 2 + 1.5 + 7.5 = 11
    #         G2 = 3 + .5*30 = 18 (cut at the end of the rollout)
    close(n_step_targets(R, NV, NONE, NONE, G, 2), [7.0, 11.0, 18.0])
    # n = 3:  G0 = 1 + 1 + .25*3 + .125*30 = 2.75 + 3.75 = 6.5;  G1 = 11;  G2 = 18
    close(n_step_targets(R, NV, NONE, NONE, G, 3), [6.5, 11.0, 18.0])


def test_n_step_termination_mid_sequence():
    # n = 2:  G0 = 1 + .5*2 = 2 (step 1 terminal: no bootstrap);  G1 = 2;  G2 = 3 + .5*30 = 18
    close(n_step_targets(R, NV, MID, NONE, G, 2), [2.0, 2.0, 18.0])
    # Termination on step 0:  G0 = 1;  G1 = 11 (n = 2, as above);  G2 = 18
    close(n_step_targets(R, NV, flags(T_, F, F), NONE, G, 2), [1.0, 11.0, 18.0])


def test_n_step_truncation_mid_sequence_bootstraps():
    # n = 3, step 1 truncated with V(final obs) = next_values[1] = 20:
    #   G0 = 1 + .5*2 + .25*20 = 7 (stops at step 1, not 6.5);  G1 = 2 + .5*20 = 12;  G2 = 18
    close(n_step_targets(R, NV, NONE, MID, G, 3), [7.0, 12.0, 18.0])


def test_n_step_batch_time_major():
    rewards = torch.stack([R, R, R], dim=1)
    nv = torch.stack([NV, NV, NV], dim=1)
    terminated = torch.stack([NONE, MID, NONE], dim=1)
    truncated = torch.stack([NONE, NONE, MID], dim=1)
    out = n_step_targets(rewards, nv, terminated, truncated, G, 3)
    close(out, [[6.5, 2.0, 7.0], [11.0, 2.0, 12.0], [18.0, 18.0, 18.0]])


def test_n_step_rejects_bad_n():
    for n in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n must be"):
            n_step_targets(R, NV, NONE, NONE, G, n)


# ---------------------------------------------------------------- td_lambda_targets, by hand


def test_td_lambda_by_hand():
    # lam = .5:  G_t = r_t + .5 * (1 - term_t) * (.5 * V(s_{t+1}) + .5 * G_{t+1})
    # No boundary:  G2 = 3 + .5*30 = 18;  G1 = 2 + .5*(.5*20 + .5*18) = 11.5
    #               G0 = 1 + .5*(.5*10 + .5*11.5) = 1 + .5*10.75 = 6.375
    close(td_lambda_targets(R, NV, NONE, NONE, G, 0.5), [6.375, 11.5, 18.0])
    # Termination on step 1:  G1 = 2;  G0 = 1 + .5*(5 + .5*2) = 4;  G2 = 18
    close(td_lambda_targets(R, NV, MID, NONE, G, 0.5), [4.0, 2.0, 18.0])
    # Truncation on step 1 (G_2 replaced by V(final obs) = 20):
    #   G1 = 2 + .5*(.5*20 + .5*20) = 12;  G0 = 1 + .5*(5 + .5*12) = 6.5;  G2 = 18
    close(td_lambda_targets(R, NV, NONE, MID, G, 0.5), [6.5, 12.0, 18.0])


def test_td_lambda_batch_time_major():
    rewards = torch.stack([R, R, R], dim=1)
    nv = torch.stack([NV, NV, NV], dim=1)
    terminated = torch.stack([NONE, MID, NONE], dim=1)
    truncated = torch.stack([NONE, NONE, MID], dim=1)
    out = td_lambda_targets(rewards, nv, terminated, truncated, G, 0.5)
    close(out, [[6.375, 4.0, 6.5], [11.5, 2.0, 12.0], [18.0, 18.0, 18.0]])


# ---------------------------------------------------------------- gae, by hand

V = f64(5.0, 10.0, 15.0)


def test_gae_no_boundary():
    nv = f64(10.0, 15.0, 20.0)  # V(s1), V(s2), V(s3)
    # deltas: d0 = 1 + .5*10 - 5 = 1;  d1 = 2 + .5*15 - 10 = -.5;  d2 = 3 + .5*20 - 15 = -2
    # A2 = -2;  A1 = -.5 + .25*(-2) = -1;  A0 = 1 + .25*(-1) = .75
    adv, ret = gae(R, V, nv, NONE, NONE, G, 0.5)
    close(adv, [0.75, -1.0, -2.0])
    close(ret, [5.75, 9.0, 13.0])  # A + V, and also the TD(lambda) targets:
    # G2 = 3 + .5*20 = 13;  G1 = 2 + .5*(.5*15 + .5*13) = 9;  G0 = 1 + .5*(.5*10 + .5*9) = 5.75
    close(td_lambda_targets(R, nv, NONE, NONE, G, 0.5), [5.75, 9.0, 13.0])


def test_gae_termination_mid_sequence():
    nv = f64(10.0, 15.0, 20.0)
    # d1 = 2 - 10 = -8 (no bootstrap);  A2 = -2;  A1 = -8 (A2 does not leak in)
    # A0 = 1 + .25*(-8) = -1
    adv, ret = gae(R, V, nv, MID, NONE, G, 0.5)
    close(adv, [-1.0, -8.0, -2.0])
    close(ret, [4.0, 2.0, 13.0])


def test_gae_truncation_mid_sequence_bootstraps():
    # Step 1 truncated; its final observation is worth 30. Step 2 starts a new episode at V = 15.
    nv = f64(10.0, 30.0, 20.0)
    # d1 = 2 + .5*30 - 10 = 7 (bootstrapped);  A2 = -2;  A1 = 7 (A2 does not leak in)
    # A0 = 1 + .25*7 = 2.75.  Treating the truncation as a termination would give A1 = -8.
    adv, ret = gae(R, V, nv, NONE, MID, G, 0.5)
    close(adv, [2.75, 7.0, -2.0])
    close(ret, [7.75, 17.0, 13.0])


def test_gae_batch_time_major():
    nv = torch.stack([f64(10.0, 15.0, 20.0), f64(10.0, 15.0, 20.0), f64(10.0, 30.0, 20.0)], dim=1)
    rewards, values = torch.stack([R, R, R], dim=1), torch.stack([V, V, V], dim=1)
    terminated = torch.stack([NONE, MID, NONE], dim=1)
    truncated = torch.stack([NONE, NONE, MID], dim=1)
    adv, ret = gae(rewards, values, nv, terminated, truncated, G, 0.5)
    close(adv, [[0.75, -1.0, 2.75], [-1.0, -8.0, 7.0], [-2.0, -2.0, -2.0]])
    close(ret, adv + values)


# ---------------------------------------------------------------- random data and closed forms


def random_rollout(seed: int, T: int = 9, B: int = 4):
    """A [T, B] rollout whose next_values are consistent: within an episode V(s_{t+1}) is the
    value of the next step's observation; at a truncation it is an independent final value."""
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, B, generator=gen, dtype=torch.float64)
    values = torch.randn(T, B, generator=gen, dtype=torch.float64)
    u = torch.rand(T, B, generator=gen, dtype=torch.float64)
    terminated = u < 0.15
    truncated = (u >= 0.15) & (u < 0.3)
    truncated[2, 0] = terminated[2, 0] = True  # both at once somewhere
    next_values = torch.randn(T, B, generator=gen, dtype=torch.float64)
    ended = terminated | truncated
    next_values[:-1] = torch.where(ended[:-1], next_values[:-1], values[1:])
    return rewards, values, next_values, terminated, truncated


# Plain-Python scalar references, written straight from the definitions, one column at a time.


def ref_returns(r, term, trunc, last, nv, g):
    out, running = [0.0] * len(r), last
    for t in reversed(range(len(r))):
        if term[t]:
            running = r[t]
        elif trunc[t]:
            running = r[t] + g * nv[t]
        else:
            running = r[t] + g * running
        out[t] = running
    return out


def ref_n_step(r, nv, term, trunc, g, n):
    T, out = len(r), []
    for t in range(T):
        total = 0.0
        for k in range(n):
            i = t + k
            total += g**k * r[i]
            if term[i]:
                break
            if trunc[i] or i == T - 1 or k == n - 1:
                total += g ** (k + 1) * nv[i]
                break
        out.append(total)
    return out


def ref_td_lambda(r, nv, term, trunc, g, lam):
    # Forward view: the lambda-weighted mix of the n-step targets, cut at the episode's end.
    T, out = len(r), []
    for t in range(T):
        horizon = next(i for i in range(t, T) if term[i] or trunc[i] or i == T - 1) - t + 1
        targets = ref_n_step(r, nv, term, trunc, g, horizon)
        mix = sum((1 - lam) * lam ** (m - 1) * ref_n_step(r, nv, term, trunc, g, m)[t] for m in range(1, horizon))
        out.append(mix + lam ** (horizon - 1) * targets[t])
    return out


def ref_gae(r, v, nv, term, trunc, g, lam):
    T, adv = len(r), []
    for t in range(T):
        total, weight = 0.0, 1.0
        for i in range(t, T):
            total += weight * (r[i] + (0.0 if term[i] else g * nv[i]) - v[i])
            if term[i] or trunc[i]:
                break
            weight *= g * lam
        adv.append(total)
    return adv


def columns(*tensors):
    for b in range(tensors[0].shape[1]):
        yield [x[:, b].tolist() for x in tensors]


@pytest.mark.parametrize("seed", range(5))
def test_loop_vs_vectorised_on_random_data(seed):
    r, v, nv, term, trunc = random_rollout(seed)
    g, lam = 0.9, 0.7
    last = torch.randn(r.shape[1], dtype=torch.float64)
    ret = discounted_returns(r, term, trunc, last, nv, g)
    adv, gae_ret = gae(r, v, nv, term, trunc, g, lam)
    tdl = td_lambda_targets(r, nv, term, trunc, g, lam)
    nsteps = {n: n_step_targets(r, nv, term, trunc, g, n) for n in (1, 2, 3, 20)}
    for b, (rb, vb, nvb, tb, trb) in enumerate(columns(r, v, nv, term, trunc)):
        close(ret[:, b], ref_returns(rb, tb, trb, last[b].item(), nvb, g))
        close(adv[:, b], ref_gae(rb, vb, nvb, tb, trb, g, lam))
        close(tdl[:, b], ref_td_lambda(rb, nvb, tb, trb, g, lam))
        for n, out in nsteps.items():
            close(out[:, b], ref_n_step(rb, nvb, tb, trb, g, n))
        # A [T] column gives the same answer as the batch.
        close(discounted_returns(r[:, b], term[:, b], trunc[:, b], last[b], nv[:, b], g), ret[:, b])
        close(gae(r[:, b], v[:, b], nv[:, b], term[:, b], trunc[:, b], g, lam)[0], adv[:, b])
        close(td_lambda_targets(r[:, b], nv[:, b], term[:, b], trunc[:, b], g, lam), tdl[:, b])
        close(n_step_targets(r[:, b], nv[:, b], term[:, b], trunc[:, b], g, 3), nsteps[3][:, b])
    close(gae_ret, tdl)  # GAE's returns are the TD(lambda) targets


@pytest.mark.parametrize("seed", range(3))
def test_closed_forms(seed):
    r, v, nv, term, trunc = random_rollout(seed, T=12, B=3)
    g = 0.95
    td0 = r + g * (~term).to(r.dtype) * nv
    mc = discounted_returns(r, term, trunc, nv[-1], nv, g)
    # lambda = 1: GAE advantages are discounted returns minus values.
    adv1, ret1 = gae(r, v, nv, term, trunc, g, 1.0)
    close(adv1, mc - v)
    close(ret1, mc)
    close(td_lambda_targets(r, nv, term, trunc, g, 1.0), mc)
    # lambda = 0: one-step TD.
    adv0, ret0 = gae(r, v, nv, term, trunc, g, 0.0)
    close(adv0, td0 - v)
    close(ret0, td0)
    close(td_lambda_targets(r, nv, term, trunc, g, 0.0), td0)
    # n = 1 is TD(0); n >= T is the discounted return.
    close(n_step_targets(r, nv, term, trunc, g, 1), td0)
    close(n_step_targets(r, nv, term, trunc, g, 12), mc)
    close(n_step_targets(r, nv, term, trunc, g, 100), mc)


def test_returns_need_no_gradient_and_keep_dtype():
    r = torch.tensor([1.0, 2.0], requires_grad=True)
    nv = torch.tensor([0.5, 0.5], requires_grad=True)
    none = flags(F, F)
    for out in (
        discounted_returns(r, none, none, 0.0, nv, 0.9),
        n_step_targets(r, nv, none, none, 0.9, 2),
        td_lambda_targets(r, nv, none, none, 0.9, 0.5),
        *gae(r, nv, nv, none, none, 0.9, 0.5),
    ):
        assert not out.requires_grad
        assert out.dtype == torch.float32


def test_shape_contract_is_checked():
    with pytest.raises(ValueError, match="shape"):
        gae(R, V, f64(1.0, 2.0), NONE, NONE, G, 0.5)
    with pytest.raises(TypeError, match="bool"):
        gae(R, V, V, torch.zeros(3), NONE, G, 0.5)
    with pytest.raises(ValueError, match=r"\[T\] or \[T, B\]"):
        discounted_returns(torch.zeros(2, 2, 2), *(torch.zeros(2, 2, 2, dtype=torch.bool),) * 2, 0.0, None, G)
    with pytest.raises(ValueError, match="gamma"):
        td_lambda_targets(R, NV, NONE, NONE, 1.5, 0.5)
    with pytest.raises(ValueError, match="lam"):
        gae(R, V, NV, NONE, NONE, G, -0.1)


# ---------------------------------------------------------------- losses, by hand


def test_policy_gradient_loss():
    log_probs = torch.tensor([-1.0, -2.0], requires_grad=True)
    advantages = torch.tensor([2.0, 1.0], requires_grad=True)
    # -mean(-1*2, -2*1) = -mean(-2, -2) = 2;  d/dlog_probs = -A / N = [-1, -.5]
    loss = policy_gradient_loss(log_probs, advantages)
    assert loss.item() == 2.0
    loss.backward()
    close(log_probs.grad, torch.tensor([-1.0, -0.5]))
    assert advantages.grad is None  # detached


def test_value_loss():
    values = torch.tensor([1.0, 2.0], requires_grad=True)
    targets = torch.tensor([3.0, 2.0], requires_grad=True)
    # .5 * mean((1-3)^2, 0) = .5 * 2 = 1;  gradient (v - target) / N = [-1, 0]
    loss = value_loss(values, targets)
    assert loss.item() == 1.0
    loss.backward()
    close(values.grad, torch.tensor([-1.0, 0.0]))
    assert targets.grad is None


def test_entropy_loss():
    # Uniform over 4 actions: H = log 4, so the loss is -log 4.
    assert entropy_loss(torch.zeros(4)).item() == pytest.approx(-math.log(4))
    # p = [.25, .75] from logits [0, log 3]:
    # H = -(.25 ln .25 + .75 ln .75) = .25*1.3862944 + .75*0.2876821 = 0.5623351
    two = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]], dtype=torch.float64)
    # Batch mean: -(0.5623351 + ln 2 = 0.6931472) / 2 = -0.6277411
    assert entropy_loss(two).item() == pytest.approx(-(0.5623351 + 0.6931472) / 2, abs=1e-7)
    # A masked (-inf) action adds nothing and gives no NaN; a near-deterministic policy is ~0.
    masked = torch.tensor([0.0, 0.0, -math.inf], requires_grad=True)
    loss = entropy_loss(masked)
    assert loss.item() == pytest.approx(-math.log(2))
    loss.backward()
    assert torch.isfinite(masked.grad).all()
    assert entropy_loss(torch.tensor([100.0, 0.0])).item() == pytest.approx(0.0, abs=1e-6)


def test_ppo_clip_loss_by_hand():
    clip = 0.2
    ratios = torch.tensor([1.5, 0.5, 1.5, 0.5], dtype=torch.float64)
    adv = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
    old = torch.tensor([-1.0, -2.0, -0.5, -3.0], dtype=torch.float64)
    new = (old + ratios.log()).requires_grad_()
    # per-sample min(ratio*A, clamp(ratio, .8, 1.2)*A):
    #   A=+1, r=1.5: min(1.5, 1.2) = 1.2   (clipped: no gradient)
    #   A=+1, r=0.5: min(0.5, 0.8) = 0.5   (unclipped: d/dnew = r*A = .5)
    #   A=-1, r=1.5: min(-1.5, -1.2) = -1.5 (unclipped: d/dnew = r*A = -1.5)
    #   A=-1, r=0.5: min(-0.5, -0.8) = -0.8 (clipped: no gradient)
    # loss = -mean(1.2, .5, -1.5, -.8) = -(-.6)/4 = .15
    loss = ppo_clip_loss(new, old, adv, clip)
    assert loss.item() == pytest.approx(0.15, abs=1e-12)
    loss.backward()
    # gradient of -mean(...) = -(d/dnew) / 4 = [0, -.125, .375, 0]
    close(new.grad, [0.0, -0.125, 0.375, 0.0])


def test_ppo_clip_loss_inside_range_is_the_policy_gradient_surrogate():
    # ratio = 1 everywhere: loss = -mean(A), gradient = -A / N, as policy_gradient_loss.
    old = torch.tensor([-1.0, -2.0, -0.3])
    adv = torch.tensor([1.0, -2.0, 0.5])
    new = old.clone().requires_grad_()
    loss = ppo_clip_loss(new, old, adv, 0.1)
    assert loss.item() == pytest.approx(-(1.0 - 2.0 + 0.5) / 3)
    loss.backward()
    close(new.grad, -adv / 3)
    with pytest.raises(ValueError, match="clip"):
        ppo_clip_loss(new, old, adv, 0.0)


# ---------------------------------------------------------------- gamma_from_halflife


def test_gamma_from_halflife():
    # 2 s at 60 fps acting every 2 frames = 60 decisions: gamma = .5 ** (1/60) = 0.98851402...
    gamma = gamma_from_halflife(2, 60, 2)
    assert gamma == pytest.approx(0.5 ** (1 / 60), rel=1e-15)
    assert gamma == pytest.approx(0.988514020, abs=1e-9)
    assert gamma**60 == pytest.approx(0.5, rel=1e-12)
    # 1 s at 60 fps every 4 frames = 15 decisions;  .5 s at 60 fps every frame = 30 decisions.
    assert gamma_from_halflife(1, 60, 4) == pytest.approx(0.5 ** (1 / 15), rel=1e-15)
    assert gamma_from_halflife(0.5, 60, 1) == pytest.approx(0.5 ** (1 / 30), rel=1e-15)
    # A half-life of one decision halves every step.
    assert gamma_from_halflife(1 / 30, 60, 2) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("args", [(0, 60, 2), (-1, 60, 2), (2, 0, 2), (2, 60, 0), (math.inf, 60, 2), (2, 60, True)])
def test_gamma_from_halflife_rejects_bad_input(args):
    with pytest.raises((ValueError, TypeError)):
        gamma_from_halflife(*args)


def test_vtrace_on_policy_is_gae_and_the_lambda_return():
    torch.manual_seed(3)
    T, B = 9, 4
    rewards, values, next_values = torch.randn(T, B), torch.randn(T, B), torch.randn(T, B)
    terminated = torch.rand(T, B) < 0.15
    truncated = (torch.rand(T, B) < 0.15) & ~terminated
    advantages, returns = fn.gae(rewards, values, next_values, terminated, truncated, 0.97, 0.9)
    vs, pg = fn.vtrace(rewards, values, next_values, terminated, truncated, torch.zeros(T, B), 0.97, 0.9)
    torch.testing.assert_close(pg, advantages)
    torch.testing.assert_close(vs, returns)


def test_vtrace_off_policy_by_hand():
    # gamma 0.5, lambda 1; pi / mu = (2, 0.5): rho truncated to (1, 0.5), c = (1, 0.5).
    rewards, values, next_values = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 4.0])
    flags = torch.zeros(2, dtype=torch.bool)
    log_rhos = torch.log(torch.tensor([2.0, 0.5]))
    vs, pg = fn.vtrace(rewards, values, next_values, flags, flags, log_rhos, 0.5, 1.0)
    # delta_1 = 0.5 * (2 + 0.5 * 4 - 1) = 1.5; delta_0 = 1 * (1 + 0.5 * 1 - 0) = 1.5
    # vs_1 = 1 + 1.5 = 2.5; vs_0 = 0 + 1.5 + 0.5 * 1 * 1.5 = 2.25
    assert vs.tolist() == pytest.approx([2.25, 2.5])
    # A_0 = rho_0 * (r_0 + gamma * vs_1 - V_0) = 1 + 0.5 * 2.5 = 2.25; A_1 = 0.5 * (2 + 0.5 * 4 - 1) = 1.5
    assert pg.tolist() == pytest.approx([2.25, 1.5])
    vs_loose, _ = fn.vtrace(rewards, values, next_values, flags, flags, log_rhos, 0.5, 1.0, rho_max=2.0)
    assert vs_loose[0].item() == pytest.approx(0 + 2 * 1.5 + 0.5 * 1 * 1.5)  # rho_0 no longer truncated


def test_next_q_plain_and_double():
    target = torch.tensor([[0.5, 2.0, -1.0]])
    online = torch.tensor([[1.0, 0.0, -1.0]])
    assert fn.next_q(target).tolist() == [2.0]
    assert fn.next_q(target, online).tolist() == [0.5]  # the online net picks, the target values
    with pytest.raises(ValueError, match="differ"):
        fn.next_q(target, online[:, :2])


def test_clipped_value_loss_by_hand():
    old = torch.tensor([0.0, 0.0, 0.0])
    targets = torch.tensor([1.0, 1.0, -1.0])
    # Within the clip range it is the plain loss.
    values = torch.tensor([0.1, -0.1, 0.05], requires_grad=True)
    assert fn.clipped_value_loss(values, old, targets, 0.2).item() == pytest.approx(fn.value_loss(values, targets).item())
    # Past it, toward the target: the clipped value's error (larger) counts, and gives no gradient.
    values = torch.tensor([0.9, 0.0, 0.0], requires_grad=True)
    loss = fn.clipped_value_loss(values, old, targets, 0.2)
    assert loss.item() == pytest.approx(0.5 * (0.8**2 + 1.0 + 1.0) / 3)
    loss.backward()
    assert values.grad[0].item() == 0.0
    # Past it, away from the target: the plain error is larger and keeps its gradient.
    values = torch.tensor([-0.5, 0.0, 0.0], requires_grad=True)
    fn.clipped_value_loss(values, old, targets, 0.2).backward()
    assert values.grad[0].item() == pytest.approx(-1.5 / 3)
    with pytest.raises(ValueError, match="clip"):
        fn.clipped_value_loss(values, old, targets, 0.0)
    with pytest.raises(ValueError, match="differ"):
        fn.clipped_value_loss(values, old[:2], targets, 0.2)


def test_ratio_stats_kl_and_clip_fraction():
    old = torch.log(torch.tensor([0.5, 0.5, 0.5, 0.5]))
    assert fn.ratio_stats(old, old, 0.2) == (0.0, 0.0)
    new = torch.log(torch.tensor([0.5, 0.5, 0.7, 0.2]))  # ratios 1, 1, 1.4, 0.4
    kl, frac = fn.ratio_stats(new, old, 0.2)
    assert frac == 0.5
    ratio = torch.tensor([1.0, 1.0, 1.4, 0.4])
    assert kl == pytest.approx(((ratio - 1) - ratio.log()).mean().item())
    assert kl > 0


def test_normalise_advantages():
    out = fn.normalise_advantages(torch.tensor([1.0, 2.0, 3.0, 6.0]))
    assert out.mean().item() == pytest.approx(0.0, abs=1e-6)
    assert out.std().item() == pytest.approx(1.0, abs=1e-4)
    one = torch.tensor([5.0])
    assert fn.normalise_advantages(one).item() == 5.0
