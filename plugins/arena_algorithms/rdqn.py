"""``rdqn``: recurrent DQN: Q-learning with a GRU core, trained on whole stored sequences (R2D2's
stored state, optionally its burn-in; Double DQN by default).

The network is :class:`~arena.training.networks.QNetwork` with the GRU core ``rac`` uses::

    obs -> embedding (embed_sizes) -> GRU(gru_size) over [embedding, one-hot previous action]
        -> Q head (q_sizes) -> Q(s, a)

**One update** is dqn's (see dqn.py for the targets, the replay and the defaults' arithmetic):
the fresh trajectories join the replay buffer; ``sweeps x batches`` minibatches of ``batch_size``
whole trajectories drawn uniformly; the Huber loss between ``Q(s_t, a_t)`` and the n-step target
``r_t + ... + gamma^n * Q_target(s_{t+n}, argmax_a Q(s_{t+n}, a))``; a hard target sync every
``target_update`` gradient steps. What the recurrence changes:

* **Sequences.** Both networks unroll over all ``experience_length`` steps of a trajectory,
  resetting at ``starts`` (a game's first observation), so gradients flow through time across the
  whole sequence.
* **Stored state.** Both networks start each sequence from the trajectory's ``state``, the
  actor's GRU state before ``obs[0]`` when it was collected. That state came from older weights;
  the older the trajectory, the more it differs from what the current weights would compute.
* **Burn-in** (``burn_in`` steps, default 0). The first ``burn_in`` steps only run the online
  network forward, without gradient or loss, to refresh the stale state. The default trains on
  every step: Arena's sequences are short (32 steps) and most games begin inside them with a
  fresh zero state, so a burn-in would discard a large share of each sequence for a small fix.

**Staleness.** Off-policy like dqn; the stored state is the one stale input, and burn-in its fix.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from arena.training import functional as F
from arena.training.learner import Batch, Learner, Replay
from arena.training.networks import Model, QNetwork
from arena.training.params import QParams, param


@dataclass(frozen=True)
class RDQNParams(QParams):
    """Recurrent DQN hyperparameters: dqn's, the GRU's width (128 as in ``rac``; phillip's rdqn
    ``q_rnn_layers=[128]``) and an optional burn-in."""

    DEFAULTS = {"min_collect": 4, "max_grad_norm": 10.0}
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {"double": False}  # files written before Double DQN
    gru_size: int = param(
        128, "width of the GRU core (its recurrent state); input is the embedding plus the one-hot previous action", short="gru"
    )
    burn_in: int = param(
        0,
        "steps at the start of each replayed sequence that only warm the stored state up (no loss; R2D2's burn-in)",
        short="burn",
    )

    def __post_init__(self):
        super().__post_init__()
        if self.gru_size < 1:
            raise ValueError(f"gru_size must be positive, got {self.gru_size}")
        if not 0 <= self.burn_in < self.experience_length:
            raise ValueError(
                f"burn_in must be at least 0 and below experience_length ({self.experience_length}), got {self.burn_in}"
            )


class RDQNLearner(Learner):
    params_class = RDQNParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it
    on_policy = False

    def __init__(self, params: RDQNParams, obs_size: int, num_actions: int, fps: float = 60.0, device=None, *, act_every=1):
        super().__init__(params, obs_size, num_actions, fps, device, act_every=act_every)
        self.target = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.replay = Replay(params.replay_size, params.seed)
        self.grad_steps = 0

    @classmethod
    def make_model(cls, params: RDQNParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        return QNetwork(params, obs_size, num_actions, gru_size=params.gru_size)

    def wants(self) -> int:
        return max(self.params.min_collect, self.params.learning_starts - len(self.replay))

    def collate(self, trajectories: list[dict]) -> Replay | None:
        self.replay.add(trajectories)
        return self.replay if len(self.replay) >= self.params.learning_starts else None

    def minibatches(self, replay: Replay, generator: torch.Generator) -> Iterator[Batch]:
        for _ in range(self.params.batches):
            yield replay.sample(self.params.batch_size, self.device)

    def online_q(self, batch: Batch) -> tuple[torch.Tensor, int]:
        """The online network's Q over obs[first..T] (``[T+1-first, B, A]``) and ``first``: the
        state is refreshed through the ``burn_in`` steps first, without gradient."""
        first, state = self.params.burn_in, batch.state
        if first:
            with torch.no_grad():
                state = self.model(batch.obs[:first], batch.prev_actions[:first], batch.starts[:first], state).state
        return self.model(batch.obs[first:], batch.prev_actions[first:], batch.starts[first:], state).q, first

    def targets(self, batch: Batch, online_q: torch.Tensor | None = None) -> torch.Tensor:
        """The n-step targets ``[T, B]``, bootstrapping from the target network (Double DQN: at the
        action ``online_q``, the online network's Q over obs[1..T], picks)."""
        with torch.no_grad():
            target_q = self.target(batch.obs, batch.prev_actions, batch.starts, batch.state).q
            bootstrap = F.next_q(target_q[1:], online_q)
            bootstrap = torch.where(batch.truncated, batch.trunc_values, bootstrap)
            return F.n_step_targets(batch.rewards, bootstrap, batch.terminated, batch.truncated, self.gamma, self.params.n_step)

    def loss(self, batch: Batch):
        online, first = self.online_q(batch)
        taken = online[:-1].gather(-1, batch.actions[first:].unsqueeze(-1)).squeeze(-1)
        picks = None
        if self.params.double:  # the burn-in steps have no online Q of their own: they are not trained on
            picks = torch.cat([torch.zeros_like(online[:1]).expand(first, -1, -1), online[1:].detach()])
        targets = self.targets(batch, picks)[first:]
        td = nn.functional.smooth_l1_loss(taken, targets, beta=1.0)
        return td, {"loss/td": td.item(), "q/taken": taken.mean().item(), "q/max": online.max(-1).values.mean().item()}

    def after_step(self) -> None:
        self.grad_steps += 1
        if self.grad_steps % self.params.target_update == 0:
            self.target.load_state_dict(self.model.state_dict())

    def update(self, trajectories: list[dict]) -> dict[str, float]:
        return dict(super().update(trajectories), replay=float(len(self.replay)))

    def state_dict(self) -> dict[str, Any]:
        return dict(super().state_dict(), target=self.target.state_dict(), grad_steps=self.grad_steps)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.target.load_state_dict(state.get("target") or self.model.state_dict())
        self.grad_steps = int(state.get("grad_steps", 0))
