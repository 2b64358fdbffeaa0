"""`arena launch` as a user runs it: --dry-run, jobs on a real Slurm cluster that train, are
cancelled and are requeued, --local, and one-line errors for bad input.

The Slurm tests need a cluster that answers ``sinfo`` (.ci/install-slurm starts one of two nodes
on one host from Debian's slurm-wlm); without one they skip, saying so. Each test trains its own
copy of one tiny experiment (128 agent steps an update) made once for the module. Jobs are
followed with ``arena launch --status`` and ``squeue``, never submitit's ``.result()``: without
accounting, that hangs forever for a cancelled job.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_train import TINY, TINY_NAME, assert_error_line, in_process_cli, run_arena, snapshot_steps

from arena.launch import PORT_BASE, PORT_BLOCK, PORT_BLOCKS, ray_ports

QUICK = ("--", "--eval-every", "0")  # arena train options: no evaluation rounds in these short runs


def slurm_answers() -> str:
    """Why the Slurm tests cannot run here, or empty if a cluster answers."""
    if shutil.which("sinfo") is None:
        return "no sinfo on the PATH"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    if done.returncode != 0 or not done.stdout.strip():
        return f"sinfo: {' '.join((done.stderr or 'no nodes').split())}"
    if not any(state in done.stdout for state in ("idle", "mix", "alloc")):
        return f"no node takes jobs: {' '.join(done.stdout.split())}"
    return ""


@pytest.fixture(scope="module")
def slurm() -> None:
    why = slurm_answers()
    if why:
        pytest.skip(f"no Slurm cluster answers ({why}): run .ci/install-slurm (Debian's slurm-wlm and munge) to run this test")


def partitions() -> dict[str, int]:
    """The cluster's partitions and their node counts, the default first."""
    done = subprocess.run(["sinfo", "-h", "-o", "%P %D"], capture_output=True, text=True, timeout=20)
    rows = [line.split() for line in done.stdout.splitlines() if line.strip()]
    rows.sort(key=lambda row: not row[0].endswith("*"))
    return {name.rstrip("*"): int(nodes) for name, nodes in rows}


def queue() -> set[str]:
    return set(subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=20).stdout.split())


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A folder with one tiny trained experiment, ``experiments/TINY_NAME`` (one update)."""
    root = tmp_path_factory.mktemp("launch")
    done = run_arena(root, "train", *TINY, "--steps", "128", "--eval-every", "0", timeout=180)
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def experiment(root, request) -> Path:
    """A copy of the tiny experiment under this test's own name (a job trains it on)."""
    name = re.sub(r"\W", "", request.node.name).removeprefix("test_")[:40]
    folder = root / "experiments" / name
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(root / "experiments" / TINY_NAME, folder)
    return folder


@pytest.fixture
def launch(root, monkeypatch, capsys):
    """`arena launch ARGS` in this process from ``root``: returns (exit status, stdout, stderr)."""
    return in_process_cli(root, monkeypatch, capsys, "launch")


@pytest.fixture
def jobs():
    """Job ids a test submitted: cancelled at teardown, whatever happened."""
    ids: list[str] = []
    yield ids
    for job_id in ids:
        subprocess.run(["scancel", job_id], capture_output=True, timeout=20)


def submitted(out: str) -> str:
    found = re.search(r"submitted job (\d+)", out)
    assert found, out
    return found.group(1)


def wait_for(what, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def status(launch, name: str) -> str:
    code, out, err = launch(name, "--status")
    assert code == 0, err
    return out


def status_saying(launch, name: str, words: str) -> str:
    """The status report if its first line says ``words``, else empty."""
    report = status(launch, name)
    return report if words in report.splitlines()[0] else ""


def ended(launch, name: str) -> str:
    """The status report once the job has ended (finished, failed, cancelled...), else empty."""
    report = status(launch, name)
    words = report.splitlines()[0].split(" job ", 1)[-1]
    return "" if re.match(r"\S+ (waiting|starting|running|finishing)", words) else report


def log_text(folder: Path, job_id: str) -> str:
    logs = folder / "launch" / job_id
    return "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*_log.*")))


# -- without a cluster --------------------------------------------------------------------------


def test_each_job_has_ray_ports_of_its_own():
    one, two, other = ray_ports("41"), ray_ports("42"), ray_ports("41", head=False)
    assert not set(one.values()) & set(two.values())
    assert not set(one.values()) & set(other.values())  # a job's head and another node may share a host
    assert not set(range(one["min-worker-port"], one["max-worker-port"] + 1)) & set(
        range(other["min-worker-port"], other["max-worker-port"] + 1)
    )
    for ports in (one, two, other, ray_ports("123_4")):
        assert all(PORT_BASE <= port < PORT_BASE + PORT_BLOCK * PORT_BLOCKS for port in ports.values())
        assert ports["max-worker-port"] - ports["min-worker-port"] >= 100
        assert len(set(ports.values())) == len(ports)
    assert "port" in one and "port" not in other  # the GCS port is the head's


