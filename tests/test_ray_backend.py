"""The Ray backend against a real Ray: a head node started once for the session with `ray start`,
joined by `--address`. Matches and leaderboard runs play on Ray actors; a worker killed mid-game
costs an error record and a replay, and the leaderboard neither loses the game nor counts it twice.
Every wait on Ray has a timeout (a task asking for what no node has waits forever)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_leaderboard import write_definition

from arena.errors import ArenaError
from arena.games.play import plan_games
from arena.plugins.manager import load_plugins
from arena.ratings.leaderboard import load_definition
from arena.ratings.recorder import Recorder
from arena.ratings.scheduler import run_leaderboard
from arena.ratings.store import MatchStore

RAY_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
RAY_CLI = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_address():
    """A two-node Ray cluster on this host for the session (2 CPUs each, small object stores; the
    second offers the custom resource "dolphin" and one GPU), stopped at the end.

    Each test process (pytest-xdist) starts a cluster of its own and stops only its own: `ray stop`
    would stop every Ray on the host, the other test process's cluster in the middle of its tests."""
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[test]' installs it")
    saved = {k: os.environ.get(k) for k in RAY_ENV}
    os.environ.update(RAY_ENV)  # the same auth mode for the head, the CLI and this process
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's sockets live under it
    port = _free_port()
    CLUSTER.update(temp=temp, port=port)
    start = [
        *RAY_CLI, "start", "--head", f"--port={port}", "--num-cpus=2", f"--temp-dir={temp}",
        "--include-dashboard=false", f"--object-store-memory={200 * 2**20}", "--disable-usage-stats",
    ]  # fmt: skip
    try:
        started = subprocess.run(start, capture_output=True, text=True, timeout=180, env={**os.environ, **RAY_ENV})
        assert started.returncode == 0, started.stdout + started.stderr
        # A second node on this host, the only one that says it can run Dolphin and has a GPU (Ray
        # takes a node's word for its GPUs: torch still sees none, and the learner's device=auto is the CPU).
        node = [*RAY_CLI, "start", f"--address=127.0.0.1:{port}", "--num-cpus=2", '--resources={"dolphin": 2}', "--num-gpus=1",
                f"--object-store-memory={100 * 2**20}", "--disable-usage-stats"]  # fmt: skip
        joined = subprocess.run(node, capture_output=True, text=True, timeout=180, env={**os.environ, **RAY_ENV})
        assert joined.returncode == 0, joined.stdout + joined.stderr
        yield f"127.0.0.1:{port}"
    finally:
        _stop_cluster()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


CLUSTER: dict = {}  # this test process's cluster: its temp dir and port


def _cluster_processes() -> dict[int, bytes]:
    """The processes of this test process's cluster, pid -> command line: its nodes' own (their
    command lines name its temp dir or port) and their children (workers and agents)."""
    marks = (CLUSTER["temp"].encode(), f":{CLUSTER['port']}\0".encode())  # arguments end in NUL
    lines, parents = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines[int(entry.name)] = (entry / "cmdline").read_bytes()
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    nodes = {pid for pid, line in lines.items() if any(mark in line for mark in marks)}
    return {pid: line for pid, line in lines.items() if pid in nodes or parents.get(pid) in nodes}


def _stop_cluster() -> None:
    if not CLUSTER:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_processes():
            with contextlib.suppress(OSError):
                os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while _cluster_processes() and time.monotonic() < deadline:
            time.sleep(0.2)


