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
from typing import Any

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


def check_ray(address: str = "", resources: tuple[str, ...] = ()) -> None:
    """Ray is installed, ``address`` (HOST:PORT) answers, and some node there offers each of
    ``resources``. A Ray started here (no address) offers them itself."""
    ray = import_ray()
    if address and address != "auto":
        _check_reachable(address)
    if address and resources and not ray.is_initialized():
        connect(address, 1, resources)  # raises if no node offers one
        ray.shutdown()


def _check_reachable(address: str) -> None:
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


def connect(address: str, num_cpus: int, resources: tuple[str, ...] = ()) -> bool:
    """Join the cluster at ``address``, or start a Ray instance here (offering ``resources``, one
    unit per CPU); True if this call did either (the caller then shuts it down). Raises if no
    node offers one of ``resources``: workers asking for it would wait forever."""
    ray = import_ray()
    started = _connect(ray, address, num_cpus, resources)
    offered = ray.cluster_resources()
    missing = [name for name in resources if offered.get(name, 0) < 1]
    if missing:
        if started:
            ray.shutdown()
        raise ArenaError(
            f"no node of the Ray cluster{' at ' + address if address else ''} offers the resource "
            f"'{missing[0]}' that this env's workers need: start the nodes that can run it with "
            f"ray start --resources '{{\"{missing[0]}\": N}}'"
        )
    return started


