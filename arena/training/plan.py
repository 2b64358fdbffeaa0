"""``arena train``'s plan: check everything the user gave and lay out the experiment (its name,
folder, parameters, env options and enemies) without writing anything; ``--dry-run`` prints it."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena import paths
from arena.errors import ArenaError, one_line
from arena.plugins.algorithms import AlgorithmSpec
from arena.plugins.envs import EnvSpec, Timing, timing, written
from arena.training.enemies import PoolConfig, find_pool
from arena.training.params import (
    MOVED_TO_ENV,
    CommonParams,
    experiment_name,
    parse_params,
    suggest,
    to_dict,
    with_absent,
)

if TYPE_CHECKING:
    from arena.plugins.manager import Arena

EVAL_EVERY_STEPS = 25_600  # agent steps between evaluation rounds when --eval-every is not given


DEFAULT_STEPS = 1_000_000  # agent steps: 1.5-1.8M frames of Pong's self-play and CPU, about 8 minutes on 2 cores
EVAL_GAMES = 2  # evaluation games against each opponent per round
FINAL_GAMES = 6  # each finalist's extra games against the reference when training ends (0: none)
SNAPSHOT_EVERY = 10  # updates between snapshots


DEFAULT_ENEMIES = "default.json"
SOLO_ENEMIES = "solo.json"  # one-player games: nobody to play, so the enemies only judge (random)


def default_enemies(env_spec: EnvSpec) -> str:
    """The enemies file a run uses without ``--enemies``: self-play and the game's CPU, or for a
    one-player game (``EnvSpec.single_player``) the random agent its evaluation games compare with."""
    return SOLO_ENEMIES if env_spec.single_player else DEFAULT_ENEMIES


@dataclass(frozen=True)
class TrainPlan:
    """A checked ``arena train`` command: everything a run needs, decided before it starts."""

    algorithm: AlgorithmSpec
    params: CommonParams
    env: str
    env_options: Any  # the env's options dataclass
    enemies: str  # the enemies file, or a plugin's named pool
    pool: PoolConfig
    name: str
    folder: Path
    workers: int
    steps: int
    obs_size: int | tuple[int, ...]  # N for a flat vector, (H, W, C) for an image
    num_actions: int
    fps: float
    resume_from: Path | None
    init: bool
    force: bool
    snapshot_every: int
    eval_every: int
    eval_games: int
    existing_snapshots: int = 0
    final_games: int = FINAL_GAMES

    @property
    def timing(self) -> Timing:
        """The env's action repeat and observation delay (its options ``act_every``/``delay``)."""
        return timing(self.env_options)


def _timing_names(env_spec: Any, options: Any) -> dict[str, int]:
    """The env's ``act_every``/``delay`` where they differ from the env's own defaults: they name
    the experiment (``ae=4``, ``delay=3``), as they did when they were parameters."""
    default, now = timing(env_spec.options), timing(options)
    return {key: value for key, value, was in zip(Timing._fields, now, default) if value != was}


