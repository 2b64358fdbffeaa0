"""bench/ray_scaling.py: the 120-worker estimate's arithmetic on hand-made figures, and a short
run end to end (local processes, then a Ray of its own, then local again)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_ray_scaling", BENCH / "ray_scaling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    for var in ("ARENA_EXPERIMENTS", "ARENA_HOME", "ARENA_INLINE_ROLLOUT"):  # the bench sets them
        monkeypatch.setenv(var, str(tmp_path / var) if var != "ARENA_INLINE_ROLLOUT" else "1")
    return module


def test_the_estimate_is_the_arithmetic_it_states(bench):
    row = {"workers": 2, "steps_per_update": 512, "learner_s_per_update": 0.25, "broadcast_s": 0.004}
    rows = [
        dict(row, backend="local", steady_fps=2000.0),
        dict(row, backend="ray", steady_fps=1900.0),
        dict(row, backend="local", steady_fps=1800.0),
    ]
    lines = "\n".join(bench.estimate(rows, act_every=2))
    assert "a worker delivers 1,000 frames/s" in lines  # the better local row, per worker
    assert "the learner takes 2,048 agent steps/s (4,096 frames/s at act_every 2)" in lines
    assert "120 workers would deliver 120,000 frames/s: 29.3x what one learner takes" in lines
    assert "stops scaling at about 4.1 workers" in lines
    assert "2.00 ms each: 240 ms an update" in lines


@pytest.mark.slow
def test_a_short_run_end_to_end(tmp_path):
    # In a process of its own, as users run it: the Ray it starts and stops stays out of this one.
    env = {**os.environ, "ARENA_EXPERIMENTS": str(tmp_path / "experiments"), "ARENA_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, str(BENCH / "ray_scaling.py"), "--steps", "1500", "--workers", "1", "--results", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "x local" in result.stdout and "A 120-worker run like phillip's" in result.stdout
    data = json.loads((tmp_path / "ray_scaling.json").read_text())
    backends = [r["backend"] for r in data["rows"]]
    assert backends == ["local", "ray", "local"]
    assert all(r["steps"] >= 1500 and r["steady_fps"] > 0 for r in data["rows"])
    assert data["rows"][1]["x_local"] > 0 and data["rows"][1]["broadcast_s"] > 0
