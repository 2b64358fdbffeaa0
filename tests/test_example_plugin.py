"""The example third-party plugin (examples/arena-example-plugin), installed for real with pip.

The package is pip-installed into a temporary ``--target`` folder (nothing in the current
environment changes) and found by Arena through its ``arena`` entry point, exactly as a user's
``pip install`` would be: in the CLI process and in the spawned match and rollout workers alike.
It implements every hook: the ``tictactoe`` env, the bots ``bot:ttt`` and ``bot:lazy``, the
algorithm ``reinforce``, the sampling rule ``hardest`` and the pool ``ttt-ladder``, and two
commands. The unit tests of its env, bots and rule import the installed package (``example``).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "arena-example-plugin"
# Only these, so another plugin installed here can't interfere: `algorithms` plays trained agents
# (the `trained` kind), `enemies` holds the built-in sampling rules.
PLUGINS = "agents,pong,algorithms,enemies,example"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example plugin, pip-installed into a folder of its own."""
    root = tmp_path_factory.mktemp("example-plugin")
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "arena_example_plugin-0.1.0.dist-info" / "entry_points.txt").is_file()
    return target


def python_path(site: Path) -> str:
    return os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="module")
def example(site):
    """The installed package, imported in this process for unit tests of its parts; taken off
    ``sys.path`` afterwards, so the plugin's entry point is not seen by other tests."""

    def ours() -> dict:
        return {name: module for name, module in sys.modules.items() if name.split(".")[0] == "arena_example_plugin"}

    before = ours()  # a copy installed in this environment, already imported: set aside meanwhile
    for name in before:
        del sys.modules[name]
    sys.path.insert(0, str(site))
    try:
        import arena_example_plugin
        from arena_example_plugin import bots, env, sampling, tictactoe

        assert Path(arena_example_plugin.__file__).is_relative_to(site)
        yield types.SimpleNamespace(bots=bots, env=env, sampling=sampling, tictactoe=tictactoe)
    finally:
        sys.path.remove(str(site))
        for name in ours():
            del sys.modules[name]
        sys.modules.update(before)


def run_cli(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = python_path(site)
    env["ARENA_HOME"] = str(home)
    env["ARENA_LOAD_PLUGINS"] = PLUGINS
    env["ARENA_STRICT_PLUGINS"] = "1"  # the example must load cleanly, not be skipped with a warning
    env.pop("ARENA_TRACE_PLUGINS", None)
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=120, cwd=home, env=env,
    )  # fmt: skip


def test_plugins_lists_the_example_with_its_version_and_registrations(site, tmp_path):
    result = run_cli(site, tmp_path, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    plugins = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"agents", "pong", "algorithms", "enemies", "example"} <= set(plugins)
    example = plugins["example"]
    assert example["version"] == "0.1.0"
    assert example["distribution"] == "arena-example-plugin"
    assert example["module"] == "arena_example_plugin"
    assert example["hooks"] == [  # every hook but the deprecated arena_register_opponents
        "arena_register_agents",
        "arena_register_algorithms",
        "arena_register_commands",
        "arena_register_enemies",
        "arena_register_envs",
    ]
    assert example["envs"] == ["tictactoe"]
    assert example["agents"] == ["bot:lazy", "bot:ttt"]
    assert example["algorithms"] == ["reinforce"]
    assert example["sampling_rules"] == ["hardest"]
    assert example["pools"] == ["ttt-ladder"]
    assert example["commands"] == ["lazy-levels", "ttt-show"]


def test_the_example_command_runs(site, tmp_path):
    result = run_cli(site, tmp_path, "lazy-levels")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 9
    assert lines[0].split() == ["bot:lazy:1", "aim", "noise", "80", "px"]
    assert lines[-1].split() == ["bot:lazy:9", "aim", "noise", "0", "px"]


