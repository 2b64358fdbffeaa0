"""`arena train` as a user runs it: the experiment folder, names, resume (also after kill -9),
--init/--force, --dry-run, bad input, evaluation games and the trained agent in `arena match`.

Quick checks call the CLI in this process (torch is imported once); runs that train on real Pong
are subprocesses from ``tmp_path`` with tiny budgets (128 agent steps an update) and are marked
slow. ``ARENA_HOME`` and ``ARENA_EXPERIMENTS`` point into ``tmp_path``, so nothing lands in the
repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena import hookimpl
from arena.errors import ArenaError
from arena.training.plan import DEFAULT_STEPS

# 32 steps a trajectory, 4 trajectories an update: 128 agent steps (about 512 frames) an update
TINY = ("--plugin", "ac", "--workers", "1", "--set", "experience_length=32", "--set", "min_collect=4", "--set", "batch_size=4")
TINY_NAME = "ac_bs=4_mc=4"  # experience_length=32 is the default: it does not name
STEPS_PER_UPDATE = 128


def train_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ARENA_HOME=str(tmp_path / "home"),
        ARENA_EXPERIMENTS=str(tmp_path / "experiments"),
        ARENA_LOAD_PLUGINS="agents,pong,algorithms,enemies",
        COLUMNS="200",
    )
    for var in ("ARENA_STRICT_PLUGINS", "ARENA_TRACE_PLUGINS", "ARENA_DB", "ARENA_INLINE_ROLLOUT"):
        env.pop(var, None)
    return env


def run_arena(tmp_path: Path, *args: str, timeout: float = 300, **env_extra: str) -> subprocess.CompletedProcess:
    env = dict(train_env(tmp_path), **env_extra)
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env,
    )  # fmt: skip


def in_process_cli(folder: Path, monkeypatch, capsys, *command: str):
    """`arena COMMAND ARGS` in this process, from ``folder`` with its training environment:
    a function of ARGS that returns (exit status, stdout, stderr)."""
    import arena.plugins.manager
    from arena.cli import main

    for key, value in train_env(folder).items():
        monkeypatch.setenv(key, value)
    for var in ("ARENA_STRICT_PLUGINS", "ARENA_TRACE_PLUGINS", "ARENA_DB", "ARENA_INLINE_ROLLOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(arena.plugins.manager, "_loaded", arena.plugins.manager.load_plugins())
    monkeypatch.chdir(folder)

    def run(*args: str):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, *args])
        out, err = capsys.readouterr()
        return exit_info.value.code, out, err

    return run


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """`arena ARGS` in this process, from ``tmp_path``: returns (exit status, stdout, stderr)."""
    run = in_process_cli(tmp_path, monkeypatch, capsys)
    import torch

    threads = torch.get_num_threads()
    yield run
    torch.set_num_threads(threads)  # run_training sets the learner's thread count


@pytest.fixture
def arena_plugins(monkeypatch, tmp_path):
    from arena.plugins.manager import load_plugins

    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong,melee,algorithms,enemies")
    monkeypatch.setenv("ARENA_EXPERIMENTS", str(tmp_path / "experiments"))
    monkeypatch.chdir(tmp_path)
    return load_plugins()


def assert_error_line(code: int, out: str, err: str, *needles: str) -> str:
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("arena: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]


def snapshot_steps(folder: Path) -> list[int]:
    from arena.training.snapshot import list_snapshots

    return [int(p.stem) for p in list_snapshots(folder)]


def fake_melee_iso(path: Path) -> Path:
    """A disc header that passes the Melee plugin's ISO check (GALE01, revision 2, GameCube magic)."""
    import struct

    header = bytearray(0x20)
    header[:6], header[7] = b"GALE01", 2
    struct.pack_into(">I", header, 0x1C, 0xC2339F3D)
    path.write_bytes(bytes(header))
    return path


# -- experiment names ---------------------------------------------------------------------------


def test_default_name_is_the_algorithm(arena_plugins, tmp_path):
    from arena.training.plan import plan_training

    plan = plan_training("ac", arena=arena_plugins)
    assert plan.name == "ac"
    assert plan.folder == tmp_path / "experiments" / "ac"
    assert Path(plan.enemies).name == "default.json"
    assert [e.spec for e in plan.pool.entries] == ["self", "cpu"]


