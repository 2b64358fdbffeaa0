"""TensorBoard logs through tensorboardX, read back with TensorBoard's own reader: scalars, steps
and wall times, float32 values, one file per writer, flushing, and the purge a resumed run uses
so that no step is drawn twice."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from arena.training.tensorboard import FLUSH_SECS, EventWriter


def read(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    return acc


def steps_and_values(acc: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def float32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def test_scalars_round_trip(tmp_path):
    steps = [0, 1000, 2500, 2**40]
    with EventWriter(tmp_path / "tb") as tb:
        for k, step in enumerate(steps):
            values = {"reward": k - 1.5, "loss/value": 1 / (k + 1), "win_rate/cpu": None, "done": True, "note": "x"}
            tb.add_scalars(step, values, wall_time=5000.0 + k)
    assert tb.closed
    name = tb.path.name
    assert name.startswith("events.out.tfevents.") and name.endswith(f".{os.getpid()}.arena")
    assert tb.path.parent == tmp_path / "tb"

    acc = read(tmp_path / "tb")
    assert acc.file_version == 2.0
    assert set(acc.Tags()["scalars"]) == {"reward", "loss/value"}  # None, bools and text skipped
    assert [(e.step, e.wall_time, e.value) for e in acc.Scalars("reward")] == [
        (s, 5000.0 + k, k - 1.5) for k, s in enumerate(steps)
    ]
    assert [e.value for e in acc.Scalars("loss/value")] == [float32(1 / (k + 1)) for k in range(4)]


def test_values_are_float32(tmp_path):
    with EventWriter(tmp_path) as tb:
        tb.add_scalars(1, {"a": 0.1, "huge": 1e300, "int": 3})
    acc = read(tmp_path)
    assert acc.Scalars("a")[0].value == float32(0.1) != 0.1
    assert acc.Scalars("huge")[0].value == float("inf")
    assert acc.Scalars("int")[0].value == 3.0


def test_two_writers_in_one_second_get_two_files(tmp_path):
    with EventWriter(tmp_path) as a, EventWriter(tmp_path) as b:
        a.add_scalars(1, {"x": 1.0})
        b.add_scalars(2, {"x": 2.0})
    assert a.path != b.path
    assert sorted(tmp_path.glob("*tfevents*")) == [a.path, b.path]  # named in the order made
    assert steps_and_values(read(tmp_path), "x") == [(1, 1.0), (2, 2.0)]
    a.close()  # closing twice is harmless


def test_a_killed_process_keeps_what_it_logged_a_second_before(tmp_path):
    code = (
        "import os, sys, time\n"
        "from arena.training.tensorboard import EventWriter, FLUSH_SECS\n"
        "tb = EventWriter(sys.argv[1])\n"
        "for step in range(3):\n"
        "    tb.add_scalars(step, {'x': step / 2})\n"
        "time.sleep(FLUSH_SECS + 1.0)\n"
        "os._exit(9)  # no close(), no interpreter shutdown\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False, timeout=60)
    assert steps_and_values(read(tmp_path), "x") == [(0, 0.0), (1, 0.5), (2, 1.0)]
    assert FLUSH_SECS <= 2


def test_flush_writes_now(tmp_path):
    tb = EventWriter(tmp_path)
    tb.add_scalars(7, {"x": 1.5})
    tb.flush()
    tb.add_scalars(8, {"x": 2.5})
    tb.close()
    assert steps_and_values(read(tmp_path), "x") == [(7, 1.5), (8, 2.5)]


def run(folder, steps, value, purge_step=None) -> None:
    with EventWriter(folder, purge_step=purge_step) as tb:
        for step in steps:
            tb.add_scalars(step, {"reward": value(step), "loss": -value(step)})


def test_a_resumed_run_purges_the_steps_it_trains_again(tmp_path):
    # a run logs steps 1..10 and dies; its snapshot was at step 5, so the resumed run logs 6..8
    run(tmp_path, range(1, 11), lambda s: float(s))
    run(tmp_path, range(6, 9), lambda s: 100.0 + s, purge_step=5 + 1)
    acc = read(tmp_path)
    expected = [(s, float(s)) for s in range(1, 6)] + [(s, 100.0 + s) for s in range(6, 9)]
    assert steps_and_values(acc, "reward") == expected  # 1..8, once each
    assert steps_and_values(acc, "loss") == [(s, -v) for s, v in expected]

    # the new file starts with the session-start event at the purge step; the old one is kept
    first, second = sorted(tmp_path.glob("*tfevents*"))
    events = list(EventFileLoader(str(second)).Load())
    assert events[0].file_version == "brain.Event:2"
    assert [(e.step, e.session_log.status) for e in events[1:3] if e.HasField("session_log")] == [(6, 1)]  # START
    assert sum(1 for e in EventFileLoader(str(first)).Load() if e.HasField("summary")) == 20


def test_without_the_purge_tensorboard_would_draw_steps_twice(tmp_path):
    run(tmp_path, range(1, 11), lambda s: float(s))
    run(tmp_path, range(6, 9), lambda s: 100.0 + s)
    steps = [s for s, _ in steps_and_values(read(tmp_path), "reward")]
    assert steps.count(6) == 2 and len(steps) == 13


def test_tensorboardx_is_imported_only_by_a_writer():
    code = "import sys, arena.training.tensorboard; print('tensorboardX' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("purge_step", [None, 1])
def test_an_empty_run_is_a_valid_file(tmp_path, purge_step):
    with EventWriter(tmp_path, purge_step=purge_step):
        pass
    acc = read(tmp_path)
    assert acc.file_version == 2.0 and acc.Tags()["scalars"] == []
