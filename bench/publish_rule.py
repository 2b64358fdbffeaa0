"""Which snapshot does a run publish, and how does it play on test games? Three publishing rules
side by side on the same trained runs.

The runs are ``bench/train_pong.py``'s ``default`` runs (the README's main job on held-out
training seeds), whose snapshots at every mark (250k, 500k, 0.7M, 0.75M, 1M, ... 2M frames) have
already played 10 test games against the CPU (test game seeds 500,000-500,009). Here those
snapshots are evaluated again, in order, as a training run's evaluation rounds would evaluate them
(2 games against the CPU and 2 against the previous snapshot, on the trainer's validation seeds,
100,000 frames a round), and each rule publishes one:

* ``before``: a game runs to the env's own cap (100,000 frames), so one endless rally can spend a
  round and decide it (the rule the default rows in bench/README.md ran under);
* ``capped``: each game stops at its share of the round (25,000 frames) and counts as it stood;
* ``capped+final``: the same rounds, then the best three rounds and the last play
  ``--final-games`` more games against the CPU on seeds of their own (Arena's rule now).

Publishing never changes training, so the rules can be compared on the same snapshots; a real run
evaluates whichever snapshots its rounds reach (about every 100k frames when the previous round has
finished), not exactly the marks. The table shows, per rule, the published snapshot's test score
per seed, the mean across seeds with its 95% interval, and the evaluation frames the rule spent;
beside them the last snapshot's and the best mark's test scores.

Usage::

    python bench/publish_rule.py                     # every default run found, 2 processes
    python bench/publish_rule.py --runs default-s101 --final-games 6
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOL = RESULTS / "train_pong" / "f2000000_e250000_g10"  # train_pong.py's default protocol
OUT = RESULTS / "publish_rule"
RULES = ("before", "capped", "capped+final")


def evaluate_rule(run: dict, rule: str, final_games: int, workers: int) -> dict:
    """Evaluate ``run``'s mark snapshots as rounds under ``rule``; what it publishes and spends."""
    from arena.plugins.manager import get_arena
    from arena.training.evaluation import Evaluator
    from arena.training.plan import plan_training

    folder = OUT / run["name"] / rule.replace("+", "_")
    shutil.rmtree(folder, ignore_errors=True)
    os.environ["ARENA_EXPERIMENTS"] = str(folder / "experiments")
    os.environ["ARENA_HOME"] = str(folder / "arena_data")
    os.environ["ARENA_DB"] = str(folder / "arena_data" / "arena.db")
    arena = get_arena()
    plan = plan_training(
        "rac", name=run["name"], eval_every=1, eval_games=2, final_games=final_games if rule == "capped+final" else 0,
        workers=workers, arena=arena,
    )  # fmt: skip
    snapshots = plan.folder / "snapshots"
    snapshots.mkdir(parents=True)
    by_name = {}
    for mark in run["marks"]:
        copy = snapshots / Path(mark["snapshot"]).name
        shutil.copyfile(mark["snapshot"], copy)
        by_name[copy.name] = mark

    class Before(Evaluator):
        def game_frames(self):  # a game runs to the env's own cap, as before
            return None

    said: list[str] = []
    evaluator = (Before if rule == "before" else Evaluator)(plan, arena, said.append)
    started = time.perf_counter()
    for name in sorted(by_name):
        evaluator.submit(snapshots / name, wait=True)
    if rule == "capped+final":
        evaluator.choose(workers)
    pointer = evaluator.rounds.publish()
    rounds = evaluator.rounds.rounds
    chosen = by_name[pointer["snapshot"]]
    return {
        "published": chosen["mark"],
        "test_mean": chosen["mean"],
        "validation": pointer["validation"],
        "eval_frames": sum(g.get("frames") or 0 for r in rounds for g in r["games"]),
        "round_games": [len([g for g in r["games"] if not g.get("final")]) for r in rounds],
        "cut_off": sum(bool(g.get("truncated")) for r in rounds for g in r["games"]),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def load_runs(names: list[str] | None) -> list[dict]:
    runs = []
    for path in sorted(PROTOCOL.glob("default-s*.json")):
        if names and path.stem not in names:
            continue
        data = json.loads(path.read_text())
        marks = [
            {"mark": e["mark"], "snapshot": e["snapshot"], "mean": e["mean"]}
            for e in data["evals"]
            if e.get("mark", -1) > 0 and Path(e["snapshot"]).is_file()
        ]
        runs.append({"name": path.stem, "seed": data["seed"], "marks": marks})
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=None, help="comma-separated run names (default: every default-s*.json)")
    parser.add_argument("--final-games", type=int, default=6, help="each finalist's extra games [6]")
    parser.add_argument("--workers", type=int, default=2, help="processes for the final games [2]")
    parser.add_argument("--rules", default=",".join(RULES), help=f"comma-separated, of {', '.join(RULES)}")
    parser.add_argument("--report", action="store_true", help="only print the table of the results saved so far")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_pong import _ci, _m, interval

    runs = load_runs(args.runs.split(",") if args.runs else None)
    if not runs and not args.report:
        sys.exit(f"no default runs with their snapshots under {PROTOCOL}: run bench/train_pong.py --algos default first")
    if not args.report:
        for run in runs:  # one JSON a run, so runs can go in parallel processes
            path = OUT / f"{run['name']}.json"
            entry = json.loads(path.read_text()) if path.is_file() else {"seed": run["seed"], "rules": {}}
            entry["marks"] = {str(m["mark"]): m["mean"] for m in run["marks"]}
            for rule in args.rules.split(","):
                print(f"{run['name']}: {rule} ...", flush=True)
                entry["rules"][rule] = evaluate_rule(run, rule, args.final_games, args.workers)
                entry.update(when=datetime.now(UTC).isoformat(timespec="seconds"), final_games=args.final_games)
                path.write_text(json.dumps(entry, indent=1) + "\n")

    saved = {"runs": {p.stem: json.loads(p.read_text()) for p in sorted(OUT.glob("default-s*.json"))}}
    names = sorted(saved["runs"])
    print(f"\npublished snapshot's test score (10 games vs the CPU, test seeds) per training seed; runs: {', '.join(names)}")
    print(f"{'rule':>14} {'mean':>7} {'95% CI':>16}  {'per seed (mark: score)':<48} {'eval frames':>12}")
    rows = {}
    for rule in RULES:
        cells = [saved["runs"][n]["rules"].get(rule) for n in names]
        if not all(cells):
            continue
        mean, ci = interval([c["test_mean"] for c in cells])
        per_seed = "  ".join(f"{_m(c['published'])}: {c['test_mean']:+.1f}" for c in cells)
        frames = sum(c["eval_frames"] for c in cells) / len(cells)
        rows[rule] = {"mean": mean, "ci95": ci, "eval_frames": frames}
        print(f"{rule:>14} {mean:+7.2f} {_ci(ci):>16}  {per_seed:<48} {frames:>12,.0f}")
    for label, pick in (("last (2M)", lambda m: m[max(m, key=int)]), ("best mark", lambda m: max(m.values()))):
        values = [pick(saved["runs"][n]["marks"]) for n in names]
        mean, ci = interval(values)
        print(f"{label:>14} {mean:+7.2f} {_ci(ci):>16}  {'  '.join(f'{v:+.1f}' for v in values):<48}")
    if "before" in rows and "capped+final" in rows:
        print(
            f"\ncapped+final vs before: {rows['capped+final']['mean'] - rows['before']['mean']:+.2f} points on the mean, "
            f"{rows['capped+final']['eval_frames'] / max(rows['before']['eval_frames'], 1):.2f}x the evaluation frames"
        )
    saved["summary"] = rows
    (RESULTS / "publish_rule.json").write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