def test_naming_parameters_name_the_experiment(arena_plugins):
    from arena.training.plan import plan_training

    assert "lr=0.001" in plan_training("ac", sets=["learning_rate=0.001"], arena=arena_plugins).name
    assert plan_training("ac", sets=["learning_rate=0.001"], arena=arena_plugins).name.startswith("ac_")
    # a value equal to the default is no difference
    default_lr = arena_plugins.algorithms.get("ac").params_class()().learning_rate
    assert plan_training("ac", sets=[f"learning_rate={default_lr:e}"], arena=arena_plugins).name == "ac"
    assert plan_training("ac", sets=list(TINY[5::2]), arena=arena_plugins).name == TINY_NAME
    # bookkeeping parameters never name experiments: the same run with another seed resumes
    assert plan_training("ac", sets=["seed=5", "device=cpu"], arena=arena_plugins).name == "ac"


def test_workers_have_room_for_a_whole_update_while_the_learner_steps(arena_plugins):
    """The shared outbox holds an update's trajectories, so workers play on during the learner's
    gradient steps instead of stopping once a few are waiting."""
    from arena.training.plan import plan_training
    from arena.training.run import make_executor

    for algo, room in (("rac", 32), ("ac", 8)):
        plan = plan_training(algo, workers=2, arena=arena_plugins)
        assert make_executor(plan, config=None).queue_size == room == plan.params.min_collect
    assert make_executor(plan_training("ac", workers=6, arena=arena_plugins), config=None).queue_size == 12


def test_evaluation_rounds_come_at_a_steady_pace_in_steps(arena_plugins):
    """Unless --eval-every says otherwise, a round every ~25,600 agent steps whatever an update's
    size: the README's default run (100k steps) evaluates three times before its final round."""
    from arena.training.plan import plan_training

    assert plan_training("ac", arena=arena_plugins).eval_every == 100  # 8 x 32-step trajectories an update
    assert plan_training("rac", arena=arena_plugins).eval_every == 25  # 32 x 32
    assert plan_training("rac", sets=["min_collect=8"], arena=arena_plugins).eval_every == 100
    assert plan_training("rac", eval_every=7, arena=arena_plugins).eval_every == 7
    assert plan_training("rac", eval_every=0, arena=arena_plugins).eval_every == 0


def test_tag_name_and_enemies_in_the_name(arena_plugins, tmp_path):
    from arena.training.plan import plan_training

    tagged = {plan_training("ac", tag=True, arena=arena_plugins).name for _ in range(3)}
    assert len(tagged) == 3 and all(re.fullmatch(r"ac_[0-9a-f]{6}", name) for name in tagged)
    named = plan_training("ac", name="mine", sets=["learning_rate=0.001"], arena=arena_plugins)
    assert named.name == "mine" and named.folder == tmp_path / "experiments" / "mine"
    assert plan_training("ac", enemies="cpu.json", arena=arena_plugins).name == "ac_enemies=cpu"
    assert plan_training("ac", enemies="default.json", arena=arena_plugins).name == "ac"
    # the README's enemies/FILE works from any folder (here tmp_path, which has no enemies/)
    ladder = plan_training("ac", enemies="enemies/ladder.json", arena=arena_plugins)
    assert ladder.name == "ac_enemies=ladder" and Path(ladder.enemies).is_file()
    assert [e.spec for e in ladder.pool.entries] == [f"bot:tracker:{n}" for n in (1, 3, 5, 7, 9)]


