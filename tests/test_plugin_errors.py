"""Plugin mistakes as a user meets them: one line on stderr naming the plugin and what to do.

The plugins here are installed for real, the way ``pip install`` leaves them: a folder on
``PYTHONPATH`` with the modules and a ``*.dist-info`` whose ``entry_points.txt`` declares them in
the ``arena`` group, so spawned workers (``--workers 2``) find them too.

* ``toys``: a two-seat ``count`` env without a CPU, a ``square`` env whose observations are not
  the shape it declares, and a ``reinforce`` algorithm whose update raises;
* ``dupa`` and ``dupb``: both register the env ``twin`` and the command ``hello``;
* ``games``: one entry-point name declared by two distributions;
* ``broken``: an entry point whose module does not exist.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

TOYS = """
import click

from arena import hookimpl
from arena.plugins.algorithms import AlgorithmSpec
from arena.plugins.envs import EnvSpec
from toy_envs import CountEnv, CountOptions  # tests/toy_envs.py, copied beside this package


def spec(name, shape):
    return EnvSpec(
        name=name, make=lambda options, cpu_level: CountEnv(options, cpu_level, shape), description=name,
        seats=("p1", "p2"), num_actions=3, options=CountOptions, observation_shape=lambda options: (4,),
    )


@hookimpl
def arena_register_envs(register):
    register(spec("count", (4,)))
    register(spec("square", (2, 2)))


@hookimpl
def arena_register_algorithms(register):
    register(AlgorithmSpec(name="reinforce", description="raises in its update",
                           params="arena_algorithms.ac:ACParams", learner="arena_toys.failing:FailingLearner"))
"""

FAILING = """
from arena_algorithms.ac import ACLearner


class FailingLearner(ACLearner):
    def update(self, trajectories):
        return {"loss": 1 / 0}
"""

DUPE = """
import click

from arena import hookimpl
from arena.plugins.envs import EnvSpec


def spec(name):
    return EnvSpec(name=name, make=None, description="from {me}", seats=("l", "r"), num_actions=2, options=object)


@hookimpl
def arena_register_envs(register):
    for name in {envs!r}:
        register(spec(name))


@hookimpl
def arena_register_commands(cli):
    @cli.command("hello")
    def hello():
        click.echo("hello from {me}")
"""

GAMES = """
from arena import hookimpl
from arena.plugins.envs import EnvSpec


@hookimpl
def arena_register_envs(register):
    register(EnvSpec(name="{env}", make=None, description="", seats=("l", "r"), num_actions=2, options=object))
"""


def write_dist(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text("[arena]\n" + lines)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    (site / "arena_toys").mkdir()
    (site / "arena_toys" / "__init__.py").write_text(TOYS)
    shutil.copy(Path(__file__).with_name("toy_envs.py"), site / "toy_envs.py")
    (site / "arena_toys" / "failing.py").write_text(FAILING)
    (site / "arena_dupa.py").write_text(DUPE.format(me="dupa", envs=["twin"]))
    (site / "arena_dupb.py").write_text(DUPE.format(me="dupb", envs=["twin", "onlyb"]))
    (site / "arena_gamesa.py").write_text(GAMES.format(env="ga"))
    (site / "arena_gamesb.py").write_text(GAMES.format(env="gb"))
    write_dist(
        site,
        "arena-toys",
        {
            "toys": "arena_toys",
            "dupa": "arena_dupa",
            "dupb": "arena_dupb",
            "broken": "arena_no_such_module",
            "games": "arena_gamesa",
        },
    )
    write_dist(site, "other-games", {"games": "arena_gamesb"})
    return site


def plugins(*extra: str) -> str:
    """Arena's own plugins (whatever they are today) plus ``extra``."""
    own = [ep.name for ep in metadata.entry_points(group="arena") if ep.dist is not None and ep.dist.name == "arena-rl"]
    return ",".join([*own, *extra])