def _connect(ray, address: str, num_cpus: int, resources: tuple[str, ...]) -> bool:
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(
                address="local",  # a Ray of this run's own, even where `ray start` left one running
                num_cpus=num_cpus,
                resources={name: num_cpus for name in resources},
                include_dashboard=False,
                object_store_memory=OBJECT_STORE_BYTES,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ArenaError(f"cannot connect to Ray{' at ' + address if address else ''}: {one_line(exc)}") from None
    return True


def release(ray, actors: list, started: bool) -> None:
    """Kill ``actors`` (their emulators go with them) and, if this run started or joined Ray, let go of it."""
    for actor in actors:
        try:
            ray.kill(actor)
        except Exception:
            pass  # already gone
    if started and ray.is_initialized():
        ray.shutdown()


class GameWorker:
    """The body of one Ray actor: plugins loaded from entry points, one emulator, kept between games."""

    def __init__(self):
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # one core per game
        from arena.plugins.manager import get_arena

        self.state = _WorkerState(get_arena())

    def pid(self) -> int:
        return os.getpid()

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def play(self, task: GameTask) -> GameRecord:
        return play_game(task, self.state)


class RayGamePool:
    """:class:`arena.games.play.GamePool`'s interface on Ray actors."""

    def __init__(
        self,
        workers: int,
        *,
        address: str = "",
        retries: int = RETRIES,
        resources: tuple[str, ...] = (),
        timeout: float | None = None,
    ):
        self.workers = max(1, workers)
        self.retries = retries
        self.timeout = timeout  # seconds to wait for a game; None: as long as games take
        self._ray = import_ray()
        self._started = connect(address, self.workers, resources)
        self._actor = self._ray.remote(num_cpus=1, max_restarts=0, resources={name: 1 for name in resources})(GameWorker)
        self._idle = [self._actor.remote() for _ in range(self.workers)]
        self._queue: deque[GameTask] = deque()
        self._pending: dict = {}  # object ref -> (task, actor)
        self._tries: dict[str, int] = {}
        self.restarts = 0  # workers replaced after dying

    def worker_pids(self, timeout: float = 120.0) -> list[int]:
        """The idle workers' process ids (for tests and diagnostics)."""
        return self._ray.get([actor.pid.remote() for actor in self._idle], timeout=timeout)

    def worker_nodes(self, timeout: float = 120.0) -> list[str]:
        """The Ray node id each idle worker runs on."""
        return self._ray.get([actor.node.remote() for actor in self._idle], timeout=timeout)

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
        ready, _ = self._ray.wait(list(self._pending), num_returns=1, timeout=self.timeout)
        if not ready:
            raise ArenaError(f"no game finished on Ray within {self.timeout:g}s: are the workers scheduled? (ray status)")
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
        release(self._ray, [*self._idle, *(a for _, a in self._pending.values())], self._started)
        self._idle, self._pending, self._started = [], {}, False

    def __enter__(self) -> RayGamePool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(kill=exc_type is not None)


# -- training -----------------------------------------------------------------------------------


class RolloutWorker:
    """The body of one rollout actor: one env and one acting copy of the model
    (:class:`arena.training.rollout._Worker`), as in a local worker process."""

    def __init__(self, config, index: int):
        import torch

        from arena.training.rollout import _Worker

        torch.set_num_threads(1)  # one core per worker
        self.worker = _Worker(config, index)

    def pid(self) -> int:
        return os.getpid()

    def update(self, weights: dict, version: int, distribution: list) -> None:
        self.worker.update(weights, version, distribution)

    def collect(self) -> list:
        return self.worker.collect()


class RayExecutor:
    """:class:`arena.training.rollout.RolloutExecutor` on Ray actors, one CPU each.

    Weights go to the object store once per broadcast and every worker reads them from there. A
    worker keeps up to ``depth`` segments queued (it plays on while the learner steps, as local
    workers fill their queue); a synchronous run (a2c) plays one segment per worker per broadcast.
    A worker that dies is replaced by a fresh one with the current weights: the segment it was
    playing is dropped, the event goes to the experiment's ``logs/ray.log`` and to stderr, and
    the run goes on. One that keeps dying before it plays a segment (say, its emulator cannot
    start on that node) stops the run with the cause.
    """

    MAX_FAILURES = 3  # deaths of one worker in a row, with no segment between them

    def __init__(self, config, workers: int, *, address: str = "", depth: int = 2, resources: tuple[str, ...] = ()):
        self.config = config
        self.resources = tuple(resources)
        self.workers = max(1, workers)
        self.depth = 1 if config.synchronous else max(1, depth)
        self.address = address
        self._ray = import_ray()
        self._started = False
        self._remote = None
        self._actors: list = []
        self._inflight: dict = {}  # object ref -> (worker index, actor)
        self._pending: list = []  # arrived past the count asked for: the next gather's first
        self._owed = 0  # synchronous: segments the workers still play on the current weights
        self._latest = None  # (weights in the object store, version, distribution)
        self._failures: dict[int, int] = {}
        self.restarts = 0

    # -- workers -------------------------------------------------------------------------------

    def _spawn(self, index: int):
        actor = self._remote.remote(self.config, index)
        actor.update.remote(*self._latest)
        return actor

    def _collect(self, index: int) -> None:
        actor = self._actors[index]
        self._inflight[actor.collect.remote()] = (index, actor)

    def _top_up(self, index: int) -> None:
        queued = sum(1 for i, _ in self._inflight.values() if i == index)
        for _ in range(self.depth - queued):
            self._collect(index)

    def _restart(self, index: int, exc: Exception) -> None:
        cause = one_line(getattr(exc, "error_msg", None) or exc)[:300]
        failures = self._failures[index] = self._failures.get(index, 0) + 1
        if failures >= self.MAX_FAILURES:
            raise ArenaError(
                f"rollout worker {index} died {failures} times in a row without playing a segment; the last: {cause}"
            )
        dead = self._actors[index]
        try:
            self._ray.kill(dead)
        except Exception:
            pass
        self._inflight = {ref: held for ref, held in self._inflight.items() if held[1] is not dead}
        self._actors[index] = self._spawn(index)
        self.restarts += 1
        self._say(f"rollout worker {index} died ({cause}); restarted with the current weights, its unfinished segment dropped")

    def _say(self, message: str) -> None:
        import sys
        import time

        print(f"arena: warning: {message}", file=sys.stderr, flush=True)
        if self.config.log_dir:
            with open(os.path.join(self.config.log_dir, "ray.log"), "a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    # -- the executor interface ----------------------------------------------------------------

    def start(self, weights: dict, version: int, distribution: list) -> None:
        self._started = connect(self.address, self.workers, self.resources)
        self._remote = self._ray.remote(num_cpus=1, max_restarts=0, resources={name: 1 for name in self.resources})(RolloutWorker)
        self._latest = (self._ray.put(weights), version, distribution)
        self._actors = [self._spawn(index) for index in range(self.workers)]
        for index in range(self.workers):
            self._top_up(index)
        self._owed = self.workers

    def broadcast(self, weights: dict, version: int, distribution: list) -> None:
        self._latest = (self._ray.put(weights), version, distribution)
        for actor in self._actors:
            actor.update.remote(*self._latest)  # runs after the segments already queued
        if self.config.synchronous:
            for index in range(self.workers):
                self._collect(index)
            self._owed = self.workers

    def gather(self, count: int) -> list:
        from arena.training.rollout import gather_segments

        return gather_segments(self, count, self._next_segment)

    def _next_segment(self) -> list | None:
        ready, _ = self._ray.wait(list(self._inflight), num_returns=1)
        index, actor = self._inflight.pop(ready[0])
        try:
            segment = self._ray.get(ready[0])
        except self._ray.exceptions.RayActorError as exc:
            if self._actors[index] is actor:  # (its other queued segments fail the same way)
                self._restart(index, exc)
                if self.config.synchronous:
                    self._collect(index)  # the segment it owed, on the current weights
                else:
                    self._top_up(index)
            return None
        except self._ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
            if isinstance(cause, ArenaError):
                raise ArenaError(str(cause)) from None
            raise ArenaError(f"rollout worker {index} failed: {type(cause).__name__}: {one_line(cause)}") from None
        self._failures[index] = 0
        if not self.config.synchronous:
            self._top_up(index)
        return segment

    def close(self) -> None:
        release(self._ray, self._actors, self._started)
        self._actors, self._inflight, self._started = [], {}, False


# -- the learner as an actor ----------------------------------------------------------------------


class LearnerActor:
    """The whole training loop (learner, Ray rollout workers, evaluation games) in a Ray actor
    that asked for GPUs, so it runs on a node that has them; it prints its progress lines, which
    Ray forwards to the command's terminal."""

    def where(self) -> dict:
        import socket

        import ray

        context = ray.get_runtime_context()
        gpus = [str(g) for g in ray.get_gpu_ids()]
        return {"node": context.get_node_id(), "host": socket.gethostname(), "pid": os.getpid(), "gpus": gpus}

    def train(self, plan, eval_frames: int, record: bool):
        from functools import partial

        from arena.backends import Backend
        from arena.cli import make_console
        from arena.cli.train import _Lines
        from arena.training.plan import check_device
        from arena.training.run import make_executor, run_training
        from arena.training.snapshot import snapshot_steps

        check_device(plan.params)  # here, on the node with the GPUs
        start = (snapshot_steps(plan.resume_from.name) or 0) if plan.resume_from else 0
        with _Lines(make_console(), plan, start) as show:
            return run_training(
                plan,
                on_progress=show.on_progress,
                on_eval=show.on_eval,
                log=show.log,
                eval_frames=eval_frames,
                record=record,
                executor_factory=partial(make_executor, backend=Backend("ray")),  # this actor's cluster
            )


def train_with_learner_actor(plan, *, address: str, gpus: float, eval_frames: int, record: bool, echo) -> Any:
    """Run the training in a :class:`LearnerActor` asking for ``gpus`` GPUs; its TrainResult."""
    ray = import_ray()
    started = connect(address, plan.workers + 1)
    actor = None
    try:
        offered = ray.cluster_resources().get("GPU", 0)
        if offered < gpus:
            raise ArenaError(
                f"--learner-gpus {gpus:g}: no node of the Ray cluster{' at ' + address if address else ''} has "
                f"{gpus:g} GPU{'s' if gpus != 1 else ''} (it offers {offered:g} in all); start the GPU node with ray start --num-gpus N"
            )
        actor = ray.remote(num_cpus=1, num_gpus=gpus, max_restarts=0)(LearnerActor).remote()
        where = ray.get(actor.where.remote())
        echo(f"learner: a Ray actor on node {where['node']} ({where['host']}, pid {where['pid']}), GPUs {where['gpus']}")
        try:
            return ray.get(actor.train.remote(plan, eval_frames, record))
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
            if isinstance(cause, ArenaError):
                raise ArenaError(str(cause)) from None
            raise ArenaError(f"the learner failed: {type(cause).__name__}: {one_line(cause)}") from None
    finally:
        if actor is not None:
            ray.kill(actor)  # and with it its rollout workers (a Ctrl-C resumes from the newest snapshot)
        if started and ray.is_initialized():
            ray.shutdown()
