"""The hand-written TensorBoard events files: CRC-32C, byte-exact records (golden bytes from
protobuf's serializer and TensorBoard's RecordWriter), round trips, corruption, and TensorBoard
reading the files when it is installed."""

from __future__ import annotations

import math
import os
import struct
import subprocess
import sys

import pytest

from arena.training.tensorboard import (
    FILE_VERSION,
    EventWriter,
    _encode_event,
    _frame,
    crc32c,
    masked_crc32c,
    read_events,
)

# Produced once with tensorboard 2.21 / protobuf 7.36:
#   buf = io.BytesIO(); RecordWriter(buf).write(event_pb2.Event(...).SerializeToString())
GOLDEN_SCALAR = bytes.fromhex(  # Event(wall_time=1700000000.5, step=1234, reward=-3.25)
    "1d00000000000000602fdf23"  # length 29, masked CRC of the length
    "0900002040fc54d941"  # wall_time (double)
    "10d209"  # step 1234 (varint)
    "2a0f0a0d0a06726577617264"  # summary { value { tag "reward"
    "15000050c0"  # simple_value -3.25 (float) } }
    "a7c88770"  # masked CRC of the data
)
GOLDEN_VERSION = bytes.fromhex(  # Event(wall_time=1700000000.0, file_version="brain.Event:2")
    "1800000000000000a37f4b22"
    "0900000040fc54d941"
    "1a0d627261696e2e4576656e743a32"
    "eced8f9d"
)


def test_crc32c_check_values():
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of ones
    crc = crc32c(b"123456789")
    assert masked_crc32c(b"123456789") == (((crc >> 15) | (crc << 17)) + 0xA282EAD8) % 2**32


def test_records_match_golden_bytes():
    assert _frame(_encode_event(1700000000.5, 1234, scalars=[("reward", -3.25)])) == GOLDEN_SCALAR
    assert _frame(_encode_event(1700000000.0, file_version=FILE_VERSION)) == GOLDEN_VERSION


def test_negative_step_and_zero_value_encode_like_protobuf():
    # protobuf: int64 -5 is a ten-byte varint; simple_value is in a oneof, so 0.0 is written
    expected = bytes.fromhex("09000000000000f03f10fbffffffffffffffff012a0a0a080a01781500000000")
    assert _encode_event(1.0, -5, scalars=[("x", 0.0)]) == expected


def test_round_trip(tmp_path):
    with EventWriter(tmp_path / "tb") as tb:
        tb.add_scalars(0, {"reward": -21.0, "loss/policy": 0.5}, wall_time=100.0)
        tb.add_scalars(2**40, {"reward": 1.25, "win_rate/cpu": None}, wall_time=101.5)
    assert tb.closed
    name = tb.path.name
    assert name.startswith("events.out.tfevents.") and name.endswith(f".{os.getpid()}.arena")
    first, *rest = read_events(tb.path)
    assert first["file_version"] == FILE_VERSION and "scalars" not in first
    assert [(e["step"], e["wall_time"], e["scalars"]) for e in rest] == [
        (0, 100.0, {"reward": -21.0}),
        (0, 100.0, {"loss/policy": 0.5}),
        (2**40, 101.5, {"reward": 1.25}),  # None skipped
    ]
    assert read_events(tmp_path / "tb") == [first, *rest]  # a folder reads its files


def test_values_are_float32(tmp_path):
    with EventWriter(tmp_path) as tb:
        tb.add_scalars(1, {"a": 0.1, "huge": 1e300, "nan": math.nan, "int": 3})
    values = {k: v for e in read_events(tb.path)[1:] for k, v in e["scalars"].items()}
    assert values["a"] == struct.unpack("<f", struct.pack("<f", 0.1))[0] != 0.1
    assert values["huge"] == math.inf
    assert math.isnan(values["nan"])
    assert values["int"] == 3.0


def test_two_writers_in_one_second_get_two_files(tmp_path):
    with EventWriter(tmp_path) as a, EventWriter(tmp_path) as b:
        a.add_scalars(1, {"x": 1.0})
        b.add_scalars(1, {"x": 2.0})
    assert a.path != b.path
    assert len(list(tmp_path.glob("*tfevents*"))) == 2


def test_each_call_is_flushed(tmp_path):
    tb = EventWriter(tmp_path)
    tb.add_scalars(7, {"x": 1.5})
    # read while the writer is still open, as a killed process would leave the file
    assert read_events(tb.path)[-1]["scalars"] == {"x": 1.5}
    tb.close()
    tb.close()  # closing twice is harmless


def test_killed_process_loses_nothing_logged(tmp_path):
    code = (
        "import os, sys\n"
        "from arena.training.tensorboard import EventWriter\n"
        "tb = EventWriter(sys.argv[1])\n"
        "for step in range(3):\n"
        "    tb.add_scalars(step, {'x': step / 2})\n"
        "os._exit(9)  # no close(), no interpreter shutdown\n"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=False)
    events = read_events(tmp_path)
    assert [e["scalars"]["x"] for e in events[1:]] == [0.0, 0.5, 1.0]


def test_corrupt_byte_is_detected(tmp_path):
    with EventWriter(tmp_path) as tb:
        tb.add_scalars(3, {"reward": 1.0})
    good = tb.path.read_bytes()
    last = len(good) - len(GOLDEN_SCALAR)  # the scalar record is as long as the golden one
    assert last > 0
    for offset, what in ((last + 20, "data"), (last + 2, "length")):
        bad = bytearray(good)
        bad[offset] ^= 0x01
        tb.path.write_bytes(bytes(bad))
        with pytest.raises(ValueError, match=f"bad {what} CRC"):
            read_events(tb.path)


def test_half_written_last_record_is_ignored(tmp_path):
    with EventWriter(tmp_path) as tb:
        tb.add_scalars(1, {"x": 1.0})
        tb.add_scalars(2, {"x": 2.0})
    data = tb.path.read_bytes()
    for cut in (5, 30):  # inside the header, inside the data
        tb.path.write_bytes(data[:-cut])
        assert [e["step"] for e in read_events(tb.path)] == [0, 1]


def test_tensorboard_reads_the_file(tmp_path):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator",
        reason="tensorboard is not installed (it is not an Arena dependency)",
    )
    steps = [0, 1000, 2500, 10**9]
    with EventWriter(tmp_path) as tb:
        for k, step in enumerate(steps):
            tb.add_scalars(
                step, {"reward": k - 1.5, "loss/value": 1 / (k + 1)}, wall_time=5000.0 + k
            )
    acc = accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert acc.file_version == 2.0
    assert set(acc.Tags()["scalars"]) == {"reward", "loss/value"}
    reward = acc.Scalars("reward")
    assert [(e.step, e.wall_time, e.value) for e in reward] == [
        (s, 5000.0 + k, k - 1.5) for k, s in enumerate(steps)
    ]
    scalars = [e.get("scalars", {}) for e in read_events(tmp_path)]
    ours = [s["loss/value"] for s in scalars if "loss/value" in s]
    assert [e.value for e in acc.Scalars("loss/value")] == ours  # the same float32s
