"""Learning Airstriker from pixels, on held-out seeds: Arena's a2c beside SB3's A2C, over a random agent.

The question: does ``arena train --plugin a2c --env airstriker`` learn from pixels, i.e. does its
score rise well above a random agent's within a stated frame budget, and how does it compare with
Stable-Baselines3's A2C (``CnnPolicy``) on the same game, observations, rewards and budget?

Every reported figure comes from TRAINING seeds no tuning has used, evaluated on TEST game seeds no
tuning has seen (the seed roles are bench/train_pong.py's, imported from it: training seeds 101,
102, ... for reported runs, 0-100 for tuning, test games from 500,000, the trainer's validation
games from 1,000,000; ``--validation`` runs the same protocol on the tuning seeds and labels it
so). No training game gets a test seed: worker W of training seed S plays game seeds
(S * 7919 + W) * 1,000,003 + game, as Arena's rollout workers do, for both configurations.

The env is Arena's ``airstriker`` (Genesis, ships with stable-retro) played alone: the first seat's
turn only (``reset(options={"alone": True})``), as ``arena train`` trains it. Observations are the
Sonic course's 96x96 grayscale screens in a stack of 4 (uint8), 7 actions held 4 frames each
(``act_every``), reward the game score's change x 0.01 (only new progress pays), a turn cut at
18,000 frames (5 minutes), 0-30 no-op frames at the start drawn from the game seed, no sticky
actions. ``-o KEY=VALUE`` changes these for every configuration alike.

Configurations:

* ``a2c``: ``arena train --plugin a2c --env airstriker`` through the library (``plan_training`` +
  ``run_training``), the course's defaults (2,048 steps per worker per update, RMSprop 2e-4, the
  Nature encoder under a 512-unit layer) plus ``--set seed=S``, ``--workers`` rollout workers
  (default 2: an update is 2 x 2,048 steps, 16,384 frames), no evaluation rounds during training;
* ``sb3-a2c``: Stable-Baselines3 ``A2C("CnnPolicy")`` with RL Baselines3 Zoo's published Atari
  settings (its ``hyperparams/a2c.yml``: entropy bonus 0.01, value coefficient 0.25, the TF-style
  RMSprop ``RMSpropTFLike`` with eps 1e-5; SB3's defaults otherwise: 5 steps per env per update,
  learning rate 7e-4; its NatureCNN on the same 96x96x4 screens, which it scales by 1/255) on a gymnasium wrapper over the same env in the same alone mode, ``--workers``
  envs in spawned processes (``SubprocVecEnv``; one env: in this process). Needs
  ``pip install -e ".[bench]"``; skipped, saying so, without it;
* ``a2c-adam``: ``a2c`` with ``--set experience_length=256 --set optimizer=adam --set sweeps=1
  --set advantage_norm=true`` (256-step trajectories, Adam at the course's 2e-4, one plain step per
  minibatch, advantages normalised per minibatch), chosen on validation seed 0 (``ARENA_CONFIGS``);
* ``ppo``: ``arena train --plugin ppo --env airstriker`` the same way, its defaults and the same
  Nature encoder;
* ``random``: the uniform-random agent (Arena's ``random``), no training: the baseline. It plays
  each test game seed 3 times (``RANDOM_REPEATS``, different action draws), so its mean is over
  3 x G games.

At every ``--eval-every`` frames (and at the budget) the snapshot nearest that frame count (Arena:
one per update, so within 8k frames of the mark; SB3: saved as training passes the mark) plays
``--games`` games alone on the test game seeds, stochastically (the policy as trained), and each
game's score (the game's own points) is recorded. Per configuration and mark the tables show the
mean over training seeds of each seed's mean score, its 95% t-interval across seeds, the ratio to
the random agent's mean score, and each seed's value.

**Well above random** at a mark means: the mean across training seeds is at least twice the random
agent's mean, and the 95% interval's lower end is above the random agent's mean (so seed noise
does not explain it; with a single training seed there is no interval and the criterion is never
met). The summary line per configuration gives the first mark well above random, the mark from
which it stays well above random to the budget, the first mark whose mean exceeds 2x random, and
the final mean as a multiple of random's.

Results: ``bench/results/train_airstriker.json`` (everything), ``bench/results/train_airstriker.svg``
(the curves: each configuration's mean with its interval as a band, each seed thinly, random's
mean and twice it as lines); each run also has its own JSON under
``bench/results/train_airstriker/PROTOCOL/`` (and the Arena experiments in its ``experiments/``)
so ``--resume`` skips finished runs (and resumes an interrupted Arena run from its newest snapshot).

Usage::

    python bench/train_airstriker.py --resume              # the full benchmark (600k frames, 3 seeds each), in pieces
    python bench/train_airstriker.py --report              # the tables of the runs finished so far
    python bench/train_airstriker.py --algos a2c-adam,sb3-a2c --seeds 101 --frames 200000 --eval-every 100000 --games 4
    python bench/train_airstriker.py --smoke               # every path, tiny: about two minutes

How long, on 2 cores, 2 workers (2026-12-05; with other jobs on the cores, so on the slow side):
training runs at 480-800 frames/s for ``a2c``, 860 for ``a2c-adam``, 520-700 for ``ppo`` and
460-550 for ``sb3-a2c`` (its learner on one torch thread as Arena's is: with torch's default of
two it made 35 frames/s), so 12-20 minutes a run of 600k frames. Test games add under a minute a
run (a random agent's game lasts about 1,600 frames, a trained agent's up to 18,000, at
1,000-1,500 frames/s per worker). The full benchmark (4 configurations x 3 seeds, 3 marks x 10
games a run, 30 random games) is about 3-3.5 h; ``--resume`` lets it run in pieces. ``--smoke``
takes about two minutes.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # bench/ is no package: its scripts import one another by name

import train_pong as pong  # noqa: E402  the learning bench's seed roles, statistics and helpers
from train_pong import (  # noqa: E402
    SEED_ROLES,
    interval,
    nearest,
    sb3_available,
    train_game_seed,
)

RESULTS = HERE / "results"
BENCH = "train_airstriker"
ENV = "airstriker"
SEAT = "first"  # played alone: the first seat's turn

# Configurations and how many training seeds each gets by default; random is the baseline, always
# played, never trained.
SEEDS_PER_CONFIG = {"a2c": 3, "a2c-adam": 3, "ppo": 3, "sb3-a2c": 3}
# A configuration named here is an Arena algorithm with settings of its own (before --set's); any
# other Arena configuration is the algorithm at its defaults.
ARENA_CONFIGS = {
    # a2c, one plain step per minibatch with Adam: chosen on validation seed 0 (bench/README.md)
    "a2c-adam": ("a2c", ("experience_length=256", "optimizer=adam", "sweeps=1", "advantage_norm=true")),
}
SB3 = "sb3-a2c"
RANDOM = "random"
RANDOM_REPEATS = 3  # the random agent plays each test game seed this many times (other action draws)
DEFAULT_WORKERS = 2
SNAPSHOTS_PER_MARK = 10  # Arena's snapshot spacing: eval_every / 10, or every update if that is longer
WELL_ABOVE_FACTOR = 2.0  # "well above random": mean >= 2x random's mean, and the interval's lower end above it
SMOKE_SETS = ("experience_length=128",)  # an a2c update of 512 frames instead of 8,192 per worker


def marks_for(frames: int, eval_every: int) -> list[int]:
    """The frame counts at which snapshots are evaluated: every ``eval_every``, and the budget."""
    return sorted(set(range(eval_every, frames + 1, eval_every)) | {frames})


# -- statistics ---------------------------------------------------------------------------------


def ratio(value: float | None, reference: float | None) -> float | None:
    """``value / reference`` (a score as a multiple of random's); None without both or a zero reference."""
    if value is None or not reference:
        return None
    return value / reference


def well_above(mean: float | None, ci95: tuple[float, float] | None, random_mean: float) -> bool:
    """The criterion: mean at least ``WELL_ABOVE_FACTOR`` x random's mean and the interval's lower
    end above random's mean (no interval, i.e. one seed: never)."""
    return mean is not None and ci95 is not None and mean >= WELL_ABOVE_FACTOR * random_mean and ci95[0] > random_mean


def first_and_from(flags: list[tuple[int, bool]]) -> tuple[int | None, int | None]:
    """The first mark flagged, and the mark from which every mark up to the last is flagged."""
    first = next((mark for mark, flag in flags if flag), None)
    start = None
    for mark, flag in flags:
        start = (mark if start is None else start) if flag else None
    return first, start


def random_summary(run: dict) -> dict:
    """The random agent's mean score over all its games and the 95% interval across games."""
    scores = [score for _, _, score, _ in run["games"]]
    mean, ci = interval(scores)
    return {"mean": mean, "ci95": ci, "games": len(scores), "frames": sum(f for *_, f in run["games"])}


def summarize(config: str, runs: list[dict], marks: list[int], random_mean: float | None) -> dict:
    rows = pong.aggregate(runs, marks)  # per mark: each seed's mean score, their mean and interval
    for row in rows:
        row["x_random"] = ratio(row["mean"], random_mean)
        row["well_above"] = random_mean is not None and well_above(row["mean"], row["ci95"], random_mean)
    first_well, well_from = first_and_from([(r["mark"], r["well_above"]) for r in rows])
    twice = None if random_mean is None else WELL_ABOVE_FACTOR * random_mean
    trained = sum(r["frames"] for r in runs)
    seconds = sum(r["train_s"] for r in runs)
    return {
        "config": config,
        "seeds": [r["seed"] for r in runs],
        "rows": rows,
        "well_above_first": first_well,
        "well_above_from": well_from,
        "mean_above_2x": None if twice is None else pong.first_above([(r["mark"], r["mean"]) for r in rows], twice),
        "seed_above_2x": {
            r["seed"]: None if twice is None else pong.first_above([(e["mark"], e["mean"]) for e in r["evals"]], twice)
            for r in runs
        },
        "fps": trained / seconds if seconds else None,
        "mixed_params": len({json.dumps(pong._without_seed(r.get("params")), sort_keys=True) for r in runs}) > 1,
    }


# -- test games: any agent alone, in a pool of worker processes --------------------------------------


def game_seeds(args) -> list[int]:
    return [args.game_seed0 + g for g in range(args.games)]


def policy_seed(game_seed: int, repeat: int = 0) -> int:
    """The seed of a player's action draws in a test game: Arena's (``agent_seed`` of the first
    seat), plus ``repeat`` for the random agent's extra draws on the same game."""
    from arena.games.play import agent_seed

    return agent_seed(game_seed, 0) + repeat


_WORKER: dict = {}


def play_alone(kind: str, what: str, pairs: tuple[str, ...], seed: int, draws: int) -> tuple[int, int, int, int]:
    """One test game played alone: ``kind`` "arena" plays an agent spec (a snapshot path,
    ``random``), "sb3" a saved SB3 model. Returns (game seed, draws seed, score, frames). The
    process keeps one emulator (stable-retro allows one) and the last player it built."""
    import torch

    from arena.plugins.agents import resolve
    from arena.plugins.manager import get_arena

    torch.set_num_threads(1)
    arena = get_arena()
    spec = arena.envs.get(ENV)
    options = spec.parse_options(list(pairs))
    if _WORKER.get("pairs") != pairs:
        close_worker()
        _WORKER["env"], _WORKER["pairs"] = spec.make(options, None), pairs
    if _WORKER.get("player") != (kind, what):
        if kind == "sb3":
            from stable_baselines3 import A2C

            model = A2C.load(what, device="cpu")
            _WORKER["act"] = lambda obs: int(model.predict(obs, deterministic=False)[0])  # the policy as trained
            _WORKER["reset"] = torch.manual_seed
        else:
            agent = resolve(what, arena.agents, spec, options)
            _WORKER["act"], _WORKER["reset"] = agent.act, agent.reset
        _WORKER["player"] = (kind, what)
    env, act = _WORKER["env"], _WORKER["act"]
    _WORKER["reset"](draws)
    observations, _ = env.reset(seed=seed, options={"alone": True})
    while env.agents:
        observations, *_ = env.step({SEAT: act(observations[SEAT])})
    return seed, draws, env.scores()[SEAT], env.frames


def close_worker() -> None:
    if "env" in _WORKER:
        _WORKER.pop("env").close()
    _WORKER.clear()


def play_games(jobs: list[tuple], workers: int) -> list[tuple[int, int, int, int]]:
    """Every job's game: in this process with one worker, else in spawned processes."""
    if workers <= 1 or len(jobs) <= 1:
        try:
            return [play_alone(*job) for job in jobs]
        finally:
            close_worker()
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # The workers find the game by this script's name, however this process loaded it (as __main__, or from a test).
    from train_airstriker import play_alone as game

    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(game, *zip(*jobs)))


