"""Games on Ray: each game worker is a Ray actor that keeps its emulator between games, as a local
worker process does, and plays one game at a time (``num_cpus=1``).

A worker that dies (its node lost, the process killed, out of memory) is replaced by a fresh
actor. The game it was playing comes back as an error record (under its own id, so it is logged
and never rated) and is played again, up to ``retries`` times; the replay keeps the game's id, so
the leaderboard, which writes each id once, never counts a game twice.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from dataclasses import replace

from arena.errors import ArenaError, one_line
from arena.games.play import GameTask, _lost, _WorkerState, play_game
from arena.games.record import GameRecord

INSTALL = 'pip install -e ".[ray]"'
RETRIES = 2  # replays of a game whose worker died
OBJECT_STORE_BYTES = 256 * 2**20  # a Ray this run starts: game records are small, Ray's default is 30% of RAM


def import_ray():
    try:
        import ray
    except ImportError:
        raise ArenaError(f"the Ray backend needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_ray(address: str = "") -> None:
    """Ray is installed, and ``address`` (HOST:PORT) answers; ``auto`` and empty are checked by
    connecting."""
    import_ray()
    if not address or address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ArenaError(f"--address {address} is not HOST:PORT (or auto): pass the address 'ray start --head' printed")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ArenaError(
            f"cannot reach a Ray cluster at {address} ({exc.strerror or one_line(exc)}): start one with "
            "'ray start --head' and pass the address it prints, or leave --address out to run Ray on this machine"
        ) from None


def connect(address: str, num_cpus: int) -> bool:
    """Join the cluster at ``address``, or start a Ray instance here; True if this call did either
    (the caller then shuts it down)."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(
                num_cpus=num_cpus, include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, logging_level=logging.WARNING
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ArenaError(f"cannot connect to Ray{' at ' + address if address else ''}: {one_line(exc)}") from None
    return True


class GameWorker:
    """The body of one Ray actor: plugins loaded from entry points, one emulator, kept between games."""

    def __init__(self):
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # one core per game
        from arena.plugins.manager import get_arena

        self.state = _WorkerState(get_arena())

    def pid(self) -> int:
        return os.getpid()

    def play(self, task: GameTask) -> GameRecord:
        return play_game(task, self.state)


class RayGamePool:
    """:class:`arena.games.play.GamePool`'s interface on Ray actors."""

    def __init__(self, workers: int, *, address: str = "", retries: int = RETRIES):
        self.workers = max(1, workers)
        self.retries = retries
        self._ray = import_ray()
        self._started = connect(address, self.workers)
        self._actor = self._ray.remote(num_cpus=1, max_restarts=0)(GameWorker)
        self._idle = [self._actor.remote() for _ in range(self.workers)]
        self._queue: deque[GameTask] = deque()
        self._pending: dict = {}  # object ref -> (task, actor)
        self._tries: dict[str, int] = {}
        self.restarts = 0  # workers replaced after dying

    def worker_pids(self, timeout: float = 120.0) -> list[int]:
        """The idle workers' process ids (for tests and diagnostics)."""
        return self._ray.get([actor.pid.remote() for actor in self._idle], timeout=timeout)

    def submit(self, task: GameTask) -> None:
        self._queue.append(task)

    def __len__(self) -> int:
        return len(self._queue) + len(self._pending)

    def _fill(self) -> None:
        while self._queue and self._idle:
            actor, task = self._idle.pop(), self._queue.popleft()
            self._pending[actor.play.remote(task)] = (task, actor)

    def next_result(self) -> GameRecord:
        """Block until a game finishes (or its worker dies) and return its record."""
        if not len(self):
            raise RuntimeError("no game submitted")
        self._fill()
        ready, _ = self._ray.wait(list(self._pending), num_returns=1)
        task, actor = self._pending.pop(ready[0])
        try:
            record = self._ray.get(ready[0])
        except self._ray.exceptions.RayActorError as exc:
            return self._died(task, actor, exc)
        self._idle.append(actor)
        return record

    def _died(self, task: GameTask, actor, exc: Exception) -> GameRecord:
        self._ray.kill(actor)  # already gone; this frees its handle
        self._idle.append(self._actor.remote())
        self.restarts += 1
        key = task.uid or f"{task.env}:{task.index}:{task.seed}"
        tries = self._tries[key] = self._tries.get(key, 0) + 1
        again = tries <= self.retries
        if again:
            self._queue.appendleft(task)  # played again first, under the game's own id
        cause = one_line(getattr(exc, "error_msg", None) or exc)[:200]
        lost = replace(task, uid=f"{task.uid}:lost{tries}" if task.uid else None)
        return _lost(
            lost,
            f"the Ray worker playing it died ({cause}); "
            + ("the game is played again" if again else f"given up after {tries} tries"),
        )

    def close(self, kill: bool = False) -> None:
        for actor in [*self._idle, *(a for _, a in self._pending.values())]:
            try:
                self._ray.kill(actor)
            except Exception:
                pass
        self._idle, self._pending = [], {}
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayGamePool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)
