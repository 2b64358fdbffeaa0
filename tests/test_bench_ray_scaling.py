"""bench/ray_scaling.py: the 120-worker estimate's arithmetic on hand-made figures, and a short
run end to end (local processes, then a Ray of its own, then local again)."""

from __future__ import annotations

import importlib.util
import json
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
def test_a_short_run_end_to_end(bench, capsys):
    bench.main(["--steps", "1500", "--workers", "1"])
    out = capsys.readouterr().out
    assert "x local" in out and "A 120-worker run like phillip's" in out
    data = json.loads((bench.RESULTS / "ray_scaling.json").read_text())
    backends = [r["backend"] for r in data["rows"]]
    assert backends == ["local", "ray", "local"]
    assert all(r["steps"] >= 1500 and r["steady_fps"] > 0 for r in data["rows"])
    assert data["rows"][1]["x_local"] > 0 and data["rows"][1]["broadcast_s"] > 0