def run_cli(tmp_path: Path, *args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    environ = {
        **os.environ, **RAY_ENV,
        "ARENA_HOME": str(tmp_path / "home"), "ARENA_LEADERBOARDS": str(tmp_path / "boards"),
        "ARENA_LOAD_PLUGINS": "agents,pong", **(env or {}),
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, env=environ, timeout=timeout, cwd=tmp_path,
    )  # fmt: skip


def test_a_match_plays_on_ray_actors(tmp_path, ray_address):
    log = tmp_path / "games.jsonl"
    result = run_cli(
        tmp_path, "match", "bot:tracker:3", "bot:tracker:8", "--points", "2", "--games", "4", "--workers", "2",
        "--backend", "ray", "--address", ray_address, "--log", str(log),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 4 and all(r["status"] == "ok" for r in records), records
    assert {r["game"] for r in records} == {0, 1, 2, 3}
    pids = {r["pid"] for r in records}
    assert len(pids) == 2  # two actors played, neither of them the command's process
    with MatchStore(tmp_path / "home" / "arena.db") as store:
        assert store.count("pong") == 4


def test_a_leaderboard_runs_on_ray(tmp_path, ray_address):
    write_definition(tmp_path / "boards", "onray", options={"points": 1}, stop={"max_games": 6})
    result = run_cli(tmp_path, "leaderboard", "run", "onray", "--workers", "2", "--backend", "ray", "--address", ray_address)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 games played, 0 errors" in result.stdout
    with MatchStore(tmp_path / "home" / "arena.db") as store:
        games = store.games("onray")
        assert len(games) == 6 and len({g.uid for g in games}) == 6
        assert store.recompute("onray") == (6, 0)


def test_a_worker_killed_mid_game_is_replayed_and_rated_once(tmp_path, ray_address):
    from arena.backends.ray import RayGamePool

    arena = load_plugins()
    spec = arena.envs.get("pong")
    tasks = plan_games(arena, "bot:tracker:3", "bot:tracker:8", "pong", 4, 0, spec.parse_options(["points=6"]))
    tasks = [t.__class__(**{**t.__dict__, "uid": f"fault:{t.index}"}) for t in tasks]
    records = []
    with RayGamePool(2, address=ray_address, timeout=120) as pool:
        pids = pool.worker_pids()
        for task in tasks:
            pool.submit(task)
        pool._fill()  # both workers start a game (each takes seconds: 6 points)
        time.sleep(0.5)
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 240
        while len(pool):
            assert time.monotonic() < deadline, "the games did not finish"
            records.append(pool.next_result())
        assert pool.restarts == 1

    lost = [r for r in records if not r.ok]
    assert len(lost) == 1 and "the Ray worker playing it died" in lost[0].error and "played again" in lost[0].error
    ok = sorted(r.uid for r in records if r.ok)
    assert ok == [f"fault:{i}" for i in range(4)]  # every game finished once, under its own id
    assert lost[0].uid.startswith(lost[0].uid.split(":lost")[0]) and lost[0].uid.endswith(":lost1")

    # Recorded in a leaderboard, twice over (a writer that retries): 4 rated games, 1 error, no double.
    with MatchStore(tmp_path / "arena.db") as store:
        with Recorder("fault", tmp_path / "games.jsonl", store, arena=arena) as recorder:
            for record in [*records, *records]:
                recorder.write(record)
        assert store.count("fault") == 4 and store.count("fault", status="error") == 1
        assert store.recompute("fault") == (4, 0)  # 4 rated, and nothing changes on a rebuild


def _busy_workers(skip: int | None) -> list[int]:
    """Ray names an actor's process after the method it runs: ray::GameWorker.play while playing."""
    return [pid for pid in _processes(b"ray::GameWorker.play") if pid != skip]


def test_a_leaderboard_run_loses_no_game_when_a_worker_dies(tmp_path, ray_address):
    arena = load_plugins()
    definition = load_definition(write_definition(tmp_path, "faulty", options={"points": 4}, stop={"max_games": 6}))
    killed = []

    def kill_a_busy_worker(record):
        if not killed:
            for pid in _busy_workers(skip=record.pid):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break

    from arena.backends import Backend

    with MatchStore(tmp_path / "arena.db") as store:
        result = run_leaderboard(
            definition, store, workers=2, arena=arena, seed=0, on_game=kill_a_busy_worker,
            backend=Backend("ray", ray_address),
        )  # fmt: skip
        assert killed, "no worker was mid-game when the first one finished"
        games = store.games("faulty")
        ok = [g for g in games if g.status == "ok"]
        assert result.played == 6 and len(ok) == 6 and len({g.uid for g in games}) == len(games)
        assert result.errors <= 1 and len(games) == 6 + result.errors
        assert store.recompute("faulty") == (6, 0)


def test_bad_backend_input_is_one_line_and_writes_nothing(tmp_path):
    no_ray = tmp_path / "no_ray"
    (no_ray / "ray").mkdir(parents=True)
    (no_ray / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    port = _free_port()  # nothing listens there
    for args, env, message in (
        (("--backend", "ray"), {"PYTHONPATH": str(no_ray)}, 'needs Ray, which is not installed: pip install -e ".[ray]"'),
        (("--backend", "ray", "--address", f"127.0.0.1:{port}"), {}, f"cannot reach a Ray cluster at 127.0.0.1:{port}"),
        (("--backend", "ray", "--address", "nowhere"), {}, "is not HOST:PORT"),
        (("--address", "127.0.0.1:6379"), {}, "pass --backend ray with it"),
    ):
        result = run_cli(tmp_path, "match", "random", "random", "--points", "1", *args, env=env)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("arena: error:") and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert not (tmp_path / "home").exists()  # no database, no log
    write_definition(tmp_path / "boards", "lb", stop={"max_games": 2})
    result = run_cli(tmp_path, "leaderboard", "run", "lb", "--backend", "ray", "--address", f"127.0.0.1:{port}")
    assert result.returncode == 2 and "cannot reach a Ray cluster" in result.stderr
    assert not (tmp_path / "home").exists()


def test_workers_go_where_their_resource_is(ray_address):
    import ray

    from arena.backends.ray import RayGamePool

    with RayGamePool(2, address=ray_address, resources=("dolphin",), timeout=120) as pool:
        dolphin_nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("dolphin")}
        assert len(dolphin_nodes) == 1 and len([n for n in ray.nodes() if n["Alive"]]) == 2
        assert set(pool.worker_nodes()) == dolphin_nodes  # both workers, on the one node offering it
    with pytest.raises(ArenaError, match="offers the resource 'gpu_emulator' that this env's workers need"):
        RayGamePool(1, address=ray_address, resources=("gpu_emulator",))
    assert not ray.is_initialized()  # the refused pool let go of the cluster


def test_melee_workers_ask_for_a_dolphin_node():
    assert load_plugins().envs.get("melee").ray_resources == ("dolphin",)


def test_the_backend_is_checked_by_name():
    from arena.backends import Backend

    with pytest.raises(ArenaError, match="no backend 'slurm'"):
        Backend("slurm")


# -- training -----------------------------------------------------------------------------------


def train_cli(tmp_path: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", "from arena.cli import main; main()", "train", *args]


def train_environ(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ, **RAY_ENV, "ARENA_HOME": str(tmp_path / "home"), "ARENA_EXPERIMENTS": str(tmp_path / "experiments"),
        "ARENA_LOAD_PLUGINS": "agents,pong,algorithms,enemies", "COLUMNS": "200",
    }  # fmt: skip


@pytest.mark.parametrize("plugin", ["ac", "a2c"])  # a2c's workers play one segment per weight version
def test_training_on_ray_actors(tmp_path, ray_address, plugin):
    result = subprocess.run(
        train_cli(tmp_path, "--plugin", plugin, "--steps", "1500", "--workers", "2", "--eval-every", "0",
                  "--backend", "ray", "--address", ray_address),
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=train_environ(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    snapshots = sorted((tmp_path / "experiments" / plugin / "snapshots").glob("*.pt"))
    assert snapshots and int(snapshots[-1].stem) >= 1500
    assert "warning" not in result.stderr


def _processes(prefix: bytes) -> list[int]:
    """This test process's cluster's processes whose command line starts with ``prefix``."""
    return sorted(pid for pid, line in _cluster_processes().items() if line.startswith(prefix))


def test_training_goes_on_when_a_rollout_worker_dies(tmp_path, ray_address):
    proc = subprocess.Popen(
        train_cli(tmp_path, "--plugin", "ac", "--steps", "8000", "--workers", "2", "--eval-every", "0",
                  "--backend", "ray", "--address", ray_address),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=train_environ(tmp_path),
    )  # fmt: skip
    metrics = tmp_path / "experiments" / "ac" / "metrics.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        workers = _processes(b"ray::RolloutWorker")
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out + err
    assert "rollout worker" in err and "died" in err and "restarted with the current weights" in err
    log = (tmp_path / "experiments" / "ac" / "logs" / "ray.log").read_text()
    assert "died" in log and len(log.splitlines()) == 1
    snapshots = sorted((tmp_path / "experiments" / "ac" / "snapshots").glob("*.pt"))
    assert int(snapshots[-1].stem) >= 8000  # trained to the end with the fresh worker


def test_the_learner_goes_to_the_gpu_node(tmp_path, ray_address):
    import ray

    ray.init(address=ray_address)
    try:
        gpu_nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU")]
    finally:
        ray.shutdown()
    assert len(gpu_nodes) == 1
    args = (
        "--plugin",
        "ac",
        "--steps",
        "1000",
        "--workers",
        "1",
        "--eval-every",
        "0",
        "--backend",
        "ray",
        "--address",
        ray_address,
    )
    result = subprocess.run(
        train_cli(tmp_path, *args, "--learner-gpus", "1"),
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=train_environ(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"learner: a Ray actor on node {gpu_nodes[0]}" in result.stdout and "GPUs ['0']" in result.stdout
    snapshots = sorted((tmp_path / "experiments" / "ac" / "snapshots").glob("*.pt"))
    assert snapshots and int(snapshots[-1].stem) >= 1000
    assert "final snapshot:" in result.stdout

    for extra, message in (
        (("--learner-gpus", "2"), "--learner-gpus 2: no node of the Ray cluster"),
        (("--learner-gpus", "1", "--set", "device=cuda", "--name", "cuda"), "--set device=cuda: this torch sees no CUDA GPU"),
    ):
        failed = subprocess.run(
            train_cli(tmp_path, *args, *extra), capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env=train_environ(tmp_path),
        )  # fmt: skip
        assert failed.returncode == 2, failed.stdout + failed.stderr
        assert failed.stderr.startswith("arena: error:") and message in failed.stderr, failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "experiments" / "cuda").exists()  # refused on the GPU node before it wrote anything
    failed = subprocess.run(train_cli(tmp_path, "--learner-gpus", "1"), capture_output=True, text=True, cwd=tmp_path,
                            env=train_environ(tmp_path), timeout=120)  # fmt: skip
    assert failed.returncode == 2 and "pass --backend ray with it" in failed.stderr
