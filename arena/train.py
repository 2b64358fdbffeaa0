"""``arena train``: experiments that train an algorithm by self-play against an enemy pool.

:func:`plan_training` checks everything the user gave and decides the experiment's name and
folder without writing anything (``--dry-run`` prints the plan). :func:`run_training` runs it:

* the experiment folder ``experiments/NAME/`` holds ``params.json``, ``snapshots/``,
  ``metrics.jsonl``, TensorBoard event files in ``tb/`` and ``logs/``;
* rollout workers (:mod:`arena.rollout`) play against opponents drawn from the pool and send
  trajectories; the learner updates, broadcasts new weights and the opponent distribution;
* every ``snapshot_every`` updates a snapshot is written (rerunning the same command resumes from
  the newest); every ``eval_every`` updates the snapshot plays evaluation games against the game's
  own CPU and the pool, recorded in the leaderboard named after the experiment.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from arena.errors import ArenaError, one_line
from arena.params import experiment_name, parse_params, suggest, to_dict, with_absent

EVAL_EVERY_STEPS = 25_600  # agent steps between evaluation rounds when --eval-every is not given
DEFAULT_STEPS = 100_000  # agent steps: 200k frames at act_every=2, a few minutes on 2 cores
DEFAULT_ENEMIES = "default.json"
RECENT_GAMES = 20  # the progress bar's "recent reward" averages this many games


def experiments_dir() -> Path:
    """``$ARENA_EXPERIMENTS``, or ``./experiments``."""
    return Path(os.environ.get("ARENA_EXPERIMENTS") or "experiments")


def enemies_search(path: str) -> Path:
    """An enemies file as given, else in ./enemies, else in the source tree's enemies/
    (``default.json`` and ``enemies/default.json`` both find the shipped file from any folder)."""
    candidate = Path(path)
    if candidate.exists() or candidate.is_absolute():
        return candidate
    shipped = Path(__file__).resolve().parents[1] / "enemies"
    if len(candidate.parts) == 1:
        folders = (Path("enemies"), shipped)
    elif candidate.parts[0] == "enemies" and len(candidate.parts) == 2:
        folders = (shipped,)
    else:
        return candidate
    for folder in folders:
        if (folder / candidate.name).exists():
            return folder / candidate.name
    return candidate


@dataclass(frozen=True)
class TrainPlan:
    algorithm: Any  # AlgorithmSpec
    params: Any
    env: str
    env_options: Any
    enemies: Path
    pool: Any  # arena.pool.PoolConfig
    name: str
    folder: Path
    workers: int
    steps: int
    obs_size: int
    num_actions: int
    fps: float
    resume_from: Path | None
    init: bool
    force: bool
    snapshot_every: int
    eval_every: int
    eval_games: int
    existing_snapshots: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "algorithm": self.algorithm.name,
            "env": self.env,
            "env_options": dataclasses.asdict(self.env_options),
            "enemies": str(self.enemies),
            "sampling": self.pool.sampling,
            "opponents": [(e.label, e.weight) for e in self.pool.entries],
            "workers": self.workers,
            "steps": self.steps,
            "resume_from": str(self.resume_from) if self.resume_from else None,
            "params": to_dict(self.params),
        }


def _env_options(env_spec: Any, params: Any, pairs: list[str]) -> Any:
    # act_every and delay are the agent's (phillip's), and the env carries them out.
    names = {f.name for f in dataclasses.fields(env_spec.options)}
    overrides = {key: getattr(params, key) for key in ("act_every", "delay") if key in names}
    for pair in pairs:
        key = pair.partition("=")[0].strip()
        if key in overrides:
            raise ArenaError(f"'{key}' is a training parameter here: use --set {key}=... instead of the env option")
    return env_spec.parse_options(pairs, **overrides)


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
    snapshot_every: int = 10,
    eval_every: int | None = None,
    eval_games: int = 2,
    arena: Any = None,
) -> TrainPlan:
    """Validate the command and lay out the experiment; writes nothing."""
    from arena.agents import resolve
    from arena.plugins import get_arena
    from arena.pool import load_pool_file
    from arena.snapshot import list_snapshots

    arena = arena or get_arena()
    if plugin not in arena.algorithms:
        raise ArenaError(f"unknown algorithm '{plugin}'{suggest(plugin, arena.algorithms.names())}; installed: {arena.algorithms.choices()}")
    spec = arena.algorithms.get(plugin)
    env_spec = arena.envs.get(env)
    params = parse_params(spec.params_class(), sets, owner=f"algorithm '{plugin}'")
    options = _env_options(env_spec, params, list(env_pairs))
    shape = tuple(env_spec.observation_shape(options)) if env_spec.observation_shape else None
    if shape is None or len(shape) != 1:
        raise ArenaError(f"env '{env}' with these options gives observations of shape {shape}; training needs a flat vector (Pong: drop -o obs=pixels)")
    for label, value, low in (("--steps", steps, 1), ("--workers", workers, 1), ("--eval-every", eval_every, 0), ("--eval-games", eval_games, 0), ("--snapshot-every", snapshot_every, 1)):
        if value is not None and value < low:
            raise ArenaError(f"{label} must be at least {low}, got {value}")

    if eval_every is None:
        # Evaluation rounds at a steady pace in agent steps, whatever an update's size (ac's is 256
        # steps, so every 100 updates; rac's 1,024, so every 25).
        eval_every = max(1, round(EVAL_EVERY_STEPS / (params.min_collect * params.experience_length)))
    enemies_path = enemies_search(enemies or DEFAULT_ENEMIES)
    pool = load_pool_file(enemies_path)
    options = _apply_cpu_char(enemies_path, env_spec, options, list(env_pairs))
    for index, entry in enumerate(pool.entries):
        if entry.spec == "self":
            continue
        try:
            if _looks_like_path(entry.spec) and not os.path.exists(entry.spec):
                raise ArenaError(f"no snapshot at {entry.spec}: the path does not exist (paths are relative to the current folder, {Path.cwd()})")
            resolve(entry.spec, arena.opponents, env_spec, options)
        except ArenaError as exc:
            raise ArenaError(f"enemies file {enemies_path}, entry {index} ('{entry.label}'): {exc}") from None

    extra = {}
    if env != "pong":
        extra["env"] = env
    if enemies_path.name != DEFAULT_ENEMIES:
        extra["enemies"] = enemies_path.stem
    if name is not None:
        if not _NAME_OK.match(name):
            raise ArenaError(f"bad --name '{name}': use letters, digits, '-', '_', '=', '.' and '+', starting with a letter or digit")
        exp_name = name
    else:
        exp_name = experiment_name(plugin, params, extra)
        if tag:
            exp_name += "_" + secrets.token_hex(3)
    folder = experiments_dir() / exp_name
    snapshots = list_snapshots(folder)
    resume_from = None
    if snapshots and init and not force:
        raise ArenaError(f"{folder} already has {len(snapshots)} snapshots; --init would overwrite them: add --force, or drop --init to resume")
    if snapshots and not init:
        resume_from = snapshots[-1]
        _check_same_experiment(folder, plugin, env, params)
    return TrainPlan(
        algorithm=spec,
        params=params,
        env=env,
        env_options=options,
        enemies=enemies_path,
        pool=pool,
        name=exp_name,
        folder=folder,
        workers=workers or max(1, os.cpu_count() or 1),
        steps=steps or DEFAULT_STEPS,
        obs_size=shape[0],
        num_actions=env_spec.num_actions,
        fps=env_spec.fps,
        resume_from=resume_from,
        init=init,
        force=force,
        snapshot_every=snapshot_every,
        eval_every=eval_every,
        eval_games=eval_games,
        existing_snapshots=len(snapshots),
    )


_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")


def _looks_like_path(spec: str) -> bool:
    """An enemies entry meant as a file or folder (it names no agent kind)."""
    return "/" in spec or os.sep in spec or spec.endswith(".pt") or spec.startswith(".")


def _apply_cpu_char(enemies_path: Path, env_spec: Any, options: Any, pairs: list[str]) -> Any:
    """phillip's CPU entries name the CPU's character (``{"char": "falcon", "level": 9}``); in
    Arena that is the env's ``cpu_char`` option, so the file's character becomes the option.
    ``-o cpu_char=...`` naming another character is an error rather than silently ignored."""
    try:
        data = json.loads(enemies_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return options  # load_pool_file has already accepted the file; nothing to add
    entries = data.get("enemies", []) if isinstance(data, dict) else data
    chars = {e["char"] for e in entries if isinstance(e, dict) and "agent" not in e and isinstance(e.get("char"), str)}
    if not chars or "cpu_char" not in {f.name for f in dataclasses.fields(options)}:
        return options  # an env without a CPU character (Pong): the character does not apply
    (char,) = chars  # load_pool_file refuses two CPU characters in one pool
    given = [pair.partition("=")[2].strip() for pair in pairs if pair.partition("=")[0].strip() == "cpu_char"]
    if given and given[-1] != char:
        raise ArenaError(f"enemies file {enemies_path} plays the CPU as '{char}', but -o cpu_char={given[-1]}; drop one of them")
    if getattr(options, "cpu_char") == char:
        return options
    overrides = {k: getattr(options, k) for k in ("act_every", "delay") if hasattr(options, k)}
    try:
        return env_spec.parse_options([*pairs, f"cpu_char={char}"], **overrides)
    except ArenaError as exc:
        raise ArenaError(f"enemies file {enemies_path}: CPU character '{char}': {exc}") from None


def _as_set(value: Any) -> Any:
    """A parameter's value as ``--set`` takes it (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else value