def test_an_experiment_that_does_not_exist(launch, root):
    code, out, err = launch("nosuch", "--slurm")
    assert_error_line(code, out, err, "no experiment 'nosuch'", TINY_NAME)
    assert not (root / "experiments" / "nosuch").exists()


def test_no_sbatch_on_the_path(launch, experiment, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands at all
    code, out, err = launch(experiment.name, "--slurm", "--steps", "256")
    assert_error_line(code, out, err, "no sbatch on the PATH", "--local")
    assert not (experiment / "launch.json").exists() and not (experiment / "launch").exists()


def test_status_and_cancel_need_a_recorded_job(launch, experiment):
    for flag in ("--status", "--cancel"):
        code, out, err = launch(experiment.name, flag)
        assert_error_line(code, out, err, f"no job recorded for {experiment.name}", "launch.json")


def test_options_after_the_dashes_are_checked_before_anything_is_submitted(launch, experiment):
    code, out, err = launch(experiment.name, "--slurm", "--", "--name", "other")
    assert_error_line(code, out, err, "'--name' after --")
    code, out, err = launch(experiment.name, "--slurm", "--", "--no-such-option", "1")
    assert_error_line(code, out, err, "--no-such-option")
    code, out, err = launch(experiment.name, "--local", "--nodes", "2")
    assert_error_line(code, out, err, "--nodes is a Slurm option")
    assert not (experiment / "launch.json").exists()


# -- on a Slurm cluster -------------------------------------------------------------------------


def test_dry_run_prints_the_sbatch_script_and_submits_nothing(slurm, launch, experiment):
    before = queue()
    partition = next(iter(partitions()))
    code, out, err = launch(
        experiment.name, "--slurm", "--dry-run", "--nodes", "2", "--partition", partition, "--time", "1:30:00", *QUICK
    )
    assert code == 0, err
    assert out.startswith("#!/bin/bash")
    for line in ("#SBATCH --nodes=2", f"#SBATCH --partition={partition}", "#SBATCH --time=90", "#SBATCH --ntasks-per-node=1"):
        assert line in out.splitlines(), (line, out)
    assert "#SBATCH --signal=USR2@90" in out  # the time-limit warning the job saves and requeues on
    assert "-m submitit.core._submit" in out and f"{experiment}/launch/%j" in out
    # the job resumes this experiment: its non-default parameters, its name, the options after --
    assert f"--set batch_size=4 --set min_collect=4 --name {experiment.name} --eval-every 0" in out
    assert "experience_length" not in out  # its default: no --set needed
    assert "--backend ray" in out  # two nodes train on Ray
    assert queue() == before
    assert not (experiment / "launch.json").exists() and not (experiment / "launch").exists()


def test_an_unknown_partition(slurm, launch, experiment):
    before = queue()
    code, out, err = launch(experiment.name, "--slurm", "--partition", "nosuch")
    assert_error_line(code, out, err, "no partition 'nosuch'", *partitions())
    assert queue() == before
    assert not (experiment / "launch.json").exists()


def test_a_job_sbatch_refuses(slurm, launch, experiment):
    before = queue()
    code, out, err = launch(experiment.name, "--slurm", "--cpus", "1", "--sbatch", "constraint=nosuch", "--steps", "256")
    assert_error_line(code, out, err, "sbatch refused the job", "Invalid feature")  # sbatch's own words, on our one line
    assert queue() == before
    assert not (experiment / "launch.json").exists() and not (experiment / "launch").exists()


@pytest.mark.slow
def test_a_job_trains_to_a_new_snapshot(slurm, launch, experiment, jobs):
    code, out, err = launch(experiment.name, "--slurm", "--cpus", "1", "--steps", "256", "--workers", "1", *QUICK)
    assert code == 0, err
    job_id = submitted(out)
    jobs.append(job_id)
    record = json.loads((experiment / "launch.json").read_text())
    assert record["job_id"] == job_id and record["cluster"] == "slurm" and record["logs"] == f"launch/{job_id}"
    assert f"--name {experiment.name} --steps 256" in record["command"]
    report = wait_for(f"job {job_id} finished", lambda: status_saying(launch, experiment.name, "finished,"), 120)
    assert f"job {job_id} finished" in report, report
    assert snapshot_steps(experiment) == [0, 128, 256]
    assert "resumed" in log_text(experiment, job_id)  # from the copied experiment's snapshot
    assert "000000000256.pt (256 steps)" in report
    code, out, err = launch(experiment.name, "--cancel")
    assert_error_line(code, out, err, f"job {job_id}", "nothing to cancel")


@pytest.mark.slow
def test_a_cancelled_job(slurm, launch, experiment, jobs):
    code, out, err = launch(experiment.name, "--slurm", "--cpus", "1", "--steps", "10000000", "--workers", "1", *QUICK)
    assert code == 0, err
    job_id = submitted(out)
    jobs.append(job_id)
    assert job_id in queue()
    code, out, err = launch(experiment.name, "--slurm", "--cpus", "1")  # one job at a time per experiment
    assert_error_line(code, out, err, f"job {job_id} is still", "--cancel")
    wait_for("the job training", lambda: "resumed" in log_text(experiment, job_id), 60, every=0.5)
    code, out, err = launch(experiment.name, "--cancel")
    assert code == 0, err
    assert f"cancelled job {job_id} (it was running)" in out
    wait_for(f"job {job_id} cancelled", lambda: status_saying(launch, experiment.name, "cancelled,"), 60)
    wait_for(f"job {job_id} gone from squeue", lambda: job_id not in queue(), 60)
    training = ["pgrep", "-f", "--", f"--name {experiment.name} "]
    wait_for("its training stopped", lambda: subprocess.run(training, capture_output=True).returncode == 1, 30)
    assert json.loads((experiment / "launch.json").read_text())["cancelled"]


@pytest.mark.slow
def test_a_requeued_job_resumes_from_the_snapshot_it_saved(slurm, launch, experiment, jobs):
    """The warning Slurm sends before a time limit (or a preemption) makes the training save and
    the job requeue itself; the rerun resumes from that snapshot."""
    code, out, err = launch(experiment.name, "--slurm", "--cpus", "1", "--steps", "10000000", "--workers", "1", *QUICK)
    assert code == 0, err
    job_id = submitted(out)
    jobs.append(job_id)
    wait_for("the job's first snapshot", lambda: snapshot_steps(experiment)[-1] > 128, 60, every=0.5)  # well into training
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True, timeout=20)  # what --signal=USR2@90 sends
    wait_for("the job requeued", lambda: "requeued 1 time" in status(launch, experiment.name), 60)
    saved = re.search(r"interrupted at [\d,]+ steps .*saved \S*/(\d+)\.pt", log_text(experiment, job_id))
    assert saved, log_text(experiment, job_id)
    # Slurm holds a requeued job for two minutes; let it start now. Not in the second of the
    # requeue: slurmd refuses a rerun whose credential is as old as that revocation ("Job
    # credential revoked"), to the second, and the job then fails.
    time.sleep(2)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True, timeout=20)
    resumed = f"resumed {experiment.name} from {saved.group(1)}.pt"
    wait_for("the rerun resuming", lambda: resumed in log_text(experiment, job_id), 90)
    assert "running (requeued 1 time)" in status(launch, experiment.name)
    code, out, err = launch(experiment.name, "--cancel")
    assert code == 0, err


