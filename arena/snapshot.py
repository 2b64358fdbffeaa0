"""Snapshots: a trained agent's weights with the parameters that built it. Data, never code.

A snapshot is a ``torch.save`` file of plain containers, tensors and strings::

    {"format": "arena-snapshot", "version": 1,
     "meta": "<JSON: algorithm, params, env, env_options, obs_size, num_actions, fps, counters>",
     "learner": {"model": state_dict, "optimizer": state_dict, "updates": int, ...}}

It is read with ``torch.load(weights_only=True)``, which refuses to unpickle arbitrary objects,
and written to a temporary file that is fsynced and renamed, so a process killed mid-write
never leaves a torn snapshot behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.errors import ArenaError

FORMAT = "arena-snapshot"
VERSION = 1
SUFFIX = ".pt"
_NAME = re.compile(r"^(\d+)\.pt$")


@dataclass
class Snapshot:
    path: Path
    meta: dict[str, Any]
    learner: dict[str, Any]

    @property
    def algorithm(self) -> str:
        return self.meta["algorithm"]

    @property
    def env(self) -> str:
        return self.meta["env"]


def snapshot_name(steps: int) -> str:
    """Snapshots are named by the agent steps trained, zero-padded so names sort by age."""
    return f"{steps:012d}{SUFFIX}"


def save_snapshot(path: str | Path, meta: dict[str, Any], learner_state: dict[str, Any]) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta, sort_keys=True), "learner": learner_state}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a snapshot (a file, or the newest in an experiment folder); one-line errors."""
    import pickle
    import zipfile

    import torch

    path = find_snapshot(path)
    fix = "retrain, or pass another snapshot"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, AttributeError) as exc:
        raise ArenaError(f"{path} is corrupt or not an Arena snapshot ({type(exc).__name__}: {_first_line(exc)}); {fix}") from None
    except OSError as exc:
        raise ArenaError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArenaError(f"{path} is not an Arena snapshot (no '{FORMAT}' header); {fix}")
    if payload.get("version") != VERSION:
        raise ArenaError(f"{path} is snapshot format version {payload.get('version')}; this Arena reads version {VERSION}")
    try:
        meta = json.loads(payload["meta"])
        learner = payload["learner"]
        for key in ("algorithm", "params", "env", "env_options", "obs_size", "num_actions"):
            meta[key]
        learner["model"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ArenaError(f"{path} is a damaged Arena snapshot (missing {exc}); {fix}") from None
    return Snapshot(path, meta, learner)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(text[0].split())[:200] if text else ""


def list_snapshots(folder: str | Path) -> list[Path]:
    """The snapshots in ``folder`` (or its ``snapshots/``), oldest first."""
    folder = Path(folder)
    if (folder / "snapshots").is_dir():
        folder = folder / "snapshots"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def find_snapshot(path: str | Path) -> Path:
    """``path`` if it is a file, else the newest snapshot in the folder (an experiment's)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        found = list_snapshots(path)
        if found:
            return found[-1]
        raise ArenaError(f"no snapshot in {path}: train it first (arena train), or give a snapshot file")
    raise ArenaError(f"no snapshot at {path}: the path does not exist")


def file_hash(path: str | Path) -> str:
    """A short content hash that identifies a snapshot in the match log."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
