"""``rac``: recurrent actor-critic (phillip's rac.py), Arena's default algorithm.

The network is :class:`~arena_algorithms.ac.ActorCritic` with a GRU core::

    policy: obs -> embedding (embed_sizes) -> GRU(gru_size) over [embedding, one-hot previous action]
                -> actor layers (actor_sizes, 128x128) -> logits
    value:  obs -> critic layers (critic_sizes, 128x128) -> V

The critic is a network of its own, as in phillip (rac.py's actor, critic.py's critic): the value
loss's gradient never reaches the embedding and GRU the policy reads. ``shared_critic=true`` gives
it the shared trunk instead (``ac``'s default).

Memory is what the GRU adds over ``ac``: the previous action as input lets the net know what it
did (actions are held the env's ``act_every`` frames and the game may lag by its ``delay``
steps), and the state carries what the current observation does not show.

Training on whole sequences, from stored states:

* Each trajectory carries ``state``, the actor's GRU state before ``obs[0]`` (the rollout
  :class:`~arena.training.rollout.Collector` stores it), and the learner unrolls the GRU over all
  ``experience_length`` steps starting from it, so gradients flow through time across the whole
  trajectory and the net sees the same history it acted on (up to weight staleness).
* Where ``starts[t]`` is set (the first observation of a game), the core resets its state to zero
  before that step (:class:`~arena.training.learner.RecurrentCore`), exactly as the actor does when a game
  begins, so nothing leaks from one game into the next inside a trajectory.

The update is PPO's clipped surrogate (:mod:`~arena_algorithms.ppo`, the same code): the
advantages (GAE(``td_lambda``)) and lambda-returns are fixed once per update by the critic as it
stands, then ``sweeps`` passes over ``batches`` minibatches step the policy with its probability
ratio clipped to [1 - ``clip``, 1 + ``clip``], the critic toward the returns, and an entropy bonus.
One update is 4 x 8 trajectories of 32 steps (1,024 steps), 4 sweeps, learning rate 1.5e-4.
``--set clip=0`` gives phillip's update instead, ``ac``'s: one plain policy-gradient step on each
fresh minibatch (add ``sweeps=1 batches=1 min_collect=8 learning_rate=3e-4 entropy_scale=0.02``
for the rest of the old defaults). Why these defaults: bench/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from arena.training.learner import Batch, Learner
from arena.training.params import param

from .ac import ACLearner, ACParams
from .ppo import ClipParams, PPOLearner


@dataclass(frozen=True)
class RACParams(ClipParams, ACParams):
    """Recurrent actor-critic hyperparameters: ``ac``'s, PPO's clip, the GRU's width and a critic of
    its own.

    ``gru_size`` defaults to 128, phillip's ``actor_rnn_layers=[128]``: as wide as the 128-unit
    embedding in front of it and the 128x128 heads behind it. The update's defaults are the ones
    measured on Pong (bench/README.md): PPO's 4 sweeps of 4 minibatches and clip 0.2, at half
    PPO's usual learning rate for the 128-wide layers.
    """

    gru_size: int = param(
        128, "width of the GRU core (its recurrent state); input is the embedding plus the one-hot previous action", short="gru"
    )
    shared_critic: bool = param(
        False,
        "the value head reads the policy's embedding and GRU; false (phillip's) gives the critic its own network on the observation",
        short="shc",
    )
    clip: float = param(
        0.2,
        "PPO's clip range of the probability ratio (the clipped surrogate, advantages fixed per update); 0 is phillip's plain policy-gradient step",
        short="cr",
    )
    learning_rate: float = param(1.5e-4, "optimiser step size", short="lr")
    entropy_scale: float = param(0.01, "weight of the entropy bonus in the policy loss", short="ent")
    sweeps: int = param(4, "passes over an update's trajectories (PPO's epochs)")
    batches: int = param(4, "minibatches in one update: an update uses batches * batch_size trajectories")
    min_collect: int = param(
        32, "fresh trajectories that must arrive before the next update (batches * batch_size uses them all)", short="mc"
    )

    # What a snapshot or params.json written before a field existed was trained with.
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {"shared_critic": True, "clip": 0.0}

    def __post_init__(self):
        super().__post_init__()
        if self.gru_size < 1:
            raise ValueError(f"gru_size must be positive, got {self.gru_size}")


class RACLearner(PPOLearner):
    """:class:`~arena_algorithms.ppo.PPOLearner` with a GRU core, or with ``clip`` 0
    :class:`~arena_algorithms.ac.ACLearner`'s plain update.

    ``ACLearner.evaluate`` already runs the model over ``obs[0..T]`` from ``batch.state`` with the
    ``starts`` resets, so only the model's shape changes here.
    """

    params_class = RACParams

    def update(self, trajectories: list[dict]) -> dict[str, float]:
        if self.params.clip > 0:
            return super().update(trajectories)
        return Learner.update(self, trajectories)  # phillip's schedule, ac's loss

    def loss(self, batch: Batch):
        if self.params.clip > 0:
            return super().loss(batch)
        return ACLearner.loss(self, batch)

    @classmethod
    def gru_size_of(cls, params: RACParams) -> int:
        return params.gru_size
