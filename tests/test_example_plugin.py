"""The example third-party plugin (examples/arena-example-plugin), installed for real with pip.

The package is pip-installed into a temporary ``--target`` folder (nothing in the current
environment changes) and found by Arena through its ``arena`` entry point, exactly as a user's
``pip install`` would be: in the CLI process and in the spawned match workers alike.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "arena-example-plugin"
PLUGINS = "agents,pong,example"  # only these: another plugin installed here can't interfere


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example plugin, pip-installed into a folder of its own."""
    root = tmp_path_factory.mktemp("example-plugin")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "arena_example_plugin-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def python_path(site: Path) -> str:
    return os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


def run_cli(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = python_path(site)
    env["ARENA_HOME"] = str(home)
    env["ARENA_LOAD_PLUGINS"] = PLUGINS
    env["ARENA_STRICT_PLUGINS"] = "1"  # the example must load cleanly, not be skipped with a warning
    env.pop("ARENA_TRACE_PLUGINS", None)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120, cwd=home, env=env,
    )  # fmt: skip


def test_plugins_lists_the_example_with_its_version_and_registrations(site, tmp_path):
    result = run_cli(site, tmp_path, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"agents", "pong", "example"} <= set(plugins)
    example = plugins["example"]
    assert example["version"] == "0.1.0"
    assert example["distribution"] == "arena-example-plugin"
    assert example["module"] == "arena_example_plugin"
    assert example["hooks"] == ["arena_register_agents", "arena_register_commands"]
    assert example["agents"] == ["bot:lazy"]
    assert example["commands"] == ["lazy-levels"]


def test_the_example_command_runs(site, tmp_path):
    result = run_cli(site, tmp_path, "lazy-levels")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 9
    assert lines[0].split() == ["bot:lazy:1", "aim", "noise", "80", "px"]
    assert lines[-1].split() == ["bot:lazy:9", "aim", "noise", "0", "px"]


def test_loading_the_example_imports_nothing_heavy(site, tmp_path):
    code = (
        "import sys\n"
        "from arena.plugins.manager import load_plugins\n"
        "arena = load_plugins()\n"
        "assert 'bot:lazy' in arena.agents\n"
        "print('HEAVY', sorted(m for m in ('numpy', 'torch', 'stable_retro', 'pettingzoo') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": python_path(site), "ARENA_LOAD_PLUGINS": PLUGINS, "ARENA_STRICT_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_lazy_bot_plays_and_beats_random_on_both_sides(site, tmp_path, workers):
    # With 2 workers the games run in spawned processes, which find the plugin on their own.
    log = tmp_path / "match.jsonl"
    result = run_cli(
        site, tmp_path, "match", "bot:lazy:9", "random",
        "--games", "2", "--workers", workers, "-o", "points=3", "--log", str(log),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    records = read_log(log)
    assert len(records) == 2
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert record["a"] == "bot:lazy:9" and record["b"] == "random"
        assert record["winner"] == "a", record["score"]
        assert record["score_a"] == 3
    assert {record["a_seat"] for record in records} == {"left", "right"}  # each side played once


def test_bad_level_is_one_line_and_exit_2(site, tmp_path):
    result = run_cli(site, tmp_path, "match", "bot:lazy:0", "random")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bot:lazy:0" in lines[0] and "1-9" in lines[0]