def _check_same_experiment(folder: Path, plugin: str, env: str, params: Any) -> None:
    try:
        stored = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if stored.get("algorithm") != plugin or stored.get("env") != env:
        raise ArenaError(
            f"{folder} holds a '{stored.get('algorithm')}' experiment on '{stored.get('env')}'; pick another --name, or --init --force to replace it"
        )
    naming = {f.name for f in dataclasses.fields(params) if f.metadata.get("naming", True)}
    current = to_dict(params)
    trained = with_absent(type(params), stored.get("params", {}))
    differ = [k for k in sorted(naming) if k in trained and trained[k] != current[k]]
    if differ:
        was = ", ".join(f"{k}={_as_set(trained[k])}" for k in differ)
        now = ", ".join(f"{k}={_as_set(current[k])}" for k in differ)
        sets = " ".join(f"--set {k}={_as_set(trained[k])}" for k in differ)
        raise ArenaError(
            f"{folder} was trained with {was}, not {now}; resume it with --name {folder.name} {sets}, pick another --name, or --init --force to start over"
        )


# -- running ---------------------------------------------------------------------------------------


@dataclass
class Progress:
    """What the learner reports after each update (also the metrics line)."""

    updates: int = 0
    steps: int = 0
    frames: int = 0
    games: int = 0
    wall_s: float = 0.0
    fps: float = 0.0
    reward: float | None = None
    win_rates: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


