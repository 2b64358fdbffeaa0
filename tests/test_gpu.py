"""The learner on a CUDA GPU (`--set device=cuda`): every algorithm trains on real Pong, features
and pixels, resumes with its optimizer state, and its snapshot plays on CPU-only workers.

These run only where torch sees a CUDA GPU (CI machines have none; the refusal of device=cuda on a
CPU-only torch is tested in test_train.py). Run them on a GPU machine with
``python -m pytest tests/test_gpu.py``.
"""

from __future__ import annotations

import json

import pytest
from test_pixels import PIXEL_SETS
from test_train import run_arena

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none here)")

ALGORITHMS = ["ac", "rac", "dqn", "rdqn", "a2c", "ppo"]
SMALL = {  # 16 steps a trajectory, 4 trajectories an update: a few updates in 640 agent steps
    "ac": (),
    "rac": ("--set", "batches=1"),
    "dqn": ("--set", "learning_starts=4"),
    "rdqn": ("--set", "learning_starts=4"),
    "a2c": ("--set", "batches=1"),
    "ppo": ("--set", "batches=1"),
}


def _metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHMS)
def test_a_learner_on_the_gpu_trains_resumes_and_its_snapshot_plays_on_the_cpu(tmp_path, name):
    args = (
        "train", "--plugin", name, "--name", "gpu", "--workers", "1", "--eval-every", "0", "--snapshot-every", "1",
        "--set", "device=cuda", "--set", "experience_length=16", "--set", "min_collect=4", "--set", "batch_size=4",
        *SMALL[name], "-o", "points=3",
    )  # fmt: skip
    first = run_arena(tmp_path, *args, "--steps", "320")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "weights on cuda" in first.stdout, first.stdout
    folder = tmp_path / "experiments" / "gpu"
    before = _metrics(folder)
    assert before and any(key.startswith("loss") for key in before[-1])
    assert all(v == v for row in before for k, v in row.items() if k.startswith("loss"))  # no NaN from the GPU path

    # a resume puts the weights and the optimizer's state back on the GPU and trains on
    again = run_arena(tmp_path, *args, "--steps", "640")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed gpu from" in again.stdout and "learner on cuda" in again.stdout, again.stdout
    after = _metrics(folder)
    assert after[-1]["steps"] >= 640 and after[-1]["updates"] > before[-1]["updates"]

    # a snapshot written by a GPU learner is plain CPU data: a match with no GPU in sight plays it
    played = run_arena(
        tmp_path, "match", "experiments/gpu", "cpu", "--games", "1", "-o", "points=1", "--workers", "1", CUDA_VISIBLE_DEVICES=""
    )
    assert played.returncode == 0, played.stdout + played.stderr
    assert "mean score difference (experiments/gpu - cpu)" in played.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ALGORITHMS)
def test_every_algorithm_learns_from_pixels_on_the_gpu(tmp_path, name):
    proc = run_arena(
        tmp_path, "train", "--plugin", name, *PIXEL_SETS[name], "--workers", "1", "--steps", "32", "--name", "px",
        "--snapshot-every", "1", "--eval-every", "0", "-o", "obs=pixels", "-o", "points=1", "--set", "device=cuda",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "weights on cuda" in proc.stdout
    proc = run_arena(
        tmp_path, "match", "experiments/px", "cpu", "-o", "obs=pixels", "--games", "1", "-o", "points=1", CUDA_VISIBLE_DEVICES=""
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