def test_loading_the_example_imports_nothing_heavy(site, tmp_path):
    code = (
        "import sys\n"
        "from arena.plugins.manager import load_plugins\n"
        "arena = load_plugins()\n"
        "assert 'bot:lazy' in arena.agents and 'bot:ttt' in arena.agents and 'tictactoe' in arena.envs\n"
        "assert 'reinforce' in arena.algorithms and 'hardest' in arena.sampling_rules and 'ttt-ladder' in arena.pools\n"
        "arena.envs.get('tictactoe').observation_shape(arena.envs.get('tictactoe').parse_options())\n"
        "print('HEAVY', sorted(m for m in ('numpy', 'torch', 'stable_retro', 'pettingzoo') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": python_path(site), "ARENA_LOAD_PLUGINS": PLUGINS, "ARENA_STRICT_PLUGINS": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_lazy_bot_plays_and_beats_random_on_both_sides(site, tmp_path, workers):
    # With 2 workers the games run in spawned processes, which find the plugin on their own.
    log = tmp_path / "match.jsonl"
    result = run_cli(
        site, tmp_path, "match", "bot:lazy:9", "random",
        "--games", "2", "--workers", workers, "-o", "points=3", "--log", str(log),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    records = read_log(log)
    assert len(records) == 2
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert record["a"] == "bot:lazy:9" and record["b"] == "random"
        assert record["winner"] == "a", record["score"]
        assert record["score_a"] == 3
    assert {record["a_seat"] for record in records} == {"left", "right"}  # each side played once


def test_bad_level_is_one_line_and_exit_2(site, tmp_path):
    result = run_cli(site, tmp_path, "match", "bot:lazy:0", "random")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "bot:lazy:0" in lines[0] and "1-9" in lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("bot:ttt:4", "random", "--env", "tictactoe"), ("bot:ttt:4", "1-3")),
        (("bot:ttt:2", "random"), ("bot:ttt plays tictactoe only", "--env tictactoe")),
        (("cpu", "bot:ttt:1", "--env", "tictactoe"), ("tictactoe", "no built-in CPU")),
        (("bot:ttt:1", "random", "--env", "tictactoe", "-o", "illegal=pass"), ("illegal", "lose", "random")),
    ],
)
def test_bad_tictactoe_specs_and_options_are_one_line_and_exit_2(site, tmp_path, args, needles):
    result = run_cli(site, tmp_path, "match", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_ttt_show_prints_a_game_move_by_move(site, tmp_path):
    result = run_cli(site, tmp_path, "ttt-show", "bot:ttt:3", "bot:ttt:3", "--seed", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "x: bot:ttt:3   o: bot:ttt:3   seed 1"
    assert sum(" plays " in line for line in lines) == 9  # two perfect players fill the board
    assert lines[-1] == "draw"


# -- training: reinforce on tictactoe against the ttt-ladder pool ----------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_reinforce_trains_against_ttt_ladder_and_its_snapshot_plays(site, tmp_path, workers):
    # Four updates of 8 x 32 steps. With 2 workers the rollouts run in spawned processes, which load
    # the plugin from its entry point on their own (the env, the bots and the learner's class), and
    # so do the evaluation games (the snapshots against the pool's bots, in a process of their own).
    evaluation = ("--eval-every", "0") if workers == "1" else ("--eval-every", "2", "--eval-games", "1")
    result = run_cli(
        site, tmp_path, "train", "--plugin", "reinforce", "--env", "tictactoe", "--enemies", "ttt-ladder",
        "--steps", "1024", "--workers", workers, "--snapshot-every", "2", *evaluation,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "experiments").iterdir()
    params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
    assert (params["algorithm"], params["env"], params["env_options"]) == ("reinforce", "tictactoe", {"illegal": "lose"})
    assert "ttt-ladder" in params["enemies"]
    assert params["params"]["learning_rate"] == 0.01 and params["params"]["split_signs"] is True
    rows = read_log(folder / "metrics.jsonl")
    assert [row["updates"] for row in rows] == [1, 2, 3, 4]
    assert rows[-1]["steps"] >= 1024 and rows[-1]["games"] > 0
    for label in ("self", "bot:ttt:1", "bot:ttt:2", "bot:ttt:3"):
        assert f"win_rate/{label}" in rows[-1]
    for key in ("loss", "loss/policy", "loss/baseline", "entropy"):
        assert all(math.isfinite(row[key]) for row in rows), key
    snapshots = sorted((folder / "snapshots").glob("*.pt"))
    assert len(snapshots) == 3  # before the first update, after the second, after the fourth
    evaluations = read_log(folder / "logs" / "eval.jsonl") if workers == "2" else []
    assert all(record["status"] == "ok" for record in evaluations), evaluations
    if workers == "2":  # rounds that would overlap are skipped, but the final one is always played
        assert {"bot:ttt:1", "bot:ttt:2", "bot:ttt:3"} <= {record["b"] for record in evaluations}

    log = tmp_path / "match.jsonl"
    result = run_cli(
        site, tmp_path, "match", str(folder), "bot:ttt:1", "--env", "tictactoe", "--games", "2",
        "--workers", workers, "--log", str(log),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    records = read_log(log)
    assert len(records) == 2
    for record in records:
        assert record["status"] == "ok", record["error"]
        assert 1 <= record["frames"] <= 9 and record["winner"] in ("a", "b", "draw")
    assert {record["a_seat"] for record in records} == {"x", "o"}


def test_a_bad_sharpness_in_an_enemies_file_is_one_line(site, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"sampling": "hardest", "sharpness": 2, "enemies": ["self", "bot:ttt:3"]}), encoding="utf-8")
    result = run_cli(site, tmp_path, "train", "--plugin", "reinforce", "--env", "tictactoe", "--enemies", str(good), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "(hardest)" in result.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"sampling": "hardest", "sharpness": -1, "enemies": ["self", "bot:ttt:3"]}), encoding="utf-8")
    result = run_cli(site, tmp_path, "train", "--plugin", "reinforce", "--env", "tictactoe", "--enemies", str(bad), "--dry-run")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and '"sharpness" must be a number >= 0' in lines[0], result.stderr


