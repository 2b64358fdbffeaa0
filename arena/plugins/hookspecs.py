"""Every hook an Arena plugin can implement.

A plugin is a module (or object) whose functions are decorated with ``arena.hookimpl`` and whose
distribution declares it under the ``arena`` entry-point group::

    [project.entry-points.arena]
    my_plugin = "my_package.plugin"

Conventions (they hold for every hook below):

* Registry hooks receive a ``register`` callable and return ``None``. Arena calls each plugin's
  implementation separately, so it knows which plugin registered what (``arena plugins``) and can
  name both plugins when two register the same name (an error).
* Hooks are called once per process, when plugins are first loaded, never inside a game or
  training loop. Register classes and factories, not live objects, and import heavy libraries
  (torch, emulators) inside those factories so ``arena --help`` stays instant.
* Implementations must not declare default values for hook arguments (pluggy ignores them), and
  may accept fewer arguments than the spec lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only: keeps plugin loading cheap
    import click

    from arena.plugins.agents import AgentKind
    from arena.plugins.algorithms import AlgorithmSpec
    from arena.plugins.enemies import NamedPool, SamplingRule
    from arena.plugins.envs import EnvSpec

PROJECT = "arena"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def arena_register_envs(register: Callable[[EnvSpec], None]) -> None:
    """Register two-seat game environments.

    Called once, when plugins are loaded. Call ``register(EnvSpec(...))`` once per environment.
    ``EnvSpec.make`` must be a factory that imports the emulator lazily and returns an
    :class:`arena.plugins.envs.ArenaEnv` (a PettingZoo ``ParallelEnv``).

    :param register: adds one :class:`arena.plugins.envs.EnvSpec`; raises
        :class:`arena.errors.ArenaError` if another plugin already registered that name.
    :return: nothing.
    """


@hookspec
def arena_register_agents(register: Callable[[AgentKind], None]) -> None:
    """Register agent kinds: how an agent spec becomes something that plays.

    Called once, when plugins are loaded. An agent spec is ``KIND[:ARGS]`` (``random``,
    ``cpu:9``, ``bot:tracker:7``). Kind names may themselves contain colons (``bot:tracker``);
    the longest registered prefix of a spec wins. Enemies-file entries (``"self"``, a path,
    ``{"cpu": 9}``) are turned into specs by :func:`arena.plugins.agents.spec_from_entry` and resolved
    the same way; a kind with ``matches_path=True`` claims specs that are existing paths.

    :param register: adds one :class:`arena.plugins.agents.AgentKind`; raises
        :class:`arena.errors.ArenaError` on a duplicate name.
    :return: nothing.
    """


@hookspec
def arena_register_opponents(register: Callable[[AgentKind], None]) -> None:
    """Deprecated: the name of :func:`arena_register_agents` before Arena 0.2 (with the class
    ``OpponentKind``, now :class:`arena.plugins.agents.AgentKind`). Called once, when plugins are
    loaded, exactly like ``arena_register_agents``; new plugins implement that one.

    :param register: adds one :class:`arena.plugins.agents.AgentKind`.
    :return: nothing.
    """


@hookspec
def arena_register_algorithms(register: Callable[[AlgorithmSpec], None]) -> None:
    """Register training algorithms (``arena train --plugin NAME``).

    Called once, when plugins are loaded. Call ``register(AlgorithmSpec(...))`` once per
    algorithm: its ``name``, a one-line ``description``, its hyperparameter dataclass (``params``,
    every field a :func:`arena.training.params.param` with a default and a help line; a ``"module:Class"``
    string loads it lazily) and ``learner``, the ``"module:Class"`` of an
    :class:`arena.training.learner.Learner` subclass. Both are imported only when training or playing a
    trained agent, so the module that implements this hook must not import torch. The training
    loop never calls hooks: it resolves the spec once and calls the learner object.

    :param register: adds one :class:`arena.plugins.algorithms.AlgorithmSpec`; raises
        :class:`arena.errors.ArenaError` on a duplicate name.
    :return: nothing.
    """


@hookspec
def arena_register_enemies(register: Callable[[SamplingRule | NamedPool], None]) -> None:
    """Register sampling rules and named enemy pools.

    Called once, when plugins are loaded. Call ``register(SamplingRule(...))`` once per rule
    (enemies files name it: ``"sampling": "NAME"``) and ``register(NamedPool(...))`` once per
    enemies list the plugin ships (``arena train --enemies NAME`` finds it after the files in
    ``./enemies/`` and Arena's own ``enemies/``). The learner builds a file's rule once and asks it
    for probabilities once per update; it never runs in the game loop or in workers.

    :param register: adds one :class:`arena.plugins.enemies.SamplingRule` or
        :class:`arena.plugins.enemies.NamedPool`.
    :return: nothing.
    """


@hookspec
def arena_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``arena`` command line.

    Called once, when the CLI starts and plugins are loaded. Use ``@cli.command()`` to add a
    command; a name that already exists is an error naming both plugins.

    :param cli: the top-level ``arena`` click group.
    :return: nothing.
    """
