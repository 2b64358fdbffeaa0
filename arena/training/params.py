"""Hyperparameters: documented dataclasses, ``--set key=value`` parsing, and experiment names.

Every algorithm's hyperparameters are a frozen dataclass whose fields are declared with
:func:`param`: a default, one line of help, and whether the field *names* the experiment (phillip's
``add_param(..., name=True)``). The experiment name is the algorithm plus the naming fields that
differ from their defaults, so two runs with the same settings land in the same folder and resume.

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from arena.errors import ArenaError


def param(default: Any, help: str, *, naming: bool = True, short: str | None = None) -> Any:
    """A hyperparameter field: ``default``, a line of ``help``, and whether it names experiments.

    ``short`` is the abbreviation used in experiment names (``learning_rate`` -> ``lr``).
    """
    return field(default=default, metadata={"help": help, "naming": naming, "short": short})


@dataclass(frozen=True)
class CommonParams:
    """What every algorithm shares: phillip's hyperparameters and their defaults.

    Times are in agent steps (one step = ``act_every`` emulator frames) unless said otherwise.
    The defaults are what made phillip's one-pass update (``ac``'s; ``rac``'s before it took PPO's
    clipped update, which has its own) learn Pong against the cartridge's CPU fastest among the
    settings tried (bench/README.md): updates every 8 x 32 = 256 steps, learning rate 3e-4 and
    entropy 0.02. 1e-3 with entropy 0.01 collapsed the policy to one action within 200k frames;
    5e-4 learned fastest but collapsed the same way after 500k frames; 7e-4 with 0.03 stayed
    random for 200k frames.
    """

    # -- the discount and exploration ------------------------------------------------------------
    reward_halflife: float = param(
        2.0, "discount as a half-life in seconds of game time: gamma = 0.5 ** (1 / (halflife * fps / act_every))", short="hl"
    )
    epsilon: float = param(0.02, "exploration floor: the behaviour policy mixes this much uniform choice in", short="eps")
    entropy_scale: float = param(0.02, "weight of the entropy bonus in the policy loss", short="ent")
    shaping: float = param(
        0.5,
        "weight of potential-based reward shaping gamma*phi(s') - phi(s), with phi from the env "
        "(Pong: minus the ball's distance beyond the paddle's reach); 0 trains on the score alone",
        short="shape",
    )
    # -- the network and the optimiser -----------------------------------------------------------
    learning_rate: float = param(3e-4, "optimiser step size", short="lr")
    lr_schedule: Literal["constant", "linear"] = param(
        "constant", "learning rate over the run: constant, or linear decay to 0 at the --steps budget (baselines' A2C, CleanRL's PPO)", short="lrs"
    )
    optimizer: Literal["adam", "rmsprop", "sgd"] = param("adam", "optimiser: adam, rmsprop or sgd", short="opt")
    activation: Literal["elu", "relu", "tanh"] = param("elu", "hidden-layer activation: elu, relu or tanh", short="act")
    embed_sizes: str = param("128", "layer sizes of the state embedding, comma-separated", short="embed")
    max_grad_norm: float = param(0.5, "gradients are clipped to this global norm; 0 turns clipping off", short="clip")
    natural: bool = param(
        False,
        "natural gradient (phillip's option): not available; see docs/training.md for why. "
        "Setting it to true is an error",
        naming=False,
    )
    # -- time -------------------------------------------------------------------------------------
    act_every: int = param(
        2,
        "emulator frames each action is held (action repeat). 2, not Atari's usual 4: in Pong a held "
        "decision is stale by up to act_every - 1 frames, and at 4 the best scripted tracker loses to the cartridge's CPU (+8.5 at 2)",
        short="ae",
    )
    delay: int = param(0, "agent steps between what the game shows and what the agent sees (reaction time)")
    experience_length: int = param(32, "agent steps in each trajectory the learner sees; recurrent nets train on whole sequences", short="xl")
    # -- the learner's schedule -------------------------------------------------------------------
    batch_size: int = param(8, "trajectories in one minibatch", short="bs")
    batches: int = param(1, "minibatches in one update: an update uses batches * batch_size trajectories")
    sweeps: int = param(1, "passes over an update's trajectories")
    batch_steps: int = param(1, "gradient steps on each minibatch per pass")
    min_collect: int = param(8, "fresh trajectories that must arrive before the next update", short="mc")
    # -- bookkeeping ------------------------------------------------------------------------------
    seed: int = param(0, "seed of the network's initial weights and of the workers' games", naming=False)
    device: str = param("auto", "torch device for the learner: auto (a GPU when present), cpu or cuda[:N]", naming=False)

    def __post_init__(self):
        positive = ("reward_halflife", "learning_rate", "act_every", "experience_length", "batch_size", "batches", "sweeps", "batch_steps", "min_collect")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("epsilon",):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        for name in ("entropy_scale", "shaping", "max_grad_norm", "delay", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        sizes(self.embed_sizes)  # raises on a malformed list
        if self.natural:
            raise ValueError(
                "natural=true is not supported: PPO's clipped surrogate is the trust region Arena offers (docs/training.md says why)"
            )

    def gamma(self, fps: float) -> float:
        """The per-step discount for a game running at ``fps`` frames per second."""
        from arena.training.functional import gamma_from_halflife

        return gamma_from_halflife(self.reward_halflife, fps, self.act_every)


def with_absent(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` (a snapshot's or a params.json's values) plus, for each field it lacks, what that
    absence means: ``cls.ABSENT_MEANS`` names fields added after files were written, with the value
    that reproduces how such files were trained (which may differ from today's default)."""
    return {**getattr(cls, "ABSENT_MEANS", {}), **stored}


