"""Training throughput: `arena train` frames/s against the raw env rate on the same workers.

In ONE run, taking turns so both see the same machine load:

* ``raw env``: W spawned processes, each with one Pong env against the cartridge's CPU
  (``PongEnv(PongOptions(act_every=A), cpu_level=0)``) stepping uniformly random actions, no
  model, no learner. The reference: what the emulators deliver.
* ``arena train``: ``run_training`` of ALGO (default ``rac``, default hyperparameters) against
  ``enemies/cpu.json`` with W rollout worker processes (always processes, even for W = 1) plus
  the learner's process, for a fixed budget of agent steps; frames/s is measured in steady state
  from ``metrics.jsonl`` (frames and wall time between the third and the last update), and also
  over the whole run including start-up.

Two worker counts by default: W = cores - 1 (the learner has a core of its own, as on any
machine with a core to spare) and W = cores (the learner's gradient steps take CPU time from the
workers; on 2 cores that is what a user of this machine gets).
* ``+ eval rounds`` (``--eval``): the same training with evaluation rounds at the trainer's
  default cadence (games against the CPU, one niced process, a frame budget per round), beside the
  row without; the summary gives its steady frames/s as a ratio to the row without.
* ``sb3 ppo`` (``--sb3``, needs ``pip install -e ".[bench]"``): Stable-Baselines3 PPO with
  default hyperparameters on the same env through a gymnasium wrapper, W ``SubprocVecEnv``
  workers; frames/s = total frames / wall time of ``learn``.

Each training row's ratio is taken against the mean of the raw rates measured just before and
just after it. ``cores used`` is CPU seconds of all processes over wall seconds: below W means
other programs took a share of the machine. Results go to ``bench/results/train_throughput.json``.

Usage::

    python bench/train_throughput.py                 # rac, 1 and 2 workers on 2 cores, ~4 min
    python bench/train_throughput.py --algo ppo --steps 60000 --sb3 --workers 2
    python bench/train_throughput.py --eval --steps 80000  # what the default evaluation cadence costs
    python bench/train_throughput.py --workers 15 --learner-device cpu --learner-device cuda  # what a GPU learner buys
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _raw_worker(act_every: int, seconds: float, barrier, out) -> None:
    import numpy as np

    from arena_pong import PongOptions
    from arena_pong.env import PongEnv

    env = PongEnv(PongOptions(act_every=act_every), cpu_level=0)
    rng = np.random.default_rng(os.getpid())
    env.reset(seed=0)
    barrier.wait()
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        before = env.frames
        _, _, term, trunc, _ = env.step({"right": int(rng.integers(3))})
        frames += env.frames - before
        if term["right"] or trunc["right"]:
            env.reset(seed=frames)
            frames += env.frames
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put((frames, wall, usage.ru_utime + usage.ru_stime))
    env.close()


def raw_rate(workers: int, act_every: int, seconds: float) -> dict:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_raw_worker, args=(act_every, seconds, barrier, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    frames = sum(r[0] for r in results)
    wall = max(r[1] for r in results)
    return {"frames": frames, "seconds": wall, "fps": frames / wall, "cores": sum(r[2] for r in results) / wall}


def train_rate(algo: str, workers: int, steps: int, sets: list[str], options: list[str] = (), evaluate: bool = False) -> dict:
    from arena.training.evaluation import Rounds
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["ARENA_EXPERIMENTS"] = tmp
        os.environ["ARENA_HOME"] = tmp
        plan = plan_training(
            algo,
            enemies="cpu.json",
            sets=sets,
            env_pairs=list(options),
            steps=steps,
            workers=workers,
            eval_every=None if evaluate else 0,  # None: the trainer's default cadence
            name="bench",
        )
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        result = run_training(plan)
        wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
        rows = [json.loads(line) for line in (plan.folder / "metrics.jsonl").read_text().splitlines()]
        rounds = len(Rounds(plan.folder).scored())
    first, last = rows[min(2, len(rows) - 2)], rows[-1]  # skip the first updates: workers warming up
    steady = (last["frames"] - first["frames"]) / (last["wall_s"] - first["wall_s"])
    return {
        "frames": result.frames,
        "seconds": wall,
        "fps": result.frames / wall,
        "steady_fps": steady,
        "cores": cpu / wall,
        "updates": result.updates,
        "eval_rounds": rounds,
    }


def sb3_rate(workers: int, act_every: int, steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv
    from train_pong import pong_vs_cpu  # this folder's learning bench: the same gymnasium Pong

    vec = make_vec_env(
        functools.partial(pong_vs_cpu, act_every),
        n_envs=workers,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
    )
    model = PPO("MlpPolicy", vec, verbose=0, device="cpu")
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - wall0, _cpu_s() - cpu0
    frames = sum(vec.get_attr("frames"))
    vec.close()
    return {"frames": frames, "seconds": wall, "fps": frames / wall, "steady_fps": frames / wall, "cores": cpu / wall}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algo", default="rac")
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        default=None,
        help="worker counts to measure (repeatable) [default: cores - 1 and cores]",
    )
    parser.add_argument("--steps", type=int, default=40_000, help="agent steps of training to time (default 40000 = 160k frames)")
    parser.add_argument("--raw-seconds", type=float, default=15.0)
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "-o",
        "--option",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Pong option, e.g. -o act_every=4",
    )
    parser.add_argument(
        "--eval",
        action="store_true",
        help="also time the same training with evaluation rounds at the trainer's default cadence (what they cost)",
    )
    parser.add_argument(
        "--learner-device",
        dest="devices",
        action="append",
        default=None,
        metavar="DEVICE",
        help="time the training once per learner device, side by side (e.g. --learner-device cpu --learner-device cuda)",
    )
    parser.add_argument("--sb3", action="store_true", help="also time Stable-Baselines3 PPO (pip install -e '.[bench]')")
    args = parser.parse_args(argv)
    torch_threads = "1"
    os.environ.setdefault("OMP_NUM_THREADS", torch_threads)

    from arena.plugins.envs import timing
    from arena.plugins.manager import get_arena

    act_every = timing(
        get_arena().envs.get("pong").parse_options(args.options)
    ).act_every  # the env's option, as training reads it
    cores = os.cpu_count() or 1
    counts = args.workers or sorted({max(1, cores - 1), cores})
    os.environ["ARENA_INLINE_ROLLOUT"] = "0"  # W = 1 is one worker process too, like the raw rows
    rows, table = {}, []
    for workers in counts:
        before = raw_rate(workers, act_every, args.raw_seconds)
        table.append(("raw env (before)", workers, before))
        train = None
        for device in args.devices or [None]:
            sets = args.sets + ([f"device={device}"] if device else [])
            row = train_rate(args.algo, workers, args.steps, sets, args.options)
            after = raw_rate(workers, act_every, args.raw_seconds)
            row["reference"] = (before["fps"] + after["fps"]) / 2
            if device:
                row["device"] = device
                if train is not None:  # the first device is the reference
                    row["x_first_device"] = row["steady_fps"] / train["steady_fps"]
            train = train or row
            label = f"arena train {args.algo}" + (f" ({device})" if device else "")
            table += [(label, workers, row), ("raw env (after)", workers, after)]
            before = after
        if args.eval:
            evaluated = train_rate(args.algo, workers, args.steps, args.sets, args.options, evaluate=True)
            again = raw_rate(workers, act_every, args.raw_seconds)
            evaluated["reference"] = (after["fps"] + again["fps"]) / 2
            evaluated["x_no_eval"] = evaluated["steady_fps"] / train["steady_fps"]
            table += [
                (f"  + eval rounds ({evaluated['eval_rounds']})", workers, evaluated),
                ("raw env (after eval)", workers, again),
            ]
            after = again
        if args.sb3:
            try:
                sb3 = sb3_rate(workers, act_every, args.steps)
            except ImportError:
                print("sb3 ppo: stable-baselines3 is not installed (pip install -e '.[bench]')", file=sys.stderr)
            else:
                again = raw_rate(workers, act_every, args.raw_seconds)
                sb3["reference"] = (after["fps"] + again["fps"]) / 2
                table += [("sb3 ppo (defaults)", workers, sb3), ("raw env (after sb3)", workers, again)]
    print(f"\nTraining throughput: act_every {act_every}, {args.steps:,} agent steps per training row, {cores} cores\n")
    header = f"{'variant':<22} {'workers':>7} {'frames':>9} {'seconds':>8} {'frames/s':>9} {'steady f/s':>10} {'x raw':>6} {'steady x raw':>12} {'cores used':>10}"
    print(header)
    print("-" * len(header))
    for label, workers, row in table:
        ref = row.get("reference")
        steady = row.get("steady_fps")
        ratio = f"{row['fps'] / ref:6.2f}" if ref else f"{'':>6}"
        steady_ratio = f"{steady / ref:12.2f}" if ref else f"{'':>12}"
        print(
            f"{label:<22} {workers:>7} {row['frames']:>9,} {row['seconds']:>8.1f} {row['fps']:>9,.0f} {steady or row['fps']:>10,.0f} {ratio} {steady_ratio} {row['cores']:>10.2f}"
        )
        rows[f"{label.strip()} x{workers}"] = row
    for label, workers, row in table:
        if "x_first_device" in row:
            print(
                f"\n{workers} worker(s): {label.strip()} ran at {row['x_first_device']:.2f}x the steady frames/s of the"
                f" learner on {args.devices[0]}"
            )
        if "x_no_eval" in row:
            print(
                f"\n{workers} worker(s): evaluation rounds at the default cadence ({row['eval_rounds']} in the run) leave"
                f" {row['x_no_eval']:.2f}x the steady frames/s of the same training without them"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "train_throughput.json"
    out.write_text(
        json.dumps(
            {"when": datetime.now(UTC).isoformat(timespec="seconds"), "args": vars(args), "load": os.getloadavg(), "rows": rows},
            indent=2,
        )
    )
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
