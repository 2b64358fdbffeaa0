"""How long the ``arena`` command takes to start, next to a bare Python and to ``import torch``.

What it measures, each command run N times as a fresh subprocess (stdout/stderr discarded), the
commands taking turns so that load changes on a shared machine hit them alike:

* ``python -c pass``: the interpreter's own start (site, .pth files): the baseline.
* ``python -c "import torch"``: what the CLI would cost if it imported torch eagerly (Arena
  depends on torch, but no CLI command should import it before it trains or loads a model).
* ``arena --help``, ``arena plugins``, ``arena plugins --json``: the console script, run with
  this interpreter (``python <bin>/arena ...``). Every command builds the CLI, which loads every
  plugin through entry points, so this is also the cost each installed plugin adds to startup.
* ``arena --help via PATH``: only when PATH holds another ``arena`` than the console script
  itself (e.g. a pyenv shim: a bash script that finds the interpreter on every call).
* ``... [pyc cache]``: only when PYTHONDONTWRITEBYTECODE is set, as in this sandbox: Arena is
  installed editable, so its modules are then compiled from source on every start. These rows
  run with a bytecode cache in a temporary folder (PYTHONPYCACHEPREFIX), as a normal install has.

Then ``python -X importtime <bin>/arena plugins`` (run a few times; per-module medians) lists the
five top-level imports that cost the most, after leaving out what the baseline interpreter imports
anyway, and the five modules with the most self time. Last, a check of which heavy modules each
command leaves in ``sys.modules``: torch, stable_retro and numpy must not be imported (they cost
seconds, or tens of milliseconds, and listing plugins or printing help needs none of them). A
phase table splits ``arena plugins`` inside one process: CLI imports, the entry-point scan,
plugin loading, printing the table.

How to read it: compare ``median - baseline`` (what Arena itself adds) with ``import torch``'s
(what one eager import would add). Medians describe the typical start on this machine, minima
the best case with warm caches; both swing with other load, so compare rows of one run only.
Results go to ``bench/results/cli_startup.json``.

Usage::

    python bench/cli_startup.py            # full: 20 runs per command, ~1 min
    python bench/cli_startup.py --quick    # smoke version: 5 runs, < 60 s
    python bench/cli_startup.py --runs 50 --strict   # exit 1 if torch/stable_retro/numpy get imported
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ARENA_COMMANDS = (("arena --help", ["--help"]), ("arena plugins", ["plugins"]), ("arena plugins --json", ["plugins", "--json"]))
MUST_NOT_IMPORT = ("torch", "stable_retro", "numpy")
ALSO_REPORTED = ("gymnasium", "pettingzoo", "pandas", "ale_py", "rich", "pluggy", "click")
MARKER = "@@ARENA-BENCH-MODULES@@"
CHECK_CODE = f"""
import json, sys
sys.argv = ["arena"] + sys.argv[1:]
from arena.cli import main
try:
    main()
except SystemExit:
    pass
names = {list(MUST_NOT_IMPORT + ALSO_REPORTED)!r}
sys.stderr.write({MARKER!r} + json.dumps({{n: n in sys.modules for n in names}}) + "\\n")
"""


def console_script() -> Path | None:
    """The ``arena`` console script of this interpreter's environment."""
    for folder in (Path(sys.executable).parent, Path(sys.prefix) / "bin", Path(sys.prefix) / "Scripts"):
        for name in ("arena", "arena-script.py"):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def other_arenas_on_path(script: Path) -> list[str]:
    """``arena`` executables on PATH other than the console script (e.g. a pyenv shim)."""
    found, seen = [], {script.resolve()}
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("arena", path=folder) if folder else None
        if candidate and Path(candidate).resolve() not in seen:
            seen.add(Path(candidate).resolve())
            found.append(candidate)
    return found[:2]


PHASES_CODE = f"""
import json, os, sys, time
t0 = time.perf_counter()
import arena.cli, arena.cli.match, arena.cli.plugins
t1 = time.perf_counter()
from importlib import metadata
entry_points = metadata.entry_points(group="arena")
t2 = time.perf_counter()
import arena.plugins.manager
loaded = arena.plugins.manager.load_plugins(entry_points)
t3 = time.perf_counter()
arena.plugins.manager._loaded = loaded  # what get_arena() caches: the command below must not load again
sys.stdout = open(os.devnull, "w")
arena.cli.build_cli().main(args=["plugins"], prog_name="arena", standalone_mode=False)
t4 = time.perf_counter()
sys.stderr.write({MARKER!r} + json.dumps([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) + "\\n")
"""
PHASE_NAMES = (
    "import click, arena.cli and its commands",
    "import importlib.metadata, scan entry points",
    "import pluggy + arena.plugins.manager, import and register the plugins",
    "run 'plugins' (import rich, print the table)",
)


