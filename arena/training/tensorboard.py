"""TensorBoard scalar logs without TensorFlow or TensorBoard.

TensorBoard reads ``events.out.tfevents.*`` files: a sequence of TFRecords, each holding one
serialized ``tensorflow.Event`` protobuf. Arena only logs scalars, which needs three tiny
messages, so they are encoded here by hand rather than pulling in ``protobuf`` and
``tensorboard`` (hundreds of MB with their dependencies) at training time::

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }

TFRecord framing: ``uint64 length`` (little-endian), ``uint32 masked_crc32c(length)``, the
data, ``uint32 masked_crc32c(data)``.

:func:`read_events` parses such files back (both CRCs checked), for tests and for looking at a
run where TensorBoard is not installed.
"""

from __future__ import annotations

import math
import os
import socket
import struct
import time
from pathlib import Path

__all__ = ["EventWriter", "crc32c", "masked_crc32c", "read_events", "FILE_VERSION"]

FILE_VERSION = "brain.Event:2"
"""The first record of every events file; TensorBoard checks it."""


# --------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78. Pure Python: a few hundred bytes per
# update is microseconds, and an optional C package is not worth a dependency.


def _crc_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """The CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotated and offset so that CRCs of CRCs do not degenerate."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# --------------------------------------------------------------------------------------------
# Protobuf wire format, just the parts the three messages need.

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
_U64 = (1 << 64) - 1


def _varint(n: int) -> bytes:
    n &= _U64  # negative int64: two's complement, ten bytes (as protobuf does)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, _BYTES) + _varint(len(payload)) + payload


def _float32(value: float) -> bytes:
    try:
        return struct.pack("<f", value)
    except OverflowError:  # finite but beyond float32: what a float32 cast gives
        return struct.pack("<f", math.copysign(math.inf, value))


def _encode_event(
    wall_time: float,
    step: int = 0,
    file_version: str | None = None,
    scalars: list[tuple[str, float]] | None = None,
) -> bytes:
    """An Event. Like protobuf's own proto3 serializer, a zero step is left out."""
    out = _key(1, _FIXED64) + struct.pack("<d", wall_time)
    if step:
        out += _key(2, _VARINT) + _varint(step)
    if file_version is not None:
        out += _length_delimited(3, file_version.encode("utf-8"))
    if scalars is not None:
        summary = b"".join(
            _length_delimited(
                1,
                _length_delimited(1, tag.encode("utf-8"))
                + _key(2, _FIXED32)
                + _float32(value),  # in a oneof: written even when 0.0
            )
            for tag, value in scalars
        )
        out += _length_delimited(5, summary)
    return out


def _frame(data: bytes) -> bytes:
    """One TFRecord."""
    length = struct.pack("<Q", len(data))
    return (
        length
        + struct.pack("<I", masked_crc32c(length))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def _fields(buf: bytes):
    """``(field number, wire type, value)`` for each field of a message; unknown ones included
    (the caller skips them), so events written by TensorFlow still parse."""
    i, n = 0, len(buf)

    def varint() -> int:
        nonlocal i
        shift = result = 0
        while True:
            if i >= n:
                raise ValueError("truncated varint")
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == _VARINT:
            value = varint()
        elif wire == _FIXED64:
            value, i = buf[i : i + 8], i + 8
        elif wire == _BYTES:
            size = varint()
            value, i = buf[i : i + size], i + size
        elif wire == _FIXED32:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > n:
            raise ValueError("truncated protobuf field")
        yield field, wire, value


def _decode_event(data: bytes) -> dict:
    event: dict = {"wall_time": 0.0, "step": 0}
    for field, wire, value in _fields(data):
        if field == 1 and wire == _FIXED64:
            event["wall_time"] = struct.unpack("<d", value)[0]
        elif field == 2 and wire == _VARINT:
            event["step"] = value - (1 << 64) if value >> 63 else value
        elif field == 3 and wire == _BYTES:
            event["file_version"] = value.decode("utf-8")
        elif field == 5 and wire == _BYTES:
            scalars = event.setdefault("scalars", {})
            for f, w, item in _fields(value):
                if f != 1 or w != _BYTES:
                    continue
                tag, simple = None, None
                for vf, vw, v in _fields(item):
                    if vf == 1 and vw == _BYTES:
                        tag = v.decode("utf-8")
                    elif vf == 2 and vw == _FIXED32:
                        simple = struct.unpack("<f", v)[0]
                if tag is not None and simple is not None:  # images, tensors: not ours
                    scalars[tag] = simple
    return event


# --------------------------------------------------------------------------------------------
# Writing


class EventWriter:
    """Appends scalars to a new TensorBoard events file in ``logdir`` (created if missing).

    Every :meth:`add_scalars` call is flushed to the OS before it returns, so a process killed
    at any point loses nothing it had logged (at most a half-written last record, which readers
    ignore)::

        with EventWriter(run_dir / "tb") as tb:
            tb.add_scalars(frames, {"reward": 3.5, "loss/policy": 0.12})
    """

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        # TensorBoard globs "*tfevents*"; its own writers name files this way
        stem = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}.{os.getpid()}"
        for k in range(1000):  # two writers in one second and one process: no clobbering
            self.path = self.logdir / (f"{stem}.arena" if k == 0 else f"{stem}.{k}.arena")
            try:
                self._file = open(self.path, "xb")
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free events file name for {self.logdir / stem}")
        self._write(_encode_event(time.time(), file_version=FILE_VERSION))
        self.flush()

    def _write(self, data: bytes) -> None:
        self._file.write(_frame(data))

    def add_scalars(
        self, step: int, values: dict[str, float], wall_time: float | None = None
    ) -> None:
        """One Event per scalar at ``step`` (TensorBoard's x axis); ``None`` values are skipped,
        so a metrics record with a missing win rate can be passed as it is."""
        wall_time = time.time() if wall_time is None else float(wall_time)
        step = int(step)
        for tag, value in values.items():
            if value is None:
                continue
            self._write(_encode_event(wall_time, step, scalars=[(str(tag), float(value))]))
        self.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# Reading


def _read_file(path: Path) -> list[dict]:
    data = path.read_bytes()
    events, i = [], 0
    while i < len(data):
        if len(data) - i < 12:
            break  # a half-written header: the writer was killed or is mid-write
        header = data[i : i + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[i + 8 : i + 12])
        if masked_crc32c(header) != length_crc:
            raise ValueError(f"{path}: bad length CRC in the record at byte {i}")
        end = i + 12 + length + 4
        if end > len(data):
            break  # a half-written record, as above
        payload = data[i + 12 : i + 12 + length]
        (data_crc,) = struct.unpack("<I", data[end - 4 : end])
        if masked_crc32c(payload) != data_crc:
            raise ValueError(f"{path}: bad data CRC in the record at byte {i}")
        events.append(_decode_event(payload))
        i = end
    return events


def read_events(path: str | os.PathLike) -> list[dict]:
    """The events in an events file, or in every ``*tfevents*`` file of a folder (by name).

    Each event is a dict with ``wall_time`` and ``step``, plus ``file_version`` (the first
    record) or ``scalars`` (``{tag: value}``, as float32). A record whose CRC does not match
    raises :class:`ValueError`; a half-written last record is ignored.
    """
    path = Path(path)
    if path.is_dir():
        events = []
        for file in sorted(path.glob("*tfevents*")):
            events += _read_file(file)
        return events
    return _read_file(path)
