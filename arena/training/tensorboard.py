"""TensorBoard scalar logs of a training run, written with tensorboardX.

:class:`EventWriter` is a thin layer over :class:`tensorboardX.SummaryWriter` with the one call
the training loop needs (:meth:`EventWriter.add_scalars`: one step, many tags). tensorboardX is
imported when a writer is made, not when this module is.

A resumed run passes ``purge_step``: the snapshot's step plus one. The new events file then
starts with a "session start" event at that step, and TensorBoard drops whatever an earlier
file logged at or after it (the stretch that the crash lost and the resumed run trains again),
so no step is drawn twice; the earlier files themselves are left as they are.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["EventWriter"]

FLUSH_SECS = 1
"""Events reach the file within about this many seconds (a killed run loses at most those)."""


class EventWriter:
    """Scalars into a new ``events.out.tfevents.*`` file in ``folder`` (created if missing).

    ``purge_step``: TensorBoard discards events of earlier files in ``folder`` at this step or
    later (see the module docstring). Usable as a context manager; closing twice is harmless.
    """

    def __init__(self, folder: str | os.PathLike, *, purge_step: int | None = None):
        from tensorboardX import SummaryWriter

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # tensorboardX names files by the second (and truncates a file of the same name): the
        # suffix keeps two writers of one second apart, and in the order they were made
        suffix = f".{time.time_ns():020d}.{os.getpid()}.arena"
        self._writer = SummaryWriter(
            logdir=str(self.folder), purge_step=purge_step, flush_secs=FLUSH_SECS, filename_suffix=suffix
        )
        (self.path,) = self.folder.glob(f"events.out.tfevents.*{suffix}")  # made by the line above
        self.closed = False

    def add_scalars(self, step: int, values: Mapping[str, float | None], *, wall_time: float | None = None) -> None:
        """Log ``values`` (tag -> number) at ``step``. None, and anything that is not a number,
        is skipped; values are stored as float32, as TensorBoard keeps them."""
        for tag, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            self._writer.add_scalar(tag, float(value), global_step=int(step), walltime=wall_time)

    def flush(self) -> None:
        """Write what is queued to the file now."""
        if not self.closed:
            self._writer.flush()

    def close(self) -> None:
        if not self.closed:
            self._writer.close()
            self.closed = True

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
