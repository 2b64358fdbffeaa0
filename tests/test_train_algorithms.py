"""Every built-in algorithm trains on real Pong through `arena train`, and its snapshot plays."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ALGORITHMS = ["ac", "rac", "dqn", "rdqn", "a2c", "ppo"]


def _arena(args, cwd, env):
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_arena_train_runs_on_pong_and_the_snapshot_plays(algorithm, tmp_path):
    env = dict(
        os.environ, ARENA_HOME=str(tmp_path / "data"), ARENA_EXPERIMENTS=str(tmp_path / "experiments"), COLUMNS="200",
        ARENA_LOAD_PLUGINS="agents,pong,algorithms,enemies",  # never an example plugin installed elsewhere
    )  # fmt: skip
    small = ["--set", "experience_length=16", "--set", "min_collect=4", "--set", "batch_size=4"]
    if algorithm in ("dqn", "rdqn"):
        small += ["--set", "learning_starts=4"]
    if algorithm == "ppo":
        small += ["--set", "batches=1"]
    done = _arena(
        ["train", "--plugin", algorithm, "--steps", "640", "--workers", "1", "--eval-every", "0", *small], tmp_path, env
    )
    assert done.returncode == 0, done.stderr
    folder = next((tmp_path / "experiments").iterdir())
    assert folder.name.startswith(algorithm)
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    act_every = json.loads((folder / "params.json").read_text())["env_options"]["act_every"]  # the env's option
    # against its latest self both seats train, so a frame may give two steps
    assert rows and rows[-1]["steps"] >= 640 and rows[-1]["frames"] >= 640 * act_every // 2
    assert all(b["steps"] > a["steps"] for a, b in zip(rows, rows[1:]))
    assert any(key.startswith("loss") for key in rows[-1])
    played = _arena(["match", str(folder), "cpu", "--games", "1", "--points", "1", "--workers", "1"], tmp_path, env)
    assert played.returncode == 0, played.stderr
    assert "mean score difference" in played.stdout