def plan_training(
    plugin: str,
    *,
    env: str = "pong",
    enemies: str | None = None,
    sets: tuple[str, ...] | list[str] = (),
    env_pairs: tuple[str, ...] | list[str] = (),
    name: str | None = None,
    tag: bool = False,
    init: bool = False,
    force: bool = False,
    steps: int | None = None,
    workers: int | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
    eval_every: int | None = None,
    eval_games: int = EVAL_GAMES,
    final_games: int = FINAL_GAMES,
    arena: Arena | None = None,
    device_here: bool = True,
) -> TrainPlan:
    """Validate the command and lay out the experiment; writes nothing. ``device_here=False``:
    the learner runs on another machine (a Ray actor), which checks ``--set device`` itself."""
    from arena.plugins.manager import get_arena
    from arena.training.snapshot import list_snapshots

    arena = arena or get_arena()
    spec = _algorithm(arena, plugin)
    env_spec = arena.envs.get(env)
    params = parse_params(algorithm_class(arena, spec, "params"), sets, owner=f"algorithm '{plugin}'", plugin=plugin)
    _check_schedule(arena, spec, params)
    if device_here:  # a learner on a Ray node checks its own device there
        check_device(params)
    options = env_spec.parse_options(list(env_pairs))
    obs_size = _observations(arena, spec, env_spec, options)
    _check_counts(
        steps=steps, workers=workers, eval_every=eval_every, eval_games=eval_games, final_games=final_games,
        snapshot_every=snapshot_every,
    )  # fmt: skip
    if eval_every is None:
        # Evaluation rounds at a steady pace in agent steps, whatever an update's size (ac's is 256
        # steps, so every 100 updates; rac's 1,024, so every 25).
        eval_every = max(1, round(EVAL_EVERY_STEPS / (params.min_collect * params.experience_length)))
    env_spec.check_installed(options)
    source, pool = find_pool(enemies or default_enemies(env_spec), arena)
    options = _apply_cpu_char(source, pool, env_spec, options, list(env_pairs))
    if enemies is None and not env_spec.has_cpu and not env_spec.single_player:
        raise ArenaError(
            f"env '{env}' has no CPU of its own, which the default enemies (self-play and the game's CPU) need; "
            "pass --enemies self, or an enemies file or pool of your own"
        )
    _check_enemies(arena, env_spec, options, source, pool)
    exp_name = _experiment_name(plugin, params, env, env_spec, options, source, name, tag)
    folder = paths.experiments_dir() / exp_name
    snapshots = list_snapshots(folder)
    resume_from = None
    if snapshots and init and not force:
        raise ArenaError(
            f"{folder} already has {len(snapshots)} snapshots; --init would overwrite them: add --force, or drop --init to resume"
        )
    if snapshots and not init:
        resume_from = snapshots[-1]
        _check_same_experiment(folder, plugin, env, params, options)
    return TrainPlan(
        algorithm=spec,
        params=params,
        env=env,
        env_options=options,
        enemies=source,
        pool=pool,
        name=exp_name,
        folder=folder,
        workers=workers or max(1, os.cpu_count() or 1),
        steps=steps or DEFAULT_STEPS,
        obs_size=obs_size,
        num_actions=env_spec.num_actions,
        fps=env_spec.fps,
        resume_from=resume_from,
        init=init,
        force=force,
        snapshot_every=snapshot_every,
        eval_every=eval_every,
        eval_games=eval_games,
        existing_snapshots=len(snapshots),
        final_games=final_games,
    )


def _algorithm(arena: Arena, plugin: str) -> AlgorithmSpec:
    """The algorithm's spec, once both of its classes import (a dry run catches a bad path)."""
    if plugin not in arena.algorithms:
        raise ArenaError(
            f"unknown algorithm '{plugin}'{suggest(plugin, arena.algorithms.names())}; installed: {arena.algorithms.choices()}"
        )
    spec = arena.algorithms.get(plugin)
    algorithm_class(arena, spec, "learner")
    return spec


def algorithm_class(arena: Arena, spec: AlgorithmSpec, which: str) -> type:
    """``spec``'s ``"learner"`` or ``"params"`` class, imported; a path that does not import is one
    line naming the algorithm, its plugin, the path and the exception."""
    path = getattr(spec, which)
    try:
        return spec.learner_class() if which == "learner" else spec.params_class()
    except (ImportError, AttributeError) as exc:
        plugin = arena.algorithms.owner(spec.name) if spec.name in arena.algorithms else "?"
        raise ArenaError(
            f"algorithm '{spec.name}' (plugin '{plugin}'): its {which} '{path}' does not import: "
            f"{type(exc).__name__}: {one_line(exc)}; fix the plugin's AlgorithmSpec or install what it needs"
        ) from None


