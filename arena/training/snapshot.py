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
PUBLISHED = "published.json"  # in an experiment folder: {"snapshot": NAME, ...}, the snapshot it publishes


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


def snapshot_steps(name: str) -> int | None:
    """The agent steps in a snapshot's file name, or None for another name."""
    found = _NAME.match(name)
    return int(found.group(1)) if found else None


def save_snapshot(path: str | Path, meta: dict[str, Any], learner_state: dict[str, Any]) -> Path:
    """Write a snapshot atomically: a temporary file, fsynced, read back with the same
    ``weights_only`` rules :func:`load_snapshot` uses, then renamed over ``path``. If anything
    fails, the temporary file is removed and an existing ``path`` is left as it was."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta, sort_keys=True), "learner": learner_state}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        try:  # a snapshot that cannot be loaded back is refused here, not when resuming
            torch.load(tmp, map_location="cpu", weights_only=True)
        except Exception as exc:
            found = re.search(r"GLOBAL ([\w.]+)", str(exc))
            what = f"a {found.group(1)}" if found else f"something unreadable ({_first_line(exc)})"
            raise ArenaError(
                f"cannot save snapshot {path}: the learner's state holds {what}, not only tensors and plain data; "
                "snapshots must load with torch.load(weights_only=True)"
            ) from None
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
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
    """Read a snapshot (a file, or the newest in an experiment folder); one-line errors.

    Nothing in the file is executed: ``torch.load(weights_only=True)`` refuses pickled Python
    objects (classes, functions), which is reported as "not an Arena snapshot".
    """
    import pickle
    import warnings
    import zipfile

    import torch

    path = find_snapshot(path)
    fix = "retrain, or pass another snapshot"
    try:
        with warnings.catch_warnings():  # torch's note on a foreign pickle's protocol: the error below says it all
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise ArenaError(f"cannot read snapshot {path}: {exc.strerror or exc}") from None
    except (
        pickle.UnpicklingError,
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
        IndexError,
    ) as exc:
        raise ArenaError(f"{path} is corrupt or not an Arena snapshot ({_reason(exc, path)}); {fix}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArenaError(f"{path} is corrupt or not an Arena snapshot (a torch file without the '{FORMAT}' header); {fix}")
    if payload.get("version") != VERSION:
        raise ArenaError(f"{path} is snapshot format version {payload.get('version')}; this Arena reads version {VERSION}")
    try:
        meta = json.loads(payload["meta"])
        learner = payload["learner"]
        for key in ("algorithm", "params", "env", "env_options", "obs_size", "num_actions"):
            meta[key]
        learner["model"]
        if not isinstance(meta, dict) or not isinstance(learner, dict) or not isinstance(meta["params"], dict):
            raise TypeError("not a mapping")
    except KeyError as exc:
        raise ArenaError(f"{path} is a damaged Arena snapshot (missing {exc}); {fix}") from None
    except (TypeError, ValueError) as exc:
        raise ArenaError(
            f"{path} is a damaged Arena snapshot (malformed meta or learner state: {_first_line(exc)}); {fix}"
        ) from None
    return Snapshot(path, meta, learner)


def _reason(exc: BaseException, path: Path | None = None) -> str:
    """Why torch.load failed, in a few words (torch's own messages span lines, carry terminal
    escapes and suggest ``weights_only=False``, which would run the file's code)."""
    text = str(exc)
    pickled = re.search(r"GLOBAL ([\w.]+)", text)
    if pickled:
        return (
            f"it holds a pickled Python object ({pickled.group(1)}), which Arena never unpickles: snapshots are data, never code"
        )
    if path is not None and path.stat().st_size == 0:
        return "the file is empty"
    if isinstance(exc, EOFError):
        return "the file ends too early"
    if "zip archive" in text or "central directory" in text or isinstance(exc, RuntimeError):
        return "a truncated or damaged torch archive"
    return "not a file written by torch.save"


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


def published_snapshot(folder: str | Path) -> Path | None:
    """The snapshot an experiment folder publishes (its ``published.json``), if it names one that exists."""
    try:
        name = json.loads((Path(folder) / PUBLISHED).read_text(encoding="utf-8")).get("snapshot")
    except (OSError, ValueError, AttributeError):
        return None
    path = Path(folder) / "snapshots" / name if isinstance(name, str) and _NAME.match(name) else None
    return path if path is not None and path.is_file() else None


def find_snapshot(path: str | Path) -> Path:
    """``path`` if it is a file; for an experiment folder the snapshot it publishes (the best on
    validation games), else its newest; for any other folder (``NAME/snapshots``) the newest."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        published = published_snapshot(path)
        if published is not None:
            return published
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