def tensorboard_scalars(folder: Path) -> list[tuple[str, int]]:
    """(tag, step) of every scalar in the experiment's tb/, as TensorBoard's own reader sees them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(folder / "tb"))
    reader.Reload()
    return [(tag, event.step) for tag in reader.Tags()["scalars"] for event in reader.Scalars(tag)]


def melee_pairs(tmp_path) -> list[str]:
    """Env options that make a Melee plan without Dolphin or the game: planning checks that both
    exist, and neither runs."""
    dolphin = tmp_path / "dolphin-emu-nogui"
    dolphin.write_text("#!/bin/sh\nexit 1\n")
    dolphin.chmod(0o755)
    return [f"iso={fake_melee_iso(tmp_path / 'melee.iso')}", f"dolphin={dolphin}"]


def test_non_default_env_is_in_the_name(arena_plugins, tmp_path):
    from arena.training.plan import plan_training

    plan = plan_training("ac", env="melee", env_pairs=melee_pairs(tmp_path), arena=arena_plugins)
    assert plan.name == "ac_env=melee"


def test_phillips_cpu_character_becomes_the_env_option(arena_plugins, tmp_path):
    from arena.training.plan import plan_training

    (tmp_path / "fox.json").write_text('["self", {"char": "fox", "level": 9}]')
    plan = plan_training("ac", env="melee", env_pairs=melee_pairs(tmp_path), enemies="fox.json", arena=arena_plugins)
    assert plan.env_options.cpu_char == "fox"
    assert [e.spec for e in plan.pool.entries] == ["self", "cpu:9"]
    with pytest.raises(ArenaError, match="cpu_char=marth"):
        plan_training(
            "ac", env="melee", env_pairs=[*melee_pairs(tmp_path), "cpu_char=marth"], enemies="fox.json", arena=arena_plugins
        )


@pytest.mark.parametrize("bad", ["a b", "../up", ".hidden", "a/b", ""])
def test_bad_name_is_refused(arena_plugins, bad):
    from arena.training.plan import plan_training

    with pytest.raises(ArenaError, match="bad --name"):
        plan_training("ac", name=bad, arena=arena_plugins)


# -- dry run ------------------------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_writes_nothing(cli, tmp_path):
    code, out, err = cli("train", *TINY, "--set", "learning_rate=0.001", "--dry-run")
    assert code == 0, err
    text = " ".join(out.split())
    name = "ac_lr=0.001_bs=4_mc=4"
    assert f"experiment: {name}" in text
    assert "-> start" in text
    assert "workers: 1" in text
    assert "default.json" in text and "self (weight 1)" in text and "cpu (weight 1)" in text
    assert '"learning_rate": 0.001' in text and '"experience_length": 32' in text
    assert f"steps: {DEFAULT_STEPS:,}" in text
    assert not (tmp_path / "experiments").exists()
    assert not (tmp_path / "home").exists()


def test_dry_run_of_an_existing_experiment_says_resume(cli, tmp_path):
    snapshots = tmp_path / "experiments" / "ac" / "snapshots"
    snapshots.mkdir(parents=True)
    (snapshots / "000000000128.pt").write_bytes(b"not read by a dry run")
    before = sorted(p.name for p in (tmp_path / "experiments" / "ac").rglob("*"))
    code, out, err = cli("train", "--plugin", "ac", "--dry-run")
    assert code == 0, err
    assert "resume from" in out and "000000000128.pt" in " ".join(out.split())
    code, out, err = cli("train", "--plugin", "ac", "--init", "--force", "--dry-run")
    assert code == 0, err
    assert "start over" in out
    assert sorted(p.name for p in (tmp_path / "experiments" / "ac").rglob("*")) == before


# -- bad input ----------------------------------------------------------------------------------

ENEMIES = {
    "bad.json": '["self", {"cpu": true, "wat": 1}]',
    "broken.json": '["self", {"cpu": true}',
    "nothing.json": '["self", "experiments/nothing-here"]',
    "emptydir.json": '["self", "emptydir"]',
    "falcon.json": '[{"char": "falcon", "level": 9}]',
    "cpu9.json": '["self", {"cpu": 9}]',
}

# (arguments after `arena train`, what the single error line must contain)
BAD_INPUT = {
    "unknown algorithm": (("--plugin", "racc"), ["'racc'", "did you mean 'rac'"]),
    "unknown parameter": (("--plugin", "ac", "--set", "learnin_rate=1"), ["'learnin_rate'", "did you mean 'learning_rate'"]),
    "malformed --set": (("--plugin", "ac", "--set", "learning_rate"), ["'learning_rate'", "KEY=VALUE"]),
    "integer expected": (("--plugin", "ac", "--set", "batch_size=abc"), ["'abc'", "batch_size", "integer"]),
    "number expected": (("--plugin", "ac", "--set", "learning_rate=fast"), ["'fast'", "learning_rate", "number"]),
    "out of range": (("--plugin", "ac", "--set", "batch_size=0"), ["batch_size", "positive"]),
    "natural gradient": (("--plugin", "ac", "--set", "natural=true"), ["natural", "docs/training.md"]),
    "missing enemies file": (("--plugin", "ac", "--enemies", "missing.json"), ["missing.json", "no enemies file", "default"]),
    "malformed enemies entry": (("--plugin", "ac", "--enemies", "bad.json"), ["bad.json", "entry 1", "'wat'"]),
    "enemies file not JSON": (("--plugin", "ac", "--enemies", "broken.json"), ["broken.json", "not valid JSON"]),
    "enemy path does not exist": (
        ("--plugin", "ac", "--enemies", "nothing.json"),
        ["nothing.json", "entry 1", "no snapshot at experiments/nothing-here"],
    ),
    "enemy folder without snapshot": (
        ("--plugin", "ac", "--enemies", "emptydir.json"),
        ["emptydir.json", "entry 1", "no snapshot in emptydir"],
    ),
    "cpu level without levels": (("--plugin", "ac", "--enemies", "cpu9.json"), ["cpu9.json", "entry 1", "cpu:9", "'cpu'"]),
    "CPU character for an env without one": (
        ("--plugin", "ac", "--enemies", "falcon.json"),
        [
            "falcon.json, entry 0:",
            '"char": "falcon" names the CPU\'s character',
            "env 'pong' has no cpu_char option",
            'drop "char"',
        ],
    ),
    "unknown parameter names the algorithm": (
        ("--plugin", "ac", "--set", "nosuch=1"),
        ["'nosuch'", "algorithm 'ac'", "see 'arena train --plugin ac --list-params'"],
    ),
    "short name as parameter": (
        ("--plugin", "ac", "--set", "lr=0.001"),
        ["'lr'", "learning_rate's short name in experiment names", "--set learning_rate=0.001"],
    ),
    "unknown env flag": (
        ("--plugin", "ac", "--colour", "red"),
        ["no such option '--colour' for arena train or env 'pong'", "--points"],
    ),
    "stray argument": (("--plugin", "ac", "extra"), ["unexpected argument 'extra'", "arena train"]),
    "act_every as parameter": (
        ("--plugin", "ac", "--set", "act_every=4"),
        ["'act_every' is an env option", "use -o act_every=4"],
    ),
    "delay as parameter": (("--plugin", "ac", "--set", "delay=3"), ["'delay' is an env option", "use -o delay=3"]),
    "unknown env option": (("--plugin", "ac", "-o", "nope=1"), ["'nope'", "points"]),
    "unknown env": (("--plugin", "ac", "--env", "tetris"), ["'tetris'", "pong"]),
    "zero steps": (("--plugin", "ac", "--steps", "0"), ["--steps", "0"]),
    "zero workers": (("--plugin", "ac", "--workers", "0"), ["--workers", "0"]),
    "force without init": (("--plugin", "ac", "--force"), ["--force", "--init"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, tmp_path, case):
    for name, text in ENEMIES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "emptydir").mkdir()
    args, needles = BAD_INPUT[case]
    # A small budget, so that a check that wrongly passes costs one update rather than a run.
    code, out, err = cli("train", *args, "--steps", "1" if "--steps" not in args else args[-1], "--eval-every", "0")
    assert_error_line(code, out, err, *needles)
    assert not (tmp_path / "experiments").exists()
    assert not (tmp_path / "home").exists()


def test_unknown_algorithm_from_the_shell(tmp_path):
    proc = run_arena(tmp_path, "train", "--plugin", "racc")
    assert_error_line(proc.returncode, proc.stdout, proc.stderr, "'racc'", "did you mean 'rac'")
    assert not (tmp_path / "experiments").exists()


class GhostAlgorithms:
    """Algorithms whose hyperparameters or learner do not import."""

    @hookimpl
    def arena_register_algorithms(self, register):
        from arena.plugins.algorithms import AlgorithmSpec

        register(AlgorithmSpec("ghost", "", params="arena_no_such_module:Params", learner="arena_algorithms.ac:ACLearner"))
        register(AlgorithmSpec("phantom", "", params="arena_algorithms.ac:ACParams", learner="arena_algorithms.ac:NoSuchLearner"))


@pytest.mark.parametrize(
    "algorithm, needles",
    [
        (
            "ghost",
            [
                "algorithm 'ghost' (plugin 'ghosts')",
                "params 'arena_no_such_module:Params'",
                "ModuleNotFoundError: No module named 'arena_no_such_module'",
            ],
        ),
        (
            "phantom",
            [
                "algorithm 'phantom' (plugin 'ghosts')",
                "learner 'arena_algorithms.ac:NoSuchLearner'",
                "AttributeError",
                "NoSuchLearner",
            ],
        ),
    ],
)
def test_an_algorithm_whose_classes_do_not_import_is_caught_by_dry_run(cli, tmp_path, algorithm, needles):
    import arena.plugins.manager

    assert arena.plugins.manager._loaded.add_plugin(GhostAlgorithms(), "ghosts")
    code, out, err = cli("train", "--plugin", algorithm, "--dry-run")
    assert_error_line(code, out, err, *needles, "does not import", "fix the plugin")
    assert not (tmp_path / "experiments").exists()
    if algorithm == "ghost":  # --list-params needs the hyperparameters only
        code, out, err = cli("train", "--plugin", algorithm, "--list-params")
        assert_error_line(code, out, err, *needles)


def test_train_takes_env_options_as_flags_like_match(cli, tmp_path, monkeypatch):
    import arena.plugins.manager

    monkeypatch.setenv("ARENA_LOAD_PLUGINS", os.environ["ARENA_LOAD_PLUGINS"] + ",melee")
    monkeypatch.setattr(arena.plugins.manager, "_loaded", arena.plugins.manager.load_plugins())
    code, out, err = cli("train", "--plugin", "ac", "--env", "melee", "--iso", "missing.iso", "--dry-run")
    assert_error_line(code, out, err, "Melee ISO missing.iso does not exist", "pass --iso PATH")

    iso, dolphin = (pair.partition("=")[2] for pair in melee_pairs(tmp_path))
    code, out, err = cli(
        "train", "--plugin", "ac", "--env", "melee", "--iso", iso, f"--dolphin={dolphin}", "--cpu-char", "fox", "--dry-run"
    )
    assert code == 0, err
    text = " ".join(out.split())
    assert f'"iso": "{iso}"' in text and f'"dolphin": "{dolphin}"' in text and '"cpu_char": "fox"' in text
    assert not (tmp_path / "experiments").exists()


def test_list_params_shows_names_and_defaults(cli):
    code, out, err = cli("train", "--plugin", "ac", "--list-params")
    assert code == 0, err
    for needle in ("learning_rate", "0.0003", "reward_halflife", "experience_length", "seed"):
        assert needle in out


# -- --init and --force -------------------------------------------------------------------------


def fake_experiment(tmp_path: Path, name: str = "ac") -> Path:
    folder = tmp_path / "experiments" / name
    (folder / "snapshots").mkdir(parents=True)
    for steps in (0, 128):
        (folder / "snapshots" / f"{steps:012d}.pt").write_bytes(b"weights")
    (folder / "metrics.jsonl").write_text('{"updates": 1, "steps": 128}\n')
    return folder


def test_init_refuses_to_overwrite_snapshots(cli, tmp_path):
    folder = fake_experiment(tmp_path)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    code, out, err = cli("train", "--plugin", "ac", "--init", "--steps", "1")
    assert_error_line(code, out, err, "2 snapshots", "--init", "--force")
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "home").exists()


def test_resume_refuses_other_naming_parameters_under_one_name(cli, tmp_path):
    folder = fake_experiment(tmp_path, "mine")
    (folder / "params.json").write_text(json.dumps({"algorithm": "ac", "env": "pong", "params": {"learning_rate": 0.01}}))
    code, out, err = cli("train", "--plugin", "ac", "--name", "mine", "--steps", "1")
    assert_error_line(code, out, err, "learning_rate=0.01", "--name mine --set learning_rate=0.01")
    code, out, err = cli("train", "--plugin", "dqn", "--name", "mine", "--steps", "1")
    assert_error_line(code, out, err, "'ac'", "--name")


def test_resume_of_an_experiment_from_before_a_default_changed_is_refused(cli, tmp_path):
    """rac's params.json from before ``shared_critic`` existed means the shared critic, which is no
    longer the default: resuming it with today's default would not fit its snapshots."""
    folder = fake_experiment(tmp_path, "old")
    (folder / "params.json").write_text(json.dumps({"algorithm": "rac", "env": "pong", "params": {"learning_rate": 0.0003}}))
    code, out, err = cli("train", "--plugin", "rac", "--name", "old", "--steps", "1")
    assert_error_line(
        code,
        out,
        err,
        "trained with clip=0.0",
        "shared_critic=true",
        "--name old --set clip=0.0 --set learning_rate=0.0003 --set shared_critic=true",
    )


