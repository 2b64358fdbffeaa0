"""Pong frames per second: the bare emulator, the Arena env, and ``arena match``, side by side.

What it measures (all in ONE run, so the ratios share the machine's current load):

* ``raw em.step``: W spawned processes, each with one two-player Pong emulator built through
  ``arena_pong.env.PongEnv(PongOptions(), cpu_level=None)``, calling stable-retro's
  ``env._em.step()`` in a tight loop (serve bits and random paddle buttons held). This is the
  ceiling: emulation only, no RAM read, no observation.
* ``raw env.step``: the same processes calling ``PongEnv.step({"left": r, "right": r})`` with
  uniformly random actions (RAM read, rewards, 8-number observations for both seats). This is
  the reference every ratio is taken against.
* ``raw env.step + agents``: the same loop with the real agents of the match below
  (``bot:tracker:5`` vs ``random``) choosing the actions, as ``arena.games.play.play_game`` does.
* ``arena match``: ``plan_match("bot:tracker:5", "random", games=G, workers=W)`` then
  ``run_match(plan, log_path=<tmp>)``; frames/s = ``summary.frames / summary.wall_s``. ``wall_s``
  includes starting the worker processes, loading plugins, building emulators, the JSON-lines log
  and the tail where some workers are idle. ``workers=1`` plays inline (no process pool) in a
  fresh spawned process. The ``in-game`` row for the same run counts only time inside games
  (sum over worker pids of frames / sum of each game's ``wall_s``), i.e. the steady-state rate.

Order and noise: one repeat measures, for 1 worker and then for W workers: raw rates, the match
with that worker count, raw rates again. A match's ratio is taken against the mean of the raw
env.step rates just before and just after it, so a steady drift in the shared machine's load
cancels. Within a raw measurement the three phases alternate in rounds and all workers start
each phase together behind a barrier. The whole sequence is repeated (3 times in full mode, once
with --quick) and the table shows medians.

How to read the table:

* ``frames`` and ``seconds``: one measurement's (medians); ``frames/s``: the wall-clock rate,
  added across the W processes (what a user waits for).
* ``x raw env.step``: frames/s over the ``raw env.step`` frames/s with the SAME worker count
  (for a match: the bracket around it), the median over repeats; ``(range)`` is the min-max of
  those ratios, i.e. the noise. ``raw
  em.step`` > 1 is what PongEnv's Python layer costs per frame; ``arena match`` < 1 is what the
  match machinery costs on top (agents, game loop, reset/no-op frames, process pool, startup).
* ``cores used``: CPU seconds of the processes involved over wall seconds. Near W means the
  variant had its W cores; less means other programs took a share, and its wall-clock frames/s
  (and ratio) understate it. On a shared machine this column explains most odd ratios.
* ``frames/CPU-s`` and ``x raw (CPU)``: frames per CPU-second of the processes involved (the
  match rows include the pool workers' startup). Much less sensitive to other programs competing
  for the cores than wall time, though not to their cache and memory-bandwidth pressure: the
  better measure of what Arena's own code costs.
* The second table splits one ``PongEnv.step`` into its parts (median microseconds per step,
  timed in place) to show where the Python layer's time goes.

Absolute numbers swing widely from run to run on a shared machine (2x seen); compare ratios, and
only within one run. Results go to ``bench/results/match_throughput.json`` (rows with every
repeat's values, the breakdown, machine info, load averages).

Usage::

    python bench/match_throughput.py            # full, ~1.5-2.5 min on 2 cores
    python bench/match_throughput.py --quick    # smoke version, < 60 s
    python bench/match_throughput.py --workers 4 --repeats 5 --games 24
    python bench/match_throughput.py --act-every 4   # action repeat: Python cost amortised over 4 frames
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
AGENT_A, AGENT_B = "bot:tracker:5", "random"
RAW_PHASES = ("raw em.step", "raw env.step", "raw env.step + agents")
REFERENCE = "raw env.step"


# --- raw rates, in spawned worker processes -------------------------------------------------------


def _timed(loop):
    """Run ``loop() -> frames``; return (frames, wall seconds, CPU seconds of this process)."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    frames = loop()
    return frames, time.perf_counter() - wall0, time.process_time() - cpu0


