"""bench/selfplay_memory.py runs and says what the bounds promise: before them a worker keeps a
model per past self it met, after them a few, and the pool lists at most its bound."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from arena.training.rollout import MAX_CACHED_ENEMIES

BENCH = Path(__file__).resolve().parents[1] / "bench" / "selfplay_memory.py"


def test_the_bench_shows_the_bounds(tmp_path):
    out = tmp_path / "selfplay_memory.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--enemies", "6", "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "past selves met" in done.stdout and "growth from 0 to 6" in done.stdout
    rows = json.loads(out.read_text())["rows"]
    last = {row["variant"]: row for row in rows if row["enemies_seen"] == 6}
    assert last["before"]["models_held"] == 6 and last["before"]["past_in_distribution"] == 6
    assert last["after"]["models_held"] == MAX_CACHED_ENEMIES
    assert all(row["rss_mb"] > 0 for row in rows)
