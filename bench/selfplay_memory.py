"""Self-play memory: a rollout worker's resident memory as a long run's past selves go by.

A self-play run saves a snapshot every few updates, and each past snapshot the worker plays is a
whole model (its network, the numpy copy it acts with). This simulates a long run in one worker
(the inline executor, this process's memory):

1. ``--enemies`` snapshots of the default algorithm's network are written once, then one
   round per snapshot: the learner "saves" it, the enemy pool's distribution is computed over
   every snapshot so far (as the run does each update), and the worker plays one segment against
   the newest one, so by round k it has met k distinct past selves.
2. At checkpoints the script records the worker's resident memory (RSS, after a garbage
   collection), the past selves' models it holds built (``held``), and how many past snapshots
   the pool's distribution lists (``in pool``).

It runs twice, each in a fresh process: **before**, the worker keeps every enemy it has built and
the pool lists every past snapshot (what Arena did before the bounds); **after**, the defaults
(``arena.training.rollout.MAX_CACHED_ENEMIES`` built enemies, least recently drawn evicted;
``arena.training.pool.MAX_PAST_SNAPSHOTS`` newest past snapshots in the distribution). The env is
a two-seat toy with Pong's observation and action sizes, so no emulator's memory blurs the
models'.

Usage::

    python bench/selfplay_memory.py                # 200 past selves, ~1-2 min
    python bench/selfplay_memory.py --enemies 60   # quicker

Results go to ``bench/results/selfplay_memory.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ALGORITHM = "rac"  # the default algorithm, at its default sizes
OBS, ACTIONS = 8, 3  # Pong's feature observation and actions
UNBOUNDED = 10**9


# -- a two-seat toy env, registered in each measuring process -------------------------------------


@dataclass(frozen=True)
class ToyOptions:
    length: int = 10


class ToyEnv:
    """Two seats, ``length`` steps a game, a point for saying the step number mod 3."""

    possible_agents = ["left", "right"]

    def __init__(self, options: ToyOptions, cpu_level=None):
        self.options, self.agents, self._t, self._score = options, [], 0, {"left": 0, "right": 0}

    def _obs(self):
        obs = np.zeros(OBS, np.float32)
        obs[0], obs[1 + self._t % 3] = self._t / self.options.length, 1.0
        return {seat: obs.copy() for seat in self.possible_agents}

    def reset(self, seed=None, options=None):
        self._t, self._score, self.agents = 0, {"left": 0, "right": 0}, list(self.possible_agents)
        return self._obs(), {seat: {} for seat in self.agents}

    def step(self, actions):
        rewards = {}
        for seat in self.possible_agents:
            hit = int(actions[seat]) == self._t % 3
            self._score[seat] += hit
            rewards[seat] = float(hit)
        self._t += 1
        done = self._t >= self.options.length
        if done:
            self.agents = []
        seats = self.possible_agents
        return self._obs(), rewards, dict.fromkeys(seats, done), dict.fromkeys(seats, False), {s: {} for s in seats}

    def scores(self):
        return dict(self._score)

    @property
    def frames(self) -> int:
        return self._t

    def close(self):
        pass


def _arena():
    from arena import hookimpl
    from arena.plugins.envs import EnvSpec
    from arena.plugins.manager import get_arena

    spec = EnvSpec(
        name="bench-toy", make=lambda options, cpu_level: ToyEnv(options, cpu_level), description="two seats, no emulator",
        seats=("left", "right"), num_actions=ACTIONS, options=ToyOptions, observation_shape=lambda options: (OBS,),
    )  # fmt: skip

    class Plugin:
        @hookimpl
        def arena_register_envs(self, register):
            register(spec)

    arena = get_arena()  # trained agents build their models through the process's plugins
    if "bench-toy" not in arena.envs:
        arena.add_plugin(Plugin(), "bench-selfplay-memory")
    return arena


@dataclass(frozen=True)
class ToyMaker:
    def __call__(self, index: int, seed: int):
        from arena.training.rollout import SeatEnv

        return SeatEnv(_arena(), "bench-toy", ToyOptions(), seed)


# -- measuring -------------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory in MiB (Linux); elsewhere its peak so far."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def write_snapshots(folder: Path, count: int) -> list[str]:
    """``count`` distinct snapshot files of the algorithm's default network (with an Adam state,
    as a run's are), named as a run names them, one every 4,096 steps after step 0."""
    import torch

    from arena.training.snapshot import save_snapshot, snapshot_name

    spec = _arena().algorithms.get(ALGORITHM)
    params = spec.params_class()()
    model = spec.learner_class().make_model(params, OBS, ACTIONS)
    optimizer = torch.optim.Adam(model.parameters())
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # an optimiser state the size of a run's
    meta = {
        "algorithm": ALGORITHM, "params": dataclasses.asdict(params), "env": "bench-toy", "env_options": {},
        "obs_size": OBS, "num_actions": ACTIONS,
    }  # fmt: skip
    first = save_snapshot(folder / snapshot_name(4096), meta, {"model": model.state_dict(), "optimizer": optimizer.state_dict()})
    paths = [str(first)]
    for i in range(2, count + 1):  # the same bytes under other names: distinct enemies, little disk
        path = folder / snapshot_name(4096 * i)
        try:
            os.link(first, path)
        except OSError:
            shutil.copyfile(first, path)
        paths.append(str(path))
    return paths