def eval_row(mark: int, frames: int, snapshot: str, games: list[tuple[int, int, int, int]]) -> dict:
    games = sorted(games)
    scores = [score for _, _, score, _ in games]
    return {
        "mark": mark,
        "frames": frames,
        "snapshot": snapshot,
        "seeds": [s for s, *_ in games],
        "scores": scores,
        "games": len(scores),
        "mean": sum(scores) / len(scores) if scores else None,
        "game_frames": sum(f for *_, f in games),
    }


def evaluate(kind: str, chosen: dict[int, tuple[int, Path]], args) -> list[dict]:
    """The chosen snapshot of every mark plays G games alone on the test seeds, in one pool."""
    pairs = tuple(args.options)
    paths = {str(path) for _, path in chosen.values()}
    jobs = [(kind, path, pairs, seed, policy_seed(seed)) for path in sorted(paths) for seed in game_seeds(args)]
    games: dict[str, list] = {path: [] for path in paths}
    for job, result in zip(jobs, play_games(jobs, args.workers)):
        games[job[1]].append(result)
    return [eval_row(mark, frames, str(path), games[str(path)]) for mark, (frames, path) in sorted(chosen.items())]


def run_random(args, protocol: Path) -> dict:
    """The baseline: the random agent on the same test seeds, ``RANDOM_REPEATS`` draws each."""
    path = protocol / f"{RANDOM}.json"
    if (args.resume or args.report) and path.exists():
        print(f"{RANDOM}: done ({path.name}), skipped")
        return json.loads(path.read_text())
    if args.report:
        print(f"{RANDOM}: not run yet")
        return {"config": RANDOM, "games": []}
    started = time.perf_counter()
    pairs = tuple(args.options)
    jobs = [("arena", RANDOM, pairs, seed, policy_seed(seed, r)) for seed in game_seeds(args) for r in range(RANDOM_REPEATS)]
    run = {
        "config": RANDOM,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": RANDOM_REPEATS,
        "games": sorted(play_games(jobs, args.workers)),  # (game seed, draws seed, score, frames)
        "eval_s": time.perf_counter() - started,
    }
    path.write_text(json.dumps(run, indent=1))
    summary = random_summary(run)
    print(f"{RANDOM}: {summary['games']} games, mean score {summary['mean']:.1f} ({run['eval_s']:.0f} s)", flush=True)
    return run


