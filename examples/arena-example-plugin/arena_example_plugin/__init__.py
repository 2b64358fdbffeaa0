"""An example Arena plugin that implements every hook: copy this package to start your own.

What it adds, one hook at a time:

* ``arena_register_envs``: the env ``tictactoe`` (seats ``x`` and ``o``, one action per cell);
* ``arena_register_agents``: ``bot:ttt:LEVEL``, scripted tic-tac-toe players (levels 1-3), and
  ``bot:lazy:LEVEL``, a Pong paddle that only moves while the ball comes toward it (levels 1-9);
* ``arena_register_algorithms``: ``reinforce``, REINFORCE with a learned baseline;
* ``arena_register_enemies``: the sampling rule ``hardest`` and the enemy pool ``ttt-ladder``;
* ``arena_register_commands``: ``arena lazy-levels`` and ``arena ttt-show``.

Arena imports this module whenever it loads plugins (every ``arena`` command, every worker
process), so its top stays cheap: the standard library and ``arena`` only, never numpy or torch.
Two plain-Python modules are imported here; the others only by the factories that need them:

    tictactoe.py   the rules, the options and the observation layout   imported here
    sampling.py    the hardest rule                                     imported here
    env.py         the env, a PettingZoo ParallelEnv (numpy)            by make_tictactoe
    bots.py        bot:ttt                                              by build_ttt
    lazy.py        bot:lazy                                             by build_lazy
    reinforce.py   the algorithm (torch)                                by Arena, from the AlgorithmSpec's strings
    show.py        arena ttt-show                                       by the command
"""

from __future__ import annotations

import arena
from arena.errors import ArenaError
from arena.plugins.agents import AgentKind, parse_level
from arena.plugins.algorithms import AlgorithmSpec
from arena.plugins.enemies import NamedPool, SamplingRule
from arena.plugins.envs import EnvSpec
from arena_example_plugin.sampling import DEFAULT_SHARPNESS, FLOOR, Hardest
from arena_example_plugin.tictactoe import CELL_NAMES, CELLS, SEATS, TicTacToeOptions

# Pong's aim noise per tracker level, published by the built-in pong plugin (cheap to import).
from arena_pong import TRACKER_NOISE

TTT, TTT_LEVELS = "bot:ttt", range(1, 4)
LAZY, LAZY_LEVELS = "bot:lazy", range(1, len(TRACKER_NOISE) + 1)  # 1-9, bot:tracker's aim noise

# -- the env -----------------------------------------------------------------------------------


def make_tictactoe(options: TicTacToeOptions, cpu_level: int | None):
    """``EnvSpec.make``: called in the process that plays; ``cpu_level`` is always None (no CPU)."""
    from arena_example_plugin.env import TicTacToeEnv  # numpy and PettingZoo load only here

    return TicTacToeEnv(options)


def tictactoe_observation_shape(options: TicTacToeOptions) -> tuple[int, ...]:
    return (CELLS,)  # training needs a flat vector, and reads its size here without a game


@arena.hookimpl
def arena_register_envs(register):
    register(
        EnvSpec(
            name="tictactoe",
            make=make_tictactoe,
            description="tic-tac-toe: x moves first; both seats act every step, the waiting seat's action is ignored",
            seats=SEATS,
            num_actions=CELLS,
            options=TicTacToeOptions,
            action_meanings=CELL_NAMES,
            # A turn-based game has no frame rate: one step is one move. At 1.0 "frames" a second,
            # a discount half-life of N seconds (the reward_halflife parameter) is N moves.
            fps=1.0,
            observation_shape=tictactoe_observation_shape,
            # No cpu_seat: the game has no computer player of its own, so `cpu` is refused.
        )
    )


# -- agents ------------------------------------------------------------------------------------


