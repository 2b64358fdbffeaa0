"""``dqn``: Q-learning toward max Q with a target network and a replay buffer of trajectories.

The network::

    obs -> embedding (embed_sizes) -> Q head (q_sizes) -> Q(s, a) for every action

Acting. The policy is phillip's Boltzmann policy ``softmax(Q / temperature)``; the
:class:`~arena.training.learner.Actor` mixes ``epsilon`` uniform choice into it. The model reports
``logits = Q / temperature`` and ``values = sum_a softmax(logits)_a * Q_a`` (the value of that
policy, before the epsilon mix), so everything that plays or bootstraps from an actor (the rollout
``Collector``'s ``trunc_values``, ``arena match``) works unchanged.

Learning (off-policy; ``on_policy = False``):

* Replay. :meth:`DQNLearner.update` appends the fresh trajectories to a buffer holding the newest
  ``replay_size`` trajectories (each ``experience_length`` steps) and trains only once it holds
  ``learning_starts``. :meth:`DQNLearner.wants` asks for ``min_collect`` fresh trajectories per
  update (more at the start, to reach ``learning_starts`` in one go).
* Schedule. An update runs ``sweeps x batches`` minibatches, each ``batch_size`` trajectories
  drawn uniformly (without replacement within the minibatch) from the whole buffer, with
  ``batch_steps`` gradient steps on each: ``sweeps * batches * batch_steps`` gradient steps per
  update. For a replay learner a "sweep" is simply another round of ``batches`` fresh draws.
* Targets (:meth:`DQNLearner.td_targets`). n-step (``n_step``) targets from
  :func:`arena.training.functional.n_step_targets`, bootstrapping from the *target* network's
  ``max_a Q_target(s_{t+1}, a)``: no bootstrap after a terminated step; the sum stops early at a
  game's end and at the trajectory's end. The n-step sum uses the rewards the behaviour policy
  earned, uncorrected (as in Rainbow and R2D2); ``n_step=1`` is plain one-step Q-learning.
* Cut-off games (``truncated``). The observation after a truncated step is not in the trajectory
  (``obs[t+1]`` is the next game's first), so the target bootstraps from ``trunc_values[t]``: the
  *actor's* value of the final observation, ``sum_a softmax(Q/temperature)_a Q_a`` under the
  behaviour weights at collection time. It is an approximation of ``max_a Q_target``: it is the
  soft (expected) value rather than the max, slightly lower when ``temperature`` is not small,
  and from the online weights of a few updates ago rather than the target network. It is used
  only at truncated steps, which are rare (one per game at most).
* Loss: Huber (``smooth_l1`` with threshold 1) between ``Q(s_t, a_t)`` and the target.
* Target network: a copy of the online network, re-synced every ``target_update`` gradient steps
  (a hard copy, as in the Nature DQN; counted in gradient steps so the sync rate does not change
  when ``batches`` or ``sweeps`` does).

Snapshots. :meth:`DQNLearner.state_dict` holds the online and target weights, the optimiser and
the counters (tensors and plain numbers, so ``torch.load(weights_only=True)`` reads them). The
replay buffer is not saved: it is large and cheap to refill; a resumed run collects
``learning_starts`` trajectories with the restored policy before training again.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from arena.training import functional as F
from arena.training.learner import Batch, Learner, Model, ModelOutput, RecurrentCore, mlp, numpy_gru, numpy_sequential
from arena.training.params import CommonParams, param, sizes


@dataclass(frozen=True)
class DQNParams(CommonParams):
    """DQN hyperparameters (the common ones plus these; ``min_collect`` defaults lower).

    ``entropy_scale`` is not used: a Q-learner's exploration is ``temperature`` and ``epsilon``.

    Why these defaults (at Arena's ``experience_length`` 64 and ``batch_size`` 16):

    * ``n_step`` 3, as in Rainbow: one-step targets carry a reward back one step per target sync,
      slow when the discount's half-life is 30 steps (Pong at ``-o act_every=4``); 3 steps are few
      enough that the uncorrected off-policy sum stays close to the greedy policy's return.
    * ``min_collect`` 4 with one gradient step per update (``batches`` 1): each update adds 256
      steps and trains on 1024, so a step is replayed about 4 times (the Nature DQN: 8).
    * ``target_update`` 100 gradient steps = 100 updates = about 26k agent steps between syncs;
      each gradient step here is 32x the Nature DQN's minibatch, whose sync every 2,500 steps
      saw 80k transitions.
    * ``replay_size`` 1000 trajectories = 64k agent steps (about 70 minutes of Pong at 15 actions a
      second); ``learning_starts`` 32 = 2k steps, two minibatches' worth, so training starts soon.
    """

    q_sizes: str = param("128,128", "Q head layer sizes after the embedding, comma-separated (phillip's q_layers)", short="q")
    temperature: float = param(
        0.01,
        "the DQNs' policy is a softmax of Q / temperature (phillip's 0.01: near-greedy where Q values differ by more "
        "than a few hundredths); epsilon mixes in uniform",
        short="temp",
    )
    n_step: int = param(
        3, "steps of reward summed before bootstrapping from the target network's max Q (1: one-step Q-learning)", short="n"
    )
    target_update: int = param(100, "gradient steps between copies of the online network into the target network", short="tu")
    replay_size: int = param(
        1000, "trajectories the replay buffer keeps (the newest); times experience_length is its size in steps", short="replay"
    )
    learning_starts: int = param(32, "trajectories in the replay buffer before training begins", short="ls")
    min_collect: int = param(
        4,
        "fresh trajectories that must arrive before the next update (each update draws its minibatches from the whole buffer)",
        short="mc",
    )

    def __post_init__(self):
        super().__post_init__()
        sizes(self.q_sizes)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        for name in ("n_step", "target_update", "replay_size", "learning_starts"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if self.learning_starts > self.replay_size:
            raise ValueError(f"learning_starts ({self.learning_starts}) cannot exceed replay_size ({self.replay_size})")


class QNetwork(Model):
    """Embedding -> [GRU over embedding + previous action] -> Q head; a softmax(Q / temperature) policy."""

    def __init__(self, params: DQNParams, obs_size: int, num_actions: int, gru_size: int = 0):
        super().__init__()
        self.temperature = params.temperature
        self.embed, width = mlp(obs_size, sizes(params.embed_sizes), params.activation)
        self.core = RecurrentCore(width, num_actions, gru_size) if gru_size else None
        self.state_size = gru_size
        hidden, hidden_out = mlp(gru_size or width, sizes(params.q_sizes), params.activation)
        self.head = nn.Sequential(hidden, nn.Linear(hidden_out, num_actions))
        # Small initial Q values: the first policy is close to uniform, whatever the temperature.
        nn.init.orthogonal_(self.head[-1].weight, gain=0.01)
        nn.init.zeros_(self.head[-1].bias)

    def numpy_step(self):
        """One acting step in numpy (what :meth:`forward` computes, without torch's per-op overhead)."""
        embed, head = numpy_sequential(self.embed), numpy_sequential(self.head)
        gru = numpy_gru(self.core) if self.core is not None else None
        temperature = self.temperature

        def step(obs, prev_action, start, state):
            x = embed(obs)
            if gru is not None:
                x = state = gru(x, prev_action, state * (not start))
            q = head(x)
            logits = q / temperature

            def value():  # only when asked (a cut-off game's bootstrap): acting needs the logits
                probs = np.exp(logits - logits.max())
                return float(probs @ q / probs.sum())

            return logits, value, state

        return step

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:
        x = self.embed(obs)
        if self.core is not None:
            x, state = self.core(x, prev_actions, starts, state)
        q = self.head(x)
        logits = q / self.temperature
        values = (torch.softmax(logits, -1) * q).sum(-1)
        return ModelOutput(logits, values, state, q)


class DQNLearner(Learner):
    params_class = DQNParams
    on_policy = False

    def __init__(
        self,
        params: DQNParams,
        obs_size: int,
        num_actions: int,
        fps: float = 60.0,
        device: str | None = None,
        *,
        act_every: int = 1,
    ):
        super().__init__(params, obs_size, num_actions, fps, device, act_every=act_every)
        self.target = copy.deepcopy(self.model).eval()
        for weight in self.target.parameters():
            weight.requires_grad_(False)
        self.replay: deque[dict] = deque(maxlen=params.replay_size)
        self.rng = np.random.default_rng(params.seed)
        self.grad_steps = 0

    @classmethod
    def make_model(cls, params: DQNParams, obs_size: int, num_actions: int) -> Model:
        return QNetwork(params, obs_size, num_actions, gru_size=cls.gru_size_of(params))

    @classmethod
    def gru_size_of(cls, params) -> int:
        return 0  # rdqn: its GRU width

    # -- targets and loss --------------------------------------------------------------------------

    def td_targets(self, batch: Batch, target_q: torch.Tensor) -> torch.Tensor:
        """The regression targets ``[T, B]`` given the target network's Q over ``obs[0..T]``
        (``[T+1, B, A]``): n-step sums bootstrapped from ``max_a target_q[t+1]``, or from the actor's
        ``trunc_values`` where the game was cut off (see the module docstring)."""
        next_max = target_q[1:].max(-1).values
        next_values = torch.where(batch.truncated, batch.trunc_values, next_max)
        return F.n_step_targets(batch.rewards, next_values, batch.terminated, batch.truncated, self.gamma, self.params.n_step)

    @torch.no_grad()
    def targets(self, batch: Batch) -> torch.Tensor:
        """:meth:`td_targets` with the target network run over the whole trajectory (from its
        stored state, for rdqn)."""
        return self.td_targets(batch, self.target(batch.obs, batch.prev_actions, batch.starts, batch.state).q)

    def online_q(self, batch: Batch) -> tuple[torch.Tensor, int]:
        """The online network's Q for the steps that train (``[T - first, B, A]``) and ``first``,
        the first of them (rdqn's burn-in skips some)."""
        T = batch.actions.shape[0]
        return self.model(batch.obs[:T], batch.prev_actions[:T], batch.starts[:T], batch.state).q, 0

    def loss(self, batch: Batch):
        q, first = self.online_q(batch)
        taken = q.gather(-1, batch.actions[first:].unsqueeze(-1)).squeeze(-1)
        targets = self.targets(batch)[first:]
        td = nn.functional.smooth_l1_loss(taken, targets, beta=1.0)
        return td, {"loss/td": td.item(), "q/taken": taken.mean().item(), "q/max": q.max(-1).values.mean().item()}

    # -- replay and schedule -----------------------------------------------------------------------

    def wants(self) -> int:
        return max(self.params.min_collect, self.params.learning_starts - len(self.replay))

    def sample(self) -> Batch:
        """``batch_size`` distinct trajectories drawn uniformly from the replay buffer."""
        count = min(self.params.batch_size, len(self.replay))
        picks = self.rng.choice(len(self.replay), size=count, replace=False)
        return Batch.stack([self.replay[i] for i in picks], self.device)

    def update(self, trajectories: list[dict]) -> dict[str, float]:
        p = self.params
        self.replay.extend(trajectories)
        metrics: dict[str, list[float]] = {}
        if len(self.replay) >= p.learning_starts:
            for _ in range(p.sweeps * p.batches):
                batch = self.sample()
                for _ in range(p.batch_steps):
                    for key, value in self.step(batch).items():
                        metrics.setdefault(key, []).append(value)
        self.updates += 1
        out = {key: float(np.mean(values)) for key, values in metrics.items()}
        out["replay"] = float(len(self.replay))
        return out

    def step(self, batch: Batch) -> dict[str, float]:
        metrics = super().step(batch)
        self.grad_steps += 1
        if self.grad_steps % self.params.target_update == 0:
            self.sync_target()
        return metrics

    def sync_target(self) -> None:
        self.target.load_state_dict(self.model.state_dict())

    # -- weights -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return dict(super().state_dict(), target=self.target.state_dict(), grad_steps=self.grad_steps)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if state.get("target"):
            self.target.load_state_dict(state["target"])
        else:
            self.sync_target()
        self.grad_steps = int(state.get("grad_steps", 0))
