"""``arena launch``: an experiment's training as a Slurm job (submitted through submitit), or the
same job in the foreground on this machine.

The job reruns ``arena train`` with the settings in the experiment's ``params.json`` and an
explicit ``--name``, so it resumes from the experiment's newest snapshot, as rerunning the
command by hand does. A requeued job (preempted, or at its time limit) therefore resumes too.

What runs where: a one-node job trains with local worker processes, as ``arena train`` does on
a laptop. A job of N nodes starts a Ray head on its first node and the learner beside it, Ray
workers on the other nodes, and trains with ``--backend ray``; each job's Ray ports come from
its Slurm job id (:func:`ray_ports`), so two jobs sharing a node do not collide.

The experiment folder records the job in ``launch.json``, and submitit's files and the job's
logs in ``launch/JOBID/``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arena import paths
from arena.errors import ArenaError, one_line

LAUNCH_FILE = "launch.json"
LOGS = "launch"  # submitit's folder inside the experiment: one subfolder per job
DEFAULT_TIME_MIN = 60
SIGNAL_DELAY_S = 90  # Slurm warns the job this long before its time limit (submitit's default)
SAVE_WAIT_S = 60  # after the warning, how long the training may take to save before the requeue

# Each job's Ray ports: a block of PORT_BLOCK from PORT_BASE, chosen by the job id. The blocks stay
# below Linux's ephemeral ports (32768 up) and clear of Ray's defaults (6379, 10002-19999).
PORT_BASE, PORT_BLOCK, PORT_BLOCKS = 20_000, 250, 50
WORKER_PORTS = 115  # Ray worker processes a node can run (one port each)

# Options of `arena train` that the launch sets itself.
OWN_OPTIONS = ("--plugin", "-p", "--env", "--enemies", "--set", "--option", "-o", "--name", "--tag", "--init", "--force")
OWN_OPTIONS += ("--steps", "--workers", "-w", "--backend", "--address", "--dry-run", "--list-params")

ACTIVE = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED", "RESIZING"}
WORDS = {
    "PENDING": "waiting in the queue",
    "CONFIGURING": "starting",
    "RUNNING": "running",
    "COMPLETING": "finishing",
    "COMPLETED": "finished",
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "stopped at its time limit",
    "PREEMPTED": "preempted",
    "NODE_FAIL": "failed (a node failed)",
    "OUT_OF_MEMORY": "failed (out of memory)",
    "BOOT_FAIL": "failed (a node did not boot)",
    "DEADLINE": "stopped at its deadline",
    "REQUEUED": "requeued",
    "REQUEUE_HOLD": "requeued, held",
    "REQUEUE_FED": "requeued",
    "SUSPENDED": "suspended",
}


# -- the experiment and its `arena train` command -----------------------------------------------


def find_experiment(given: str) -> Path:
    """An experiment folder (with ``params.json``) as given, or ``NAME`` in the experiments folder."""
    for folder in (Path(given), paths.experiments_dir() / given):
        if (folder / "params.json").is_file():
            return folder.absolute()
    where = paths.experiments_dir()
    known = sorted(p.name for p in where.iterdir() if (p / "params.json").is_file()) if where.is_dir() else []
    listing = f"; experiments there: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''}" if known else ""
    raise ArenaError(
        f"no experiment '{given}': no folder of that name with a params.json here or in {where}/{listing}; "
        f"create it first with arena train ... --name {Path(given).name}"
    )


def train_args(folder: Path, *, steps: int | None = None, workers: int | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The ``arena train`` arguments that resume the experiment in ``folder``: its algorithm, env
    and enemies, ``--set`` for each parameter and ``-o`` for each env option that differs from its
    default, and ``--name``. They are checked here (the plan must land on ``folder``), so a job is
    never submitted to fail at once. ``--workers`` is the job's to add (it knows its CPUs)."""
    from arena.plugins.envs import written
    from arena.plugins.manager import get_arena
    from arena.text import suggest
    from arena.training.params import to_dict, with_absent
    from arena.training.plan import _stored_timing, algorithm_class, plan_training

    try:
        stored = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        algorithm, env = stored["algorithm"], stored["env"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArenaError(f"{folder / 'params.json'} is not an experiment's params file ({one_line(exc)})") from None
    arena = get_arena()
    if algorithm not in arena.algorithms:
        raise ArenaError(
            f"{folder.name} was trained with algorithm '{algorithm}', which is not installed here"
            f"{suggest(algorithm, arena.algorithms.names())}; installed: {arena.algorithms.choices()}"
        )
    if env not in arena.envs:
        raise ArenaError(
            f"{folder.name} was trained in env '{env}', which is not installed here; installed: {arena.envs.choices()}"
        )
    params_class = algorithm_class(arena, arena.algorithms.get(algorithm), "params")
    defaults = to_dict(params_class())
    trained = with_absent(params_class, stored.get("params") or {})
    sets = [f"{key}={written(value)}" for key, value in trained.items() if key in defaults and value != defaults[key]]
    env_spec = arena.envs.get(env)
    option_defaults = dataclasses.asdict(env_spec.parse_options([]))
    options = dict(stored.get("env_options") or {})
    if not options and _stored_timing(stored) is not None:  # a params.json from before timing moved to the env
        options = _stored_timing(stored)._asdict()
    pairs = [
        f"{key}={written(value)}" for key, value in options.items() if key in option_defaults and value != option_defaults[key]
    ]
    enemies = str(stored.get("enemies") or "")
    if enemies and Path(enemies).is_file():
        enemies = str(Path(enemies).absolute())  # the job may run from another folder
    args = ["--plugin", algorithm, "--env", env]
    args += ["--enemies", enemies] if enemies else []
    for pair in sets:
        args += ["--set", pair]
    for pair in pairs:
        args += ["-o", pair]
    args += ["--name", folder.name]
    args += ["--steps", str(steps)] if steps is not None else []
    _check_extra(extra, env, arena)
    with _experiments_in(folder.parent):
        plan = plan_training(
            algorithm, env=env, enemies=enemies or None, sets=sets, env_pairs=pairs, name=folder.name, steps=steps,
            workers=workers, arena=arena,
        )  # fmt: skip
    if plan.folder.absolute() != folder:
        raise ArenaError(f"the settings in {folder / 'params.json'} plan a run in {plan.folder}, not {folder}")
    from arena.training.snapshot import snapshot_steps

    done = (snapshot_steps(plan.resume_from.name) or 0) if plan.resume_from else 0
    if done >= plan.steps:  # the job would only say so: not worth a place in the queue
        raise ArenaError(
            f"{folder.name} already trained {done:,} steps, and --steps asks for {plan.steps:,}; pass a larger --steps"
        )
    return args + list(extra)


def _check_extra(extra: tuple[str, ...], env: str, arena: Any) -> None:
    """Options after ``--`` go to ``arena train`` as they are; the launch's own are refused, and
    the rest are parsed as ``arena train`` would, so a misspelled one fails now, not in the queue."""
    for word in extra:
        if word.split("=", 1)[0] in OWN_OPTIONS:
            raise ArenaError(
                f"'{word}' after -- is not for arena train here: the launch sets it (from params.json, or its own --steps and "
                "--workers); pass other arena train options there, e.g. -- --eval-every 0"
            )
    if not extra:
        return
    import click

    from arena.cli.match import env_flags
    from arena.cli.train import train_command

    try:
        ctx = train_command.make_context("arena train", list(extra))
    except click.ClickException as exc:
        raise ArenaError(f"the arena train options after -- do not parse: {one_line(exc.format_message())}") from None
    if ctx.args:  # what arena train takes as env options given as flags (--points 11)
        env_flags(ctx.args, env, arena.envs.get(env), command="arena train", takes="only options")


@contextlib.contextmanager
def _experiments_in(folder: Path) -> Iterator[None]:
    """``ARENA_EXPERIMENTS`` pointing at ``folder`` for a block (the plan looks there)."""
    before = os.environ.get("ARENA_EXPERIMENTS")
    os.environ["ARENA_EXPERIMENTS"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ARENA_EXPERIMENTS", None)
        else:
            os.environ["ARENA_EXPERIMENTS"] = before


def job_environment(folder: Path) -> dict[str, str]:
    """What the job's ``arena train`` needs from this shell: the experiments folder, and every
    ``ARENA_*`` variable (a cluster may start jobs with an empty environment)."""
    env = {key: value for key, value in os.environ.items() if key.startswith("ARENA_")}
    env["ARENA_EXPERIMENTS"] = str(folder.parent)
    return env


# -- the job --------------------------------------------------------------------------------------


def ray_ports(job_id: str, head: bool = True) -> dict[str, int]:
    """Job ``job_id``'s Ray ports (``ray start`` option names) on its first node (``head``) or
    another: a block of its own, in which the head's and another node's ports differ too (two
    ranks of a job may share a host)."""
    number = int(re.sub(r"\D", "", str(job_id)) or 0)
    base = PORT_BASE + (number % PORT_BLOCKS) * PORT_BLOCK
    ports = {"port": base, "ray-client-server-port": base + 1} if head else {}  # the GCS: the address to join
    own = base + (2 if head else 10)
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port")
    names += ("metrics-export-port", "runtime-env-agent-port")
    ports.update({name: own + offset for offset, name in enumerate(names)})
    workers = base + (20 if head else 20 + WORKER_PORTS)
    ports.update({"min-worker-port": workers, "max-worker-port": workers + WORKER_PORTS - 1})
    return ports


def _ignore_usr2() -> None:
    # Slurm sends the time-limit warning to every process of the job; the training must outlive
    # it so the job can ask it to save (SIGINT) before the requeue.
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def _ray_command() -> list[str]:
    beside = Path(sys.executable).parent / "ray"  # a virtual environment not on the job's PATH
    return [str(beside)] if beside.exists() else ["ray"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class TrainingJob:
    """What submitit runs on every node of the job (and ``--local`` runs here): rank 0 trains,
    the other ranks serve as Ray workers. Submitit calls :meth:`checkpoint` at the time-limit
    warning or on preemption; the training saves and the job is requeued with this same object."""

    argv: list[str]  # arena train's arguments, less --workers/--backend/--address when the job decides them
    cwd: str
    env: dict[str, str]
    nodes: int = 1
    workers: int | None = None
    logs: str = ""  # the folder for this job's own files (--local: its log folder; Slurm: submitit's)
    _child: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_child"] = None  # a running process does not travel with the requeued job
        return state

    # submitit's entry point
    def __call__(self) -> int:
        rank, job_id, folder = 0, f"local-{os.getpid()}", Path(self.logs)
        if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
            import submitit

            job = submitit.JobEnvironment()
            rank, job_id, folder = job.global_rank, job.job_id, job.paths.folder
        env = dict(os.environ, **self.env)
        env.setdefault("RAY_AUTH_MODE", "disabled")  # the same in every process of the job
        env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        folder.mkdir(parents=True, exist_ok=True)
        if self.nodes > 1:
            if rank == 0:
                return self._ray_head(job_id, folder, env)
            return self._ray_worker(job_id, folder, env)
        workers = self.workers or _cpus_here()
        return self._train([*self.argv, "--workers", str(workers)], folder, env)

    def checkpoint(self):
        """At the time-limit warning or a preemption: let the training finish its update and save
        (SIGINT), then requeue this job; the rerun resumes from that snapshot."""
        import submitit

        child = self._child
        if child is not None and child.poll() is None:
            print(f"arena launch: asking the training (pid {child.pid}) to save before the requeue", flush=True)
            child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + SAVE_WAIT_S
            # poll(), not wait(): we may be inside __call__'s own poll loop (a signal handler)
            while child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
        return submitit.helpers.DelayedSubmission(self)

    # -- rank 0 --------------------------------------------------------------------------------

    def _train(self, argv: list[str], folder: Path, env: dict[str, str]) -> int:
        command = [sys.executable, "-u", "-c", "from arena.cli import main; main()", "train", *argv]
        print("arena launch: running arena train " + shlex.join(argv), flush=True)
        cwd = self.cwd if os.path.isdir(self.cwd) else None
        self._child = subprocess.Popen(command, cwd=cwd, env=env, preexec_fn=_ignore_usr2)
        try:
            while (code := self._child.poll()) is None:
                time.sleep(0.5)
        finally:
            if self._child.poll() is None:  # the job itself is going away
                self._child.terminate()
        outcome = {"state": "finished" if code == 0 else "failed", "exit": code, "ended": _now(), "host": socket.gethostname()}
        _write_json(folder / "outcome.json", outcome)
        if code != 0:
            raise RuntimeError(f"arena train exited with status {code}: see the lines above")
        return code

    def _ray_head(self, job_id: str, folder: Path, env: dict[str, str]) -> int:
        import ray.util

        head_file, done = _ray_files(folder)
        ports = ray_ports(job_id)
        host = ray.util.get_node_ip_address()
        address = f"{host}:{ports['port']}"
        cpus = _cpus_here()
        # One CPU of the first node stays with the learner; Ray gets the rest of every node.
        head = self._start_ray(
            ["--head", f"--node-ip-address={host}", f"--num-cpus={max(1, cpus - 1)}", "--include-dashboard=false"], ports,
            job_id, env,
        )  # fmt: skip
        try:
            _wait_for_port(host, ports["port"], head)
            _write_json(head_file, {"address": address})  # the other ranks wait for it
            print(f"arena launch: Ray head at {address} (job {job_id}); {self.nodes - 1} worker node(s) joining", flush=True)
            workers = self.workers or max(1, self.nodes * cpus - 1)
            return self._train([*self.argv, "--workers", str(workers), "--backend", "ray", "--address", address], folder, env)
        finally:
            done.touch()  # the worker ranks stop their Ray and return
            _stop(head)

    def _ray_worker(self, job_id: str, folder: Path, env: dict[str, str]) -> int:
        head_file, done = _ray_files(folder)
        while not head_file.exists():
            if done.exists():
                return 0  # the head gave up before it started
            time.sleep(1)
        address = json.loads(head_file.read_text(encoding="utf-8"))["address"]
        worker = self._start_ray(
            [f"--address={address}", f"--num-cpus={_cpus_here()}"], ray_ports(job_id, head=False), job_id, env
        )
        try:
            while not done.exists() and worker.poll() is None:
                time.sleep(2)
        finally:
            _stop(worker)
        return 0

    @staticmethod
    def _start_ray(args: list[str], ports: dict[str, int], job_id: str, env: dict[str, str]) -> subprocess.Popen:
        # --block: this process owns the node's Ray processes and stopping it stops them. `ray
        # stop` would also stop other jobs' Ray on a shared node. A temp dir of the job's own, short
        # enough for Ray's socket paths.
        command = [*_ray_command(), "start", "--block", "--disable-usage-stats", f"--temp-dir=/tmp/arena-ray-{job_id}", *args]
        command += [f"--{name}={port}" for name, port in ports.items()]
        print("arena launch: " + shlex.join(command), flush=True)
        # At the job's end nothing is left to drain: stop at once, not after Ray's 30 s grace.
        env = {"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", **env}
        return subprocess.Popen(command, env=env, preexec_fn=_ignore_usr2)


def _ray_files(folder: Path) -> tuple[Path, Path]:
    """Where the head writes its address, and the sign that the training is over: one pair per
    run of the job (a requeued run must not read the last run's)."""
    run = os.environ.get("SLURM_RESTART_COUNT", "0")
    return folder / f"ray-head-{run}.json", folder / f"ray-done-{run}"


def _cpus_here() -> int:
    """The CPUs Slurm gave this job on this node, else the machine's."""
    given = os.environ.get("SLURM_CPUS_ON_NODE", "")
    return int(given) if given.isdigit() else max(1, os.cpu_count() or 1)


def _wait_for_port(host: str, port: int, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start --head exited with status {process.returncode}: see the lines above")
        try:
            socket.create_connection((host, port), timeout=2).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the Ray head did not answer at {host}:{port} within {timeout:.0f} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# -- Slurm ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmRequest:
    """What the job asks Slurm for."""

    nodes: int = 1
    gpus: int = 0  # per node
    cpus: int | None = None  # per node; None: whole nodes
    partition: str | None = None
    qos: str | None = None
    time_min: int = DEFAULT_TIME_MIN
    extra: tuple[tuple[str, Any], ...] = ()  # further sbatch options, e.g. (("account", "rl"),)


def parse_time(text: str) -> int:
    """A Slurm time limit (``90``, ``1:30:00``, ``2-00:00:00``, ``2-12``) in whole minutes."""
    text = str(text).strip()
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not match:
        raise ArenaError(f"--time {text}: not a time limit; use minutes (90), H:MM:SS (1:30:00) or D-HH:MM:SS (2-00:00:00)")
    days, first, second, third = match.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        minutes = int(days) * 1440 + int(first) * 60 + int(second or 0) + (1 if third and int(third) else 0)
    elif second is None:  # M
        minutes = int(first)
    elif third is None:  # M:S
        minutes = int(first) + (1 if int(second) else 0)
    else:  # H:M:S
        minutes = int(first) * 60 + int(second) + (1 if int(third) else 0)
    if minutes < 1:
        raise ArenaError(f"--time {text}: a job needs at least a minute")
    return minutes


def parse_extra(pairs: tuple[str, ...] | list[str]) -> tuple[tuple[str, Any], ...]:
    """``--sbatch KEY=VALUE`` options as (key, value); a bare KEY is a flag."""
    out = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lstrip("-")
        if not key:
            raise ArenaError(f"--sbatch {pair}: expected KEY=VALUE (an sbatch option without its --), e.g. --sbatch account=rl")
        out.append((key.replace("-", "_"), value.strip() if sep else True))
    return tuple(out)


def slurm_parameters(request: SlurmRequest, name: str) -> dict[str, Any]:
    """submitit's SlurmExecutor parameters (sbatch's own names) for the request."""
    params: dict[str, Any] = {
        "job_name": f"arena-{name}"[:120],
        "nodes": request.nodes,
        "ntasks_per_node": 1,  # one task a node: the learner and Ray head, or a Ray worker
        "time": request.time_min,
        "signal_delay_s": SIGNAL_DELAY_S,
    }
    if request.cpus:
        params["cpus_per_task"] = request.cpus
    else:
        params["exclusive"] = True  # whole nodes: every CPU for workers
    if request.gpus:
        params["gpus_per_node"] = request.gpus
    if request.partition:
        params["partition"] = request.partition
    if request.qos:
        params["qos"] = request.qos
    if request.extra:
        params["additional_parameters"] = dict(request.extra)
    return params


def submitit_command(folder: Path) -> str:
    """The command submitit's sbatch script runs (as ``SlurmExecutor._submitit_command_str``)."""
    return " ".join([shlex.quote(sys.executable), "-u -m submitit.core._submit", shlex.quote(str(folder))])


def sbatch_script(folder: Path, params: dict[str, Any]) -> str:
    """The sbatch script submitit writes for these parameters; writes nothing."""
    import_submitit()
    from submitit.slurm.slurm import _make_sbatch_string

    logs = folder / LOGS / "%j"
    try:
        return _make_sbatch_string(command=submitit_command(logs), folder=logs, **params)
    except (ValueError, TypeError) as exc:
        raise ArenaError(f"submitit refuses these sbatch options: {one_line(exc)}") from None


def import_submitit():
    try:
        import submitit
    except ImportError:
        raise ArenaError('arena launch needs submitit, which is not installed: pip install -e ".[slurm]"') from None
    return submitit


def _run(command: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise ArenaError(
            f"no {command[0]} on the PATH: this machine is not a Slurm login node (use --local to train here)"
        ) from None
    except subprocess.TimeoutExpired:
        raise ArenaError(f"{command[0]} did not answer within {timeout:.0f} s: is the Slurm controller up?") from None


def check_slurm(partition: str | None) -> list[str]:
    """sbatch is here, the cluster answers, and ``partition`` is one of its partitions; returns them."""
    if shutil.which("sbatch") is None:
        raise ArenaError(
            "no sbatch on the PATH: this machine is not a Slurm login node; submit from one, or use --local to train here"
        )
    done = _run(["sinfo", "-h", "-o", "%P"])
    if done.returncode != 0:
        raise ArenaError(
            f"sinfo cannot reach the Slurm cluster ({one_line(done.stderr or done.stdout) or 'no output'}): is slurmctld up?"
        )
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    plain = [n.rstrip("*") for n in names]
    if partition is not None and partition not in plain:
        shown = ", ".join(n.rstrip("*") + (" (default)" if n.endswith("*") else "") for n in names) or "none"
        raise ArenaError(f"no partition '{partition}' on this Slurm cluster; partitions: {shown}")
    return plain


def _forget_since(logs: Path, before: set[Path] | None) -> None:
    """Remove what a failed submission left in the launch folder (submitit's pickle)."""
    if before is None:
        shutil.rmtree(logs, ignore_errors=True)
        return
    for path in set(logs.iterdir()) - before:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def slurm_cluster_name() -> str:
    done = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=30)
    found = re.search(r"^ClusterName\s*=\s*(\S+)", done.stdout, re.M)
    return found.group(1) if found else ""


def submit(folder: Path, argv: list[str], request: SlurmRequest, *, workers: int | None) -> dict[str, Any]:
    """Submit the training job through submitit and record it in ``launch.json``."""
    check_slurm(request.partition)
    _refuse_second_job(folder)
    submitit = import_submitit()
    logs = folder / LOGS / "%j"
    executor = submitit.SlurmExecutor(folder=logs)
    try:
        executor.update_parameters(**slurm_parameters(request, folder.name))
    except (ValueError, TypeError) as exc:
        raise ArenaError(f"submitit refuses these sbatch options: {one_line(exc)}") from None
    job = TrainingJob(argv=argv, cwd=os.getcwd(), env=job_environment(folder), nodes=request.nodes, workers=workers)
    before = set((folder / LOGS).iterdir()) if (folder / LOGS).is_dir() else None
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's complaint, then raises it
            submitted = executor.submit(job)
    except Exception as exc:  # submitit's FailedJobError, holding what sbatch said
        _forget_since(folder / LOGS, before)
        raise ArenaError(f"sbatch refused the job: {one_line(exc)}") from None
    record = {
        "job_id": str(submitted.job_id),
        "cluster": "slurm",
        "slurm_cluster": slurm_cluster_name(),
        "submitted": _now(),
        "command": _command_line(argv, workers),
        "argv": argv,
        "nodes": request.nodes,
        "gpus_per_node": request.gpus,
        "cpus_per_node": request.cpus,
        "partition": request.partition,
        "qos": request.qos,
        "time_min": request.time_min,
        "logs": f"{LOGS}/{submitted.job_id}",
        "ray": {"head": ray_ports(str(submitted.job_id)), "other_nodes": ray_ports(str(submitted.job_id), head=False)}
        if request.nodes > 1
        else None,
    }
    _record(folder, record)
    return record


def run_local(folder: Path, argv: list[str], *, workers: int | None) -> int:
    """The job in the foreground here: one node, local workers; recorded like a Slurm job."""
    _refuse_second_job(folder)
    job_id = f"local-{os.getpid()}"
    logs = folder / LOGS / job_id
    record = {
        "job_id": job_id,
        "cluster": "local",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "submitted": _now(),
        "command": _command_line(argv, workers),
        "argv": argv,
        "nodes": 1,
        "logs": f"{LOGS}/{job_id}",
    }
    _record(folder, record)
    job = TrainingJob(argv=argv, cwd=os.getcwd(), env=job_environment(folder), workers=workers, logs=str(logs))
    try:
        return job()
    except RuntimeError as exc:
        raise ArenaError(f"the local run failed: {one_line(exc)}") from None


def _command_line(argv: list[str], workers: int | None) -> str:
    return "arena train " + shlex.join(argv) + (f" --workers {workers}" if workers else " --workers <the job's CPUs>")


def _record(folder: Path, record: dict[str, Any]) -> None:
    earlier = read_record(folder)
    if earlier is not None:
        record["previous"] = [*earlier.pop("previous", []), {k: earlier.get(k) for k in ("job_id", "cluster", "submitted")}]
    _write_json(folder / LAUNCH_FILE, record)


def read_record(folder: Path) -> dict[str, Any] | None:
    path = folder / LAUNCH_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ArenaError(f"{path} is not valid JSON ({one_line(exc)}); delete it to forget the recorded job") from None


def _refuse_second_job(folder: Path) -> None:
    """Two jobs training one experiment would write over each other's snapshots."""
    record = read_record(folder)
    if record is None:
        return
    state = job_state(folder, record)
    if state.active:
        raise ArenaError(
            f"job {record['job_id']} is still {state.words} for {folder.name}; wait for it, or cancel it: arena launch {folder.name} --cancel"
        )


# -- status and cancel -----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobState:
    words: str  # plain words: "finished", "running", "cancelled", ...
    slurm: str = ""  # Slurm's own state, when it said one
    active: bool = False  # still queued or running
    restarts: int = 0


def _scontrol_job(job_id: str) -> dict[str, str]:
    """``scontrol show job``'s fields, or empty once Slurm has forgotten the job (MinJobAge)."""
    try:
        done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return {}
    if done.returncode != 0:
        return {}
    return dict(re.findall(r"(\w+)=(\S*)", done.stdout))


def _sacct_state(job_id: str) -> str:
    """The accounting database's state, where the cluster keeps one."""
    try:
        done = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], capture_output=True, text=True, timeout=30
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return ""
    lines = done.stdout.split() if done.returncode == 0 else []
    return lines[-1] if lines else ""


def job_state(folder: Path, record: dict[str, Any]) -> JobState:
    job_id, logs = str(record["job_id"]), folder / record.get("logs", f"{LOGS}/{record['job_id']}")
    outcome = None
    if (logs / "outcome.json").is_file():
        try:
            outcome = json.loads((logs / "outcome.json").read_text(encoding="utf-8"))
        except ValueError:
            outcome = None
    if record.get("cluster") == "local":
        if outcome:
            return JobState(outcome["state"])
        alive = record.get("host") == socket.gethostname() and _pid_alive(int(record.get("pid", 0)))
        return JobState("running", active=True) if alive else JobState("stopped before it finished")
    fields = _scontrol_job(job_id)
    slurm = fields.get("JobState", "") or _sacct_state(job_id).split(" ")[0]
    restarts = int(fields.get("Restarts", "0") or 0)
    if slurm:
        if record.get("cancelled") and slurm in ACTIVE:
            return JobState("being cancelled", slurm, active=True, restarts=restarts)
        words = WORDS.get(slurm, slurm.lower())
        reason = fields.get("Reason", "None")
        if slurm == "PENDING" and reason not in ("None", "Priority", "Resources", "BeginTime", ""):
            words += f" (Slurm's reason: {reason})"  # e.g. PartitionConfig: it asks more than any node has
        if restarts and slurm in ("PENDING", "RUNNING"):
            words += f" (requeued {restarts} time{'s' if restarts > 1 else ''})"
        return JobState(words, slurm, active=slurm in ACTIVE, restarts=restarts)
    # Slurm has forgotten it and keeps no accounting: what the job and this command wrote.
    if outcome:
        return JobState(outcome["state"])
    if record.get("cancelled"):
        return JobState("cancelled")
    return JobState("ended (Slurm no longer knows it and keeps no accounting; see its log)")


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _no_record(folder: Path, what: str) -> ArenaError:
    return ArenaError(
        f"no job recorded for {folder.name} (no {LAUNCH_FILE} in {folder}), so nothing to {what}; submit one: arena launch {folder.name} --slurm"
    )


def status_lines(folder: Path) -> list[str]:
    """``--status``: the recorded job's state, command, log and the newest snapshot."""
    from arena.training.snapshot import list_snapshots, snapshot_steps

    record = read_record(folder)
    if record is None:
        raise _no_record(folder, "report")
    state = job_state(folder, record)
    where = "here" if record.get("cluster") == "local" else f"on Slurm cluster {record.get('slurm_cluster') or '?'}"
    extra = f" ({state.slurm})" if state.slurm and WORDS.get(state.slurm) != state.words else ""
    lines = [f"{folder.name}: job {record['job_id']} {state.words}{extra}, {where}, submitted {record.get('submitted', '?')}"]
    lines.append(f"  command: {record.get('command', '?')}")
    logs = folder / record.get("logs", "")
    found = sorted(logs.glob("*_log.out")) if logs.is_dir() else []
    lines.append(f"  log: {found[0]}" if found else f"  log: printed where it ran; files: {logs}")
    if record.get("ray"):
        head, last = record["ray"]["head"], record["ray"]["other_nodes"]["max-worker-port"]
        lines.append(
            f"  ray: the head at port {head['port']} of the job's first node; the job's Ray ports: {head['port']}-{last}"
        )
    snapshots = list_snapshots(folder)
    if snapshots:
        lines.append(f"  newest snapshot: {snapshots[-1]} ({snapshot_steps(snapshots[-1].name) or 0:,} steps)")
    return lines


def cancel(folder: Path) -> str:
    """``--cancel``: scancel the recorded job (or stop a --local run) and record that."""
    record = read_record(folder)
    if record is None:
        raise _no_record(folder, "cancel")
    state = job_state(folder, record)
    job_id = str(record["job_id"])
    if not state.active:
        raise ArenaError(f"job {job_id} of {folder.name} is not queued or running ({state.words}); nothing to cancel")
    if record.get("cluster") == "local":
        os.kill(int(record["pid"]), signal.SIGINT)  # the run saves at the end of its update
    else:
        done = _run(["scancel", job_id])
        if done.returncode != 0:
            raise ArenaError(f"scancel {job_id} failed: {one_line(done.stderr or done.stdout)}")
    record["cancelled"] = _now()
    _write_json(folder / LAUNCH_FILE, record)
    return f"{folder.name}: cancelled job {job_id} (it was {state.words}); its snapshots stay, and a new launch resumes from the newest"
