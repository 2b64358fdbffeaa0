"""bench/learner_cost.py: a real update of each variant timed against a real emulator core, and the
ceiling it reports is the arithmetic its docstring states."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_learner_cost", BENCH / "learner_cost.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    return module


def test_variants_parse_as_an_algorithm_and_its_settings(bench):
    assert bench.parse_variant("rac") == ("rac", {})
    assert bench.parse_variant("rac sweeps=2 batch_size=16") == ("rac", {"sweeps": "2", "batch_size": "16"})


@pytest.mark.slow
def test_a_run_times_real_updates_and_reports_the_ceiling(bench, tmp_path, capsys):
    bench.main(["--variant", "rac", "--variant", "rac sweeps=1", "--rounds", "1", "--updates", "1", "--raw-seconds", "0.5"])
    assert "ceiling" in capsys.readouterr().out
    result = json.loads((tmp_path / "results" / "learner_cost.json").read_text())
    raw = result["raw_fps"]
    assert raw > 100  # a real emulator ran
    rows = {row["variant"]: row for row in result["rows"]}
    for row in rows.values():
        assert row["steps_per_update"] == 1024  # rac's 32 trajectories of 32 steps
        assert row["ceiling"] == pytest.approx(row["learner_fps"] / (raw + row["learner_fps"]))
        assert 0 < row["ceiling"] < 1
    # one sweep is a quarter of four sweeps' gradient steps: cheaper, so a higher ceiling
    assert rows["rac sweeps=1"]["ms_per_update"] < rows["rac"]["ms_per_update"]
    assert rows["rac sweeps=1"]["ceiling"] > rows["rac"]["ceiling"]
