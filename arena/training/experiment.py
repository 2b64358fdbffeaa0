"""An experiment's folder: ``params.json``, ``snapshots/``, ``metrics.jsonl``, ``tb/``, ``logs/``,
and once snapshots are evaluated ``evaluations.json`` and ``published.json``
(:mod:`arena.training.evaluation`); and tidying it after a crash so a resumed run continues where
its snapshot left off."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena.training.params import to_dict
from arena.training.plan import TrainPlan


class Experiment:
    """The folder: parameters, snapshots, metrics and logs."""

    def __init__(self, plan: TrainPlan):
        self.plan = plan
        self.folder = plan.folder
        self.snapshots = self.folder / "snapshots"
        self.metrics_path = self.folder / "metrics.jsonl"
        self.logs = self.folder / "logs"

    def prepare(self) -> None:
        plan = self.plan
        if plan.init and plan.force and self.folder.exists():
            for item in ("snapshots", "metrics.jsonl", "tb", "logs", "curves", "evaluations.json", "published.json"):
                target = self.folder / item
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        for folder in (self.snapshots, self.logs, self.folder / "tb"):
            folder.mkdir(parents=True, exist_ok=True)
        for stale in self.snapshots.glob(".*.tmp"):  # a save cut short by kill -9
            stale.unlink(missing_ok=True)
        params_json = {
            "algorithm": plan.algorithm.name,
            "env": plan.env,
            "env_options": dataclasses.asdict(plan.env_options),
            "enemies": str(plan.enemies),
            "params": to_dict(plan.params),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path = self.folder / "params.json"
        if not path.exists() or plan.resume_from is None:
            _write_atomic(path, json.dumps(params_json, indent=2) + "\n")

    def meta(self, counters: dict[str, Any]) -> dict[str, Any]:
        plan = self.plan
        return {
            "algorithm": plan.algorithm.name,
            "params": to_dict(plan.params),
            "env": plan.env,
            "env_options": dataclasses.asdict(plan.env_options),
            "obs_size": plan.obs_size,
            "num_actions": plan.num_actions,
            "fps": plan.fps,
            "experiment": plan.name,
            "counters": counters,
        }

    def trim_metrics(self, steps: int) -> None:
        """After a crash, drop metrics lines written after the snapshot we resume from."""
        if not self.metrics_path.exists():
            return
        keep = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by the crash
            if row.get("steps", 0) <= steps:
                keep.append(line)
        _write_atomic(self.metrics_path, "".join(line + "\n" for line in keep))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