@pytest.mark.slow
def test_a_job_on_two_nodes_trains_on_ray(slurm, launch, experiment, jobs, monkeypatch):
    """The first node runs the Ray head and the learner, the second a Ray worker; both stop when
    the training ends. The CI cluster (.ci/install-slurm) has two nodes on one host."""
    wide = [name for name, nodes in partitions().items() if nodes >= 2]
    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    ours = conf.is_file() and "written by arena's .ci/install-slurm" in conf.read_text(errors="replace")
    assert wide or not ours, f"the cluster .ci/install-slurm starts should have two nodes: {partitions()}"
    if not wide:
        pytest.skip(f"needs a Slurm partition of two nodes or more; this cluster has {partitions()}")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    args = ("--slurm", "--nodes", "2", "--cpus", "1", "--partition", wide[0], "--steps", "1280", "--workers", "2", *QUICK)
    code, out, err = launch(experiment.name, *args)
    assert code == 0, err
    job_id = submitted(out)
    jobs.append(job_id)
    # Ray's start on two nodes and the training take about 30 s here; wait for any end, so that a
    # failed job fails the test with its log rather than a timeout
    report = wait_for(f"job {job_id} ended", lambda: ended(launch, experiment.name), 240)
    assert f"job {job_id} finished," in report, (report, log_text(experiment, job_id)[-3000:])
    assert "ray: the head at port" in report
    head = json.loads((experiment / "launch" / job_id / "ray-head-0.json").read_text())["address"]
    assert head.endswith(f":{ray_ports(job_id)['port']}")
    assert f"--backend ray --address {head}" in log_text(experiment, job_id)
    assert snapshot_steps(experiment)[-1] >= 1280
    wait_for(f"job {job_id} gone from squeue", lambda: job_id not in queue(), 60)  # the worker node's Ray stopped too


@pytest.mark.slow
def test_local_trains_to_a_new_snapshot(launch, experiment):
    code, out, err = launch(experiment.name, "--local", "--steps", "256", "--workers", "1", *QUICK)
    assert code == 0, err
    assert snapshot_steps(experiment) == [0, 128, 256]
    record = json.loads((experiment / "launch.json").read_text())
    assert record["cluster"] == "local" and record["job_id"] == f"local-{os.getpid()}"
    report = status(launch, experiment.name)
    assert f"job local-{os.getpid()} finished, here" in report, report