def run_arena(site: Path, cwd: Path, load: str, *args: str, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        ARENA_HOME=str(cwd / "home"),
        ARENA_EXPERIMENTS=str(cwd / "experiments"),
        ARENA_LOAD_PLUGINS=load,
        COLUMNS="200",
    )
    for var in ("ARENA_STRICT_PLUGINS", "ARENA_TRACE_PLUGINS", "ARENA_DB", "ARENA_INLINE_ROLLOUT"):
        env.pop(var, None)
    env.update(extra)
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
    )  # fmt: skip


def error_line(proc: subprocess.CompletedProcess, *needles: str, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("arena: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# -- 1. two plugins registering one name: the first is kept, the command line still runs ---------

TWIN = (
    "arena: warning: environment 'twin' is registered by both plugin 'dupa' and plugin 'dupb'; "
    "kept 'dupa''s, skipped 'dupb''s (plugin 'dupb''s other registrations still load); uninstall one of them"
)
HELLO = (
    "arena: warning: command 'hello' is registered by both plugin 'dupa' and plugin 'dupb'; "
    "kept 'dupa''s, skipped 'dupb''s (plugin 'dupb''s other registrations still load); uninstall one of them"
)


def test_help_and_plugins_run_with_a_duplicate_installed(site, tmp_path):
    load = plugins("dupa", "dupb")
    proc = run_arena(site, tmp_path, load, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "hello" in proc.stdout and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [TWIN, HELLO]

    proc = run_arena(site, tmp_path, load, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [TWIN, HELLO]
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    assert rows["dupa"]["envs"] == ["twin"] and rows["dupa"]["commands"] == ["hello"]
    assert rows["dupb"]["envs"] == ["onlyb"] and "commands" not in rows["dupb"]  # only the colliding names are skipped

    proc = run_arena(site, tmp_path, load, "plugins")
    assert proc.returncode == 0, proc.stderr
    assert "dupb" in proc.stdout and "onlyb" in proc.stdout

    proc = run_arena(site, tmp_path, load, "hello")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "hello from dupa"


def test_a_duplicate_is_fatal_under_strict_plugins(site, tmp_path):
    for args in (("--help",), ("plugins",)):
        proc = run_arena(site, tmp_path, plugins("dupa", "dupb"), *args, ARENA_STRICT_PLUGINS="1")
        error_line(proc, "environment 'twin'", "'dupa'", "'dupb'", "uninstall one of them", "ARENA_STRICT_PLUGINS=1")


def test_one_plugin_name_from_two_distributions_keeps_one(site, tmp_path):
    proc = run_arena(site, tmp_path, plugins("games"), "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith("arena: warning: plugin name 'games' is used by both '")
    assert "'arena-toys'" in warning and "'other-games'" in warning and "uninstall one of them" in warning
    (games,) = [row for row in json.loads(proc.stdout) if row["name"] == "games"]
    assert games.get("envs") in (["ga"], ["gb"])


# -- 2. a broken plugin's warning: once per command, not once per worker process -----------------

BROKEN = "plugin 'broken' (arena_no_such_module) failed to load"


def test_a_broken_plugins_warning_is_printed_once_by_a_match_with_workers(site, tmp_path):
    proc = run_arena(site, tmp_path, plugins("broken"), "match", "random", "random", "--workers", "2", "--games", "2",
                     "-o", "points=1")  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count(BROKEN) == 1, proc.stderr
    assert proc.stderr.count("arena: warning:") == 1, proc.stderr


def test_a_broken_plugins_warning_is_printed_once_by_training_with_workers(site, tmp_path):
    (tmp_path / "count.json").write_text('["self", "random"]')
    proc = run_arena(
        site, tmp_path, plugins("toys", "broken"), "train", "--plugin", "ac", "--env", "count", "--enemies", "count.json",
        "--workers", "2", "--steps", "32", "--eval-every", "1", "--eval-games", "1", *TINY_SETS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "eval " in proc.stdout  # an evaluation process ran too
    assert proc.stderr.count(BROKEN) == 1, proc.stderr


def test_strict_plugins_still_stops_a_match_before_any_worker(site, tmp_path):
    proc = run_arena(site, tmp_path, plugins("broken"), "match", "random", "random", "--workers", "2", "--games", "2",
                     "-o", "points=1", ARENA_STRICT_PLUGINS="1")  # fmt: skip
    error_line(proc, BROKEN, "ARENA_STRICT_PLUGINS=1")


# -- 4. observations that are not the declared shape ----------------------------------------------

SHAPE = (
    "env 'square' declares observations of shape (4,) (EnvSpec.observation_shape) but reset() returned shape (2, 2); "
    "fix the env or its observation_shape"
)
TINY_SETS = ("--set", "embed_sizes=8", "--set", "actor_sizes=8", "--set", "critic_sizes=8", "--set", "experience_length=8",
             "--set", "min_collect=2", "--set", "batch_size=2")  # fmt: skip


@pytest.mark.parametrize("workers", ["1", "2"])
def test_observations_of_the_wrong_shape_are_a_game_error_in_a_match(site, tmp_path, workers):
    log = tmp_path / "games.jsonl"
    proc = run_arena(site, tmp_path, plugins("toys"), "match", "random", "random", "--env", "square", "--games", "2",
                     "--workers", workers, "--log", str(log))  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count(SHAPE) == 2, proc.stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["status"] for r in records] == ["error", "error"]
    assert all(r["error"] == SHAPE and not r.get("traceback") for r in records), records


@pytest.mark.parametrize("workers", ["1", "2"])
def test_observations_of_the_wrong_shape_stop_training_with_one_line(site, tmp_path, workers):
    (tmp_path / "count.json").write_text('["self", "random"]')
    proc = run_arena(
        site, tmp_path, plugins("toys"), "train", "--plugin", "ac", "--env", "square", "--enemies", "count.json",
        "--workers", workers, "--steps", "32", "--eval-every", "0", *TINY_SETS,
    )  # fmt: skip
    assert error_line(proc) == "arena: error: " + SHAPE
    (log,) = (tmp_path / "experiments").glob("*/logs/train.log")
    assert SHAPE in log.read_text()


# -- 6. an algorithm that raises in its update --------------------------------------------------------


def test_an_update_that_raises_is_one_line_naming_the_plugin_and_the_log_has_the_traceback(site, tmp_path):
    (tmp_path / "count.json").write_text('["self", "random"]')
    proc = run_arena(
        site, tmp_path, plugins("toys"), "train", "--plugin", "reinforce", "--env", "count", "--enemies", "count.json",
        "--workers", "1", "--steps", "32", "--eval-every", "0", "--name", "boom", *TINY_SETS,
    )  # fmt: skip
    line = error_line(proc)
    assert line == (
        "arena: error: algorithm 'reinforce' (plugin 'toys') failed in its update: ZeroDivisionError: division by zero; "
        "the traceback is in experiments/boom/logs/train.log"
    )
    log = (tmp_path / "experiments" / "boom" / "logs" / "train.log").read_text()
    assert "Traceback (most recent call last)" in log and "1 / 0" in log and "ZeroDivisionError" in log


# -- 9. the hint printed after training is a command that works -----------------------------------


def test_the_play_it_hint_names_the_env_and_an_opponent_it_has(site, tmp_path):
    (tmp_path / "count.json").write_text('["self", "random"]')
    proc = run_arena(
        site, tmp_path, plugins("toys"), "train", "--plugin", "ac", "--env", "count", "--enemies", "count.json",
        "--workers", "1", "--steps", "16", "--eval-every", "0", *TINY_SETS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = " ".join(proc.stdout.split())
    hint = text.split("(play it: ", 1)[1].split(")", 1)[0]
    assert hint.startswith("arena match ") and hint.endswith(" random --env count"), hint
    played = run_arena(site, tmp_path, plugins("toys"), *shlex.split(hint)[1:])
    assert played.returncode == 0, played.stdout + played.stderr
    assert "errors: 0" in played.stdout