# -- training on real Pong ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run: 2 updates of 128 steps, a snapshot after each, first to 3 points."""
    root = tmp_path_factory.mktemp("trained")
    proc = run_arena(root, "train", *TINY, "--steps", "256", "--snapshot-every", "1", "--eval-every", "0", "-o", "points=3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, root / "experiments" / TINY_NAME, proc


@pytest.mark.slow
def test_end_to_end_experiment_folder(trained):
    from arena.training.snapshot import list_snapshots, load_snapshot

    root, folder, proc = trained
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["curves", "logs", "metrics.jsonl", "params.json", "snapshots", "tb"]

    params = json.loads((folder / "params.json").read_text())
    assert params["algorithm"] == "ac" and params["env"] == "pong"
    assert params["enemies"].endswith("default.json")
    assert params["params"]["experience_length"] == 32 and params["params"]["batch_size"] == 4
    assert params["env_options"]["points"] == 3 and params["env_options"]["act_every"] == 2
    assert "act_every" not in params["params"] and "delay" not in params["params"]  # recorded once: an env option

    # a snapshot at step 0, then one per update, named by the agent steps they hold
    assert snapshot_steps(folder) == [0, 128, 256]
    for path in list_snapshots(folder):
        snap = load_snapshot(path)
        assert snap.meta["counters"]["steps"] == int(path.stem)
        assert snap.meta["counters"]["updates"] == int(path.stem) // STEPS_PER_UPDATE == snap.learner["updates"]

    rows = metrics(folder)
    assert [r["updates"] for r in rows] == [1, 2]
    assert [r["steps"] for r in rows] == [128, 256]
    assert 0 < rows[0]["frames"] < rows[1]["frames"]
    assert rows[-1]["frames"] >= 2 * rows[-1]["steps"]  # act_every=2 (plus the frames of resets)
    for key in ("loss", "entropy", "fps", "wall_s", "games", "win_rate/cpu", "win_rate/self"):
        assert key in rows[-1], key

    events = tensorboard_scalars(folder)
    assert {step for _, step in events} == {128, 256}
    assert {"loss", "entropy", "frames", "updates"} <= {tag for tag, _ in events}

    log = (folder / "logs" / "train.log").read_text()
    assert f"started {TINY_NAME}" in log and f"finished {TINY_NAME}: 256 steps" in log
    page = (folder / "curves" / "index.html").read_text()
    assert "<svg" in page or ".svg" in page
    out = " ".join(proc.stdout.split())
    assert f"final snapshot: {folder / 'snapshots' / '000000000256.pt'}" in out
    assert f"arena leaderboard show {TINY_NAME}" in out


@pytest.mark.slow
def test_a_resumed_run_reports_its_own_frames(trained, tmp_path, monkeypatch):
    """ "frames/s this run" divides this run's frames, not all frames ever played, by its time."""
    from arena.plugins.manager import load_plugins
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    _, source, _ = trained
    shutil.copytree(source, tmp_path / "experiments" / TINY_NAME)
    for key, value in train_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    before = metrics(tmp_path / "experiments" / TINY_NAME)[-1]["frames"]
    sets = ["experience_length=32", "min_collect=4", "batch_size=4"]
    plan = plan_training("ac", sets=sets, env_pairs=["points=3"], steps=512, workers=1, eval_every=0, arena=load_plugins())
    result = run_training(plan)
    assert result.resumed_from is not None and result.frames > before
    assert result.frames_this_run == result.frames - before


def test_a_damaged_newest_snapshot_is_skipped_on_resume_and_as_an_enemy(trained, tmp_path):
    _, source, _ = trained
    folder = tmp_path / "experiments" / TINY_NAME
    shutil.copytree(source, folder)
    newest = folder / "snapshots" / "000000000256.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # a copy cut short
    proc = run_arena(tmp_path, "train", *TINY, "--steps", "512", "--snapshot-every", "1", "--eval-every", "0", "-o", "points=3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    log = (folder / "logs" / "train.log").read_text()
    assert "skipping" in proc.stdout and "000000000256.pt is corrupt" in log
    assert "000000000256.pt as an enemy" in log  # never handed to a worker as a past self
    assert f"resumed {TINY_NAME} from 000000000128.pt: 128 steps" in proc.stdout
    assert snapshot_steps(folder) == [0, 128, 256, 384, 512]  # the damaged one rewritten by the resumed run


def test_rerun_with_more_steps_resumes(trained, tmp_path, cli):
    from arena.training.snapshot import load_snapshot

    _, source, _ = trained
    folder = tmp_path / "experiments" / TINY_NAME
    shutil.copytree(source, folder)
    before = metrics(folder)

    # the same --steps: nothing to do, and nothing written but a line in the log
    code, out, err = cli("train", *TINY, "--steps", "256", "--snapshot-every", "1", "--eval-every", "0", "-o", "points=3")
    assert code == 0, err
    assert "already trained 256 of 256 steps" in out
    assert len(list((folder / "tb").iterdir())) == 1
    assert metrics(folder) == before and snapshot_steps(folder) == [0, 128, 256]

    proc = run_arena(tmp_path, "train", *TINY, "--steps", "512", "--snapshot-every", "1", "--eval-every", "0", "-o", "points=3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"resumed {TINY_NAME} from 000000000256.pt: 256 steps" in proc.stdout
    rows = metrics(folder)
    assert rows[:2] == before
    assert [r["steps"] for r in rows] == [128, 256, 384, 512]
    assert [r["updates"] for r in rows] == [1, 2, 3, 4]  # the learner's counter continued
    assert all(a["frames"] < b["frames"] for a, b in zip(rows, rows[1:]))
    assert all(a["wall_s"] < b["wall_s"] for a, b in zip(rows, rows[1:]))
    assert snapshot_steps(folder) == [0, 128, 256, 384, 512]
    final = load_snapshot(folder)
    assert final.meta["counters"]["updates"] == final.learner["updates"] == 4
    log = (folder / "logs" / "train.log").read_text().splitlines()
    assert [line.split(" ", 2)[1] for line in log] == ["started", "finished", "resumed", TINY_NAME, "resumed", "finished"]


@pytest.mark.slow
def test_init_force_starts_over(trained, tmp_path):
    _, source, _ = trained
    folder = tmp_path / "experiments" / TINY_NAME
    shutil.copytree(source, folder)
    (folder / "snapshots" / "000000999999.pt").write_bytes(b"from another run")

    proc = run_arena(tmp_path, "train", *TINY, "--steps", "128", "--eval-every", "0", "-o", "points=3", "--init", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resumed" not in proc.stdout
    assert snapshot_steps(folder) == [0, 128]
    assert [r["steps"] for r in metrics(folder)] == [128]
    log = (folder / "logs" / "train.log").read_text()
    assert log.count("started") == 1 and "resumed" not in log


@pytest.mark.slow
def test_kill_9_then_resume_from_the_last_snapshot(tmp_path):
    from arena.training.snapshot import load_snapshot

    folder = tmp_path / "experiments" / "killed"
    args = ("train", *TINY, "--snapshot-every", "2", "--eval-every", "0", "--name", "killed")
    env = train_env(tmp_path)
    env["ARENA_INLINE_ROLLOUT"] = "0"  # a real rollout worker process, which must die with the group
    with open(tmp_path / "first.out", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from arena.cli import main; main()", *args, "--steps", "1000000"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            while not any(steps > 0 for steps in snapshot_steps(folder)):
                assert proc.poll() is None, (tmp_path / "first.out").read_text()
                assert time.monotonic() < deadline, "no snapshot after step 0 in 240 s"
                time.sleep(0.2)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while True:  # the rollout worker went down with the learner
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "processes of the killed run are still alive"
        time.sleep(0.1)

    newest = max(snapshot_steps(folder))
    assert newest > 0 and newest % (2 * STEPS_PER_UPDATE) == 0
    with open(folder / "metrics.jsonl", "a") as handle:
        handle.write('{"updates": 999, "steps": 99')  # a line torn by the kill

    target = newest + 2 * STEPS_PER_UPDATE
    proc = run_arena(tmp_path, *args, "--steps", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = f"resumed killed from {newest:012d}.pt: {newest:,} steps"
    assert said in proc.stdout
    assert said in (folder / "logs" / "train.log").read_text()

    rows = metrics(folder)  # every line parses: the torn one is gone
    steps = [r["steps"] for r in rows]
    assert steps == sorted(set(steps)), steps  # no step twice
    assert steps[-1] == target
    resumed = [r for r in rows if r["steps"] > newest]
    assert [r["steps"] for r in resumed] == [newest + STEPS_PER_UPDATE, target]
    assert [r["updates"] for r in rows] == list(range(1, len(rows) + 1))
    final = load_snapshot(folder)
    assert final.meta["counters"]["steps"] == target
    assert final.learner["updates"] == target // STEPS_PER_UPDATE

    # TensorBoard: the stretch the kill lost is not drawn twice
    seen = tensorboard_scalars(folder)
    assert len(seen) == len(set(seen))
    assert max(step for _, step in seen) == target
    assert not list((folder / "snapshots").glob(".*.tmp"))


@pytest.mark.slow
def test_final_snapshot_plays_in_arena_match(trained):
    from arena.ratings.store import MatchStore
    from arena.training.snapshot import file_hash, find_snapshot

    root, folder, _ = trained
    rel = f"experiments/{TINY_NAME}"
    proc = run_arena(root, "match", rel, "cpu", "--games", "2", "--points", "2", "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"mean score difference ({rel} - cpu)" in proc.stdout
    games = MatchStore(root / "home" / "arena.db").games("pong")
    assert len(games) == 2 and all(g.status == "ok" for g in games)
    assert {g.a for g in games} == {rel}
    assert {g.a_hash for g in games} == {file_hash(find_snapshot(folder))}
    assert all(max(g.score_a, g.score_b) == 2 for g in games)


@pytest.mark.slow
def test_evaluation_games_go_to_the_experiments_leaderboard(tmp_path):
    from arena.ratings.store import MatchStore
    from arena.training.snapshot import file_hash

    proc = run_arena(
        tmp_path, "train", *TINY, "--steps", "256", "--snapshot-every", "1", "--name", "evals",
        "--eval-every", "1", "--eval-games", "1", "-o", "points=2",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, second = (f"experiments/evals/snapshots/{steps:012d}.pt" for steps in (128, 256))
    games = MatchStore(tmp_path / "home" / "arena.db").games("evals")
    assert all(g.status == "ok" for g in games), games
    pairs = {(g.a, g.b) for g in games}
    assert (first, "cpu") in pairs  # the game's own CPU
    assert (second, "cpu") in pairs
    assert (second, first) in pairs  # the previous snapshot
    newest = [g for g in games if g.a == second]
    assert {g.a_hash for g in newest} == {file_hash(tmp_path / second)}
    assert all(g.options["points"] == 2 for g in games)
    assert (tmp_path / "experiments" / "evals" / "logs" / "eval.jsonl").exists()

    show = run_arena(tmp_path, "leaderboard", "show", "evals")
    assert show.returncode == 0, show.stderr
    for entrant in ("cpu", first, second):
        assert entrant in show.stdout


def test_an_on_policy_update_that_would_drop_trajectories_is_refused(arena_plugins):
    from arena.training.plan import plan_training

    with pytest.raises(ArenaError, match=r"min_collect=32 .* batches x batch_size = 8; set min_collect=8, or batches=4") as info:
        plan_training("ac", sets=["min_collect=32"], arena=arena_plugins)
    assert "\n" not in str(info.value)
    plan_training("dqn", sets=["min_collect=32"], arena=arena_plugins)  # off-policy: a replay buffer keeps them all


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU: device=cuda is valid here")
def test_a_device_this_torch_lacks_is_refused_before_anything_is_written(tmp_path, cli):
    for extra in (("--dry-run",), ()):
        code, out, err = cli("train", "--plugin", "ac", "--set", "device=cuda", *extra)
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, (out, err)
        assert "device=cuda" in err and "no CUDA GPU" in err and "device=auto or cpu" in err
        assert not (tmp_path / "experiments").exists()
    code, _, err = cli("train", "--plugin", "ac", "--set", "device=tpu", "--dry-run")
    assert code == 2 and "not a torch device" in err


def test_short_names_never_collide_with_another_parameter(arena_plugins):
    """An experiment name's ``key=value`` means one parameter: no short name is another's name or
    short (``clip`` was max_grad_norm's while ppo and rac have a parameter called clip)."""
    import dataclasses

    for name, spec in arena_plugins.algorithms:
        fields = dataclasses.fields(spec.params_class())
        spelled = [f.metadata.get("short") or f.name for f in fields]
        assert len(set(spelled)) == len(spelled), (name, spelled)
        names = {f.name for f in fields}
        for f in fields:
            short = f.metadata.get("short")
            assert short is None or short == f.name or short not in names, (name, f.name, short)
