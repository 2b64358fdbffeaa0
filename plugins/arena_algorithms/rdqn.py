"""``rdqn``: recurrent DQN: ``dqn`` with a GRU core, trained on whole stored sequences.

The network is ``dqn``'s :class:`~arena_algorithms.dqn.QNetwork` with the GRU core that
``rac`` uses::

    obs -> embedding (embed_sizes) -> GRU(gru_size) over [embedding, one-hot previous action]
        -> Q head (q_sizes) -> Q(s, a)

Everything else is ``dqn``'s (replay of trajectories, n-step targets toward the target network's
max Q, Huber loss, hard target syncs, softmax(Q / temperature) policy); see dqn.py. What the
recurrence changes:

* Sequences. The replay buffer holds whole trajectories and a minibatch is ``batch_size`` of them;
  both networks unroll over all ``experience_length`` steps, resetting at ``starts`` (a game's
  first observation), so gradients flow through time across the whole sequence.
* Stored state (R2D2's "stored state"). Both the online and the target network start each
  sequence from the trajectory's ``state``: the actor's GRU state before ``obs[0]``, saved when it
  was collected. That state came from older weights than the ones training; the older the
  trajectory, the more it differs from what the current weights would have computed.
* Burn-in (optional, ``burn_in`` steps). The first ``burn_in`` steps of each sequence only run the
  online network forward (no gradient, no loss) to refresh the stale stored state; the loss covers
  the remaining steps. ``burn_in=0`` (the default) trains on every step: Arena's sequences are
  short (``experience_length`` 64) and most games begin inside them with a fresh zero state, so a
  burn-in would throw away a large share of each sequence for a small correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from arena.training.learner import Batch
from arena.training.params import param

from .dqn import DQNLearner, DQNParams


@dataclass(frozen=True)
class RDQNParams(DQNParams):
    """Recurrent DQN hyperparameters: ``dqn``'s plus the GRU's width and an optional burn-in.

    ``gru_size`` defaults to 128 as in ``rac`` (phillip's rdqn ``q_rnn_layers=[128]``).
    """

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


class RDQNLearner(DQNLearner):
    params_class = RDQNParams

    @classmethod
    def gru_size_of(cls, params: RDQNParams) -> int:
        return params.gru_size

    def online_q(self, batch: Batch) -> tuple[torch.Tensor, int]:
        """Q over steps ``burn_in..T-1``, unrolled from the stored state (advanced through the
        burn-in steps without gradient)."""
        T, first = batch.actions.shape[0], self.params.burn_in
        state = batch.state
        if first:
            with torch.no_grad():
                state = self.model(batch.obs[:first], batch.prev_actions[:first], batch.starts[:first], state).state
        out = self.model(batch.obs[first:T], batch.prev_actions[first:T], batch.starts[first:T], state)
        return out.q, first