def simulate(variant: str, paths: list[str], checkpoints: list[int]) -> list[dict]:
    """One variant in this (fresh) process: a round per past snapshot; a row per checkpoint."""
    import torch

    from arena.training.enemies import EnemyEntry
    from arena.training.pool import MAX_PAST_SNAPSHOTS, EnemyPool, PoolConfig
    from arena.training.rollout import InlineExecutor, SeatEnv, WorkerConfig

    torch.set_num_threads(1)
    arena = _arena()
    bounded = variant == "after"
    if not bounded:
        SeatEnv.cache_size = UNBOUNDED  # every enemy kept, as before the bound
    spec = arena.algorithms.get(ALGORITHM)
    params = dataclasses.replace(spec.params_class()(), experience_length=32)
    model = spec.learner_class().make_model(params, OBS, ACTIONS)
    weights = {key: value.detach().numpy().copy() for key, value in model.state_dict().items()}
    pool = EnemyPool(
        PoolConfig(entries=[EnemyEntry("self", "self", 1.0)]),
        rules=arena.sampling_rules,
        max_past=MAX_PAST_SNAPSHOTS if bounded else UNBOUNDED,
    )
    config = WorkerConfig(
        learner=spec.learner, params=params, obs_size=OBS, num_actions=ACTIONS, gamma=0.99, make_env=ToyMaker(), seed=0
    )
    executor = InlineExecutor(config)
    executor.start(weights, 0, [("random", "random", 1.0)])  # no model: the baseline holds none
    executor.gather(1)
    rows = []
    started = time.perf_counter()

    snapshots = set(paths)

    def row(seen: int, listed: int) -> None:
        gc.collect()
        held = sum(1 for spec_ in executor.worker.env._agents if spec_ in snapshots)  # past selves' models built
        rows.append(
            {"variant": variant, "enemies_seen": seen, "rss_mb": round(rss_mb(), 1), "models_held": held,
             "past_in_distribution": listed, "seconds": round(time.perf_counter() - started, 1)}
        )  # fmt: skip

    row(0, 0)
    try:
        for k in range(1, len(paths) + 1):
            distribution = pool.distribution(paths[:k])  # what the learner would broadcast
            listed = sum(1 for _, spec_, _ in distribution if spec_ != "self")
            executor.broadcast(weights, k, [("self", paths[k - 1], 1.0)])  # the worker meets the newest
            executor.gather(1)
            assert executor.worker.env.enemy.label == paths[k - 1]
            if k in checkpoints:
                row(k, listed)
    finally:
        executor.close()
    return rows


def _run(variant: str, paths: list[str], checkpoints: list[int]) -> list[dict]:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as fresh:
        return fresh.submit(simulate, variant, paths, checkpoints).result()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enemies", type=int, default=200, help="distinct past selves the worker meets (default 200)")
    parser.add_argument("--out", type=Path, default=RESULTS / "selfplay_memory.json")
    args = parser.parse_args(argv)
    if args.enemies < 1:
        parser.error("--enemies must be at least 1")
    checkpoints = sorted({k for k in (1, 5, 10, 25, 50, 100, 150, 200, 300, 500) if k <= args.enemies} | {args.enemies})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="selfplay-memory-") as folder:
        # written by a spawned process too, so this one never loads torch or the plugins
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as fresh:
            paths = fresh.submit(write_snapshots, Path(folder), args.enemies).result()
        snapshot_mb = os.path.getsize(paths[0]) / 2**20
        rows = {variant: _run(variant, paths, checkpoints) for variant in ("before", "after")}
    before, after = rows["before"], rows["after"]
    print(
        f"\n{args.enemies} distinct past selves met by one worker ({ALGORITHM} at its default sizes, "
        f"{snapshot_mb:.1f} MiB a snapshot file); RSS in MiB after a gc.collect()\n"
    )
    header = f"{'past selves met':>15} | {'before: RSS':>11} {'held':>5} {'in pool':>7} | {'after: RSS':>10} {'held':>5} {'in pool':>7}"
    print(header)
    print("-" * len(header))
    for b, a in zip(before, after):
        print(
            f"{b['enemies_seen']:>15} | {b['rss_mb']:>11.1f} {b['models_held']:>5} {b['past_in_distribution']:>7} | "
            f"{a['rss_mb']:>10.1f} {a['models_held']:>5} {a['past_in_distribution']:>7}"
        )
    grow = {v: r[-1]["rss_mb"] - r[0]["rss_mb"] for v, r in rows.items()}
    per_enemy = grow["before"] / max(1, before[-1]["models_held"])
    print(
        f"\ngrowth from 0 to {args.enemies}: before {grow['before']:+.1f} MiB (~{per_enemy:.2f} MiB an enemy kept), "
        f"after {grow['after']:+.1f} MiB; {time.perf_counter() - started:.0f} s in all"
    )
    out = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "enemies": args.enemies,
        "algorithm": ALGORITHM,
        "snapshot_mib": round(snapshot_mb, 2),
        "python": platform.python_version(),
        "torch": metadata.version("torch"),
        "rows": before + after,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
