"""The environment contract: a two-seat game behind the PettingZoo Parallel API.

A plugin registers an :class:`EnvSpec` (cheap: no emulator import). ``EnvSpec.make`` builds the
real environment, an :class:`ArenaEnv`, which is a ``pettingzoo.ParallelEnv`` whose agents are
seat names. When one side is the game's own computer player (``cpu``), the environment is built
with ``cpu_level`` set and only the other seat is an agent: the CPU is part of the game.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arena.errors import ArenaError
from arena.text import suggest

# Passed as ``cpu_level`` for a game whose CPU has no levels (``cpu`` with no level).
NO_LEVELS = 0


@dataclass(frozen=True)
class EnvSpec:
    """What a plugin registers for one environment.

    :param name: the ``--env`` name, e.g. ``pong``.
    :param make: ``make(options, cpu_level) -> ArenaEnv``. ``options`` is an instance of
        ``options``; ``cpu_level`` is ``None`` for two agents, else the CPU's level (or
        :data:`NO_LEVELS` for a CPU without levels) and the CPU takes ``cpu_seat``.
        Import the emulator inside this function, not at module level.
    :param seats: the two seat names, e.g. ``("left", "right")``.
    :param num_actions: size of each seat's ``Discrete`` action space.
    :param cpu_seat: the seat the game's own CPU plays, or ``None`` if the game has no CPU.
    :param cpu_levels: the CPU's levels; empty if the CPU has a single strength.
    :param options: a dataclass of environment options with defaults (``-o key=value``).
    :param action_meanings: a name for each action index.
    :param fps: emulator frames per second of game time (the discount's half-life is in seconds).
    :param observation_shape: ``observation_shape(options) -> tuple`` without starting the
        emulator; training needs a flat ``(N,)`` observation or an image ``(H, W, C)`` (uint8).
    :param potential: ``potential(observation) -> float`` for potential-based reward shaping
        (``gamma * phi(s') - phi(s)``, which keeps the optimal policy), from a seat's own
        observation; ``None`` if the env offers none.

    **Timing** is the environment's: action repeat and observation delay are fields of its
    ``options`` dataclass, ``act_every`` (emulator frames each action is held: one agent step)
    and ``delay`` (agent steps between what the game shows and what the agent sees), with the
    env's own defaults. An env without such a field has ``act_every`` 1 and ``delay`` 0 (a
    turn-based game simply declares neither). Training, evaluation games and matches all read
    them with :func:`timing`: an algorithm's discount follows the env's ``act_every``, and a
    trained agent replays the timing it was trained at in an env that runs another (or is
    refused).
    :param machine_options: options that say where things are on this machine or how fast it
        runs (paths, timeouts, emulation speed), not how the game is played: a leaderboard's
        definition never compares them.
    :param records: the env can record a game's inputs as a replay: it has ``record(path)``,
        called before ``reset``, and writes that game's movie to ``path`` (stable-retro games:
        :class:`arena.games.replay.RetroMovie`). ``--record`` is refused up front for others.
    :param single_player: a one-player game played head to head: the two seats take turns from
        the same start (level, seed), each scoring on its own, and the higher score wins (the way
        the retro contest ranked entries). ``agents`` is the seat whose turn it is. There is no
        enemy in training: ``reset(seed, options={"alone": True})`` plays the first seat's turn
        only, and the enemies are the agents its evaluation games compare it with.
    :param require: ``require(options)`` raises :class:`~arena.errors.ArenaError` with one line
        when this machine cannot play the env (a ROM the user must import); every command that
        plays games calls it (:meth:`check_installed`) before anything starts.
    :param ray_resources: custom Ray resources a worker playing this env needs one unit of, on
        top of its CPU (Melee: ``("dolphin",)``, offered by the nodes that can run Dolphin:
        ``ray start --resources '{"dolphin": 8}'``). With ``--backend ray`` workers go only
        where they are offered; a Ray that Arena starts itself offers them.
    """

    name: str
    make: Callable[[Any, int | None], ArenaEnv]
    description: str
    seats: tuple[str, str]
    num_actions: int
    options: type
    cpu_seat: str | None = None
    cpu_levels: tuple[int, ...] = ()
    action_meanings: tuple[str, ...] = ()
    fps: float = 60.0
    observation_shape: Callable[[Any], tuple[int, ...]] | None = None
    potential: Callable[[Any], float] | None = None
    machine_options: tuple[str, ...] = ()
    records: bool = False
    single_player: bool = False
    require: Callable[[Any], None] | None = None
    ray_resources: tuple[str, ...] = ()

    def check_installed(self, options: Any) -> None:
        """One line (an :class:`ArenaError`) if this machine cannot play the env, e.g. its ROM is missing."""
        if self.require is not None:
            self.require(options)

    @property
    def has_cpu(self) -> bool:
        return self.cpu_seat is not None

    def check_cpu_level(self, level: int | None) -> int:
        """The level to pass to ``make`` for agent spec ``cpu[:level]``, or an ArenaError."""
        if not self.has_cpu:
            raise ArenaError(f"env '{self.name}' has no built-in CPU opponent; pick another agent than 'cpu'")
        if level is None:
            return max(self.cpu_levels) if self.cpu_levels else NO_LEVELS
        if not self.cpu_levels:
            raise ArenaError(f"env '{self.name}' has one built-in CPU with no levels; use 'cpu', not 'cpu:{level}'")
        if level not in self.cpu_levels:
            valid = ", ".join(f"cpu:{lv}" for lv in self.cpu_levels)
            raise ArenaError(f"CPU level {level} does not exist in env '{self.name}'; valid: cpu, {valid}")
        return level

    def check_observations(self, options: Any, observations: typing.Mapping[str, Any]) -> None:
        """An :class:`ArenaError` if ``reset()``'s observations (seat -> observation) are not the
        shape :attr:`observation_shape` declares for ``options`` (nothing to check without one)."""
        if self.observation_shape is None:
            return
        import numpy as np

        declared = tuple(self.observation_shape(options))
        for observation in observations.values():
            actual = np.shape(observation)
            if actual != declared:
                raise ArenaError(
                    f"env '{self.name}' declares observations of shape {declared} (EnvSpec.observation_shape) but reset() "
                    f"returned shape {actual}; fix the env or its observation_shape"
                )

    def parse_options(self, pairs: typing.Iterable[str] = (), **overrides: Any) -> Any:
        """Build the options dataclass from ``key=value`` strings (``-o``) plus keyword overrides."""
        return parse_options(self.options, pairs, overrides, owner=f"env '{self.name}'")


class Timing(typing.NamedTuple):
    """An env's timing: ``act_every`` frames per agent step, observations ``delay`` steps old."""

    act_every: int = 1
    delay: int = 0

    def __str__(self) -> str:
        return f"act_every={self.act_every} delay={self.delay}"


def timing(options: Any) -> Timing:
    """The :class:`Timing` of env options: an options dataclass (or its class, for the env's
    defaults) or a stored mapping (``params.json``'s or a snapshot's ``env_options``). A missing
    field means no repeat (``act_every`` 1) and no delay (0)."""
    if isinstance(options, typing.Mapping):
        act_every, delay = options.get("act_every", 1), options.get("delay", 0)
    else:
        act_every, delay = getattr(options, "act_every", 1), getattr(options, "delay", 0)
    return Timing(int(act_every), int(delay))


def _convert(kind: Any, raw: str) -> Any:
    from arena.training.params import (
        convert,  # one parser for env options and hyperparameters
    )

    return convert(kind, raw)


def parse_options(cls: type, pairs: typing.Iterable[str], overrides: dict[str, Any], owner: str) -> Any:
    """Turn ``["act_every=4", ...]`` into ``cls(act_every=4, ...)``, with one-line errors."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    valid = ", ".join(sorted(fields))
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ArenaError(f"malformed option '{pair}' for {owner}; expected KEY=VALUE with KEY one of: {valid}")
        if key not in fields:
            raise ArenaError(f"unknown option '{key}' for {owner}{suggest(key, fields)}; valid options: {valid}")
        try:
            values[key] = _convert(hints[key], raw.strip())
        except ValueError as exc:
            raise ArenaError(f"bad value '{raw}' for option '{key}' of {owner}: {exc}") from None
    for key, value in overrides.items():
        if key not in fields:
            raise ArenaError(f"unknown option '{key}' for {owner}; valid options: {valid}")
        values[key] = value
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise ArenaError(f"bad options for {owner}: {exc}") from None


def written(value: Any) -> str:
    """``value`` as a user writes it in ``-o KEY=VALUE`` or ``--set KEY=VALUE`` (``true``, not
    ``True``): what one-line errors suggest typing."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@typing.runtime_checkable
class ArenaEnv(typing.Protocol):
    """What ``EnvSpec.make`` returns: a ``pettingzoo.ParallelEnv`` plus two read-outs.

    ``possible_agents`` are the seats that agents control (one seat when the CPU plays the other).
    Observations are presented from each seat's own side, so one policy can play either seat.
    """

    possible_agents: list[str]
    agents: list[str]

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]: ...

    def step(self, actions: dict[str, int]) -> tuple[dict, dict, dict, dict, dict]: ...

    def scores(self) -> dict[str, int]:
        """Points per seat (both seats, the CPU's included) in the current game."""
        ...

    @property
    def frames(self) -> int:
        """Emulator frames played since the last reset."""
        ...

    def close(self) -> None: ...
