"""Trained agents as players: a snapshot becomes an :class:`arena.plugins.agents.Agent` (imports torch).

Registered by the built-in algorithms plugin as the opponent kind that claims paths, so
``arena match experiments/NAME cpu`` and enemies-file paths play the newest snapshot of an
experiment (or the snapshot file given).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from arena.errors import ArenaError
from arena.training.snapshot import Snapshot, load_snapshot

_warned: set[tuple[str, tuple[str, ...]]] = set()


def build_model(snapshot: Snapshot, arena: Any):
    """The snapshot's model with its weights, built by its algorithm's learner class."""
    from arena.training.learner import load_weights
    from arena.training.params import parse_params, with_absent

    meta = snapshot.meta
    if meta["algorithm"] not in arena.algorithms:
        raise ArenaError(
            f"snapshot {snapshot.path} was trained with algorithm '{meta['algorithm']}', which no installed plugin provides; "
            f"installed: {arena.algorithms.choices()}"
        )
    spec = arena.algorithms.get(meta["algorithm"])
    params_class = spec.params_class()
    known = {field.name for field in dataclasses.fields(params_class)}
    unknown = sorted(set(meta["params"]) - known)
    if unknown and (meta["algorithm"], tuple(unknown)) not in _warned:
        # A parameter this version no longer has (or a newer one) cannot change how the snapshot
        # plays unless it shaped the network, and then the weights below do not fit: a clear error.
        # Said once per process: an experiment's snapshots all carry the same parameters.
        _warned.add((meta["algorithm"], tuple(unknown)))
        print(
            f"arena: warning: snapshot {snapshot.path}: ignoring parameters that algorithm '{meta['algorithm']}' "
            f"does not have in this version: {', '.join(unknown)}",
            file=sys.stderr,
        )
    base = with_absent(params_class, {key: value for key, value in meta["params"].items() if key in known})
    params = parse_params(params_class, (), owner=f"snapshot {snapshot.path}", base=base)
    model = spec.learner_class().make_model(params, meta["obs_size"], meta["num_actions"])
    try:
        load_weights(model, snapshot.learner["model"])
    except (RuntimeError, KeyError) as exc:
        raise ArenaError(f"snapshot {snapshot.path} does not fit its algorithm's network ({str(exc).splitlines()[0]}); retrain it") from None
    return model, params


class TrainedAgent:
    """Plays a model, holding each action for ``repeat`` env steps (its training ``act_every``
    divided by the env's), so an agent trained to act every 4 frames plays the same way in a
    match that steps every frame."""

    def __init__(self, actor: Any, repeat: int = 1, label: str = ""):
        self.actor = actor
        self.repeat = repeat
        self.label = label
        self._left = 0
        self._action = 0
        self.hash: str | None = None  # the snapshot file's, recorded with each game

    def reset(self, seed: int) -> None:
        self.actor.reset(seed)
        self._left = 0

    def act(self, observation) -> int:
        if self._left == 0:
            self._action = self.actor.act(observation)
            self._left = self.repeat
        self._left -= 1
        return self._action


def action_repeat(trained_act_every: int, env_options: Any, what: str) -> int:
    env_act_every = getattr(env_options, "act_every", 1)
    if trained_act_every % env_act_every:
        raise ArenaError(
            f"{what} acts every {trained_act_every} frames, which is not a multiple of the env's act_every={env_act_every}; "
            f"use -o act_every=1 or a divisor of {trained_act_every}"
        )
    return trained_act_every // env_act_every


def check_fits(meta: dict, env_spec: Any, env_options: Any, what: str) -> None:
    if meta["env"] != env_spec.name:
        raise ArenaError(f"{what} was trained on env '{meta['env']}', not '{env_spec.name}'; add --env {meta['env']}")
    if env_spec.observation_shape is not None:
        shape = tuple(env_spec.observation_shape(env_options))
        if shape != (meta["obs_size"],):
            raise ArenaError(f"{what} sees {meta['obs_size']} numbers, but env '{env_spec.name}' with these options gives shape {shape}")
    if meta["num_actions"] != env_spec.num_actions:
        raise ArenaError(f"{what} has {meta['num_actions']} actions; env '{env_spec.name}' has {env_spec.num_actions}")


def build_trained(args: str | None, env_spec: Any, env_options: Any) -> TrainedAgent:
    """The ``OpponentKind.build`` for paths: a snapshot file or an experiment folder."""
    from arena.plugins.manager import get_arena
    from arena.training.learner import Actor

    if not args:
        raise ArenaError("a trained agent needs a path: a snapshot .pt file or an experiment folder")
    snapshot = load_snapshot(args)
    what = f"trained agent {args}"
    check_fits(snapshot.meta, env_spec, env_options, what)
    repeat = action_repeat(int(snapshot.meta["params"].get("act_every", 1)), env_options, what)
    from arena.training.snapshot import file_hash

    model, _ = build_model(snapshot, get_arena())
    agent = TrainedAgent(Actor(model, snapshot.meta["num_actions"], epsilon=0.0), repeat, label=str(args))
    agent.hash = file_hash(snapshot.path)
    return agent
