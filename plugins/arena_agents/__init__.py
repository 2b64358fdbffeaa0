"""Built-in agent kinds that work in any environment: ``cpu[:LEVEL]`` and ``random``."""

from __future__ import annotations

import random as _random

from arena import hookimpl
from arena.errors import ArenaError
from arena.plugins.agents import AgentKind, BuiltinCpu


def build_cpu(args, env_spec, env_options):
    if args is None:
        return BuiltinCpu(level=None)
    try:
        level = int(args)
    except ValueError:
        raise ArenaError(f"bad CPU level '{args}' in 'cpu:{args}'; expected cpu or cpu:LEVEL") from None
    env_spec.check_cpu_level(level)
    return BuiltinCpu(level=level)


class RandomAgent:
    """Uniformly random actions, reproducible from the game seed."""

    def __init__(self, num_actions: int):
        self.num_actions = num_actions
        self._rng = _random.Random(0)

    def reset(self, seed: int) -> None:
        self._rng.seed(seed)

    def act(self, observation) -> int:
        return self._rng.randrange(self.num_actions)


def build_random(args, env_spec, env_options):
    if args is not None:
        raise ArenaError(f"'random' takes no arguments, got 'random:{args}'")
    return RandomAgent(env_spec.num_actions)


@hookimpl
def arena_register_agents(register):
    register(
        AgentKind(
            name="cpu",
            build=build_cpu,
            usage="cpu[:LEVEL]",
            description="the game's own computer player",
        )
    )
    register(
        AgentKind(
            name="random",
            build=build_random,
            usage="random",
            description="uniformly random actions",
        )
    )
