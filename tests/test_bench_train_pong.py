"""bench/train_pong.py's --eval-only refuses, in one line, an experiment that never trained or whose
metrics file is damaged."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def train_pong(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_train_pong", BENCH / "train_pong.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    yield module
    sys.modules.pop("train_throughput", None)


def eval_only_error(train_pong, capsys) -> str:
    """Run ``--eval-only``, check it exits 2 with one line on stderr, and return that line."""
    with pytest.raises(SystemExit) as exit_info:
        train_pong.main(["--no-sb3", "--eval-only"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    return err


@pytest.mark.parametrize("metrics", [None, ""], ids=["no folder", "empty metrics"])
def test_eval_only_without_a_trained_run_is_a_one_line_error(train_pong, tmp_path, capsys, metrics):
    folder = tmp_path / "results" / "experiments" / "bench-rac"
    if metrics is not None:
        folder.mkdir(parents=True)
        (folder / "metrics.jsonl").write_text(metrics)  # a run killed before its first update
    err = eval_only_error(train_pong, capsys)
    assert "no trained bench experiment" in err and "drop --eval-only" in err


def test_eval_only_with_a_damaged_metrics_file_names_the_line(train_pong, tmp_path, capsys):
    folder = tmp_path / "results" / "experiments" / "bench-rac"
    folder.mkdir(parents=True)
    good = '{"frames": 2048, "wall_s": 2.0, "reward": -21.0}'
    (folder / "metrics.jsonl").write_text(f"{good}\nnot json\n{good}\n")  # hand-edited, not torn
    err = eval_only_error(train_pong, capsys)
    assert "metrics.jsonl:2: not a JSON line" in err and "drop --eval-only" in err