def _loop_em(env, rng, seconds):
    from arena_pong.env import merge_actions

    em = env._em
    mask = merge_actions(rng.randrange(3), rng.randrange(3))  # serve bits on: the ball keeps moving
    em.set_button_mask(mask[:8], 0)
    em.set_button_mask(mask[8:], 1)
    clock = time.perf_counter

    def loop():
        frames, deadline = 0, clock() + seconds
        while clock() < deadline:
            em.step()
            frames += 1
        return frames

    return _timed(loop)


def _loop_env(env, rng, seconds, act_every):
    clock, pick = time.perf_counter, rng.randrange

    def loop():
        frames, deadline = 0, clock() + seconds
        while clock() < deadline:
            env.step({"left": pick(3), "right": pick(3)})
            frames += act_every
            if not env.agents:
                env.reset(seed=pick(1 << 30))
        return frames

    return _timed(loop)


def _loop_agents(env, rng, players, seconds, act_every):
    clock = time.perf_counter

    def loop():
        frames, deadline = 0, clock() + seconds
        observations, _ = env.reset(seed=rng.randrange(1 << 30))
        while clock() < deadline:
            actions = {seat: players[seat](observations[seat]) for seat in env.agents}  # as play_game does
            observations, _, _, _, _ = env.step(actions)
            frames += act_every
            if not env.agents:
                observations, _ = env.reset(seed=rng.randrange(1 << 30))
        return frames

    return _timed(loop)


def _breakdown(env, chunks=30, calls=100):
    """Where one PongEnv.step's time goes (act_every=1, two seats), timed in place.

    A loop does what ``PongEnv.step`` does, part by part, with a clock read between the parts;
    chunks of it alternate with chunks of real ``env.step`` calls. Each part's cost is its median
    over all calls (medians shrug off the moments another program has the core); ``rest`` is the
    whole step's median minus the parts (sticky actions, dicts, deque, rewards, ``_infos``).
    """
    from arena_pong.env import SEATS, features

    em = env._em
    ns = time.perf_counter_ns
    names = (
        "em.step (1 frame)",
        "button masks (table) + set_button_mask x2",
        "read 6 RAM bytes (_read_ram)",
        "features() x2 (both seats)",
    )
    parts: dict[str, list[int]] = {name: [] for name in names}
    whole: list[int] = []
    env.reset(seed=1)
    previous = env._read_ram()
    for _ in range(chunks):
        for _ in range(calls):
            t0 = ns()
            low, high = env._masks[1, 2]
            em.set_button_mask(low, 0)
            em.set_button_mask(high, 1)
            t1 = ns()
            em.step()
            t2 = ns()
            ram = env._read_ram()
            t3 = ns()
            for seat in SEATS:
                features(ram, previous, 1, seat)
            t4 = ns()
            previous = ram
            for name, dt in zip(names, (t2 - t1, t1 - t0, t3 - t2, t4 - t3)):
                parts[name].append(dt)
        env.reset(seed=1)
        for _ in range(calls):
            t0 = ns()
            env.step({"left": 1, "right": 2})
            whole.append(ns() - t0)
            if not env.agents:
                env.reset(seed=1)
    out = {name: statistics.median(values) / 1000 for name, values in parts.items()}
    total = statistics.median(whole) / 1000
    out["rest of PongEnv.step (sticky actions, dicts, deque, rewards, _infos)"] = total - sum(out.values())
    out["= PongEnv.step (whole)"] = total
    return out