def phases(runs: int) -> dict[str, float]:
    """Median seconds of each phase of ``arena plugins`` inside one process."""
    samples = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-c", PHASES_CODE], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300
        )
        line = next((ln for ln in proc.stderr.splitlines() if ln.startswith(MARKER)), None)
        if line is None:
            raise RuntimeError(f"phase timing printed no result: {proc.stderr[-500:]}")
        samples.append(json.loads(line[len(MARKER) :]))
    return {name: statistics.median(s[i] for s in samples) for i, name in enumerate(PHASE_NAMES)}


def build_commands(script: Path, pyc_env: dict | None) -> list[tuple[str, list[str], dict | None]]:
    py = sys.executable
    commands: list[tuple[str, list[str], dict | None]] = [("python -c pass (baseline)", [py, "-c", "pass"], None)]
    if importlib.util.find_spec("torch") is not None:
        commands.append(('python -c "import torch"', [py, "-c", "import torch"], None))
    for label, args in ARENA_COMMANDS:
        commands.append((label, [py, str(script), *args], None))
    for other in other_arenas_on_path(script):
        commands.append((f"arena --help via {other}", [other, "--help"], None))
    if pyc_env is not None:
        commands.append(("python -c pass [pyc cache]", [py, "-c", "pass"], pyc_env))
        commands.append(("arena plugins [pyc cache]", [py, str(script), "plugins"], pyc_env))
    return commands


