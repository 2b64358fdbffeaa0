"""The built-in algorithms, and trained agents as opponents (by path).

Registered through the ``arena`` entry-point group like any third-party plugin. Each algorithm is
one file in this package, imported (with torch) only when training or playing a trained agent,
so ``arena plugins`` stays instant.
"""

from __future__ import annotations

from arena import hookimpl
from arena.plugins.agents import AgentKind
from arena.plugins.algorithms import AlgorithmSpec

# name -> (module, learner class, params class, description)
BUILTIN = {
    "ac": ("ACLearner", "ACParams", "actor-critic: MLP policy and value heads, GAE(lambda) advantages"),
    "rac": ("RACLearner", "RACParams", "recurrent actor-critic (phillip's rac): GRU over embedding + previous action"),
    "dqn": ("DQNLearner", "DQNParams", "Q-learning toward max Q with a target network; softmax(Q / temperature) policy"),
    "rdqn": ("RDQNLearner", "RDQNParams", "recurrent DQN: GRU core trained on whole sequences from a replay buffer"),
    "a2c": ("A2CLearner", "A2CParams", "synchronous advantage actor-critic with GAE, as in the Sonic A2C"),
    "ppo": ("PPOLearner", "PPOParams", "proximal policy optimisation: the clipped surrogate"),
}


@hookimpl
def arena_register_algorithms(register):
    for name, (learner, params, description) in BUILTIN.items():
        module = f"arena_algorithms.{name}"
        register(AlgorithmSpec(name=name, description=description, params=f"{module}:{params}", learner=f"{module}:{learner}"))


def _build_trained(args, env_spec, env_options):
    from arena.training.trained import build_trained

    return build_trained(args, env_spec, env_options)


@hookimpl
def arena_register_agents(register):
    register(
        AgentKind(
            name="trained",
            build=_build_trained,
            usage="PATH (a snapshot .pt, an experiment folder or its snapshots/ folder)",
            description="an agent trained with arena train: the experiment's published snapshot (best on validation games), "
            "the newest in NAME/snapshots, or the snapshot file given",
            matches_path=True,
        )
    )