def sizes(text: str) -> tuple[int, ...]:
    """``"128,128"`` as ``(128, 128)``; empty for ``""``."""
    if not str(text).strip():
        return ()
    try:
        out = tuple(int(part) for part in str(text).split(","))
    except ValueError:
        raise ValueError(f"layer sizes must be comma-separated integers like 128,128, got '{text}'") from None
    if any(n < 1 for n in out):
        raise ValueError(f"layer sizes must be positive, got '{text}'")
    return out


def describe(cls: type) -> list[tuple[str, str, Any, str, bool]]:
    """``(name, type, default, help, naming)`` for every field, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        type_name = "|".join(map(str, typing.get_args(kind))) if typing.get_origin(kind) is Literal else kind.__name__
        out.append((f.name, type_name, f.default, f.metadata.get("help", ""), f.metadata.get("naming", True)))
    return out


def convert(kind: Any, raw: str) -> Any:
    """``raw`` as a value of type ``kind`` (bool, int, float, str or a Literal); ValueError says what was expected."""
    raw = raw.strip()
    if kind is bool:
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true or false")
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(map(str, choices))}")
        return raw
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            try:
                value = float(raw)  # 2e6 is a fine way to write 2000000
            except ValueError:
                raise ValueError("expected an integer") from None
            if not value.is_integer():
                raise ValueError("expected an integer") from None
            return int(value)
    if kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
        if not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    return kind(raw)


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def parse_params(cls: type, pairs: typing.Iterable[str], *, owner: str, base: dict[str, Any] | None = None) -> Any:
    """``cls`` built from ``base`` (e.g. a resumed experiment's values) plus ``key=value`` strings.

    Unknown keys suggest the nearest name; wrong types and out-of-range values are one-line
    :class:`ArenaError` s naming the key.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = dict(base or {})
    for key in values:
        if key not in hints:
            raise ArenaError(f"unknown parameter '{key}' for {owner}{suggest(key, names)}")
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ArenaError(f"malformed --set '{pair}' for {owner}; expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        if key not in hints:
            raise ArenaError(
                f"unknown parameter '{key}' for {owner}{suggest(key, names)}; see 'arena train --plugin ... --list-params'"
            )
        try:
            values[key] = convert(hints[key], raw)
        except ValueError as exc:
            raise ArenaError(f"bad value '{raw}' for parameter '{key}' of {owner}: {exc}") from None
    try:
        return cls(**values)
    except (ValueError, TypeError) as exc:
        raise ArenaError(f"bad parameters for {owner}: {exc}") from None


def to_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace(",", "x").replace("/", "_")


def experiment_name(algorithm: str, params: Any, extra: dict[str, str] | None = None) -> str:
    """``algorithm`` plus each naming parameter that differs from its default, e.g.
    ``rac_lr=0.001_delay=2``; ``extra`` adds non-parameter choices such as a non-default env."""
    parts = [algorithm]
    for f in dataclasses.fields(params):
        if not f.metadata.get("naming", True):
            continue
        value = getattr(params, f.name)
        if value != f.default:
            parts.append(f"{f.metadata.get('short') or f.name}={_fmt(value)}")
    for key, value in (extra or {}).items():
        parts.append(f"{key}={_fmt(value)}")
    return "_".join(parts)
