"""``rac``: recurrent actor-critic (phillip's rac.py), Arena's default algorithm.

The network is :class:`~arena_plugins.algorithms.ac.ActorCritic` with a GRU core::

    policy: obs -> embedding (embed_sizes) -> GRU(gru_size) over [embedding, one-hot previous action]
                -> actor layers (actor_sizes, 128x128) -> logits
    value:  obs -> critic layers (critic_sizes, 128x128) -> V

The critic is a network of its own, as in phillip (rac.py's actor, critic.py's critic): the value
loss's gradient never reaches the embedding and GRU the policy reads. ``shared_critic=true`` gives
it the shared trunk instead (``ac``'s default). On Pong at 2M frames the own critic's final
snapshots averaged +0.6 against the CPU over four seeds (23 games of 40 won), the shared one's
-2.5 over four runs (16 of 40): bench/README.md's sixth round, within the runs' noise.

Memory is what the GRU adds over ``ac``: the previous action as input lets the net know what it
did (actions are held ``act_every`` frames and the game may lag by ``delay`` steps), and the state
carries what the current observation does not show.

Training on whole sequences, from stored states:

* Each trajectory carries ``state``, the actor's GRU state before ``obs[0]`` (the rollout
  :class:`~arena.rollout.Collector` stores it), and the learner unrolls the GRU over all
  ``experience_length`` steps starting from it, so gradients flow through time across the whole
  trajectory and the net sees the same history it acted on (up to weight staleness).
* Where ``starts[t]`` is set (the first observation of a game), the core resets its state to zero
  before that step (:class:`~arena.learner.RecurrentCore`), exactly as the actor does when a game
  begins, so nothing leaks from one game into the next inside a trajectory.

The loss is ``ac``'s: GAE(``td_lambda``) advantages for the policy gradient, TD(lambda) targets for
the critic, an entropy bonus. Defaults are ``ac``'s (which are phillip's where he had one), but for the
critic of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from arena.params import param

from .ac import ACLearner, ACParams


@dataclass(frozen=True)
class RACParams(ACParams):
    """Recurrent actor-critic hyperparameters: ``ac``'s plus the GRU's width and a critic of its own.

    ``gru_size`` defaults to 128, phillip's ``actor_rnn_layers=[128]``: as wide as the 128-unit
    embedding in front of it and the 128x128 heads behind it.
    """

    gru_size: int = param(128, "width of the GRU core (its recurrent state); input is the embedding plus the one-hot previous action", short="gru")
    shared_critic: bool = param(
        False, "the value head reads the policy's embedding and GRU; false (phillip's) gives the critic its own network on the observation", short="shc"
    )

    # Snapshots saved before ``shared_critic`` existed were trained with the shared critic.
    ABSENT_MEANS: ClassVar[dict[str, Any]] = {"shared_critic": True}

    def __post_init__(self):
        super().__post_init__()
        if self.gru_size < 1:
            raise ValueError(f"gru_size must be positive, got {self.gru_size}")


class RACLearner(ACLearner):
    """:class:`~arena_plugins.algorithms.ac.ACLearner` with a GRU core.

    ``ACLearner.evaluate`` already runs the model over ``obs[0..T]`` from ``batch.state`` with the
    ``starts`` resets, so only the model's shape changes here.
    """

    params_class = RACParams

    @classmethod
    def gru_size_of(cls, params: RACParams) -> int:
        return params.gru_size
