"""``dqn``: Q-learning with a target network and a replay buffer of trajectories (Double DQN by default).

The network is :class:`~arena.training.networks.QNetwork`::

    obs -> embedding (embed_sizes) -> Q head (q_sizes) -> Q(s, a) for every action

**Acting.** The policy is phillip's Boltzmann policy ``softmax(Q / temperature)``, with
``epsilon`` uniform choice mixed in by the worker's :class:`~arena.training.learner.Actor`.

**One update** (off-policy; ``on_policy = False``):

1. ``collate``: the fresh trajectories join the replay buffer (the newest ``replay_size``); until
   it holds ``learning_starts`` there is no training.
2. ``sweeps x batches`` minibatches, each ``batch_size`` distinct trajectories drawn uniformly from
   the whole buffer, ``batch_steps`` gradient steps on each, minimising the Huber loss (threshold 1)
   between ``Q(s_t, a_t)`` and the n-step target::

       y_t = r_t + gamma r_{t+1} + ... + gamma^(n-1) r_{t+n-1} + gamma^n * next_q(s_{t+n})
       next_q(s) = Q_target(s, argmax_a Q(s, a))     (double=false: max_a Q_target(s, a))

   The sum stops at a game's end (no bootstrap after a terminated step) and at the trajectory's
   end; where a game was cut off it bootstraps from ``trunc_values``, the actor's
   ``sum_a softmax(Q / temperature)_a Q_a`` of the final observation (the observation after a
   truncated step is not in the trajectory). The n-step sum uses the rewards the behaviour policy
   earned, uncorrected, as in Rainbow and R2D2.
3. The target network is a hard copy of the online one, re-synced every ``target_update``
   gradient steps (counted in steps, so the sync rate does not change with ``batches``).

**The defaults**, at ``experience_length`` 32, ``batch_size`` 8 and Pong's ``act_every`` 2 (30
decisions a second):

* each update adds ``min_collect`` 4 x 32 = 128 steps and trains on one minibatch of 8 x 32 = 256,
  so a step is replayed about twice (the Nature DQN: 8 times);
* ``target_update`` 100 gradient steps = 100 updates = 12,800 agent steps between syncs (25,600
  frames; the Nature DQN: 10,000 steps of 4 frames);
* ``replay_size`` 1,000 trajectories = 32,000 steps, about 18 minutes of Pong; ``learning_starts``
  32 trajectories = 1,024 steps, four minibatches' worth;
* ``n_step`` 3, as in Rainbow: one-step targets carry a reward back one step per target sync, slow
  when the discount's half-life is 60 steps (2 s); three steps are few enough that the
  uncorrected sum stays close to the greedy policy's return;
* ``max_grad_norm`` 10 (SB3's DQN): the Huber loss already bounds each TD error's gradient, so the
  clip only catches the rare large minibatch.

**Staleness.** Q-learning is off-policy: the targets do not depend on who played, so replayed data
of any age is used as it is (the n-step sum is the one uncorrected part).

Snapshots hold the online and target weights, the optimiser and the counters, not the replay
buffer: it is large and cheap to refill, so a resumed run collects ``learning_starts``
trajectories with the restored policy before training again.
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
from arena.training.params import QParams


@dataclass(frozen=True)
class DQNParams(QParams):
    """DQN hyperparameters: the Q-network's, the replay's and the targets' (see the module
    docstring for why these defaults). ``entropy_scale`` is not used: a Q-learner explores with
    ``temperature`` and ``epsilon``."""

    DEFAULTS = {"min_collect": 4, "max_grad_norm": 10.0}
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {"double": False}  # files written before Double DQN


class DQNLearner(Learner):
    params_class = DQNParams
    images = True  # obs_size may be an image's (H, W, C): the shared networks encode it
    on_policy = False

    def __init__(self, params: DQNParams, obs_size: int, num_actions: int, fps: float = 60.0, device=None, *, act_every=1):
        super().__init__(params, obs_size, num_actions, fps, device, act_every=act_every)
        self.target = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.replay = Replay(params.replay_size, params.seed)
        self.grad_steps = 0

    @classmethod
    def make_model(cls, params: DQNParams, obs_size: int | tuple[int, ...], num_actions: int) -> Model:
        return QNetwork(params, obs_size, num_actions)

    def wants(self) -> int:
        return max(self.params.min_collect, self.params.learning_starts - len(self.replay))

    def collate(self, trajectories: list[dict]) -> Replay | None:
        self.replay.add(trajectories)
        return self.replay if len(self.replay) >= self.params.learning_starts else None

    def minibatches(self, replay: Replay, generator: torch.Generator) -> Iterator[Batch]:
        for _ in range(self.params.batches):
            yield replay.sample(self.params.batch_size, self.device)

    def targets(self, batch: Batch, online_q: torch.Tensor | None = None) -> torch.Tensor:
        """The n-step targets ``[T, B]``, bootstrapping from the target network (Double DQN: at the
        action ``online_q``, the online network's Q over obs[1..T], picks)."""
        with torch.no_grad():
            target_q = self.target(batch.obs, batch.prev_actions, batch.starts, batch.state).q
            bootstrap = F.next_q(target_q[1:], online_q)
            bootstrap = torch.where(batch.truncated, batch.trunc_values, bootstrap)
            return F.n_step_targets(batch.rewards, bootstrap, batch.terminated, batch.truncated, self.gamma, self.params.n_step)

    def loss(self, batch: Batch):
        online = self.evaluate(batch).q  # [T+1, B, A]: the last observation's Q picks Double DQN's action
        taken = online[:-1].gather(-1, batch.actions.unsqueeze(-1)).squeeze(-1)
        targets = self.targets(batch, online[1:].detach() if self.params.double else None)
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