# -- the parts, in this process: the env's rules, the bots, the hardest rule ----------------------


def step(env, cell: int, waiting: int | None = None):
    """The seat to move marks ``cell``; the waiting seat sends ``waiting`` (the same cell if None)."""
    mover = env.mover
    return env.step({mover: cell, ("o" if mover == "x" else "x"): cell if waiting is None else waiting})


def test_tictactoe_follows_the_pettingzoo_parallel_api(example):
    from pettingzoo.test import parallel_api_test

    from arena.plugins.envs import ArenaEnv

    for illegal in ("lose", "random"):
        env = example.env.TicTacToeEnv(example.tictactoe.TicTacToeOptions(illegal=illegal))
        parallel_api_test(env, num_cycles=50)
        assert isinstance(env, ArenaEnv)


def test_a_win_is_plus_one_and_minus_one_and_ends_the_game(example):
    env = example.env.TicTacToeEnv()
    observations, _ = env.reset(seed=0)
    assert env.agents == ["x", "o"] and env.frames == 0
    assert observations["x"].shape == (9,) and observations["x"].dtype == np.float32
    for cell in (0, 3, 1, 4):  # x: 0 and 1; o: 3 and 4; each waiting seat sends the mover's cell, ignored
        observations, rewards, terminations, truncations, infos = step(env, cell)
        assert rewards == {"x": 0.0, "o": 0.0} and not any(terminations.values()) and not infos["x"] and not infos["o"]
    assert observations["x"].tolist() == [1, 1, 0, -1, -1, 0, 0, 0, 0]  # from each seat's own side
    assert observations["o"].tolist() == [-1, -1, 0, 1, 1, 0, 0, 0, 0]
    observations, rewards, terminations, truncations, infos = step(env, 2)  # x completes the top row
    assert rewards == {"x": 1.0, "o": -1.0}
    assert terminations == {"x": True, "o": True} and truncations == {"x": False, "o": False}
    assert env.agents == [] and env.scores() == {"x": 1, "o": 0} and env.frames == 5


def test_a_full_board_without_a_line_is_a_draw(example):
    env = example.env.TicTacToeEnv()
    env.reset(seed=0)
    for cell in (0, 1, 2, 4, 3, 5, 7, 6, 8):  # X O X / X O O / O X X
        _, rewards, terminations, _, _ = step(env, cell)
    assert rewards == {"x": 0.0, "o": 0.0} and all(terminations.values())
    assert env.agents == [] and env.scores() == {"x": 0, "o": 0} and env.frames == 9


def test_an_illegal_move_loses_or_plays_a_random_free_cell(example):
    env = example.env.TicTacToeEnv()
    for taken_or_off in (4, 9, -1):
        env.reset(seed=0)
        step(env, 4)
        _, rewards, terminations, _, infos = step(env, taken_or_off)  # o plays 4 again, or off the board
        assert infos["o"] == {"illegal": taken_or_off}
        assert rewards == {"x": 1.0, "o": -1.0} and all(terminations.values()) and env.scores() == {"x": 1, "o": 0}
    env = example.env.TicTacToeEnv(example.tictactoe.TicTacToeOptions(illegal="random"))
    cells = []
    for _ in range(2):  # the random cell comes from the game's seed
        env.reset(seed=7)
        step(env, 4)
        observations, rewards, terminations, _, infos = step(env, 4)
        assert infos["o"] == {"illegal": 4} and rewards == {"x": 0.0, "o": 0.0} and env.agents == ["x", "o"]
        board = observations["x"].tolist()
        assert board[4] == 1 and board.count(-1) == 1
        cells.append(board.index(-1))
    assert cells[0] == cells[1]