class Evaluator:
    """Evaluation games in a background process, recorded in the experiment's leaderboard.

    One round at a time: if the previous round is still playing, the new one is skipped (and
    said so) rather than queued, so evaluation never holds training back.
    """

    def __init__(self, plan: TrainPlan, arena: Any, log: Callable[[str], None]):
        self.plan = plan
        self.arena = arena
        self.log = log
        self.thread: threading.Thread | None = None
        self.previous: str | None = None
        self.results: list[dict] = []

    def opponents(self) -> list[str]:
        env_spec = self.arena.envs.get(self.plan.env)
        out = []
        if env_spec.has_cpu:
            level = env_spec.check_cpu_level(None)
            out.append("cpu" if not env_spec.cpu_levels else f"cpu:{level}")
        for entry in self.plan.pool.entries:
            if entry.spec != "self" and entry.spec not in out and not (entry.spec == "cpu" and not env_spec.cpu_levels and "cpu" in out):
                out.append(entry.spec)
        return out

    def submit(self, snapshot: Path, wait: bool = False) -> None:
        if self.plan.eval_games == 0:
            return
        if self.thread is not None and self.thread.is_alive():
            if not wait:
                self.log(f"evaluation of {snapshot.name} skipped: the previous round is still playing")
                return
            self.thread.join()
        me = _display_path(snapshot)
        if me == self.previous:
            return  # this snapshot was evaluated already (the final save rewrote the last evaluated one)
        from arena.snapshot import file_hash

        opponents = self.opponents() + ([self.previous] if self.previous else [])
        self.previous = me
        # The hash makes the games' uids unique per weights: after --init --force the same snapshot
        # paths come back with other weights, and their games must not be dropped as repeats.
        self.thread = threading.Thread(target=self._play, args=(me, opponents, file_hash(snapshot)), daemon=True, name="arena-eval")
        self.thread.start()
        if wait:
            self.thread.join()

    def _play(self, me: str, opponents: list[str], weights: str = "") -> None:
        from arena.match import GamePool, plan_games
        from arena.store import MatchStore

        try:
            store = MatchStore()
            tasks = []
            for opponent in opponents:
                for task in plan_games(self.arena, me, opponent, self.plan.env, self.plan.eval_games, len(tasks), self.plan.env_options):
                    tasks.append(dataclasses.replace(task, index=len(tasks), uid=f"train:{self.plan.name}:{me}@{weights}:{opponent}:{task.index}"))
            log_path = self.plan.folder / "logs" / "eval.jsonl"
            with GamePool(1, self.arena, processes=True) as pool, open(log_path, "a", encoding="utf-8") as log:
                for task in tasks:
                    pool.submit(task)
                while len(pool):
                    record = pool.next_result()
                    record["log_path"] = str(log_path)
                    log.write(json.dumps({k: v for k, v in record.items() if k != "traceback"}) + "\n")
                    log.flush()
                    store.record(self.plan.name, record, uid=record["uid"])
                    self.results.append(record)
                    if record["status"] == "ok":
                        self.log(f"eval {record['a']} {record['score_a']}-{record['score_b']} {record['b']}")
                    else:
                        self.log(f"eval {record['a']} vs {record['b']}: error {record['error']}")
            store.close()
        except Exception as exc:  # evaluation must never take training down
            self.log(f"evaluation failed: {type(exc).__name__}: {one_line(exc)}")

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class Experiment:
    """The folder: parameters, snapshots, metrics and logs."""

    def __init__(self, plan: TrainPlan):
        self.plan = plan
        self.folder = plan.folder
        self.snapshots = self.folder / "snapshots"
        self.metrics_path = self.folder / "metrics.jsonl"
        self.logs = self.folder / "logs"

    def prepare(self) -> None:
        plan = self.plan
        if plan.init and plan.force and self.folder.exists():
            for item in ("snapshots", "metrics.jsonl", "tb", "logs", "curves"):
                target = self.folder / item
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        for folder in (self.snapshots, self.logs, self.folder / "tb"):
            folder.mkdir(parents=True, exist_ok=True)
        for stale in self.snapshots.glob(".*.tmp"):  # a save cut short by kill -9
            stale.unlink(missing_ok=True)
        params_json = {
            "algorithm": plan.algorithm.name,
            "env": plan.env,
            "env_options": dataclasses.asdict(plan.env_options),
            "enemies": str(plan.enemies),
            "params": to_dict(plan.params),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = self.folder / "params.json"
        if not path.exists() or plan.resume_from is None:
            _write_atomic(path, json.dumps(params_json, indent=2) + "\n")

    def meta(self, counters: dict[str, Any]) -> dict[str, Any]:
        plan = self.plan
        return {
            "algorithm": plan.algorithm.name,
            "params": to_dict(plan.params),
            "env": plan.env,
            "env_options": dataclasses.asdict(plan.env_options),
            "obs_size": plan.obs_size,
            "num_actions": plan.num_actions,
            "fps": plan.fps,
            "experiment": plan.name,
            "counters": counters,
        }

    def trim_metrics(self, steps: int) -> None:
        """After a crash, drop metrics lines written after the snapshot we resume from."""
        if not self.metrics_path.exists():
            return
        keep = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by the crash
            if row.get("steps", 0) <= steps:
                keep.append(line)
        _write_atomic(self.metrics_path, "".join(line + "\n" for line in keep))

    def trim_tb(self, steps: int) -> None:
        """Likewise for the TensorBoard events: a file holding steps past the snapshot is
        rewritten without them, so TensorBoard does not draw the lost stretch twice."""
        from arena.tblog import EventWriter, read_events

        for path in sorted((self.folder / "tb").glob("*tfevents*")):
            try:
                events = read_events(path)
            except (OSError, ValueError):
                continue  # a damaged file: TensorBoard skips what it cannot read, and so do we
            if all(event.get("step", 0) <= steps for event in events if "scalars" in event):
                continue
            with EventWriter(path.parent) as writer:
                for event in events:
                    if "scalars" in event and event["step"] <= steps:
                        writer.add_scalars(event["step"], event["scalars"], wall_time=event["wall_time"])
            path.unlink()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class TrainResult:
    name: str
    folder: Path
    steps: int
    frames: int
    updates: int
    games: int
    wall_s: float
    final_snapshot: Path | None
    resumed_from: Path | None
    evaluations: list[dict]


def make_executor(plan: TrainPlan, config: Any):
    from arena.rollout import InlineExecutor, ProcessExecutor

    if plan.workers == 1 and os.environ.get("ARENA_INLINE_ROLLOUT", "1") == "1":
        return InlineExecutor(config)
    # Room for a whole update's trajectories: workers keep playing while the learner takes its
    # gradient steps, instead of stopping after a few (rac's clipped update is 16 steps long).
    return ProcessExecutor(config, plan.workers, queue_size=max(2 * plan.workers, plan.params.min_collect))


def run_training(
    plan: TrainPlan,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    log: Callable[[str], None] | None = None,
    arena: Any = None,
    executor_factory: Callable[[TrainPlan, Any], Any] = make_executor,
) -> TrainResult:
    import torch

    from arena.learner import count_parameters
    from arena.plugins import get_arena
    from arena.pool import EnemyPool
    from arena.rollout import ArenaEnvMaker, WorkerConfig
    from arena.snapshot import list_snapshots, load_snapshot, save_snapshot, snapshot_name
    from arena.tblog import EventWriter

    arena = arena or get_arena()
    experiment = Experiment(plan)
    experiment.prepare()
    log_file = open(experiment.logs / "train.log", "a", encoding="utf-8")

    def say(message: str) -> None:
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        log_file.write(f"{stamp} {message}\n")
        log_file.flush()
        if log is not None:
            log(message)

    learner_cls = plan.algorithm.learner_class()
    learner = learner_cls(plan.params, plan.obs_size, plan.num_actions, plan.fps)
    pool = EnemyPool(plan.pool)
    counters = {"steps": 0, "frames": 0, "games": 0, "wall_s": 0.0}
    if plan.resume_from is not None:
        snapshot = load_snapshot(plan.resume_from)
        learner.load_state_dict(snapshot.learner)
        counters.update({k: snapshot.meta.get("counters", {}).get(k, v) for k, v in counters.items()})
        if snapshot.meta.get("pool"):
            pool.load_state_dict(snapshot.meta["pool"])
        experiment.trim_metrics(counters["steps"])
        experiment.trim_tb(counters["steps"])
        say(f"resumed {plan.name} from {plan.resume_from.name}: {counters['steps']:,} steps, {counters['frames']:,} frames, {learner.updates} updates")
    else:
        say(f"started {plan.name}: {plan.algorithm.name}, {count_parameters(learner.model):,} weights on {learner.device}, {plan.workers} workers")
    torch.set_num_threads(1 if plan.workers >= (os.cpu_count() or 1) else max(1, (os.cpu_count() or 1) - plan.workers))

    def distribution():
        return pool.distribution([str(p) for p in list_snapshots(experiment.snapshots)])

    def save() -> Path:
        meta = experiment.meta(dict(counters, updates=learner.updates))
        meta["pool"] = pool.state_dict()
        return save_snapshot(experiment.snapshots / snapshot_name(counters["steps"]), meta, learner.state_dict())

    config = WorkerConfig(
        learner=plan.algorithm.learner,
        params=plan.params,
        obs_size=plan.obs_size,
        num_actions=plan.num_actions,
        gamma=learner.gamma,
        make_env=ArenaEnvMaker(plan.env, plan.env_options),
        seed=plan.params.seed + learner.updates,  # a resumed run plays new games
        log_dir=str(experiment.logs),
    )
    evaluator = Evaluator(plan, arena, say)
    recent = deque(maxlen=RECENT_GAMES)
    final: Path | None = None
    started = time.perf_counter()
    wall_before = counters["wall_s"]
    if counters["steps"] >= plan.steps:
        say(f"{plan.name} already trained {counters['steps']:,} of {plan.steps:,} steps; pass a larger --steps to go on")
        log_file.close()
        return _result(plan, counters, learner, plan.resume_from, evaluator, wall_before)
    executor = executor_factory(plan, config)
    tb = EventWriter(experiment.folder / "tb")
    try:
        if plan.resume_from is None:
            save()  # step 0: "self" has a past from the start, and a crash before the first snapshot resumes
        executor.start(learner.policy_weights(), learner.updates, distribution())
        with open(experiment.metrics_path, "a", encoding="utf-8") as metrics_file:
            window_start, window_frames = time.perf_counter(), 0
            while counters["steps"] < plan.steps:
                results = executor.gather(learner.wants())
                for result in results:
                    counters["steps"] += result.steps
                    counters["frames"] += result.frames
                    window_frames += result.frames
                    for game in result.games:
                        counters["games"] += 1
                        recent.append(game["reward"])
                        if game.get("outcome") is not None:
                            pool.record(game["enemy"], game["outcome"])
                learner.set_progress(counters["steps"] / plan.steps)
                metrics = learner.update([r.trajectory for r in results])
                metrics["lr"] = learner.optimizer.param_groups[0]["lr"]
                executor.broadcast(learner.policy_weights(), learner.updates, distribution())
                now = time.perf_counter()
                counters["wall_s"] = wall_before + now - started
                fps = window_frames / max(now - window_start, 1e-9)
                window_start, window_frames = now, 0
                progress = Progress(
                    updates=learner.updates,
                    steps=counters["steps"],
                    frames=counters["frames"],
                    games=counters["games"],
                    wall_s=counters["wall_s"],
                    fps=fps,
                    reward=sum(recent) / len(recent) if recent else None,
                    win_rates=pool.win_rates(),
                    metrics=metrics,
                )
                row = {
                    "updates": progress.updates, "steps": progress.steps, "frames": progress.frames, "games": progress.games,
                    "wall_s": round(progress.wall_s, 3), "fps": round(fps, 1), "reward": progress.reward,
                    "lag": learner.updates - 1 - min(r.version for r in results),
                    **{f"win_rate/{label}": rate for label, (rate, _) in progress.win_rates.items()},
                    **{key: round(value, 6) for key, value in metrics.items()},
                }  # fmt: skip
                metrics_file.write(json.dumps(row) + "\n")
                metrics_file.flush()
                tb.add_scalars(progress.steps, {k: v for k, v in row.items() if isinstance(v, (int, float)) and k not in ("steps",)})
                evaluate = bool(plan.eval_every) and learner.updates % plan.eval_every == 0
                if learner.updates % plan.snapshot_every == 0 or evaluate:
                    path = save()
                    if evaluate:
                        evaluator.submit(path)
                if on_progress is not None:
                    on_progress(progress)
        final = save()
        say(f"finished {plan.name}: {counters['steps']:,} steps, {counters['frames']:,} frames, {counters['games']} games; snapshot {final}")
    except ArenaError as exc:
        say(f"stopped: {one_line(exc)}")
        raise
    except KeyboardInterrupt:
        executor.close()
        path = save()
        say(f"interrupted: saved {path}; rerun the same command to resume")
        raise
    finally:
        executor.close()
        tb.close()
    if plan.eval_every and _display_path(final) != evaluator.previous:
        say("final evaluation: " + ", ".join(evaluator.opponents() + ([evaluator.previous] if evaluator.previous else [])))
        evaluator.submit(final, wait=True)
    evaluator.wait()
    try:
        from arena.curves import write_curves

        write_curves(experiment.folder)
    except Exception as exc:  # a plot must never fail a finished run
        say(f"could not draw learning curves: {one_line(exc)}")
    log_file.close()
    return _result(plan, counters, learner, final, evaluator, wall_before)


def _result(plan, counters, learner, final, evaluator, wall_before) -> TrainResult:
    return TrainResult(
        name=plan.name,
        folder=plan.folder,
        steps=counters["steps"],
        frames=counters["frames"],
        updates=learner.updates,
        games=counters["games"],
        wall_s=counters["wall_s"] - wall_before,
        final_snapshot=final,
        resumed_from=plan.resume_from,
        evaluations=list(evaluator.results),
    )