def build_ttt(args: str | None, env_spec, env_options):
    """``AgentKind.build`` for ``bot:ttt:LEVEL``; ``args`` is the text after ``bot:ttt:``.

    Arena calls it once in the main process to check the spec, then once per worker. Every
    problem the user can fix is an ArenaError with a one-line message (exit status 2).
    """
    if env_spec.name != "tictactoe":
        raise ArenaError(f"{TTT} plays tictactoe only, not env '{env_spec.name}'; add --env tictactoe")
    level = parse_level(TTT, args, TTT_LEVELS)
    from arena_example_plugin.bots import TicTacToeBot

    return TicTacToeBot(level)


def build_lazy(args: str | None, env_spec, env_options):
    """``AgentKind.build`` for ``bot:lazy:LEVEL``."""
    if env_spec.name != "pong":
        raise ArenaError(f"{LAZY} plays pong only, not env '{env_spec.name}'")
    if env_options.obs != "features":
        raise ArenaError(f"{LAZY} needs the feature observations; drop '-o obs=pixels'")
    level = parse_level(LAZY, args, LAZY_LEVELS)
    from arena_example_plugin.lazy import LazyBot

    return LazyBot(noise=TRACKER_NOISE[level - 1], act_every=env_options.act_every)


@arena.hookimpl
def arena_register_agents(register):
    # Called once per process when plugins load. Register factories, not live bots.
    register(
        AgentKind(
            name=TTT,
            build=build_ttt,
            usage=f"{TTT}:LEVEL (1-3)",
            description="tic-tac-toe: 1 plays at random, 2 wins or blocks when it can, 3 is perfect (minimax)",
        )
    )
    register(
        AgentKind(
            name=LAZY,
            build=build_lazy,
            usage=f"{LAZY}:LEVEL (1-9)",
            description="Pong paddle that moves only while the ball comes toward it; aim noise 80..0 px",
        )
    )


# -- the algorithm -----------------------------------------------------------------------------


@arena.hookimpl
def arena_register_algorithms(register):
    # Named by "module:Class" strings: torch is imported only when training or playing a snapshot.
    register(
        AlgorithmSpec(
            name="reinforce",
            description="REINFORCE with a learned baseline (the example plugin's)",
            params="arena_example_plugin.reinforce:ReinforceParams",
            learner="arena_example_plugin.reinforce:ReinforceLearner",
        )
    )


# -- enemy pools -------------------------------------------------------------------------------


@arena.hookimpl
def arena_register_enemies(register):
    register(
        SamplingRule(
            name="hardest",
            make=Hardest,  # called with the enemies file's knobs: Hardest(sharpness=...)
            description="the enemy the learner does worst against most often",
            knobs={"sharpness": f"s in w * ((1 - win rate) ** s + {FLOOR:g}); a number >= 0, default {DEFAULT_SHARPNESS:g}"},
        )
    )
    register(
        NamedPool(
            name="ttt-ladder",  # arena train --enemies ttt-ladder
            enemies={"sampling": "hardest", "enemies": ["self", "bot:ttt:1", "bot:ttt:2", "bot:ttt:3"]},
            description="tic-tac-toe: self-play and the three bots, the hardest for the learner most often",
        )
    )


# -- commands ----------------------------------------------------------------------------------


@arena.hookimpl
def arena_register_commands(cli):
    # `cli` is the top-level click group; command names must not clash with other plugins'.
    import click  # the command line's library: loaded with the CLI anyway, never in workers

    @cli.command("lazy-levels")
    def lazy_levels() -> None:
        """Print the aim noise of each bot:lazy level."""
        for level in LAZY_LEVELS:
            print(f"{LAZY}:{level}  aim noise {TRACKER_NOISE[level - 1]:>2} px")

    @cli.command("ttt-show")
    @click.argument("x")
    @click.argument("o")
    @click.option("--seed", type=int, default=0, show_default=True, help="The game's seed.")
    @click.option("--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Env option, e.g. -o illegal=random.")
    def ttt_show(x: str, o: str, seed: int, options: tuple[str, ...]) -> None:
        """Play one game of tictactoe, X against O (agent specs), and print every move."""
        from arena_example_plugin.show import show_game

        show_game(x, o, seed=seed, pairs=options, echo=click.echo)
