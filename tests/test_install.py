"""Arena installed from a wheel (not an editable checkout) finds the enemies files and leaderboard
definitions it ships, so the README's main job runs from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_install(tmp_path_factory) -> Path:
    """Arena's wheel, built from this checkout and installed (without its dependencies, which this
    Python has) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next((tmp / "dist").glob("arena_rl-*.whl"))
    target = tmp / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    return target


def _arena(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site), ARENA_HOME=str(cwd / "data"), ARENA_EXPERIMENTS=str(cwd / "experiments"))
    env.pop("ARENA_LOAD_PLUGINS", None)
    code = "import arena, sys; print('arena from', arena.__file__, file=sys.stderr); from arena.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.mark.slow
def test_a_wheel_install_runs_the_main_job_with_its_own_enemies_and_leaderboards(wheel_install, tmp_path):
    shipped = wheel_install / "arena" / "shipped"
    assert sorted(p.name for p in (shipped / "enemies").glob("*.json")) == sorted(
        p.name for p in (ROOT / "enemies").glob("*.json")
    )
    assert (shipped / "leaderboards" / "pong-ladder.json").is_file()

    # an empty folder, far from the checkout: nothing there to find but what the wheel carries
    dry = _arena(wheel_install, tmp_path, "train", "--plugin", "rac", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"arena from {wheel_install}" in dry.stderr  # the wheel's code, not the checkout's
    assert "enemies/default.json" in dry.stdout and "self (weight 1), cpu (weight 1)" in dry.stdout

    listed = _arena(wheel_install, tmp_path, "leaderboard", "list")
    assert listed.returncode == 0, listed.stderr
    assert "pong-ladder" in listed.stdout and "defined" in listed.stdout
    assert not (tmp_path / "experiments").exists()