def _raw_worker(index, seconds, rounds, act_every, want_breakdown, barrier, queue):
    try:
        from arena.plugins.agents import resolve
        from arena.plugins.manager import get_arena
        from arena_pong import PongOptions
        from arena_pong.env import PongEnv

        options = PongOptions(act_every=act_every)
        env = PongEnv(options, cpu_level=None)
        rng = random.Random(1000 + index)
        arena = get_arena()
        spec = arena.envs.get("pong")
        agents = {"left": resolve(AGENT_A, arena.agents, spec, options), "right": resolve(AGENT_B, arena.agents, spec, options)}
        for agent in agents.values():
            agent.reset(rng.randrange(1 << 30))
        players = {seat: agent.act for seat, agent in agents.items()}
        env.reset(seed=rng.randrange(1 << 30))
        totals = {phase: [0, 0.0, 0.0] for phase in RAW_PHASES}
        for _ in range(rounds):
            for phase in RAW_PHASES:
                barrier.wait(timeout=300)
                if phase == "raw em.step":
                    result = _loop_em(env, rng, seconds)
                    env.reset(seed=rng.randrange(1 << 30))  # the env's cached RAM is stale now
                elif phase == "raw env.step":
                    result = _loop_env(env, rng, seconds, act_every)
                else:
                    result = _loop_agents(env, rng, players, seconds, act_every)
                for i, x in enumerate(result):
                    totals[phase][i] += x
        breakdown = _breakdown(env) if want_breakdown and act_every == 1 else None
        env.close()
        queue.put(("ok", index, totals, breakdown))
    except BaseException:
        barrier.abort()
        queue.put(("error", index, traceback.format_exc(), None))


def measure_raw(workers, seconds, rounds, act_every, want_breakdown):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers)
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_raw_worker, args=(i, seconds, rounds, act_every, want_breakdown and i == 0, barrier, queue))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=600 + rounds * len(RAW_PHASES) * seconds) for _ in procs]
    for p in procs:
        p.join()
    errors = [r for r in results if r[0] == "error"]
    if errors:
        raise RuntimeError(f"raw worker {errors[0][1]} failed:\n{errors[0][2]}")
    rows = []
    for phase in RAW_PHASES:
        per = [r[2][phase] for r in results]  # [frames, wall, cpu] per worker
        rows.append({
            "variant": phase,
            "workers": workers,
            "frames": sum(f for f, _, _ in per),
            "seconds": statistics.mean(w for _, w, _ in per),
            "fps": sum(f / w for f, w, _ in per),  # per-worker rates, added
            "cpu_s": sum(c for _, _, c in per),
        })  # fmt: skip
    breakdown = next((r[3] for r in results if r[3] is not None), None)
    return rows, breakdown


# --- arena match ------------------------------------------------------------------------------------


def _cpu_now(children: bool) -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    total = usage.ru_utime + usage.ru_stime
    if children:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        total += kids.ru_utime + kids.ru_stime
    return total


def _match(games, workers, act_every):
    from arena.games.match import plan_match, run_match
    from arena_pong import PongOptions

    plan = plan_match(AGENT_A, AGENT_B, games=games, workers=workers, options=PongOptions(act_every=act_every))
    cpu0 = _cpu_now(children=True)  # pool workers are joined (reaped) before run_match returns
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_match(plan, log_path=Path(tmp) / "match.jsonl")
    cpu_s = _cpu_now(children=True) - cpu0
    if summary.errors:
        first = next(r for r in summary.records if r["status"] != "ok")
        raise RuntimeError(f"{summary.errors} of {summary.games} games failed, e.g. {first['error']}")
    per_pid: dict[int, list[float]] = {}
    for record in summary.records:
        acc = per_pid.setdefault(record.get("pid", 0), [0, 0.0])
        acc[0] += record["frames"]
        acc[1] += record["wall_s"]
    return {
        "games": summary.games,
        "workers": plan.workers,
        "frames": summary.frames,
        "seconds": summary.wall_s,
        "fps": summary.frames / summary.wall_s,
        "cpu_s": cpu_s,
        "in_game_fps": sum(frames / wall for frames, wall in per_pid.values() if wall > 0),
        "in_game_seconds": max(wall for _, wall in per_pid.values()),
        "processes": len(per_pid),
    }


def _inline_child(games, act_every, queue):
    try:
        queue.put(("ok", _match(games, 1, act_every)))
    except BaseException:
        queue.put(("error", traceback.format_exc()))


