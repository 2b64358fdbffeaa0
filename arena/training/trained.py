"""Trained agents as players: a snapshot becomes an :class:`arena.plugins.agents.Agent` (imports torch).

Registered by the built-in algorithms plugin as the agent kind that claims paths, so
``arena match experiments/NAME cpu`` and enemies-file paths play the snapshot an experiment
publishes (its best on validation games, else its newest), ``experiments/NAME/snapshots`` the
newest, and a snapshot file itself (:func:`arena.training.snapshot.find_snapshot`).
"""

from __future__ import annotations

import dataclasses
import sys
from collections import deque
from typing import TYPE_CHECKING, Any

from arena.errors import ArenaError
from arena.plugins.envs import Timing, timing
from arena.training.snapshot import Snapshot, load_snapshot

if TYPE_CHECKING:
    from arena.plugins.manager import Arena

_warned: set[tuple[str, tuple[str, ...]]] = set()


def build_model(snapshot: Snapshot, arena: Arena):
    """The snapshot's model with its weights, built by its algorithm's learner class."""
    from arena.training.learner import load_weights
    from arena.training.params import MOVED_TO_ENV, parse_params, with_absent

    meta = snapshot.meta
    if meta["algorithm"] not in arena.algorithms:
        raise ArenaError(
            f"snapshot {snapshot.path} was trained with algorithm '{meta['algorithm']}', which no installed plugin provides; "
            f"installed: {arena.algorithms.choices()}"
        )
    spec = arena.algorithms.get(meta["algorithm"])
    params_class = spec.params_class()
    known = {field.name for field in dataclasses.fields(params_class)}
    # act_every and delay were parameters once: the snapshot's env options hold them (trained_timing).
    unknown = sorted(set(meta["params"]) - known - set(MOVED_TO_ENV))
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
    model = spec.learner_class().make_model(params, _obs_size(meta), meta["num_actions"])
    try:
        load_weights(model, snapshot.learner["model"])
    except (RuntimeError, KeyError) as exc:
        raise ArenaError(
            f"snapshot {snapshot.path} does not fit its algorithm's network ({str(exc).splitlines()[0]}); retrain it"
        ) from None
    return model, params


class TrainedAgent:
    """Plays a model at the timing it was trained at, in an env that may run another.

    ``repeat``: env steps each decision is held (its training ``act_every`` over the env's), so an
    agent trained to act every 4 frames plays the same way in a match that steps every 2.
    ``extra_delay``: env steps of observation delay the agent adds to the env's own, so that it
    decides on what the game showed its training ``delay`` (in its own steps) before. The buffer
    is filled with the first observation at the first :meth:`act` after a reset, as an env's own
    delay is (Pong's ``delay``)."""

    def __init__(self, actor: Any, repeat: int = 1, label: str = "", extra_delay: int = 0):
        self.actor = actor
        self.repeat = repeat
        self.extra_delay = extra_delay
        self.label = label
        self._left = 0
        self._action = 0
        self._seen: deque | None = None
        self.hash: str | None = None  # the snapshot file's, recorded with each game

    def reset(self, seed: int) -> None:
        self.actor.reset(seed)
        self._left = 0
        self._seen = None

    def act(self, observation) -> int:
        if self.extra_delay:
            if self._seen is None:
                self._seen = deque([observation] * (self.extra_delay + 1), maxlen=self.extra_delay + 1)
            else:
                self._seen.append(observation)
            observation = self._seen[0]  # what the env showed extra_delay env steps ago
        if self._left == 0:
            self._action = self.actor.act(observation)
            self._left = self.repeat
        self._left -= 1
        return self._action


def trained_timing(meta: dict) -> Timing:
    """The timing a snapshot was trained at: its env options' ``act_every``/``delay`` (what the env
    really ran; 1 and 0 for an env without them). Snapshots from when they were algorithm
    parameters also hold ``params.act_every/delay``, but the env options are what was played."""
    return timing(meta.get("env_options") or {})


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _or(values: list[int]) -> str:
    text = [str(v) for v in values]
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " or " + text[-1]


def plan_timing(trained: Timing, env: Timing, what: str) -> tuple[int, int]:
    """``(repeat, extra_delay)`` for an agent trained at ``trained`` playing in an env at ``env``:
    each decision is held ``trained.act_every / env.act_every`` env steps (a whole number), and
    the agent must see observations ``trained.delay * repeat`` env steps late in all, of which the
    env already delays ``env.delay``. Otherwise a one-line :class:`ArenaError`."""
    repeat, rest = divmod(trained.act_every, env.act_every)
    if rest == 0 and trained.delay * repeat >= env.delay:
        return repeat, trained.delay * repeat - env.delay
    if rest:
        why = f"{trained.act_every} frames a decision are not a whole number of the env's {env.act_every}-frame steps"
    else:
        why = f"the env's delay of {env.delay} steps is more than the {trained.delay * repeat} it was trained to see"
    valid = [d for d in _divisors(trained.act_every) if trained.delay * (trained.act_every // d) >= env.delay]
    fix = f"-o act_every={_or(valid)}" if valid else f"-o act_every={trained.act_every} -o delay={trained.delay}"
    raise ArenaError(f"{what} was trained at {trained}, but the env runs at {env}: {why}; use {fix}")


def _obs_size(meta: dict) -> int | tuple[int, ...]:
    """The ``obs_size`` a snapshot's model was built with: ``N``, or an image's ``(H, W, C)``
    (JSON gives a list)."""
    size = meta["obs_size"]
    return size if isinstance(size, int) else tuple(size)


def check_fits(meta: dict, env_spec: Any, env_options: Any, what: str) -> None:
    if meta["env"] != env_spec.name:
        raise ArenaError(f"{what} was trained on env '{meta['env']}', not '{env_spec.name}'; add --env {meta['env']}")
    if env_spec.observation_shape is not None:
        shape = tuple(env_spec.observation_shape(env_options))
        size = _obs_size(meta)
        if shape != (size if isinstance(size, tuple) else (size,)):
            sees = f"images of shape {size}" if isinstance(size, tuple) else f"{size} numbers"
            raise ArenaError(f"{what} sees {sees}, but env '{env_spec.name}' with these options gives shape {shape}")
    if meta["num_actions"] != env_spec.num_actions:
        raise ArenaError(f"{what} has {meta['num_actions']} actions; env '{env_spec.name}' has {env_spec.num_actions}")


def build_trained(args: str | None, env_spec: Any, env_options: Any) -> TrainedAgent:
    """The ``AgentKind.build`` for paths: a snapshot file, an experiment folder (its published
    snapshot) or a snapshots folder (its newest)."""
    from arena.plugins.manager import get_arena
    from arena.training.learner import Actor

    if not args:
        raise ArenaError("a trained agent needs a path: a snapshot .pt file or an experiment folder")
    snapshot = load_snapshot(args)
    what = f"trained agent {args}"
    check_fits(snapshot.meta, env_spec, env_options, what)
    repeat, extra_delay = plan_timing(trained_timing(snapshot.meta), timing(env_options), what)
    from arena.training.snapshot import file_hash

    model, _ = build_model(snapshot, get_arena())
    agent = TrainedAgent(
        Actor(model, snapshot.meta["num_actions"], epsilon=0.0), repeat, label=str(args), extra_delay=extra_delay
    )
    agent.hash = file_hash(snapshot.path)
    return agent