def time_commands(commands, runs: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {label: [] for label, _, _ in commands}
    for round_ in range(runs + 1):  # round 0 warms the file cache (and fills the pyc cache): not counted
        for label, argv, env in commands:
            start = time.perf_counter()
            proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=300)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"{label!r} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-500:]}")
            if round_:
                times[label].append(elapsed)
    return times


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """``-X importtime`` lines -> (module, self us, cumulative us, nesting level)."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        try:
            self_us, cumulative, name = line[len("import time:") :].split("|")
            self_us, cumulative = int(self_us), int(cumulative)
        except ValueError:
            continue
        level = (len(name) - len(name.lstrip(" ")) - 1) // 2
        out.append((name.strip(), self_us, cumulative, level))
    return out


def importtime(argv: list[str], runs: int) -> dict[str, dict]:
    """Per-module medians over ``runs`` runs of ``python -X importtime ...``."""
    samples: dict[str, dict] = {}
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300
        )
        for name, self_us, cumulative, level in parse_importtime(proc.stderr):
            entry = samples.setdefault(name, {"self": [], "cumulative": [], "level": level})
            entry["self"].append(self_us)
            entry["cumulative"].append(cumulative)
            entry["level"] = min(entry["level"], level)
    return {
        name: {
            "self_ms": statistics.median(e["self"]) / 1000,
            "cumulative_ms": statistics.median(e["cumulative"]) / 1000,
            "level": e["level"],
            "seen": len(e["self"]),
        }
        for name, e in samples.items()
    }


def module_check(script_args: list[str]) -> dict[str, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK_CODE, *script_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    for line in proc.stderr.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise RuntimeError(f"module check of 'arena {' '.join(script_args)}' printed no result: {proc.stderr[-500:]}")


def _table(head, body) -> str:
    widths = [max(len(x) for x in col) for col in zip(head, *body)]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(head), rule, *(fmt(cells) for cells in body)])


def machine_info() -> dict:
    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "arena_rl": version("arena-rl"),
        "torch": version("torch"),
        "stable_retro": version("stable-retro"),
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE"),
        "load_average": load,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke version (5 runs per command, < 60 s)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per command [20; quick 5]")
    parser.add_argument("--importtime-runs", type=int, default=None, help="-X importtime runs [5; quick 2]")
    parser.add_argument("--strict", action="store_true", help="exit 1 when an arena command imports torch, stable_retro or numpy")
    parser.add_argument(
        "--against",
        type=Path,
        default=None,
        metavar="PYTHON",
        help="the python of another environment with another Arena (say, a venv with the previous release): "
        "its arena commands run in the same rounds, and a table gives the ratio this / that",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_startup.json")
    args = parser.parse_args(argv)
    runs = args.runs or (5 if args.quick else 20)
    it_runs = args.importtime_runs or (2 if args.quick else 5)

    script = console_script()
    if script is None:
        print("cli_startup: no 'arena' console script next to this interpreter; run `pip install -e .` first", file=sys.stderr)
        return 2
    info = machine_info()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="arena-bench-pyc-") as pyc_dir:
        pyc_env = None
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            pyc_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            pyc_env["PYTHONPYCACHEPREFIX"] = pyc_dir
        commands = build_commands(script, pyc_env)
        if args.against is not None:
            other = args.against.parent / "arena"
            if not other.is_file():
                print(f"cli_startup: no 'arena' console script next to {args.against}", file=sys.stderr)
                return 2
            commands += [(f"{label} [against]", [str(args.against), str(other), *cmd], None) for label, cmd in ARENA_COMMANDS]
        print(f"cli_startup ({'quick' if args.quick else 'full'}): {len(commands)} commands x {runs} runs, python {info['python']}, "
              f"script {script}, load {info['load_average']}", flush=True)  # fmt: skip
        times = time_commands(commands, runs)

    base_label = commands[0][0]
    base_median = statistics.median(times[base_label])
    base_cached = statistics.median(times["python -c pass [pyc cache]"]) if pyc_env is not None else None
    rows = []
    for label, _, env in commands:
        values = times[label]
        median = statistics.median(values)
        baseline = base_cached if env is not None else base_median
        rows.append({
            "command": label,
            "runs": len(values),
            "median_ms": median * 1000,
            "min_ms": min(values) * 1000,
            "max_ms": max(values) * 1000,
            "minus_baseline_ms": (median - baseline) * 1000,
            "x_baseline": median / baseline,
            "all_ms": [round(v * 1000, 1) for v in values],
        })  # fmt: skip

    print()
    print(_table(
        ("command", "runs", "median ms", "min ms", "median - baseline ms", "x baseline"),
        [(r["command"], str(r["runs"]), f"{r['median_ms']:.0f}", f"{r['min_ms']:.0f}", f"{r['minus_baseline_ms']:+.0f}", f"{r['x_baseline']:.2f}") for r in rows],
    ))  # fmt: skip
    if pyc_env is not None:
        print("([pyc cache] rows are relative to 'python -c pass [pyc cache]')")
    against = []
    if args.against is not None:
        for label, _ in ARENA_COMMANDS:
            ratios = [a / b for a, b in zip(times[label], times[f"{label} [against]"])]
            against.append(
                {"command": label, "ratio_median": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
            )
        print(f"\nthis Arena / the one under {args.against} (run by run, the same rounds):")
        print(_table(
            ("command", "median ratio", "min", "max"),
            [(r["command"], f"{r['ratio_median']:.2f}", f"{r['ratio_min']:.2f}", f"{r['ratio_max']:.2f}") for r in against],
        ))  # fmt: skip

    print(
        f"\npython -X importtime {script.name} plugins: median of {it_runs} runs, modules the bare interpreter imports left out",
        flush=True,
    )
    base_modules = importtime(["-c", "pass"], 1)
    modules = importtime([str(script), "plugins"], it_runs)
    own = {name: m for name, m in modules.items() if name not in base_modules}
    top_level = sorted((item for item in own.items() if item[1]["level"] == 0), key=lambda item: -item[1]["cumulative_ms"])[:5]
    top_self = sorted(own.items(), key=lambda item: -item[1]["self_ms"])[:5]
    total_ms = sum(m["self_ms"] for m in own.values())
    print(f"(all {len(own)} such modules: {total_ms:.0f} ms of self time)")
    print(
        _table(
            ("top-level import", "cumulative ms", "self ms"),
            [(n, f"{m['cumulative_ms']:.1f}", f"{m['self_ms']:.1f}") for n, m in top_level],
        )
    )
    print()
    print(
        _table(
            ("module (any depth)", "self ms", "cumulative ms"),
            [(n, f"{m['self_ms']:.1f}", f"{m['cumulative_ms']:.1f}") for n, m in top_self],
        )
    )

    print(f"\nphases of 'arena plugins' inside one process (after interpreter start), median of {it_runs * 2} runs:")
    phase_s = phases(it_runs * 2)
    print(_table(("phase", "ms"), [(name, f"{sec * 1000:.1f}") for name, sec in phase_s.items()]))

    print("\nmodules left in sys.modules by each command:")
    checks = {label: module_check(cmd_args) for label, cmd_args in ARENA_COMMANDS}
    names = list(MUST_NOT_IMPORT + ALSO_REPORTED)
    print(_table(
        ("module", *checks),
        [(n + (" (must be no)" if n in MUST_NOT_IMPORT else ""), *("yes" if checks[c][n] else "no" for c in checks)) for n in names],
    ))  # fmt: skip
    offenders = sorted({f"{n} (by {c})" for c in checks for n in MUST_NOT_IMPORT if checks[c][n]})
    passed = not offenders
    print(
        f"\ncheck: no arena command imports {', '.join(MUST_NOT_IMPORT)}: {'PASS' if passed else 'FAIL: ' + ', '.join(offenders)}"
    )
    total = time.perf_counter() - started
    print(f"took {total:.0f} s")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "cli_startup",
        "mode": "quick" if args.quick else "full",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": info,
        "script": str(script),
        "rows": rows,
        "against": {"python": str(args.against), "ratios": against} if args.against is not None else None,
        "importtime": {
            "command": f"python -X importtime {script} plugins",
            "runs": it_runs,
            "top_level_by_cumulative": [{"module": n, **m} for n, m in top_level],
            "top_by_self": [{"module": n, **m} for n, m in top_self],
            "own_modules": len(own),
            "own_self_ms": total_ms,
        },
        "phases_ms": {name: sec * 1000 for name, sec in phase_s.items()},
        "modules_imported": checks,
        "check_passed": passed,
        "total_s": total,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