# -- Arena's algorithms -----------------------------------------------------------------------------


def train_arena(config: str, seed: int, args, protocol: Path) -> dict:
    from arena.training.curves import load_metrics
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    pong._set_data_dirs(protocol)  # experiments, leaderboards and match logs stay in the results folder
    plugin, own_sets = ARENA_CONFIGS.get(config, (config, ()))
    common = {
        "env": ENV,
        "enemies": None,  # a one-player game's default: nobody to play (solo.json)
        "sets": [f"seed={seed}", *own_sets, *args.sets],
        "env_pairs": list(args.options),
        "workers": args.workers,
        "eval_every": 0,  # no evaluation rounds: the bench plays its own test games, as for SB3
        "name": f"{config}-s{seed}",
        "init": not args.resume,
        "force": not args.resume,
    }
    probe = plan_training(plugin, steps=1, **common)
    act_every = probe.timing.act_every
    synchronous = getattr(probe.algorithm.learner_class(), "synchronous", False)  # a2c: a trajectory from every worker
    per_update = (args.workers if synchronous else probe.params.min_collect) * probe.params.experience_length * act_every
    snapshot_every = max(1, round(args.eval_every / SNAPSHOTS_PER_MARK / per_update))
    plan = plan_training(plugin, steps=args.frames // act_every, snapshot_every=snapshot_every, **common)
    last = [time.perf_counter()]

    def show(p):
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            score = f"{p.score:,.0f}" if p.score is not None else "-"
            print(f"  {config} s{seed}: {p.frames:>9,} frames  {p.fps:,.0f} frames/s  recent training score {score}", flush=True)

    result = run_training(plan, on_progress=show)
    metrics = load_metrics(plan.folder / "metrics.jsonl")
    frames_at = {0: 0, **{row["steps"]: row["frames"] for row in metrics}}
    snapshots = sorted(p for p in plan.folder.glob("snapshots/*.pt") if p.stem.isdigit())
    # A snapshot is named by its agent steps; the metrics say how many frames that was.
    found = [(frames_at.get(int(p.stem), int(p.stem) * act_every), p) for p in snapshots]
    return {
        "frames": metrics[-1]["frames"] if metrics else result.frames,
        "train_s": metrics[-1]["wall_s"] if metrics else result.wall_s,  # cumulative over resumes
        "act_every": act_every,
        "resumed_from": str(result.resumed_from) if result.resumed_from else None,
        "params": json.loads((plan.folder / "params.json").read_text())["params"],
        "curve": pong._thin([(r["frames"], r["score"]) for r in metrics if r.get("score") is not None]),
        "snapshots": found,
        "folder": plan.folder,
    }


# -- Stable-Baselines3 A2C ----------------------------------------------------------------------


def airstriker_alone(pairs: tuple[str, ...] = (), train_seed: int | None = None, worker: int = 0):
    """Arena's ``airstriker`` played alone as a gymnasium env: the same observations, actions,
    reward and options. The class is made here, not at module level, so SubprocVecEnv's workers get
    it by value (this script is no package). With ``train_seed`` its games are seeded like an Arena
    rollout worker's; without it, by the caller's ``reset(seed=...)``."""
    import gymnasium as gym

    from arena.plugins.manager import get_arena

    class AirstrikerAlone(gym.Env):
        def __init__(self):
            spec = get_arena().envs.get(ENV)
            self.env = spec.make(spec.parse_options(list(pairs)), None)
            self.observation_space = self.env.observation_space(SEAT)
            self.action_space = self.env.action_space(SEAT)
            self.games = 0
            self.frames = 0

        def reset(self, *, seed=None, options=None):
            self.games += 1
            if train_seed is not None:
                seed = train_game_seed(train_seed, worker, self.games)
            observations, _ = self.env.reset(seed=seed, options={"alone": True})
            self.frames += self.env.frames
            return observations[SEAT], {}

        def step(self, action):
            before = self.env.frames
            observations, rewards, terminated, truncated, _ = self.env.step({SEAT: int(action)})
            self.frames += self.env.frames - before
            info = {"frames": self.frames}
            if terminated[SEAT] or truncated[SEAT]:
                info["score"] = self.env.scores()[SEAT]  # the game's points, not the scaled reward
            return observations[SEAT], rewards[SEAT], terminated[SEAT], truncated[SEAT], info

        def close(self):
            self.env.close()

    return AirstrikerAlone()


def train_sb3(seed: int, args, protocol: Path) -> dict:
    from stable_baselines3 import A2C
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from arena.plugins.manager import get_arena

    act_every = get_arena().envs.get(ENV).parse_options(list(args.options)).act_every
    folder = protocol / "sb3" / f"{SB3}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    makers = [functools.partial(airstriker_alone, tuple(args.options), seed, w) for w in range(args.workers)]
    # One env plays in this process (as Arena's trainer does with one worker); more are spawned processes.
    vec = DummyVecEnv(makers) if args.workers == 1 else SubprocVecEnv(makers, start_method="spawn")
    marks = marks_for(args.frames, args.eval_every)
    saved, frames_seen, curve, recent = [], [0] * args.workers, [], []
    last = [time.perf_counter(), time.perf_counter()]

    class Marks(BaseCallback):
        """Saves the model as the frames played pass each mark (one step of every env past it at
        most), keeps the training curve (the mean score of the last 20 games) and shows progress."""

        def _on_step(self) -> bool:
            for i, info in enumerate(self.locals["infos"]):
                frames_seen[i] = info["frames"]
                if "score" in info:
                    recent.append(info["score"])
                    del recent[:-20]
                    curve.append((sum(frames_seen), sum(recent) / len(recent)))
            total = sum(frames_seen)
            while len(saved) < len(marks) - 1 and total >= marks[len(saved)]:
                path = folder / f"{total:012d}.zip"
                self.model.save(path)
                saved.append((total, path))
            if time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                score = f"{curve[-1][1]:,.0f}" if curve else "-"
                fps = total / (last[0] - last[1])
                print(f"  {SB3} s{seed}: {total:>9,} frames  {fps:,.0f} frames/s  recent training score {score}", flush=True)
            return True

    import torch

    # Arena's trainer's rule for its learner's threads (arena.training.run): torch's default of one
    # per core, beside the env processes, made SB3 25 times slower on 2 cores (35 frames/s, not 860).
    cores = os.cpu_count() or 1
    torch.set_num_threads(1 if args.workers >= cores else cores - args.workers)
    # RL Baselines3 Zoo's Atari settings for A2C (hyperparams/a2c.yml), chosen there, not here. At
    # SB3's bare defaults (no entropy bonus, torch's RMSprop) it fell to half of random's score.
    model = A2C(
        "CnnPolicy",
        vec,
        ent_coef=0.01,
        vf_coef=0.25,
        policy_kwargs={"optimizer_class": RMSpropTFLike, "optimizer_kwargs": {"eps": 1e-5}},
        verbose=0,
        device="cpu",
        seed=seed,
    )
    started = time.perf_counter()
    last[1] = started
    model.learn(total_timesteps=args.frames // act_every, callback=Marks())
    wall = time.perf_counter() - started
    frames = sum(vec.get_attr("frames"))
    vec.close()
    final = folder / f"{frames:012d}.zip"
    model.save(final)
    saved.append((frames, final))  # the budget's mark: the trained model
    return {
        "frames": frames,
        "train_s": wall,
        "act_every": act_every,
        "params": {"policy": "CnnPolicy", "n_envs": args.workers, "seed": seed, **_sb3_params(model)},
        "curve": pong._thin(curve),
        "snapshots": saved,
        "folder": folder,
    }


def _sb3_params(model) -> dict:
    return {
        "n_steps": model.n_steps,
        "learning_rate": model.learning_rate,
        "gamma": model.gamma,
        "gae_lambda": model.gae_lambda,
        "ent_coef": model.ent_coef,
        "vf_coef": model.vf_coef,
        "max_grad_norm": model.max_grad_norm,
        "optimizer": type(model.policy.optimizer).__name__,
    }


# -- one run ------------------------------------------------------------------------------------


def run_one(config: str, seed: int, args, protocol: Path) -> dict:
    marks = marks_for(args.frames, args.eval_every)
    print(f"{config}, training seed {seed}: {args.frames:,} frames, {args.workers} worker(s)", flush=True)
    trained = train_sb3(seed, args, protocol) if config == SB3 else train_arena(config, seed, args, protocol)
    chosen = nearest(trained["snapshots"], marks)
    started = time.perf_counter()
    evals = evaluate("sb3" if config == SB3 else "arena", chosen, args)
    run = {
        "config": config,
        "seed": seed,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames_budget": args.frames,
        "frames": trained["frames"],
        "train_s": trained["train_s"],
        "fps": trained["frames"] / trained["train_s"] if trained["train_s"] else None,
        "act_every": trained["act_every"],
        "workers": args.workers,
        "eval_s": time.perf_counter() - started,
        "evals": evals,
        "curve": trained["curve"],
        **{k: trained[k] for k in ("params", "resumed_from") if k in trained},
    }
    (protocol / f"{config}-s{seed}.json").write_text(json.dumps(run, indent=1, default=str))
    if config != SB3 and not args.keep_snapshots:
        pong.prune(trained["folder"], {p for _, p in chosen.values()})
    shown = ", ".join(f"{_m(e['mark'])} {e['mean']:.0f}" for e in evals if e["mean"] is not None)
    print(
        f"  {config} s{seed}: {run['frames']:,} frames in {run['train_s']:.0f} s ({run['fps']:,.0f} frames/s),"
        f" evaluated in {run['eval_s']:.0f} s: {shown}",
        flush=True,
    )
    return run


# -- tables, plot, JSON --------------------------------------------------------------------------


_m = pong._m


def _ci(ci) -> str:
    return f"[{ci[0]:.0f}, {ci[1]:.0f}]" if ci else "-"


def _x(value: float | None) -> str:
    return f"x{value:.2f}" if value is not None else "-"


def cell(row: dict | None) -> str:
    """One table cell: mean, interval, multiple of random's mean."""
    if row is None or row["mean"] is None:
        return "-"
    return " ".join(part for part in (f"{row['mean']:.0f}", _ci(row["ci95"]) if row["ci95"] else "", _x(row["x_random"])) if part)


def print_table(summaries: list[dict], baseline: dict, marks: list[int], width: int = 26) -> None:
    """Frames x configurations: each cell the mean over seeds, its 95% interval, x random."""
    names = [f"{s['config']} ({len(s['seeds'])} seeds)" for s in summaries]
    header = f"{'frames':>10} | " + " | ".join(f"{name:>{width}}" for name in names)
    header += f" | {RANDOM:>{width}}"
    print(header)
    print("-" * len(header))
    rand = f"{baseline['mean']:.0f} {_ci(baseline['ci95'])}" if baseline["mean"] is not None else "-"
    for mark in marks:
        cells = [cell(next((r for r in s["rows"] if r["mark"] == mark), None)) for s in summaries]
        print(f"{mark:>10,} | " + " | ".join(f"{c:>{width}}" for c in cells) + f" | {rand:>{width}}")


def print_config(summary: dict) -> None:
    seeds = summary["seeds"]
    print(f"\n{summary['config']}: training seeds {', '.join(map(str, seeds))}")
    header = f"{'frames':>10} {'mean':>7} {'95% CI across seeds':>20} {'x random':>8} {'well':>4}  " + " ".join(
        f"{s:>6}" for s in seeds
    )
    print(header)
    print("-" * len(header))
    for row in summary["rows"]:
        mean = f"{row['mean']:7.0f}" if row["mean"] is not None else f"{'-':>7}"
        cells = " ".join(f"{row['per_seed'][s]:6.0f}" if s in row["per_seed"] else f"{'-':>6}" for s in seeds)
        well = "yes" if row["well_above"] else ""
        print(f"{row['mark']:>10,} {mean} {_ci(row['ci95']):>20} {_x(row['x_random']):>8} {well:>4}  {cells}")
    if summary["mixed_params"]:
        print("warning: these runs trained with different parameters (defaults changed between pieces?); see each run's JSON")


def summary_line(summary: dict, budget: int) -> str:
    final = summary["rows"][-1] if summary["rows"] else {"mean": None}
    fps = f"{summary['fps']:,.0f}" if summary["fps"] else "-"
    mean = f"{cell(final)} random" if final["mean"] is not None else "-"
    return (
        f"{summary['config']}: well above random first at {_m(summary['well_above_first'])}, from {_m(summary['well_above_from'])} on;"
        f" mean > 2x random first at {_m(summary['mean_above_2x'])}; at {_m(budget)}: {mean}; {len(summary['seeds'])} seeds;"
        f" training {fps} frames/s"
    )


def plot(summaries: list[dict], baseline: dict, path: Path, title: str) -> None:
    from arena.plotting import INK, MUTED, colours, figure, short_number_formatter, write_svg

    with figure(560, 340) as fig:
        ax = fig.subplots()
        for colour, s in zip(colours(len(summaries)), summaries):
            for seed in s["seeds"]:
                pts = [(r["mark"], r["per_seed"][seed]) for r in s["rows"] if seed in r["per_seed"]]
                if pts:
                    ax.plot(*zip(*pts), color=colour, linewidth=0.8, alpha=0.4, marker=".", markersize=3)
            pts = [(r["mark"], r["mean"], r["ci95"]) for r in s["rows"] if r["mean"] is not None]
            if pts:
                label = f"{s['config']} (mean of {len(s['seeds'])} seeds; band: 95% interval)"
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, linewidth=2.0, label=label)
                band = [p for p in pts if p[2]]
                if band:
                    ax.fill_between(
                        [p[0] for p in band],
                        [p[2][0] for p in band],
                        [p[2][1] for p in band],
                        color=colour,
                        alpha=0.15,
                        linewidth=0,
                    )
        if baseline["mean"] is not None:
            ax.axhline(baseline["mean"], color=INK, linewidth=1.0, linestyle="--", label=f"random ({baseline['games']} games)")
            ax.axhline(WELL_ABOVE_FACTOR * baseline["mean"], color=MUTED, linewidth=0.8, linestyle=":", label="2x random")
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_formatter(short_number_formatter())
        ax.set_xlabel("training frames")
        ax.set_ylabel("game score (test games, played alone)")
        ax.legend(loc="upper left", fontsize=7)
        write_svg(fig, path, title)


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv):
    parser = pong.protocol_parser(
        __doc__, SEEDS_PER_CONFIG, frames=600_000, eval_every=200_000, workers=None,
        workers_help=f"rollout workers, SB3 envs and test-game processes [{DEFAULT_WORKERS}]",
        smoke_help="every path at a tiny budget (turns cut at 300 frames)",
        option_help="airstriker option, for every configuration (training and test games)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:
        args.frames, args.eval_every, args.games = 4096, 2048, 1
        args.workers = args.workers or 1
        args.options = [*args.options, "max_frames=300"]
        args.sets = [*SMOKE_SETS, *args.sets]
        args.n_seeds = args.n_seeds or 1
    args.workers = args.workers or DEFAULT_WORKERS
    if args.frames < 1 or args.eval_every < 1 or args.games < 1 or args.workers < 1:
        parser.error("--frames, --eval-every, --games and --workers must be at least 1")
    configs = [c for c in (args.algos.split(",") if args.algos else SEEDS_PER_CONFIG) if c != RANDOM]  # random: always
    unknown = [c for c in configs if c not in SEEDS_PER_CONFIG]
    if unknown:
        choices = ", ".join([*SEEDS_PER_CONFIG, RANDOM])
        parser.error(f"unknown configuration(s) {', '.join(unknown)}; choose from {choices}")
    pong.plan_seeds(args, configs, SEEDS_PER_CONFIG)
    return args


def protocol_name(args) -> str:
    """The results folder of one protocol: budget, marks, games, workers (a2c's batch), options and
    Arena parameters (runs with other settings never share, or overwrite, an experiment)."""
    name = f"{'validation_' if args.validation else ''}f{args.frames}_e{args.eval_every}_g{args.games}"
    if args.workers != DEFAULT_WORKERS:
        name += f"_w{args.workers}"
    return name + "".join(f"_{o.replace('=', '')}" for o in (*args.options, *args.sets))


def main(argv=None) -> None:
    args = parse_args(argv)
    kind = "validation" if args.validation else "smoke" if args.smoke else "held-out"
    name = protocol_name(args)
    protocol = RESULTS / BENCH / name
    protocol.mkdir(parents=True, exist_ok=True)
    if SB3 in args.plan and not sb3_available():
        print(f"{SB3}: skipped, stable-baselines3 is not installed (pip install -e '.[bench]')")
        del args.plan[SB3]
    marks = marks_for(args.frames, args.eval_every)
    random_run = run_random(args, protocol)
    baseline = random_summary(random_run)
    runs, failed = pong.gather_runs(args, protocol, run_one)

    label = {"held-out": "", "validation": " (VALIDATION seeds: for tuning, not a reported result)", "smoke": " (smoke)"}[kind]
    seeds = game_seeds(args)
    print(
        f"\nAirstriker from pixels, played alone: mean game score of evaluated snapshots{label};"
        f" {args.games} games each on game seeds {seeds[0]:,}-{seeds[-1]:,}; random: {baseline['games']} games on the same seeds"
    )
    summaries = [summarize(config, config_runs, marks, baseline["mean"]) for config, config_runs in runs.items()]
    if not summaries:
        print(f"no finished runs: nothing to tabulate (failed: {', '.join(failed) or 'none'})", file=sys.stderr)
        sys.exit(1)
    print_table(summaries, baseline, marks)
    for summary in summaries:
        print_config(summary)
    print(
        f"\nwell above random: mean over seeds >= {WELL_ABOVE_FACTOR:g}x random's mean and the 95% interval's lower end above random's mean"
    )
    rand = f"{baseline['mean']:.1f} {_ci(baseline['ci95'])}" if baseline["mean"] is not None else "not played yet"
    print(f"{RANDOM}: mean score {rand} over {baseline['games']} games")
    for summary in summaries:
        print(summary_line(summary, args.frames))
    stem = BENCH if kind == "held-out" else f"{BENCH}_{kind}"
    plot(summaries, baseline, RESULTS / f"{stem}.svg", f"Airstriker from pixels: test scores of evaluated snapshots{label}")
    print(f"\ncurves: {RESULTS / f'{stem}.svg'}")
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "env": ENV,
        "args": {k: v for k, v in vars(args).items() if k != "plan"},
        "seed_roles": {role: [r.start, r.stop - 1] for role, r in SEED_ROLES.items()},
        "protocol": name,
        "marks": marks,
        "criterion": f"mean >= {WELL_ABOVE_FACTOR:g}x random's mean and the 95% interval's lower end above random's mean",
        "random": {**baseline, "run": random_run},
        "summary": summaries,
        "runs": runs,
        "failed": failed,
    }
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=1, default=str))
    print(f"wrote {RESULTS / f'{stem}.json'} (each run: {protocol})")
    if failed:
        print(f"failed runs (left out above; --resume retries them): {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
