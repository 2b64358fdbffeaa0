"""Learning Pong against the cartridge's CPU: Arena's default ``rac`` beside Stable-Baselines3 PPO.

Both learners get the same budget of emulator frames (default 2M) on the same env: Pong's right
paddle against the built-in computer, 8 RAM features, each action held act_every frames (Pong's
default 2 for rac, the SB3 configuration's 4), potential-based shaping ``0.5 * (gamma * phi(s') -
phi(s))`` with ``phi`` minus how far (/ 64 px) the ball's height is beyond the paddle's reach
while the ball is in play (``pong_potential``, the shaping Arena's trainer applies by default).

* ``rac``: ``arena train --plugin rac --enemies enemies/cpu.json`` with default hyperparameters
  (through the library: ``plan_training`` + ``run_training``), W rollout workers.
* ``sb3 ppo``: the strong PPO configuration of ``shared/reference/retro.md`` (n_steps 256, batch
  256, 4 epochs, lr 2.5e-4, entropy 0.01, gamma 0.99, GAE 0.95, 64x64 MLP), W SubprocVecEnv
  workers. Needs ``pip install -e ".[bench]"``; skipped (said so) without it.

Then each plays G seeded games to 21 against the CPU (the trained rac through ``arena match
EXPERIMENT cpu``). The table shows wins, the mean score difference with its 95% interval, frames
and frames/s; the learning curves (mean score of recent games against frames) go to
``bench/results/learning_curves.svg`` and everything to ``bench/results/train_pong.json``.

Usage::

    python bench/train_pong.py                    # 2M frames each, ~30-40 min on 2 cores
    python bench/train_pong.py --frames 400000 --no-sb3
    python bench/train_pong.py --sb3-only              # the baseline alone
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_throughput import _PongVsCpu

RESULTS = Path(__file__).resolve().parent / "results"
EVAL_SEED = 10_000


def train_arena(algo: str, frames: int, workers: int, sets: list[str], name: str, options: list[str] = ()) -> dict:
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    os.environ["ARENA_EXPERIMENTS"] = str(RESULTS / "experiments")
    os.environ.setdefault("ARENA_HOME", str(RESULTS / "arena_data"))
    pairs = list(options)
    probe = plan_training(
        algo,
        enemies="cpu.json",
        sets=sets,
        env_pairs=pairs,
        steps=1,
        workers=workers,
        eval_every=0,
        name=name,
        init=True,
        force=True,
    )
    steps = frames // probe.timing.act_every  # the env's act_every (Pong's default 2, or -o act_every=N)
    plan = plan_training(
        algo,
        enemies="cpu.json",
        sets=sets,
        env_pairs=pairs,
        steps=steps,
        workers=workers,
        eval_every=0,
        name=name,
        init=True,
        force=True,
    )
    started = time.perf_counter()
    last = [0.0]

    def show(p):
        if time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            reward = f"{p.reward:+.2f}" if p.reward is not None else "-"
            print(
                f"  {algo}: {p.frames:>9,} frames  {p.fps:,.0f} frames/s  {p.games} games  recent score diff {reward}", flush=True
            )

    result = run_training(plan, on_progress=show)
    wall = time.perf_counter() - started
    curve = read_curve(read_metrics(plan.folder))
    return {
        "folder": str(plan.folder),
        "frames": result.frames,
        "train_s": wall,
        "curve": curve,
        "params": json.loads((plan.folder / "params.json").read_text())["params"],
    }


def read_metrics(folder: Path) -> list[dict]:
    """The run's metrics rows, through Arena's own reader (it skips a line torn by a kill)."""
    from arena.training.curves import load_metrics

    return load_metrics(folder / "metrics.jsonl")


def read_curve(metrics: list[dict]) -> list[tuple[int, float]]:
    """(frames, mean score of recent games) for each update that has finished games behind it."""
    return [(r["frames"], r["reward"]) for r in metrics if r.get("reward") is not None]


def eval_arena(folder: str, games: int, workers: int) -> dict:
    from arena.games.match import plan_match, run_match

    plan = plan_match(folder, "cpu", games=games, seed=EVAL_SEED, workers=workers)
    summary = run_match(plan, log_path=RESULTS / f"train_pong_eval_{Path(folder).name}.jsonl")
    diffs = [r["score_a"] - r["score_b"] for r in summary.records if r["status"] == "ok"]
    return {"wins": summary.wins_a, "games": summary.games, "mean_diff": summary.mean_diff, "ci95": summary.ci95, "diffs": diffs}


def train_sb3(frames: int, workers: int, act_every: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    gamma = 0.99
    vec = make_vec_env(
        lambda: _PongVsCpu(act_every, shaping=0.5, gamma=gamma),
        n_envs=workers,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )
    curve, recent = [], []

    class Curve(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "score" in info:
                    recent.append(info["score"])
                    del recent[:-20]
                    curve.append((self.num_timesteps * act_every, sum(recent) / len(recent)))
            return True

    model = PPO(
        "MlpPolicy", vec, n_steps=256, batch_size=256, n_epochs=4, learning_rate=2.5e-4, ent_coef=0.01, gamma=gamma,
        gae_lambda=0.95, policy_kwargs={"net_arch": [64, 64]}, verbose=0, device="cpu", seed=0,
    )  # fmt: skip
    started = time.perf_counter()
    model.learn(total_timesteps=frames // act_every, callback=Curve())
    wall = time.perf_counter() - started
    used = sum(vec.get_attr("frames"))
    vec.close()
    return {"model": model, "frames": used, "train_s": wall, "curve": curve}


def eval_sb3(model, games: int, act_every: int) -> dict:
    from arena.games.match import mean_ci95

    env = _PongVsCpu(act_every)
    diffs = []
    for game in range(games):
        obs, _ = env.reset(seed=EVAL_SEED + game)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=False)
            obs, _, term, trunc, _ = env.step(int(action))
            done = term or trunc
        scores = env.env.scores()
        diffs.append(scores["right"] - scores["left"])
    env.env.close()
    mean, ci = mean_ci95(diffs)
    return {"wins": sum(d > 0 for d in diffs), "games": games, "mean_diff": mean, "ci95": ci, "diffs": diffs}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="rac")
    parser.add_argument("--frames", type=int, default=2_000_000)
    parser.add_argument("--games", type=int, default=10)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "-o",
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Pong option for rac, e.g. -o act_every=4",
    )
    parser.add_argument("--no-sb3", dest="sb3", action="store_false")
    parser.add_argument(
        "--sb3-only", action="store_true", help="only the SB3 PPO baseline (its own JSON; the table shows it alone)"
    )
    parser.add_argument("--eval-only", action="store_true", help="evaluate the existing bench experiment, don't train")
    parser.add_argument("--name", default=None, help="experiment name under bench/results/experiments [default: bench-ALGO]")
    args = parser.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out: dict = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "args": vars(args)}

    name = args.name or (f"bench-{args.algo}" if not args.sb3_only else "sb3-ppo")
    rows, curves = [], {}
    if not args.sb3_only:
        if args.eval_only:
            folder = RESULTS / "experiments" / name
            try:
                metrics = read_metrics(folder) if (folder / "metrics.jsonl").exists() else []
            except ValueError as error:  # a malformed line before the last: say which, no traceback
                print(f"error: {error}; retrain the bench experiment (drop --eval-only)", file=sys.stderr)
                sys.exit(2)
            if not metrics:
                print(f"error: no trained bench experiment at {folder}: train it first (drop --eval-only)", file=sys.stderr)
                sys.exit(2)
            print(f"evaluating {folder}", flush=True)
            arena_run = {
                "folder": str(folder),
                "frames": metrics[-1]["frames"],
                "train_s": metrics[-1]["wall_s"],
                "curve": read_curve(metrics),
            }
        else:
            print(f"training {args.algo} for {args.frames:,} frames on {args.workers} workers", flush=True)
            arena_run = train_arena(args.algo, args.frames, args.workers, args.sets, name, args.options)
        arena_run["eval"] = eval_arena(arena_run["folder"], args.games, args.workers)
        out[args.algo] = arena_run
        rows.append((f"arena {args.algo}", arena_run))
        curves[f"arena {args.algo}"] = [{"frames": f, "reward": r} for f, r in arena_run["curve"]]

    if args.sb3:
        try:
            import stable_baselines3  # noqa: F401
        except ImportError:
            print("sb3 ppo: skipped, stable-baselines3 is not installed (pip install -e '.[bench]')")
        else:
            print(f"training sb3 ppo for {args.frames:,} frames", flush=True)
            sb3 = train_sb3(args.frames, args.workers, act_every=4)
            sb3["eval"] = eval_sb3(sb3.pop("model"), args.games, act_every=4)
            out["sb3_ppo"] = sb3
            rows.append(("sb3 ppo", sb3))
            curves["sb3 ppo"] = [{"frames": f, "reward": r} for f, r in sb3["curve"]]

    print(f"\n{args.games} games to 21 against Pong's built-in CPU after {args.frames:,} training frames\n")
    header = (
        f"{'learner':<14} {'wins':>5} {'mean score diff':>16} {'95% CI':>18} {'train frames':>13} {'train s':>8} {'frames/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for label, run in rows:
        e = run["eval"]
        ci = f"[{e['ci95'][0]:+.1f}, {e['ci95'][1]:+.1f}]" if e["ci95"] else "-"
        fps = f"{run['frames'] / run['train_s']:,.0f}" if run.get("train_s") else "-"
        frames = f"{run['frames']:,}" if run.get("frames") else "-"
        train_s = f"{run['train_s']:.0f}" if run.get("train_s") else "-"
        print(f"{label:<14} {e['wins']:>2}/{e['games']:<2} {e['mean_diff']:>+16.2f} {ci:>18} {frames:>13} {train_s:>8} {fps:>9}")

    if any(curves.values()):
        from arena.training.curves import curves_svg

        svg = curves_svg(
            curves,
            "reward",
            x="frames",
            title="Pong vs the built-in CPU: mean score difference of recent games",
            y_label="score difference",
            hline=0.0,
        )
        (RESULTS / f"learning_curves_{name}.svg").write_text(svg)
        print(f"\nlearning curves: {RESULTS / f'learning_curves_{name}.svg'}")
    (RESULTS / f"train_pong_{name}.json").write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {RESULTS / f'train_pong_{name}.json'}")


if __name__ == "__main__":
    main()