def measure_match_inline(games, act_every):
    """workers=1 plays inline; do it in a fresh spawned process so this one never owns an emulator."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_inline_child, args=(games, act_every, queue))
    proc.start()
    status, payload = queue.get(timeout=1800)
    proc.join()
    if status != "ok":
        raise RuntimeError(f"inline match failed:\n{payload}")
    return payload


def match_rows(result, label):
    w = result["workers"]
    return [
        {"variant": f"{label} (wall, incl. startup)", "workers": w, "frames": result["frames"], "seconds": result["seconds"],
         "fps": result["fps"], "cpu_s": result["cpu_s"], "games": result["games"]},
        {"variant": f"{label} (in-game only)", "workers": w, "frames": result["frames"], "seconds": result["in_game_seconds"],
         "fps": result["in_game_fps"], "cpu_s": None, "games": result["games"]},
    ]  # fmt: skip


# --- reporting ------------------------------------------------------------------------------------


def machine_info():
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "stable_retro": version("stable-retro"),
        "numpy": version("numpy"),
        "arena_rl": version("arena-rl"),
    }


def load_average():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def aggregate(repeats):
    """Rows of all repeats -> one row per (variant, workers): medians of rates and of ratios."""
    groups: dict[tuple, list[dict]] = {}
    for rows in repeats:
        for row in rows:
            groups.setdefault((row["variant"], row["workers"]), []).append(row)
    out = []
    for (variant, workers), rows in groups.items():
        ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
        cpu = [r["cpu_s"] for r in rows if r.get("cpu_s")]
        frames = sum(r["frames"] for r in rows)
        out.append({
            "variant": variant,
            "workers": workers,
            "repeats": len(rows),
            "frames": statistics.median(r["frames"] for r in rows),  # one measurement's, like seconds
            "frames_total": frames,
            "seconds": statistics.median(r["seconds"] for r in rows),
            "fps": statistics.median(r["fps"] for r in rows),
            "fps_all": [round(r["fps"], 1) for r in rows],
            "ratio_to_raw_env_step": statistics.median(ratios) if ratios else None,
            "ratio_all": [round(x, 3) for x in ratios],
            "cpu_s": sum(cpu) if len(cpu) == len(rows) else None,
            "fps_per_cpu_s": frames / sum(cpu) if cpu and len(cpu) == len(rows) else None,
            "cores_used": sum(cpu) / sum(r["seconds"] for r in rows) if cpu and len(cpu) == len(rows) else None,
            "games": sum(r.get("games", 0) for r in rows) or None,
        })  # fmt: skip
    ref_cpu = {r["workers"]: r["fps_per_cpu_s"] for r in out if r["variant"] == REFERENCE}
    for row in out:
        ref = ref_cpu.get(row["workers"])
        row["cpu_ratio_to_raw_env_step"] = row["fps_per_cpu_s"] / ref if ref and row["fps_per_cpu_s"] else None
    return out


def _table(head, body):
    widths = [max(len(x) for x in col) for col in zip(head, *body)]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    lines = [fmt(head), "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"]
    return "\n".join(lines + [fmt(cells) for cells in body])


def print_table(rows):
    def num(x, spec):
        return "-" if x is None else format(x, spec)

    def spread(xs):
        return f"{min(xs):.2f}-{max(xs):.2f}" if len(xs) > 1 else "-"

    head = (
        "variant",
        "workers",
        "frames",
        "seconds",
        "frames/s",
        "x raw env.step",
        "(range)",
        "cores used",
        "frames/CPU-s",
        "x raw (CPU)",
    )
    body = [
        (r["variant"], str(r["workers"]), f"{r['frames']:,.0f}", f"{r['seconds']:.2f}", f"{r['fps']:,.0f}",
         num(r["ratio_to_raw_env_step"], ".2f"), spread(r["ratio_all"]), num(r["cores_used"], ".2f"), num(r["fps_per_cpu_s"], ",.0f"),
         num(r["cpu_ratio_to_raw_env_step"], ".2f"))
        for r in rows
    ]  # fmt: skip
    print(_table(head, body))


def print_breakdown(breakdown):
    if not breakdown:
        return
    whole = breakdown["= PongEnv.step (whole)"]
    print("\nOne PongEnv.step (1 process, act_every=1): median microseconds per step of each part, timed in place:")
    body = [(name, f"{us:.1f}", f"{us / whole:.0%}") for name, us in breakdown.items()]
    print(_table(("part", "us/step", "share"), body))


def run_once(worker_counts, seconds, rounds, games, inline_games, act_every, want_breakdown):
    """One repeat: for each worker count, raw rates, the match, raw rates again (a bracket)."""
    rows, breakdown = [], None
    for w in worker_counts:
        raw_rows = []
        for when in ("before", "after"):
            if when == "after":
                if w == 1:
                    print(f"    arena match, workers=1 inline: {inline_games} games", flush=True)
                    match = match_rows(measure_match_inline(inline_games, act_every), "arena match inline")
                else:
                    print(f"    arena match, workers={w}: {games} games", flush=True)
                    match = match_rows(_match(games, w, act_every), "arena match")
            print(
                f"    raw rates, {w} worker(s), {when} the match: {rounds} round(s) x {len(RAW_PHASES)} phases x {seconds:g} s",
                flush=True,
            )
            want = want_breakdown and when == "after" and breakdown is None
            raw, bd = measure_raw(w, seconds, rounds, act_every, want_breakdown=want)
            breakdown = breakdown or bd
            reference = next(r["fps"] for r in raw if r["variant"] == REFERENCE)
            for row in raw:
                row["ratio"] = row["fps"] / reference
            raw_rows.append(raw)
        bracket = statistics.mean(next(r["fps"] for r in raw if r["variant"] == REFERENCE) for raw in raw_rows)
        for row in match:
            row["ratio"] = row["fps"] / bracket
        rows += raw_rows[0] + raw_rows[1] + match
    return rows, breakdown


def main(argv=None):
    cpus = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke version (< 60 s)")
    parser.add_argument("--workers", "-w", type=int, default=cpus, help=f"parallel processes [default: os.cpu_count() = {cpus}]")
    parser.add_argument("--repeats", type=int, default=None, help="repeat the whole sequence; medians are reported [3; quick 1]")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per raw phase per round [1]")
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of the three raw phases (interleaved) per raw measurement [1]"
    )
    parser.add_argument("--games", type=int, default=None, help="games of the W-worker match [4*W; quick 2*W]")
    parser.add_argument("--inline-games", type=int, default=None, help="games of the workers=1 match [3; quick 2]")
    parser.add_argument("--act-every", type=int, default=1, help="PongOptions.act_every for every variant [1]")
    parser.add_argument("--no-single", action="store_true", help="skip the 1-worker rows")
    parser.add_argument("--out", type=Path, default=RESULTS / "match_throughput.json")
    args = parser.parse_args(argv)
    quick = args.quick
    repeats = args.repeats or (1 if quick else 3)
    seconds = args.seconds or 1.0
    rounds = args.rounds or 1
    workers = max(1, args.workers)
    games = args.games or (2 if quick else 4) * workers
    inline_games = args.inline_games or (2 if quick else 3)
    worker_counts = [workers] if workers == 1 or args.no_single else [1, workers]

    info = machine_info()
    load_before = load_average()
    print(f"match_throughput ({'quick' if quick else 'full'}): workers {worker_counts}, {info['cpu_count']} cpus, "
          f"python {info['python']}, stable-retro {info['stable_retro']}, load {load_before}", flush=True)  # fmt: skip
    started = time.perf_counter()
    per_repeat, breakdown = [], None
    for i in range(repeats):
        print(f"  repeat {i + 1}/{repeats}", flush=True)
        rows, bd = run_once(worker_counts, seconds, rounds, games, inline_games, args.act_every, want_breakdown=i == 0)
        per_repeat.append(rows)
        breakdown = breakdown or bd
    rows = aggregate(per_repeat)
    total = time.perf_counter() - started
    load_after = load_average()

    print()
    print_table(rows)
    print_breakdown(breakdown)
    print(f"\nmedians over {repeats} repeat(s); 'x raw env.step' = median of the ratios to raw env.step with the same "
          f"worker count, measured right before and after each match. took {total:.0f} s; load {load_before} -> {load_after}")  # fmt: skip

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "match_throughput",
        "mode": "quick" if quick else "full",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "load_average": {"before": load_before, "after": load_after},
        "params": {"workers": worker_counts, "repeats": repeats, "seconds_per_phase": seconds, "rounds": rounds,
                   "games": games, "inline_games": inline_games, "act_every": args.act_every, "agents": [AGENT_A, AGENT_B]},
        "rows": rows,
        "per_repeat": per_repeat,
        "breakdown_us": breakdown,
        "total_s": total,
    }  # fmt: skip
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