def _check_schedule(arena: Arena, spec: AlgorithmSpec, params: CommonParams) -> None:
    """An on-policy update trains on ``batches x batch_size`` trajectories: collecting more would
    count steps that are never trained on."""
    learner = algorithm_class(arena, spec, "learner")
    used = params.batches * params.batch_size
    synchronous = getattr(learner, "synchronous", False)  # one trajectory from every worker, whatever min_collect says
    if getattr(learner, "on_policy", True) and not synchronous and params.min_collect > used:
        raise ArenaError(
            f"min_collect={params.min_collect} trajectories would arrive per update, but an update of algorithm '{spec.name}' "
            f"trains on batches x batch_size = {used}; set min_collect={used}, or batches={-(-params.min_collect // params.batch_size)}"
        )


def check_device(params: CommonParams) -> None:
    """``--set device=...`` names a device this torch has (checked before anything is written)."""
    name = getattr(params, "device", "auto")
    if name in ("auto", "cpu"):
        return
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ArenaError(f"--set device={name}: not a torch device ({one_line(exc)}); use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ArenaError(
            f"--set device={name}: this torch sees no CUDA GPU (a CPU build, or no GPU visible); use --set device=auto or cpu"
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ArenaError(
            f"--set device={name}: this machine has {torch.cuda.device_count()} CUDA GPUs; use cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )


def _observations(arena: Arena, spec: AlgorithmSpec, env_spec: EnvSpec, options: Any) -> int | tuple[int, ...]:
    """What the algorithm's ``make_model`` gets as ``obs_size``: ``N`` for a flat vector ``(N,)``,
    the shape ``(H, W, C)`` for an image, which only learners with ``images = True`` take."""
    shape = tuple(env_spec.observation_shape(options)) if env_spec.observation_shape else None
    if shape is None or len(shape) not in (1, 3):
        raise ArenaError(
            f"env '{env_spec.name}' with these options gives observations of shape {shape}; training needs a flat vector (N,) "
            "or an image (H, W, C) of uint8 pixels: the env's EnvSpec.observation_shape must return one of them"
        )
    if len(shape) == 1:
        return shape[0]
    if not getattr(algorithm_class(arena, spec, "learner"), "images", False):
        plugin = arena.algorithms.owner(spec.name)
        raise ArenaError(
            f"algorithm '{spec.name}' (plugin '{plugin}') learns from flat observations only, and env '{env_spec.name}' "
            f"with these options gives images of shape {shape}; drop -o obs=pixels, or use an algorithm that takes images "
            "(the built-in ac, rac, dqn, rdqn, a2c and ppo do)"
        )
    return shape


def _check_counts(**given: int | None) -> None:
    lowest = {"steps": 1, "workers": 1, "eval_every": 0, "eval_games": 0, "final_games": 0, "snapshot_every": 1}
    for key, value in given.items():
        if value is not None and value < lowest[key]:
            raise ArenaError(f"--{key.replace('_', '-')} must be at least {lowest[key]}, got {value}")


def _check_enemies(arena: Arena, env_spec: EnvSpec, options: Any, source: str, pool: PoolConfig) -> None:
    """Every enemy plays in this env (one-line errors naming the file and the entry)."""
    from arena.plugins.agents import resolve

    for index, entry in enumerate(pool.entries):
        if entry.spec == "self":
            continue
        try:
            if _looks_like_path(entry.spec) and not os.path.exists(entry.spec):
                raise ArenaError(
                    f"no snapshot at {entry.spec}: the path does not exist (paths are relative to the current folder, {Path.cwd()})"
                )
            resolve(entry.spec, arena.agents, env_spec, options)
        except ArenaError as exc:
            raise ArenaError(f"{_where(source)}, entry {index} ('{entry.label}'): {exc}") from None


def _experiment_name(
    plugin: str, params: Any, env: str, env_spec: EnvSpec, options: Any, source: str, name: str | None, tag: bool
) -> str:
    """``--name``, or the algorithm plus what differs from the defaults (``rac_lr=0.001_env=melee``)."""
    if name is not None:
        if not _NAME_OK.match(name):
            raise ArenaError(
                f"bad --name '{name}': use letters, digits, '-', '_', '=', '.' and '+', starting with a letter or digit"
            )
        return name
    extra = {}
    if env != "pong":
        extra["env"] = env
    if Path(source).name != default_enemies(env_spec):
        extra["enemies"] = Path(source).stem if source.endswith(".json") else source
    exp_name = experiment_name(plugin, params, extra, timing=_timing_names(env_spec, options))
    return exp_name + "_" + secrets.token_hex(3) if tag else exp_name


_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def _looks_like_path(spec: str) -> bool:
    """An enemies entry meant as a file or folder (it names no agent kind)."""
    return "/" in spec or os.sep in spec or spec.endswith(".pt") or spec.startswith(".")


def _apply_cpu_char(source: str, pool: PoolConfig, env_spec: EnvSpec, options: Any, pairs: list[str]) -> Any:
    """phillip's CPU entries name the CPU's character (``{"char": "falcon", "level": 9}``); in
    Arena that is the env's ``cpu_char`` option, so the pool's character becomes the option.
    ``-o cpu_char=...`` naming another character, or a character for an env that has none, is an
    error rather than silently ignored."""
    chars = [(index, entry.char) for index, entry in enumerate(pool.entries) if entry.char is not None]
    if not chars:
        return options
    index, char = chars[0]  # the pool refuses two CPU characters
    if "cpu_char" not in {f.name for f in dataclasses.fields(options)}:
        raise ArenaError(
            f'{_where(source)}, entry {index}: "char": "{char}" names the CPU\'s character, but env '
            f"'{env_spec.name}' has no cpu_char option; drop \"char\""
        )
    given = [pair.partition("=")[2].strip() for pair in pairs if pair.partition("=")[0].strip() == "cpu_char"]
    if given and given[-1] != char:
        raise ArenaError(f"{_where(source)} plays the CPU as '{char}', but -o cpu_char={given[-1]}; drop one of them")
    if options.cpu_char == char:
        return options
    try:
        return env_spec.parse_options([*pairs, f"cpu_char={char}"])
    except ArenaError as exc:
        raise ArenaError(f"{_where(source)}: CPU character '{char}': {exc}") from None


def _where(source: str) -> str:
    return f"enemies file {source}" if source.endswith(".json") else f"enemy pool {source}"


def _stored_timing(stored: dict) -> Timing | None:
    """The timing an experiment was trained at, from its params.json: its env options, or for a
    file without them the parameters act_every/delay once were (default 2 and 0); None if unknown."""
    if isinstance(stored.get("env_options"), dict):
        return timing(stored["env_options"])
    old = stored.get("params", {})
    if isinstance(old, dict) and any(key in old for key in MOVED_TO_ENV):
        return Timing(int(old.get("act_every", 2)), int(old.get("delay", 0)))
    return None


def _check_same_experiment(folder: Path, plugin: str, env: str, params: Any, options: Any) -> None:
    try:
        stored = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if stored.get("algorithm") != plugin or stored.get("env") != env:
        raise ArenaError(
            f"{folder} holds a '{stored.get('algorithm')}' experiment on '{stored.get('env')}'; pick another --name, or --init --force to replace it"
        )
    was, now = _stored_timing(stored), timing(options)
    if was is not None and was != now:
        fix = " ".join(f"-o {key}={value}" for key, value in zip(Timing._fields, was))
        raise ArenaError(
            f"{folder} was trained with {was}, not {now}; resume it with {fix}, pick another --name, or --init --force to start over"
        )
    naming = {f.name for f in dataclasses.fields(params) if f.metadata.get("naming", True)}
    current = to_dict(params)
    trained = with_absent(type(params), stored.get("params", {}))
    differ = [k for k in sorted(naming) if k in trained and trained[k] != current[k]]
    if differ:
        was = ", ".join(f"{k}={written(trained[k])}" for k in differ)
        now = ", ".join(f"{k}={written(current[k])}" for k in differ)
        sets = " ".join(f"--set {k}={written(trained[k])}" for k in differ)
        raise ArenaError(
            f"{folder} was trained with {was}, not {now}; resume it with --name {folder.name} {sets}, pick another --name, or --init --force to start over"
        )
