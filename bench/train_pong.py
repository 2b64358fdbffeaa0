"""Learning Pong against the cartridge's CPU, on held-out seeds: Arena's algorithms beside SB3 PPO.

Every reported figure comes from TRAINING seeds no tuning has used, evaluated on TEST game seeds no
tuning has seen (the seed roles below; ``--validation`` runs the same protocol on the tuning
seeds, for tuning, and labels it so). For each configuration and training seed:

* train to a frame budget (default 2M emulator frames), Pong's right paddle against the built-in
  CPU, 8 RAM features, shaping 0.5 (``pong_potential``, Arena's default). Arena's algorithms run
  through the library (``plan_training`` + ``run_training``, default hyperparameters plus
  ``--set seed=S``), W rollout workers;
* every ``--eval-every`` frames (default 250k, and at 0.7M where the target is set) the snapshot
  nearest that frame count plays G games to 21 against the CPU on the TEST game seeds (Arena's
  match machinery; SB3's saved model on the same seeds through a gymnasium wrapper).

Configurations: ``rac``, ``ppo``, ``dqn``, ``rdqn``, ``a2c`` (``--enemies enemies/cpu.json``, no
evaluation rounds during training); ``default``, the README's main job (``arena train --plugin
rac``: ``enemies/default.json``, self-play plus the CPU, evaluation rounds on, so its frames/s is
what a user gets); ``sb3-ppo``, Stable-Baselines3 PPO in the strong configuration of the retro
reference (n_steps 256, batch 256, 4 epochs, lr 2.5e-4, entropy 0.01, gamma 0.99, GAE 0.95, 64x64
MLP, act_every 4; needs ``pip install -e ".[bench]"``, skipped, saying so, without it).

Per configuration the table shows, at each mark, the mean over seeds of each seed's mean score
difference, its 95% t-interval across seeds, and each seed's value; then the first mark at which
the mean exceeds 0 and the mark from which the interval's lower end stays above 0, and how much
of the spread between a run's marks from 1M frames on is the snapshots' own and how much the
evaluation games' (a variance split over the games' score differences). The summary
puts configurations side by side with frames to a mean above 0 and training frames/s as ratios
to SB3 PPO's. Per-seed curves go to ``bench/results/train_pong.svg``, everything to
``bench/results/train_pong.json``; each run also has its own JSON under
``bench/results/train_pong/PROTOCOL/`` so ``--resume`` skips finished runs (and resumes an Arena
run from its newest snapshot).

Usage::

    python bench/train_pong.py --resume                          # the full benchmark, in pieces
    python bench/train_pong.py --report                          # the tables of the runs finished so far
    python bench/train_pong.py --algos rac --seeds 101 --frames 50000 --eval-every 25000 --games 2
    python bench/train_pong.py --smoke                           # every path, tiny, ~1-2 min
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# -- seed roles ---------------------------------------------------------------------------------
# A seed that chose a default (or a setting) cannot measure it. The rounds in bench/README.md tuned
# on training seeds 0-3 (runs 1-49; the old bench and SB3 PPO: seed 0) and judged snapshots on game
# seeds 10000-10009 (the churn reference game: 20000; the trainer's rounds then played seeds from
# 0). Game seeds follow Arena's two ranges (arena.training.evaluation): 0-999,999 judge agents,
# 1,000,000-1,999,999 are the trainer's evaluation rounds, which choose the published snapshot.
# What past tuning used of the first range, 0-99,999, is retired; the bench's test games start at
# 500,000, and --validation plays the trainer's validation seeds. No training game gets a test
# seed: a worker's games are seeded (seed * 7919 + worker) * 1,000,003 + game, which is beyond
# 2,000,000 for any training seed but 0 (whose worker 0 plays seeds 0, 1, ...: retired ones).
VALIDATION_TRAIN_SEEDS = range(0, 101)  # tuning runs (0-3 used so far)
TRAIN_SEEDS = range(101, 1000)  # reported runs: 101, 102, ... in order; never for tuning
RETIRED_GAME_SEEDS = range(0, 100_000)  # judged past tuning: neither validation nor test again
VALIDATION_GAME_SEEDS = range(1_000_000, 2_000_000)  # the trainer's rounds and --validation
TEST_GAME_SEEDS = range(500_000, 1_000_000)  # the bench's evaluation games; never for tuning

SEED_ROLES = {
    "validation training seeds": VALIDATION_TRAIN_SEEDS,
    "training seeds": TRAIN_SEEDS,
    "retired game seeds": RETIRED_GAME_SEEDS,
    "validation game seeds": VALIDATION_GAME_SEEDS,
    "test game seeds": TEST_GAME_SEEDS,
}

# Configurations and how many training seeds each gets by default (the minimum: rac and
# ppo 5, SB3 PPO 3, the other algorithms once).
SEEDS_PER_CONFIG = {"rac": 5, "ppo": 5, "sb3-ppo": 3, "default": 3, "dqn": 1, "rdqn": 1, "a2c": 1}
SB3 = "sb3-ppo"
SB3_ACT_EVERY = 4  # the SB3 configuration's (Arena's Pong default is 2)
TARGET_MARKS = (700_000,)  # the "beats the CPU by 0.7M frames" needs a mark there
PUBLISHED = -1  # the key of the published snapshot's evaluation among the marks
SWING_FROM = 1_000_000  # the target's "from 1M on": marks from there split into the snapshots' spread and the games'
SNAPSHOTS_PER_MARK = 10  # snapshot spacing = eval_every / 10: the nearest is within 5% of a mark


def marks_for(frames: int, eval_every: int) -> list[int]:
    """The frame counts at which snapshots are evaluated: every ``eval_every``, the target marks,
    and the budget itself."""
    marks = set(range(eval_every, frames + 1, eval_every)) | {m for m in TARGET_MARKS if m <= frames} | {frames}
    return sorted(marks)


def check_seeds(seeds: list[int], validation: bool) -> None:
    role = VALIDATION_TRAIN_SEEDS if validation else TRAIN_SEEDS
    wrong = [s for s in seeds if s not in role]
    if wrong:
        what = "validation training seeds" if validation else "training seeds (held out from tuning)"
        raise SystemExit(
            f"error: seeds {wrong} are not {what}, {role.start}-{role.stop - 1}"
            + ("" if validation else "; a tuning run on validation seeds needs --validation")
        )


# -- statistics ---------------------------------------------------------------------------------


def interval(values: list[float]) -> tuple[float | None, tuple[float, float] | None]:
    """Mean and 95% t-interval across seeds (Arena's own arithmetic: ``mean_ci95``)."""
    from arena.games.match import mean_ci95

    return mean_ci95(values)


def first_above(points: list[tuple[int, float | None]], threshold: float = 0.0) -> int | None:
    """The first mark whose value exceeds ``threshold``; None if none does."""
    return next((mark for mark, value in points if value is not None and value > threshold), None)


def above_from(points: list[tuple[int, float | None]], threshold: float = 0.0) -> int | None:
    """The mark from which every value exceeds ``threshold`` up to the last; None if the last does not."""
    start = None
    for mark, value in points:
        if value is not None and value > threshold:
            start = mark if start is None else start
        else:
            start = None
    return start


def ratio_to(frames: int | None, reference: int | None, budget: int) -> tuple[float | None, str]:
    """``frames / reference`` (both "frames to a mean above 0"), with "<" or ">" where one never
    got there within ``budget`` (so it counts as more than the budget); None if neither did."""
    if frames is None and reference is None:
        return None, ""
    if reference is None:
        return frames / budget, "<"
    if frames is None:
        return budget / reference, ">"
    return frames / reference, ""


def aggregate(runs: list[dict], marks: list[int]) -> list[dict]:
    """Per mark: each seed's mean score difference, their mean and 95% interval across seeds."""
    rows = []
    for mark in marks:
        per_seed = {}
        for run in runs:
            found = next((e for e in run["evals"] if e["mark"] == mark), None)
            if found is not None and found["mean"] is not None:
                per_seed[run["seed"]] = found["mean"]
        mean, ci = interval(list(per_seed.values()))
        rows.append({"mark": mark, "per_seed": per_seed, "mean": mean, "ci95": ci})
    return rows


def swing(runs: list[dict], from_mark: int) -> dict | None:
    """How much of the spread between a run's snapshots (marks from ``from_mark`` on) is the
    snapshots' own and how much the evaluation games': one game's score difference varies within a
    snapshot by ``game_sd`` (pooled), so a mark's mean of G games by ``mark_se``; the marks of a run
    spread by ``between_sd`` (pooled over runs), and ``snapshot_sd`` is what is left of it once the
    games' share (``mark_se`` squared) is taken out. None without two marks of games in a run."""
    within, between, games = [], [], []
    for run in runs:
        evals = [e for e in run["evals"] if e["mark"] >= from_mark and len(e.get("diffs") or []) >= 2]
        for e in evals:
            within.append(statistics.variance(e["diffs"]))
            games.append(len(e["diffs"]))
        if len(evals) >= 2:
            between.append(statistics.variance([statistics.mean(e["diffs"]) for e in evals]))
    if not between:
        return None
    game_var = statistics.mean(within)
    mark_var = game_var / statistics.mean(games)
    between_var = statistics.mean(between)
    return {
        "from": from_mark,
        "game_sd": math.sqrt(game_var),
        "mark_se": math.sqrt(mark_var),
        "between_sd": math.sqrt(between_var),
        "snapshot_sd": math.sqrt(max(0.0, between_var - mark_var)),
    }


def summarize(config: str, runs: list[dict], marks: list[int]) -> dict:
    rows = aggregate(runs, marks)
    trained = sum(r["frames"] for r in runs)
    seconds = sum(r["train_s"] for r in runs)
    return {
        "config": config,
        "seeds": [r["seed"] for r in runs],
        "rows": rows,
        "mean_above_0": first_above([(r["mark"], r["mean"]) for r in rows]),
        "low_above_0_from": above_from([(r["mark"], r["ci95"][0] if r["ci95"] else None) for r in rows]),
        "seed_above_0": {r["seed"]: first_above([(e["mark"], e["mean"]) for e in r["evals"]]) for r in runs},
        "fps": trained / seconds if seconds else None,
        "published": _published_summary(runs),
        "swing": swing(runs, min(SWING_FROM, marks[len(marks) // 2])) if marks else None,
        # A benchmark done in pieces over days can straddle a change of defaults: say so.
        "mixed_params": len({json.dumps(_without_seed(r.get("params")), sort_keys=True) for r in runs}) > 1,
    }


def _without_seed(params: dict | None) -> dict | None:
    """A run's parameters less its training seed, which differs between seeds by design."""
    return None if params is None else {k: v for k, v in params.items() if k != "seed"}


def _published_summary(runs: list[dict]) -> dict | None:
    """The published snapshots' test scores across seeds (configurations with evaluation rounds)."""
    per_seed = {r["seed"]: r["published"]["mean"] for r in runs if (r.get("published") or {}).get("mean") is not None}
    if not per_seed:
        return None
    mean, ci = interval(list(per_seed.values()))
    return {"per_seed": per_seed, "mean": mean, "ci95": ci}


# -- Arena's algorithms -------------------------------------------------------------------------


def _set_data_dirs(protocol: Path) -> None:
    # The bench's experiments, leaderboards and match logs stay in its results folder.
    os.environ["ARENA_EXPERIMENTS"] = str(protocol / "experiments")
    os.environ["ARENA_HOME"] = str(protocol / "arena_data")
    os.environ["ARENA_DB"] = str(protocol / "arena_data" / "arena.db")


def train_arena(config: str, seed: int, args, protocol: Path) -> dict:
    from arena.training.curves import load_metrics
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    _set_data_dirs(protocol)
    algo = "rac" if config == "default" else config
    common = {
        # `default` is `arena train --plugin rac` as a user types it: default enemies and evaluation.
        "enemies": None if config == "default" else "cpu.json",
        "sets": [f"seed={seed}", *args.sets],
        "env_pairs": list(args.options),
        "workers": args.workers,
        "eval_every": None if config == "default" else 0,
        "name": f"{config}-s{seed}",
        "init": not args.resume,
        "force": not args.resume,
    }
    probe = plan_training(algo, steps=1, **common)
    act_every = probe.timing.act_every
    per_update = probe.params.min_collect * probe.params.experience_length * act_every
    snapshot_every = max(1, round(args.eval_every / SNAPSHOTS_PER_MARK / per_update))
    plan = plan_training(algo, steps=args.frames // act_every, snapshot_every=snapshot_every, **common)
    last = [time.perf_counter()]

    def show(p):
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            recent = f"{p.reward:+.2f}" if p.reward is not None else "-"
            print(f"  {config} s{seed}: {p.frames:>9,} frames  {p.fps:,.0f} frames/s  recent training score {recent}", flush=True)

    result = run_training(plan, on_progress=show)
    metrics = load_metrics(plan.folder / "metrics.jsonl")
    # The trainer's budget is agent steps; a self-play game gives two seats' steps per frame, so
    # the default configuration tops up until it has played the frame budget too.
    for _ in range(5):
        frames, steps = (metrics[-1]["frames"], metrics[-1]["steps"]) if metrics else (0, 0)
        if not frames or args.frames - frames < per_update:
            break
        more = -(-(args.frames - frames) * steps // frames)
        resume = {**common, "init": False, "force": False}
        plan = plan_training(algo, steps=steps + more, snapshot_every=snapshot_every, **resume)
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
        "curve": _thin([(r["frames"], r["reward"]) for r in metrics if r.get("reward") is not None]),
        "snapshots": found,
        "folder": plan.folder,
        "published": _published(plan.folder, frames_at, act_every),
    }


def _published(folder: Path, frames_at: dict[int, int], act_every: int) -> tuple[int, Path] | None:
    """The snapshot the trainer published (best on its validation games), where evaluation rounds
    ran: what ``arena match experiments/NAME cpu`` plays."""
    try:
        name = json.loads((folder / "published.json").read_text()).get("snapshot")
    except (OSError, ValueError, AttributeError):
        return None
    path = folder / "snapshots" / str(name)
    if not path.is_file() or not path.stem.isdigit():
        return None
    return frames_at.get(int(path.stem), int(path.stem) * act_every), path


def nearest(snapshots: list[tuple[int, Path]], marks: list[int]) -> dict[int, tuple[int, Path]]:
    """For each mark, the snapshot whose frame count is nearest (the later one on a tie)."""
    return {m: min(snapshots, key=lambda s: (abs(s[0] - m), -s[0])) for m in marks}


def eval_arena(chosen: dict[int, tuple[int, Path]], args, options) -> dict[int, dict]:
    """Every chosen snapshot's G games against the CPU on the test seeds, in one pool of W workers."""
    from arena.games.match import MatchPlan, plan_match, run_match

    plans = {
        str(path): plan_match(str(path), "cpu", games=args.games, seed=args.game_seed0, options=options)
        for _, path in chosen.values()
    }
    tasks = tuple(task for plan in plans.values() for task in plan.tasks)
    summary = run_match(MatchPlan("snapshots", "cpu", "pong", tasks, min(args.workers, len(tasks))))
    games = {spec: [] for spec in plans}
    for record in summary.records:
        if record.ok:
            games[record.a].append((record.seed, record.score_a - record.score_b, record.frames))
        else:
            print(f"  evaluation game of {record.a} on seed {record.seed} failed: {record.error}", file=sys.stderr)
    return {mark: _eval_row(mark, frames, str(path), games[str(path)]) for mark, (frames, path) in chosen.items()}


def _eval_row(mark: int, frames: int, snapshot: str, games: list[tuple[int, int, int]]) -> dict:
    games = sorted(games)
    diffs = [d for _, d, _ in games]
    return {
        "mark": mark,
        "frames": frames,
        "snapshot": snapshot,
        "seeds": [s for s, _, _ in games],
        "diffs": diffs,
        "wins": sum(d > 0 for d in diffs),
        "games": len(diffs),
        "mean": sum(diffs) / len(diffs) if diffs else None,
        "game_frames": sum(f for _, _, f in games),
    }


def prune(folder: Path, keep: set[Path]) -> None:
    """Delete the snapshots no mark chose (hundreds a run), keeping the newest for a resume."""
    snapshots = sorted(p for p in folder.glob("snapshots/*.pt") if p.stem.isdigit())
    for path in snapshots[:-1]:
        if path not in keep:
            path.unlink()


def _thin(curve: list, keep: int = 200) -> list:
    step = max(1, len(curve) // keep)
    return curve[::step] + ([curve[-1]] if curve and (len(curve) - 1) % step else [])


# -- Stable-Baselines3 PPO ----------------------------------------------------------------------


def train_game_seed(seed: int, worker: int, game: int) -> int:
    """Arena's rollout workers' game seeds, used for SB3's training games too."""
    return (seed * 7919 + worker) * 1_000_003 + game


def pong_vs_cpu(
    act_every: int, points: int = 21, shaping: float = 0.0, gamma: float = 0.99, train_seed: int | None = None, worker: int = 0
):
    """Pong's right paddle against the cartridge as a gymnasium env. The class is made here, not
    at module level, so SubprocVecEnv's workers get it by value (this script is no package).
    With ``train_seed`` its games are seeded like an Arena rollout worker's; without it, by the
    caller's ``reset(seed=...)``."""
    import gymnasium as gym
    import numpy as np

    from arena_pong import PongOptions, pong_potential
    from arena_pong.env import PongEnv

    class PongVsCpu(gym.Env):
        def __init__(self):
            self.env = PongEnv(PongOptions(act_every=act_every, points=points), cpu_level=0)
            self.observation_space = gym.spaces.Box(-1.0, 1.0, (8,), np.float32)
            self.action_space = gym.spaces.Discrete(3)
            self.games = 0
            self.frames = 0

        def reset(self, *, seed=None, options=None):
            if train_seed is not None:
                seed = train_game_seed(train_seed, worker, self.games)
            self.games += 1
            obs, _ = self.env.reset(seed=seed)
            self.frames += self.env.frames
            self.phi = pong_potential(obs["right"])
            self.score = 0.0
            return obs["right"], {}

        def step(self, action):
            before = self.env.frames
            obs, rew, term, trunc, _ = self.env.step({"right": int(action)})
            self.frames += self.env.frames - before
            reward = rew["right"]
            self.score += reward
            if shaping:
                phi = 0.0 if term["right"] else pong_potential(obs["right"])
                reward += shaping * (gamma * phi - self.phi)
                self.phi = phi
            info = {"frames": self.frames}
            if term["right"] or trunc["right"]:
                info["score"] = self.score  # the game's score difference, unshaped
            return obs["right"], reward, term["right"], trunc["right"], info

        def score_diff(self) -> int:
            scores = self.env.scores()
            return scores["right"] - scores["left"]

        def close(self):
            self.env.close()

    return PongVsCpu()


def train_sb3(seed: int, args, protocol: Path, points: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    gamma, act_every = 0.99, SB3_ACT_EVERY
    folder = protocol / "sb3" / f"{SB3}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    makers = [
        functools.partial(pong_vs_cpu, act_every, points, shaping=0.5, gamma=gamma, train_seed=seed, worker=w)
        for w in range(args.workers)
    ]
    # One worker plays in this process (as Arena's trainer does); more are spawned processes.
    vec = DummyVecEnv(makers) if args.workers == 1 else SubprocVecEnv(makers, start_method="spawn")
    marks = marks_for(args.frames, args.eval_every)
    saved, frames_seen, curve, recent = [], [0] * args.workers, [], []

    class Marks(BaseCallback):
        """Saves the model as the frames played pass each mark (the nearest it gets: one step of
        every worker past it), and keeps the training curve."""

        def _on_step(self) -> bool:
            for i, info in enumerate(self.locals["infos"]):
                frames_seen[i] = info["frames"]
                if "score" in info:
                    recent.append(info["score"])
                    del recent[:-20]  # the mean of the last 20 games, as Arena's training curve
                    curve.append((sum(frames_seen), sum(recent) / len(recent)))
            total = sum(frames_seen)
            while len(saved) < len(marks) - 1 and total >= marks[len(saved)]:
                path = folder / f"{total:012d}.zip"
                self.model.save(path)
                saved.append((total, path))
            return True

    model = PPO(
        "MlpPolicy", vec, n_steps=256, batch_size=256, n_epochs=4, learning_rate=2.5e-4, ent_coef=0.01, gamma=gamma,
        gae_lambda=0.95, policy_kwargs={"net_arch": [64, 64]}, verbose=0, device="cpu", seed=seed,
    )  # fmt: skip
    started = time.perf_counter()
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
        "curve": _thin(curve),
        "snapshots": saved,
        "folder": folder,
    }


_SB3_WORKER: dict = {}


def _sb3_game(path: str, act_every: int, points: int, seed: int) -> tuple[int, int, int]:
    """One test game of a saved SB3 model against the CPU: (seed, score difference, frames)."""
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    if "env" not in _SB3_WORKER:
        _SB3_WORKER["env"] = pong_vs_cpu(act_every, points)  # one emulator per process
    if _SB3_WORKER.get("path") != path:
        _SB3_WORKER["model"], _SB3_WORKER["path"] = PPO.load(path, device="cpu"), path
    env, model = _SB3_WORKER["env"], _SB3_WORKER["model"]
    torch.manual_seed(seed)  # the policy's sampling, per game
    obs, _ = env.reset(seed=seed)
    start, done = env.frames, False
    while not done:
        action, _ = model.predict(obs, deterministic=False)  # the policy as trained, like Arena's agents
        obs, _, term, trunc, _ = env.step(int(action))
        done = term or trunc
    return seed, env.score_diff(), env.frames - start


def _close_sb3_worker() -> None:
    if "env" in _SB3_WORKER:
        _SB3_WORKER.pop("env").close()
    _SB3_WORKER.clear()


def eval_sb3(chosen: dict[int, tuple[int, Path]], args, points: int) -> dict[int, dict]:
    jobs = [(str(path), SB3_ACT_EVERY, points, args.game_seed0 + g) for _, path in chosen.values() for g in range(args.games)]
    if args.workers == 1:
        try:
            results = [_sb3_game(*job) for job in jobs]
        finally:
            _close_sb3_worker()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_sb3_game, *zip(*jobs)))
    games = {}
    for (path, *_), result in zip(jobs, results):
        games.setdefault(path, []).append(result)
    return {mark: _eval_row(mark, frames, str(path), games[str(path)]) for mark, (frames, path) in chosen.items()}


# -- one run ------------------------------------------------------------------------------------


def run_one(config: str, seed: int, args, protocol: Path) -> dict:
    points = _points(args.options)
    marks = marks_for(args.frames, args.eval_every)
    print(f"{config}, training seed {seed}: {args.frames:,} frames, {args.workers} worker(s)", flush=True)
    if config == SB3:
        trained = train_sb3(seed, args, protocol, points)
    else:
        trained = train_arena(config, seed, args, protocol)
    chosen = nearest(trained["snapshots"], marks)
    published = trained.get("published")
    if published is not None:
        chosen[PUBLISHED] = published  # played on the same test seeds, reported beside the marks
    started = time.perf_counter()
    if config == SB3:
        evals = eval_sb3(chosen, args, points)
    else:
        from arena.plugins.manager import get_arena

        evals = eval_arena(chosen, args, get_arena().envs.get("pong").parse_options(list(args.options)))
    run = {
        "config": config,
        "seed": seed,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "frames_budget": args.frames,
        "frames": trained["frames"],
        "train_s": trained["train_s"],
        "fps": trained["frames"] / trained["train_s"] if trained["train_s"] else None,
        "act_every": trained["act_every"],
        "eval_s": time.perf_counter() - started,
        "evals": [evals[m] for m in marks],
        "published": evals.get(PUBLISHED),
        "curve": trained["curve"],
        **{k: trained[k] for k in ("params", "resumed_from") if k in trained},
    }
    path = protocol / f"{config}-s{seed}.json"
    path.write_text(json.dumps(run, indent=1, default=str))
    if config != SB3 and not args.keep_snapshots:
        prune(trained["folder"], {p for _, p in chosen.values()})
    shown = ", ".join(f"{_m(e['mark'])} {e['mean']:+.1f}" for e in run["evals"] if e["mean"] is not None)
    print(
        f"  {config} s{seed}: {run['frames']:,} frames in {run['train_s']:.0f} s, evaluated in {run['eval_s']:.0f} s: {shown}",
        flush=True,
    )
    return run


def _points(options: list[str]) -> int:
    given = [pair.partition("=")[2] for pair in options if pair.partition("=")[0].strip() == "points"]
    return int(given[-1]) if given else 21


# -- tables, plot, JSON --------------------------------------------------------------------------


def _m(frames: int | None) -> str:
    if frames is None:
        return "never"
    return f"{frames / 1e6:g}M" if frames >= 1_000_000 else f"{frames / 1e3:g}k"


def _ci(ci) -> str:
    return f"[{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "-"


def print_config(summary: dict, games: int, seed0: int) -> None:
    seeds = summary["seeds"]
    print(
        f"\n{summary['config']}: training seeds {', '.join(map(str, seeds))}; {games} games per snapshot on game seeds {seed0:,}-{seed0 + games - 1:,}"
    )
    header = f"{'frames':>10} {'mean':>7} {'95% CI across seeds':>20} {'seeds > 0':>9}  " + " ".join(f"{s:>6}" for s in seeds)
    print(header)
    print("-" * len(header))
    for row in summary["rows"]:
        mean = f"{row['mean']:+7.2f}" if row["mean"] is not None else f"{'-':>7}"
        above = sum(v > 0 for v in row["per_seed"].values())
        cells = " ".join(f"{row['per_seed'][s]:+6.1f}" if s in row["per_seed"] else f"{'-':>6}" for s in seeds)
        print(f"{row['mark']:>10,} {mean} {_ci(row['ci95']):>20} {above:>4}/{len(row['per_seed']):<4}  {cells}")
    if summary["published"]:
        pub = summary["published"]
        cells = ", ".join(f"{s}: {v:+.1f}" for s, v in pub["per_seed"].items())
        print(
            f"{'published':>10} {pub['mean']:+7.2f} {_ci(pub['ci95']):>20}  (the snapshot each run published, chosen on validation games: {cells})"
        )
    if summary["mixed_params"]:
        print("warning: these runs trained with different parameters (defaults changed between pieces?); see each run's JSON")
    per_seed = ", ".join(f"{s}: {_m(f)}" for s, f in summary["seed_above_0"].items())
    print(
        f"mean > 0 first at {_m(summary['mean_above_0'])}; the interval's lower end > 0 from {_m(summary['low_above_0_from'])} on;"
        f" each seed's first mark > 0: {per_seed}"
    )
    if summary.get("swing"):
        w = summary["swing"]
        print(
            f"from {_m(w['from'])} on, a run's marks differ by sd {w['between_sd']:.1f}, of which {w['snapshot_sd']:.1f} is the snapshots' own"
            f" and {w['mark_se']:.1f} the games' (variances add; one game's score difference varies by sd {w['game_sd']:.1f} within a snapshot)"
        )


def print_summary(summaries: list[dict], budget: int) -> None:
    sb3 = next((s for s in summaries if s["config"] == SB3), None)
    print(
        f"\nSide by side ({budget:,} frames; ratios to {SB3 if sb3 else 'SB3 PPO (not run)'}; frames/s from runs taken in turn)\n"
    )
    header = f"{'config':<9} {'seeds':>5} {'final mean':>10} {'95% CI':>15} {'mean > 0 at':>11} {'x sb3':>7} {'CI low > 0 from':>15} {'train f/s':>9} {'x sb3':>6}"
    print(header)
    print("-" * len(header))
    for s in summaries:
        final = s["rows"][-1]
        ratio, sign = ratio_to(s["mean_above_0"], sb3["mean_above_0"], budget) if sb3 else (None, "")
        frames_x = f"{sign}{ratio:.2f}" if ratio is not None else "-"
        fps_x = f"{s['fps'] / sb3['fps']:.2f}" if sb3 and s["fps"] and sb3["fps"] else "-"
        mean = f"{final['mean']:+.2f}" if final["mean"] is not None else "-"
        fps = f"{s['fps']:,.0f}" if s["fps"] else "-"
        print(
            f"{s['config']:<9} {len(s['seeds']):>5} {mean:>10} {_ci(final['ci95']):>15} {_m(s['mean_above_0']):>11} {frames_x:>7}"
            f" {_m(s['low_above_0_from']):>15} {fps:>9} {fps_x:>6}"
        )
    rac = next((s for s in summaries if s["config"] == "rac"), None)
    if rac and budget >= 1_000_000:
        by = rac["mean_above_0"] is not None and rac["mean_above_0"] <= 700_000
        low = rac["low_above_0_from"] is not None and rac["low_above_0_from"] <= 1_000_000
        ratio, sign = ratio_to(rac["mean_above_0"], sb3["mean_above_0"], budget) if sb3 else (None, "")
        efficient = (
            "not measured (no SB3 PPO run)" if not sb3 else ("yes" if ratio is not None and ratio <= 1 and sign != ">" else "no")
        )
        print(
            f"\ntargets (rac): mean > 0 by 0.7M: {'yes' if by else 'no'}; lower end > 0 from 1M on: {'yes' if low else 'no'};"
            f" at least as sample-efficient as SB3 PPO: {efficient}"
        )


def plot(summaries: list[dict], path: Path, title: str) -> None:
    from arena.plotting import INK, colours, figure, short_number_formatter, write_svg

    n = len(summaries)
    cols = min(n, 3)
    rows = -(-n // cols)
    with figure(320 * cols, 240 * rows) as fig:
        axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
        for ax, s in zip(axes.flat, summaries):
            palette = colours(len(s["seeds"]))
            for colour, seed in zip(palette, s["seeds"]):
                pts = [(r["mark"], r["per_seed"][seed]) for r in s["rows"] if seed in r["per_seed"]]
                if pts:
                    ax.plot(*zip(*pts), color=colour, linewidth=1.0, alpha=0.75, marker=".", markersize=4, label=f"seed {seed}")
            pts = [(r["mark"], r["mean"], r["ci95"]) for r in s["rows"] if r["mean"] is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=INK, linewidth=2.0, label="mean (band: 95% interval)")
                band = [p for p in pts if p[2]]
                if band:
                    ax.fill_between(
                        [p[0] for p in band], [p[2][0] for p in band], [p[2][1] for p in band], color=INK, alpha=0.1, linewidth=0
                    )
            ax.axhline(0.0, color="#999999", linewidth=0.8, linestyle="--")
            ax.set_title(s["config"])
            ax.set_ylim(-21.5, 21.5)
            ax.xaxis.set_major_formatter(short_number_formatter())
            ax.set_xlabel("training frames")
            ax.legend(loc="upper left", fontsize=7)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        axes[0][0].set_ylabel("score difference vs the CPU")
        write_svg(fig, path, title)


# -- main -----------------------------------------------------------------------------------------


def sb3_available() -> bool:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return False
    return True


def protocol_parser(
    doc: str,
    configs,
    *,
    frames: int,
    eval_every: int,
    workers: int | None,
    workers_help: str,
    smoke_help: str,
    option_help: str,
) -> argparse.ArgumentParser:
    """The options every learning bench shares: configurations, seeds, budget, marks, resuming."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--algos", default=None, help=f"comma-separated configurations [default: {','.join(configs)}]")
    parser.add_argument(
        "--seeds", default=None, help="comma-separated training seeds for every configuration [default: 101, 102, ...]"
    )
    parser.add_argument("--n-seeds", type=int, default=None, help="the first N training seeds for every configuration")
    parser.add_argument("--frames", type=int, default=frames, help=f"training frames per run [{_m(frames)}]")
    parser.add_argument(
        "--eval-every", type=int, default=eval_every, help=f"frames between evaluated snapshots [{eval_every // 1000}k]"
    )
    parser.add_argument("--games", type=int, default=10, help="test games per evaluated snapshot [10]")
    parser.add_argument("--workers", type=int, default=workers, help=workers_help)
    parser.add_argument("--resume", action="store_true", help="skip runs whose JSON exists; resume an interrupted Arena run")
    parser.add_argument("--report", action="store_true", help="only tabulate the runs already finished; train nothing")
    parser.add_argument(
        "--validation", action="store_true", help="tuning: validation training and game seeds, results kept apart"
    )
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--keep-snapshots", action="store_true", help="keep every snapshot, not only the evaluated ones")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help="Arena parameter for every Arena run"
    )
    parser.add_argument(
        "-o", "--option", dest="options", action="append", default=[], metavar="KEY=VALUE", help=option_help
    )  # fmt: skip
    return parser


def plan_seeds(args, configs: list[str], seeds_per_config: dict[str, int]) -> None:
    """``args.plan`` (configuration -> training seeds) and ``args.game_seed0`` (the first test or,
    with ``--validation``, validation game seed)."""
    roles = VALIDATION_TRAIN_SEEDS if args.validation else TRAIN_SEEDS
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
        check_seeds(seeds, args.validation)
        args.plan = {c: seeds for c in configs}
    else:
        args.plan = {c: list(roles[: args.n_seeds or seeds_per_config.get(c, 1)]) for c in configs}
    args.game_seed0 = (VALIDATION_GAME_SEEDS if args.validation else TEST_GAME_SEEDS).start


def parse_args(argv):
    parser = protocol_parser(
        __doc__, SEEDS_PER_CONFIG, frames=2_000_000, eval_every=250_000, workers=os.cpu_count() or 1, workers_help="",
        smoke_help="every path at a tiny budget (games to 1 point)", option_help="Pong option (SB3 PPO honours points only)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:
        args.frames, args.eval_every, args.games, args.workers = 4096, 2048, 1, 1
        args.options = [*args.options, "points=1"]
        args.n_seeds = args.n_seeds or 1
    plan_seeds(args, args.algos.split(",") if args.algos else list(SEEDS_PER_CONFIG), SEEDS_PER_CONFIG)
    return args


def gather_runs(args, protocol: Path, run_one) -> tuple[dict[str, list[dict]], list[str]]:
    """Every planned run's results: read back when finished (``--resume``, ``--report``), else
    ``run_one(config, seed, args, protocol)``; ``(config -> runs, the runs that failed)``."""
    runs: dict[str, list[dict]] = {}
    failed = []
    for config, seeds in args.plan.items():
        for seed in seeds:
            path = protocol / f"{config}-s{seed}.json"
            if (args.resume or args.report) and path.exists():
                print(f"{config}, training seed {seed}: done ({path.name}), skipped")
                run = json.loads(path.read_text())
            elif args.report:
                print(f"{config}, training seed {seed}: not run yet")
                continue
            else:
                try:
                    run = run_one(config, seed, args, protocol)
                except Exception as exc:  # one broken run must not cost a night's others; --resume retries it
                    failed.append(f"{config} s{seed}")
                    print(f"  {config} s{seed} FAILED: {type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
                    continue
            runs.setdefault(config, []).append(run)
    return runs, failed


def protocol_name(args) -> str:
    """The results folder of one protocol: budget, marks, games, env options and Arena settings
    (runs with other settings never share, or overwrite, an experiment)."""
    name = f"{'validation_' if args.validation else ''}f{args.frames}_e{args.eval_every}_g{args.games}"
    return name + "".join(f"_{o.replace('=', '')}" for o in (*args.options, *args.sets))


def main(argv=None) -> None:
    args = parse_args(argv)
    kind = "validation" if args.validation else "smoke" if args.smoke else "held-out"
    protocol = RESULTS / "train_pong" / protocol_name(args)
    protocol.mkdir(parents=True, exist_ok=True)
    if SB3 in args.plan and not sb3_available():
        print(f"{SB3}: skipped, stable-baselines3 is not installed (pip install -e '.[bench]')")
        del args.plan[SB3]
    marks = marks_for(args.frames, args.eval_every)
    runs, failed = gather_runs(args, protocol, run_one)

    label = {"held-out": "", "validation": " (VALIDATION seeds: for tuning, not a reported result)", "smoke": " (smoke)"}[kind]
    print(f"\nPong against the built-in CPU: mean score difference of evaluated snapshots{label}")
    summaries = [summarize(config, config_runs, marks) for config, config_runs in runs.items()]
    if not summaries:
        print(f"no finished runs: nothing to tabulate (failed: {', '.join(failed) or 'none'})", file=sys.stderr)
        sys.exit(1)
    for summary in summaries:
        print_config(summary, args.games, args.game_seed0)
    print_summary(summaries, args.frames)
    stem = "train_pong" if kind == "held-out" else f"train_pong_{kind}"
    plot(summaries, RESULTS / f"{stem}.svg", f"Pong vs the CPU, evaluated snapshots{label}")
    print(f"\nper-seed curves: {RESULTS / f'{stem}.svg'}")
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "args": {k: v for k, v in vars(args).items() if k != "plan"},
        "seed_roles": {name: [r.start, r.stop - 1] for name, r in SEED_ROLES.items()},
        "protocol": protocol.name,
        "marks": marks,
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