def play_bots(example, x, o, seed: int) -> dict[str, int]:
    env = example.env.TicTacToeEnv()
    observations, _ = env.reset(seed=seed)
    players = {"x": x, "o": o}
    x.reset(seed * 2 + 1)
    o.reset(seed * 2 + 2)
    while env.agents:
        observations, *_ = env.step({seat: players[seat].act(observations[seat]) for seat in env.agents})
    return env.scores()


def test_the_perfect_bot_never_loses_to_the_random_one_from_either_seat(example):
    bot = example.bots.TicTacToeBot
    wins = 0
    for seed in range(5):
        scores = play_bots(example, bot(3), bot(1), seed)
        assert scores["x"] >= scores["o"], (seed, scores)
        wins += scores["x"]
        scores = play_bots(example, bot(1), bot(3), seed)
        assert scores["o"] >= scores["x"], (seed, scores)
        wins += scores["o"]
    assert wins >= 5  # and it wins most of them
    for seed in range(3):
        assert play_bots(example, bot(3), bot(3), seed) == {"x": 0, "o": 0}  # perfect play draws


def test_level_2_wins_when_it_can_else_blocks(example):
    bot = example.bots.TicTacToeBot(2)
    bot.reset(0)
    assert bot.act([1, 1, 0, -1, -1, 0, 0, 0, 0]) == 2  # its own top row
    assert bot.act([1, 0, 0, -1, -1, 0, 1, 0, 0]) == 5  # no line of its own: block the middle row
    assert example.bots.best_moves((1, 1, 0, -1, -1, 0, 0, 0, 0)) == [2]  # level 3 wins at once too


def test_hardest_plays_the_enemy_the_learner_does_worst_against_most(example):
    from arena.plugins.enemies import Enemy

    floor = example.sampling.FLOOR
    enemies = [
        Enemy("self", "self", games=10, win_rate=0.5),
        Enemy("bot:ttt:1", "bot:ttt:1", games=10, win_rate=0.9),
        Enemy("bot:ttt:3", "bot:ttt:3", weight=2.0, games=10, win_rate=0.25),
        Enemy("bot:ttt:2", "bot:ttt:2"),  # not played yet: counts as never beaten
    ]
    scores = [0.5**4 + floor, 0.1**4 + floor, 2 * (0.75**4 + floor), 1 + floor]  # w * ((1 - p) ** 4 + floor)
    probabilities = example.sampling.Hardest().probabilities(enemies)
    assert probabilities == pytest.approx([score / sum(scores) for score in scores])
    assert max(range(4), key=probabilities.__getitem__) == 3 and min(range(4), key=probabilities.__getitem__) == 1

    with_past = [
        Enemy("self", "self", games=4, win_rate=0.5),
        Enemy("self", "snapshots/1.pt", past=True, games=4, win_rate=0.5),
        Enemy("self", "snapshots/2.pt", past=True, games=4, win_rate=0.5),
        Enemy("bot:ttt:1", "bot:ttt:1", games=4, win_rate=1.0),
    ]
    share = (0.5**2 + floor) / (0.5**2 + floor + floor)  # sharpness 2: "self" against bot:ttt:1
    probabilities = example.sampling.Hardest(sharpness=2).probabilities(with_past)
    assert probabilities == pytest.approx([share / 2, share / 4, share / 4, 1 - share])  # half to the latest self

    by_weight = example.sampling.Hardest(sharpness=0).probabilities(
        [Enemy("a", "a", weight=3.0, games=5, win_rate=1.0), Enemy("b", "b", weight=1.0, games=5, win_rate=0.0)]
    )
    assert by_weight == pytest.approx([0.75, 0.25])


@pytest.mark.parametrize("bad", [-1, -0.5, "4", True, None, float("nan"), float("inf")])
def test_hardest_refuses_a_bad_sharpness_with_one_line(example, bad):
    with pytest.raises(ValueError, match="must be a number >= 0") as caught:
        example.sampling.Hardest(sharpness=bad)
    assert "\n" not in str(caught.value) and repr(bad) in str(caught.value)


def test_the_guide_shows_arena_plugins_as_it_prints_today(site, tmp_path):
    """docs/plugins.md's sample table is this command's output (with only Arena's plugins and the
    example installed, at 100 columns)."""
    env = {**os.environ, "PYTHONPATH": python_path(site), "COLUMNS": "100"}
    env["ARENA_LOAD_PLUGINS"] = "agents,algorithms,enemies,example,melee,pong"
    result = subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", "plugins"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = "\n".join(line.rstrip() for line in result.stdout.splitlines()[1:])
    guide = (EXAMPLE.parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert "$ arena plugins\n" + table + "\n" in guide
