"""Hyperparameters: documented dataclasses, ``--set key=value`` parsing, and experiment names.

Every algorithm's hyperparameters are a frozen dataclass whose fields are declared with
:func:`param`: a default, one line of help, and whether the field *names* the experiment (phillip's
``add_param(..., name=True)``). The experiment name is the algorithm plus the naming fields that
differ from their defaults, so two runs with the same settings land in the same folder and resume.

This module does not import torch.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from arena.errors import ArenaError
from arena.text import suggest


def param(default: Any, help: str, *, naming: bool = True, short: str | None = None) -> Any:
    """A hyperparameter field: ``default``, a line of ``help``, and whether it names experiments.

    ``short`` is the abbreviation used in experiment names (``learning_rate`` -> ``lr``).
    """
    return field(default=default, metadata={"help": help, "naming": naming, "short": short})


@dataclass(frozen=True)
class CommonParams:
    """What every algorithm shares: phillip's hyperparameters and their defaults.

    Times are in agent steps unless said otherwise: one step is the env's ``act_every`` emulator
    frames. Action repeat (``act_every``) and observation delay (``delay``) are the env's options
    (``-o``), not parameters: see :func:`arena.plugins.envs.timing` and :data:`MOVED_TO_ENV`.
    The defaults suit phillip's one-pass update (``ac``'s): updates every 8 x 32 = 256 steps,
    learning rate 3e-4, entropy 0.02. How they were chosen is in bench/README.md.
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
        "constant",
        "learning rate over the run: constant, or linear decay to 0 at the --steps budget (baselines' A2C, CleanRL's PPO)",
        short="lrs",
    )
    optimizer: Literal["adam", "rmsprop", "rmsprop_tf", "sgd"] = param(
        "adam", "optimiser: adam, rmsprop (torch's), rmsprop_tf (TensorFlow's, as the A2C references ran it) or sgd", short="opt"
    )
    activation: Literal["elu", "relu", "tanh"] = param("elu", "hidden-layer activation: elu, relu or tanh", short="act")
    embed_sizes: str = param("128", "layer sizes of the state embedding, comma-separated", short="embed")
    max_grad_norm: float = param(0.5, "gradients are clipped to this global norm; 0 turns clipping off", short="gn")
    natural: bool = param(
        False,
        "natural gradient (phillip's option): not available; see docs/training.md for why. Setting it to true is an error",
        naming=False,
    )
    # -- time (act_every and delay are the env's options) ----------------------------------------
    experience_length: int = param(
        32, "agent steps in each trajectory the learner sees; recurrent nets train on whole sequences", short="xl"
    )
    # -- the learner's schedule -------------------------------------------------------------------
    batch_size: int = param(8, "trajectories in one minibatch", short="bs")
    batches: int = param(1, "minibatches in one update: an update uses batches * batch_size trajectories")
    sweeps: int = param(1, "passes over an update's trajectories")
    batch_steps: int = param(1, "gradient steps on each minibatch per pass")
    min_collect: int = param(8, "fresh trajectories that must arrive before the next update", short="mc")
    # -- bookkeeping ------------------------------------------------------------------------------
    seed: int = param(0, "seed of the network's initial weights and of the workers' games", naming=False)
    device: str = param("auto", "torch device for the learner: auto (a GPU when present), cpu or cuda[:N]", naming=False)

    # An algorithm changes defaults here, without restating the fields: {"learning_rate": 3e-4}.
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs):
        """Turn ``DEFAULTS`` into fields of the subclass (before ``@dataclass`` reads them): the
        same help, short name and place in experiment names, with a new default."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("DEFAULTS", {})
        if not own:
            return
        inherited = {}
        for base in reversed(cls.__mro__[1:]):  # the nearest base's field wins
            inherited.update(getattr(base, "__dataclass_fields__", {}))
        annotations = cls.__dict__.get("__annotations__")
        if annotations is None:
            annotations = {}
            cls.__annotations__ = annotations
        for name, default in own.items():
            if name not in inherited:
                raise TypeError(f"{cls.__name__}.DEFAULTS names '{name}', which is not a parameter")
            if name in annotations:
                raise TypeError(f"{cls.__name__} declares '{name}' and also sets it in DEFAULTS")
            # the type itself, not its string: the subclass's module may not import what it names
            annotations[name] = typing.get_type_hints(cls.__mro__[1])[name]
            setattr(cls, name, field(default=default, metadata=inherited[name].metadata))

    def __post_init__(self):
        positive = (
            "reward_halflife",
            "learning_rate",
            "experience_length",
            "batch_size",
            "batches",
            "sweeps",
            "batch_steps",
            "min_collect",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("epsilon",):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        for name in ("entropy_scale", "shaping", "max_grad_norm", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        sizes(self.embed_sizes)  # raises on a malformed list
        if self.natural:
            raise ValueError(
                "natural=true is not supported: PPO's clipped surrogate is the trust region Arena offers (docs/training.md says why)"
            )

    def gamma(self, fps: float, act_every: int) -> float:
        """The per-step discount for a game running at ``fps`` frames per second whose agent acts
        every ``act_every`` frames (the env's option)."""
        from arena.training.functional import gamma_from_halflife

        return gamma_from_halflife(self.reward_halflife, fps, act_every)


@dataclass(frozen=True)
class ActorCriticParams(CommonParams):
    """The actor-critic network (:class:`arena.training.networks.ActorCritic`) and the advantage
    estimate, shared by ac, a2c, ppo and rac (each sets its own defaults)."""

    actor_sizes: str = param("128,128", "policy head layer sizes, comma-separated", short="actor")
    critic_sizes: str = param("128,128", "value head layer sizes, comma-separated", short="critic")
    td_lambda: float = param(
        0.95, "GAE / TD(lambda) mixing: 1 is phillip's discounted return to the trajectory's end, 0 one-step TD", short="lam"
    )
    value_scale: float = param(0.5, "weight of the critic's loss (0.5 * mean((V - target)^2)) beside the policy's", short="vs")
    advantage_norm: bool = param(True, "normalise advantages in each minibatch (mean 0, std 1)", short="anorm")
    shared_critic: bool = param(
        True,
        "the value head reads the policy's embedding (and GRU); false gives the critic its own network on the observation, as phillip's critic.py",
        short="shc",
    )

    def __post_init__(self):
        super().__post_init__()
        sizes(self.actor_sizes), sizes(self.critic_sizes)
        if not 0 <= self.td_lambda <= 1:
            raise ValueError(f"td_lambda must be between 0 and 1, got {self.td_lambda}")
        if self.value_scale < 0:
            raise ValueError(f"value_scale must be 0 or more, got {self.value_scale}")


@dataclass(frozen=True)
class ClipParams(ActorCriticParams):
    """Decoupled PPO's knobs (ppo, and rac with ``clip`` above 0)."""

    clip: float = param(
        0.2,
        "clip range of the ratio to the learner's pre-update policy: the surrogate is flat outside [1 - clip, 1 + clip]",
        short="cr",
    )
    value_clip: float = param(
        0.0,
        "clip the critic's change from its pre-update values to this range (CleanRL's clip_vloss); 0 turns it off",
        short="vclip",
    )
    target_kl: float = param(
        0.0,
        "end an update before the step that a minibatch's approximate KL from the pre-update policy exceeds this; 0 never ends early",
        short="kl",
    )
    rho_max: float = param(
        1.0,
        "truncation of the importance weight pre-update policy / behaviour policy for data played by older weights",
        short="rho",
    )

    def __post_init__(self):
        super().__post_init__()
        for name in ("clip", "value_clip", "target_kl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        if not self.rho_max > 0:
            raise ValueError(f"rho_max must be positive, got {self.rho_max}")


@dataclass(frozen=True)
class QParams(CommonParams):
    """The Q-network (:class:`arena.training.networks.QNetwork`), its replay and its targets, shared
    by dqn and rdqn."""

    q_sizes: str = param("128,128", "Q head layer sizes after the embedding, comma-separated (phillip's q_layers)", short="q")
    temperature: float = param(
        0.01,
        "the DQNs' policy is a softmax of Q / temperature (phillip's 0.01: near-greedy where Q values differ by more "
        "than a few hundredths); epsilon mixes in uniform",
        short="temp",
    )
    n_step: int = param(
        3, "steps of reward summed before bootstrapping from the target network (1: one-step Q-learning)", short="n"
    )
    target_update: int = param(100, "gradient steps between copies of the online network into the target network", short="tu")
    replay_size: int = param(
        1000, "trajectories the replay buffer keeps (the newest); times experience_length is its size in steps", short="replay"
    )
    learning_starts: int = param(32, "trajectories in the replay buffer before training begins", short="ls")
    double: bool = param(
        True,
        "Double DQN: the online network picks the next action, the target network values it (false: the target's own max)",
        short="ddqn",
    )

    def __post_init__(self):
        super().__post_init__()
        sizes(self.q_sizes)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        for name in ("n_step", "target_update", "replay_size", "learning_starts"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        if self.learning_starts > self.replay_size:
            raise ValueError(f"learning_starts ({self.learning_starts}) cannot exceed replay_size ({self.replay_size})")


# Parameters that became env options: name -> (the env option, its short name in experiment names).
# Files written before (snapshots, params.json) still hold them; they are dropped when read, and
# ``--set`` of one is an error that says which ``-o`` to use. Experiment names still spell a
# non-default value the old way (``ae=4``, ``delay=3``), where the parameter used to stand.
MOVED_TO_ENV: dict[str, tuple[str, str]] = {"act_every": ("act_every", "ae"), "delay": ("delay", "delay")}
MOVED_NAMED_BEFORE = "experience_length"  # the field the moved ones were declared before


def without_moved(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` less the parameters that moved to the env (unless ``cls`` still has them)."""
    own = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in stored.items() if key not in MOVED_TO_ENV or key in own}


def with_absent(cls: type, stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` (a snapshot's or a params.json's values) plus, for each field it lacks, what that
    absence means: ``cls.ABSENT_MEANS`` names fields added after files were written, with the value
    that reproduces how such files were trained (which may differ from today's default). Parameters
    that moved to the env (:data:`MOVED_TO_ENV`) are dropped: the env options hold them."""
    return {**getattr(cls, "ABSENT_MEANS", {}), **without_moved(cls, stored)}


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


def parse_params(
    cls: type, pairs: typing.Iterable[str], *, owner: str, base: dict[str, Any] | None = None, plugin: str | None = None
) -> Any:
    """``cls`` built from ``base`` (e.g. a resumed experiment's values) plus ``key=value`` strings.

    Unknown keys suggest the nearest name (and, given the algorithm's name ``plugin``, the
    ``--list-params`` command that lists them); wrong types and out-of-range values are one-line
    :class:`ArenaError` s naming the key.
    """
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    shorts = {f.metadata["short"]: f.name for f in dataclasses.fields(cls) if f.metadata.get("short")}
    values: dict[str, Any] = without_moved(cls, dict(base or {}))
    for key in values:
        if key not in hints:
            raise ArenaError(f"unknown parameter '{key}' for {owner}{suggest(key, names)}")
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ArenaError(f"malformed --set '{pair}' for {owner}; expected KEY=VALUE, e.g. --set learning_rate=1e-4")
        if key in MOVED_TO_ENV and key not in hints:
            option = MOVED_TO_ENV[key][0]
            raise ArenaError(
                f"'{key}' is an env option, not a parameter of {owner}: use -o {option}={raw.strip() or '...'} instead of --set {pair.strip()}"
            )
        if key not in hints and key in shorts:  # the name an experiment folder shows, e.g. rac_lr=0.001
            raise ArenaError(
                f"unknown parameter '{key}' for {owner}: '{key}' is {shorts[key]}'s short name in experiment names; "
                f"use --set {shorts[key]}={raw.strip() or '...'}"
            )
        if key not in hints:
            listing = f"; see 'arena train --plugin {plugin} --list-params'" if plugin else ""
            raise ArenaError(f"unknown parameter '{key}' for {owner}{suggest(key, names)}{listing}")
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


def experiment_name(
    algorithm: str, params: Any, extra: dict[str, str] | None = None, timing: dict[str, Any] | None = None
) -> str:
    """``algorithm`` plus each naming parameter that differs from its default, e.g.
    ``rac_lr=0.001_delay=2``; ``extra`` adds non-parameter choices such as a non-default env.

    ``timing`` holds the env's ``act_every``/``delay`` where they differ from the env's defaults:
    they name the experiment by their old short names (``ae=4``, ``delay=3``) at the place the
    parameters had, so experiments made when they were parameters keep their names and resume."""
    parts = [algorithm]
    moved = [f"{MOVED_TO_ENV[key][1]}={_fmt(value)}" for key, value in (timing or {}).items()]
    for f in dataclasses.fields(params):
        if f.name == MOVED_NAMED_BEFORE:
            parts += moved
            moved = []
        if not f.metadata.get("naming", True):
            continue
        value = getattr(params, f.name)
        if value != f.default:
            parts.append(f"{f.metadata.get('short') or f.name}={_fmt(value)}")
    parts += moved  # a params class without experience_length: after its own fields
    for key, value in (extra or {}).items():
        parts.append(f"{key}={_fmt(value)}")
    return "_".join(parts)
