"""bench/policy_churn.py: a snapshot compared with itself moves 0, a changed one moves > 0, the KL
is the textbook one, and an experiment with no snapshots is a one-line error."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "bench"
TINY = dict(embed_sizes="16", gru_size=16, actor_sizes="16", critic_sizes="16")  # a small rac


@pytest.fixture
def policy_churn():
    spec = importlib.util.spec_from_file_location("bench_policy_churn", BENCH / "policy_churn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_churn_numbers_by_hand(policy_churn):
    p = np.array([[0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]])
    q = np.array([[0.25, 0.5, 0.25], [1 / 3, 1 / 3, 1 / 3]])
    got = policy_churn.churn(p, q)
    # step 1: 0.5 ln 2 + 0.25 ln 0.5 = 0.25 ln 2; step 2: 0
    assert got["kl"] == pytest.approx(0.125 * math.log(2), rel=1e-9)
    assert got["argmax_differs"] == 0.5
    assert got["entropy"] == pytest.approx((1.5 * math.log(2) + math.log(3)) / 2, rel=1e-9)


def save_experiment(folder: Path, weights_at: dict[int, dict]) -> None:
    """Snapshots of a small rac on Pong, one per frame count."""
    from arena.training.params import to_dict
    from arena.training.snapshot import save_snapshot
    from arena_algorithms.rac import RACParams
    from arena_pong import PongOptions

    params = RACParams(**TINY)
    for frames, weights in weights_at.items():
        meta = {
            "algorithm": "rac",
            "params": to_dict(params),
            "env": "pong",
            "env_options": dataclasses.asdict(PongOptions(act_every=2)),
            "obs_size": 8,
            "num_actions": 3,
            "counters": {"frames": frames, "steps": frames // 2},
        }
        save_snapshot(folder / "snapshots" / f"{frames // 2:012d}.pt", meta, {"model": weights, "updates": 0})


def test_a_changed_snapshot_moves_and_an_unchanged_one_does_not(policy_churn, tmp_path, capsys):
    from arena_algorithms.rac import RACLearner, RACParams

    torch.manual_seed(0)
    model = RACLearner.make_model(RACParams(**TINY), 8, 3)
    same = {k: v.clone() for k, v in model.state_dict().items()}
    changed = {k: v.clone() for k, v in same.items()}
    changed["actor.1.weight"] = changed["actor.1.weight"] + torch.randn_like(changed["actor.1.weight"])  # the logits layer
    folder = tmp_path / "experiments" / "tiny"
    save_experiment(folder, {0: changed, 4000: same, 8000: same})

    out = tmp_path / "churn.json"
    result = policy_churn.main([str(folder), "--back", "0,4000,8000", "--points", "1", "--out", str(out)])
    rows = result["results"][0]["rows"]
    assert [r["frames_back"] for r in rows] == [0, 4000, 8000]
    assert rows[0]["kl"] == 0 and rows[1]["kl"] == 0 and rows[1]["argmax_differs"] == 0  # the same weights
    assert rows[2]["kl"] > 0.01 and rows[2]["argmax_differs"] > 0
    assert result["results"][0]["steps"] > 10  # one real game to a point
    assert json.loads(out.read_text())["results"][0]["rows"][2]["kl"] == pytest.approx(rows[2]["kl"])
    assert "KL(last||then)" in capsys.readouterr().out


def test_no_snapshots_is_a_one_line_error(policy_churn, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        policy_churn.main([str(tmp_path / "empty"), "--out", str(tmp_path / "x.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no snapshots" in err and "train the experiment first" in err
