"""Matches: planning (sides, CPU seat), statistics, summaries, and real games end to end.

Games run in this process with ``workers=1`` (the emulator is closed when the match ends, so the
one-emulator-per-process rule holds) or in spawned worker processes with ``workers=2``.
"""

from __future__ import annotations

import json
import math
import os

import pytest

from arena import hookimpl
from arena.errors import ArenaError
from arena.games.match import mean_ci95, plan_match, run_match, summarize
from arena.games.play import agent_seed, plan_games
from arena.games.record import GameRecord
from arena.plugins.agents import AgentKind
from arena.plugins.envs import NO_LEVELS
from arena.plugins.manager import load_plugins
from arena.ratings.recorder import Recorder
from arena.ratings.store import MatchStore
from arena_pong import PongOptions

LOG_KEYS = {"game", "a", "b", "a_seat", "env", "options", "seed", "sides", "score", "score_a", "score_b",
            "winner", "frames", "truncated", "wall_s", "status", "error"}  # fmt: skip


@pytest.fixture
def arena(monkeypatch):
    # Only the built-in plugins, also in spawned workers (they inherit os.environ).
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong")
    return load_plugins()


def read_log(path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# -- planning ---------------------------------------------------------------------------------


def test_plan_games_alternates_sides(arena):
    a, b = "bot:tracker:3", "random"
    tasks = plan_games(arena, a, b, "pong", 4, 10, PongOptions(points=3))
    assert [t.index for t in tasks] == [0, 1, 2, 3]
    assert [t.seed for t in tasks] == [10, 11, 12, 13]
    assert [t.a_seat for t in tasks] == ["left", "right", "left", "right"]
    assert tasks[0].seats == {"left": a, "right": b}
    assert tasks[1].seats == {"left": b, "right": a}
    assert tasks[2].seats == tasks[0].seats and tasks[3].seats == tasks[1].seats
    for t in tasks:
        assert t.cpu_level is None
        assert t.seats[t.a_seat] == a
        assert (t.a, t.b, t.env) == (a, b, "pong")
        assert t.options == PongOptions(points=3)


def test_plan_match_four_games_and_workers(arena):
    plan = plan_match("bot:tracker:1", "bot:tracker:9", games=4, seed=0, workers=8, options=PongOptions(points=3), arena=arena)
    assert [t.a_seat for t in plan.tasks] == ["left", "right", "left", "right"]
    assert [t.seats["left"] for t in plan.tasks] == ["bot:tracker:1", "bot:tracker:9"] * 2
    assert plan.workers == 4  # never more workers than games
    assert plan_match("random", "random", games=3, workers=1, arena=arena).workers == 1


@pytest.mark.parametrize("cpu_role", ["a", "b"])
def test_cpu_always_plays_left_with_no_levels(arena, cpu_role):
    a, b = ("cpu", "bot:tracker:5") if cpu_role == "a" else ("bot:tracker:5", "cpu")
    env_spec = arena.envs.get("pong")
    assert env_spec.cpu_seat == "left"
    plan = plan_match(a, b, games=4, seed=0, options=PongOptions(points=3), arena=arena)
    for t in plan.tasks:
        assert t.seats == {"left": "cpu", "right": "bot:tracker:5"}
        assert t.a_seat == ("left" if cpu_role == "a" else "right")
        assert t.cpu_level == NO_LEVELS == 0


def test_plan_rejects_bad_input(arena):
    with pytest.raises(ArenaError, match="only one side"):
        plan_match("cpu", "cpu", arena=arena)
    with pytest.raises(ArenaError, match="--games must be at least 1"):
        plan_match("random", "random", games=0, arena=arena)
    with pytest.raises(ArenaError, match="--workers must be at least 1"):
        plan_match("random", "random", workers=0, arena=arena)
    with pytest.raises(ArenaError, match="unknown environment 'nope'"):
        plan_match("random", "random", env="nope", arena=arena)
    with pytest.raises(ArenaError, match="cpu:3"):
        plan_match("cpu:3", "random", arena=arena)


def test_plan_rejects_negative_seed(arena):
    with pytest.raises(ArenaError, match="seed"):
        plan_match("random", "random", seed=-1, arena=arena)


def test_agent_seeds_differ_per_seat_and_game():
    seeds = {agent_seed(g, s) for g in range(5) for s in range(2)}
    assert len(seeds) == 10
    assert agent_seed(0, 0) == 1 and agent_seed(2, 1) == 2002


# -- statistics -------------------------------------------------------------------------------


def test_mean_ci95_four_values_by_hand():
    # mean 2.5; sd = sqrt((1.5^2 + 0.5^2 + 0.5^2 + 1.5^2) / 3) = sqrt(5/3) = 1.29099
    # t(3) = 3.182; half = 3.182 * 1.29099 / sqrt(4) = 2.05397
    mean, ci = mean_ci95([1, 2, 3, 4])
    assert mean == pytest.approx(2.5)
    assert ci[0] == pytest.approx(2.5 - 2.05397, abs=1e-4)
    assert ci[1] == pytest.approx(2.5 + 2.05397, abs=1e-4)


def test_mean_ci95_two_values_uses_t1():
    # [0, 2]: mean 1, sd sqrt(2), half = 12.706 * sqrt(2) / sqrt(2) = 12.706
    mean, ci = mean_ci95([0, 2])
    assert mean == 1
    assert ci == pytest.approx((1 - 12.706, 1 + 12.706))


def test_mean_ci95_thirty_one_and_many_values():
    # 31 values, 16 zeros and 15 twos: df = 30 -> t = 2.042
    values = [0] * 16 + [2] * 15
    mean = 30 / 31
    sd = math.sqrt((16 * mean**2 + 15 * (2 - mean) ** 2) / 30)
    m, ci = mean_ci95(values)
    assert m == pytest.approx(mean)
    assert ci[1] - m == pytest.approx(2.042 * sd / math.sqrt(31))
    # 40 values alternating 0/2: mean 1, sd = sqrt(40/39) = 1.01274, df 39 > 30 -> 1.96
    # half = 1.96 * 1.01274 / sqrt(40) = 0.31385
    m, ci = mean_ci95([0, 2] * 20)
    assert m == pytest.approx(1.0)
    assert ci == pytest.approx((1 - 0.31385, 1 + 0.31385), abs=1e-4)


def test_mean_ci95_degenerate_cases():
    assert mean_ci95([]) == (None, None)
    assert mean_ci95([3]) == (3, None)  # one game: a mean but no interval
    assert mean_ci95([-2, -2, -2]) == (-2, (-2, -2))  # no spread: zero-width interval


# -- summaries --------------------------------------------------------------------------------


def rec(game, status="ok", score_a=None, score_b=None, frames=None) -> GameRecord:
    if status != "ok":
        return GameRecord(env="pong", a="A", b="B", game=game, status="error", error="boom")
    winner = "a" if score_a > score_b else "b" if score_b > score_a else "draw"
    return GameRecord(env="pong", a="A", b="B", game=game, score_a=score_a, score_b=score_b, winner=winner, frames=frames)


def test_summarize_counts_wins_draws_errors():
    records = [
        rec(4, score_a=3, score_b=1, frames=1000),  # a wins, diff +2
        rec(0, "error"),
        rec(1, score_a=0, score_b=3, frames=500),  # b wins, diff -3
        rec(3, score_a=2, score_b=2, frames=100000),  # draw (frame cap), diff 0
        rec(2, "error"),
    ]
    s = summarize("A", "B", records, wall_s=12.5)
    assert (s.a, s.b, s.games, s.errors) == ("A", "B", 5, 2)
    assert (s.wins_a, s.wins_b, s.draws) == (1, 1, 1)
    assert s.wins_a + s.wins_b + s.draws + s.errors == s.games
    assert s.mean_diff == pytest.approx(-1 / 3)  # (2 - 3 + 0) / 3; errors are not zeros
    assert s.frames == 101500
    assert s.wall_s == 12.5
    assert [r.game for r in s.records] == [0, 1, 2, 3, 4]


def test_summarize_errors_are_never_wins_or_losses():
    s = summarize("A", "B", [rec(0, "error"), rec(1, "error")], wall_s=1.0)
    assert (s.games, s.errors, s.wins_a, s.wins_b, s.draws) == (2, 2, 0, 0, 0)
    assert s.mean_diff is None and s.ci95 is None
    assert s.frames == 0
    s = summarize("A", "B", [rec(0, "error"), rec(1, score_a=1, score_b=0, frames=10)], wall_s=1.0)
    assert (s.wins_a, s.wins_b, s.errors) == (1, 0, 1)
    assert s.mean_diff == 1 and s.ci95 is None  # one finished game: no interval


# -- real games -------------------------------------------------------------------------------


def recorder_at(log_path):
    """A recorder that writes ``log_path`` and a match database beside it."""
    return Recorder("test", log_path, MatchStore(log_path.parent / "arena.db"), definition=None)


def check_log(log_path, summary, a, b, points, games):
    lines = read_log(log_path)
    assert len(lines) == games  # one JSON line per game
    assert sorted(line["game"] for line in lines) == list(range(games))
    for line in lines:
        assert LOG_KEYS <= set(line), LOG_KEYS - set(line)
        assert "traceback" not in line
        assert line["status"] == "ok", line["error"]
        assert (line["a"], line["b"], line["env"]) == (a, b, "pong")
        assert line["seed"] == line["game"]  # seed 0 + game index
        assert line["options"]["points"] == points
        assert set(line["sides"]) == {"left", "right"}
        assert line["sides"][line["a_seat"]] == a
        assert set(line["score"]) == {"left", "right"}
        assert line["score_a"] == line["score"][line["a_seat"]]
        other = "right" if line["a_seat"] == "left" else "left"
        assert line["score_b"] == line["score"][other]
        assert max(line["score"].values()) == points and not line["truncated"]
        assert line["frames"] > 0 and line["wall_s"] > 0
    # each agent played both seats
    assert {line["a_seat"] for line in lines} == {"left", "right"}
    # the summary agrees with the log
    assert summary.games == games and summary.errors == 0
    assert summary.wins_a == sum(line["winner"] == "a" for line in lines)
    assert summary.wins_b == sum(line["winner"] == "b" for line in lines)
    assert summary.wins_a + summary.wins_b + summary.draws == games
    diffs = [line["score_a"] - line["score_b"] for line in lines]
    assert summary.mean_diff == pytest.approx(sum(diffs) / games)
    assert summary.frames == sum(line["frames"] for line in lines)
    assert summary.log_path == log_path
    return lines


def test_run_match_inline(arena, tmp_path):
    plan = plan_match("bot:tracker:8", "random", games=2, seed=0, workers=1, options=PongOptions(points=2), arena=arena)
    seen = []
    summary = run_match(plan, recorder=recorder_at(tmp_path / "m.jsonl"), arena=arena, on_game=seen.append)
    lines = check_log(tmp_path / "m.jsonl", summary, "bot:tracker:8", "random", points=2, games=2)
    assert [r.game for r in seen] == [0, 1]
    assert all(line["pid"] == os.getpid() for line in lines)
    # the log is appended to, never overwritten
    run_match(plan, recorder=recorder_at(tmp_path / "m.jsonl"), arena=arena)
    assert len(read_log(tmp_path / "m.jsonl")) == 4


def test_run_match_two_workers_plays_the_same_games(arena, tmp_path):
    options = PongOptions(points=2)
    inline = run_match(
        plan_match("bot:tracker:4", "bot:tracker:7", games=2, workers=1, options=options, arena=arena),
        recorder=recorder_at(tmp_path / "inline.jsonl"), arena=arena,
    )  # fmt: skip
    plan = plan_match("bot:tracker:4", "bot:tracker:7", games=2, workers=2, options=options, arena=arena)
    assert plan.workers == 2
    summary = run_match(plan, recorder=recorder_at(tmp_path / "par.jsonl"), arena=arena)
    lines = check_log(tmp_path / "par.jsonl", summary, "bot:tracker:4", "bot:tracker:7", points=2, games=2)
    assert all(line["pid"] != os.getpid() for line in lines)  # played in worker processes
    # same seeds, same games: workers change where games run, not how they go
    by_game = {line["game"]: line for line in lines}
    for r in inline.records:
        assert (by_game[r.game]["score"], by_game[r.game]["frames"]) == (r.score, r.frames)


def test_run_match_against_cpu_inline(arena, tmp_path):
    plan = plan_match("random", "cpu", games=2, workers=1, options=PongOptions(points=2), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "cpu.jsonl"), arena=arena)
    lines = read_log(tmp_path / "cpu.jsonl")
    assert [line["status"] for line in lines] == ["ok", "ok"]
    for line in lines:
        assert line["sides"] == {"left": "cpu", "right": "random"}
        assert line["a_seat"] == "right"
        assert max(line["score"].values()) == 2
    assert summary.wins_a + summary.wins_b + summary.draws == 2


def test_games_against_cpu_differ_by_seed(arena, tmp_path):
    # seeds 0, 1, 2 draw 26, 14 and 25 no-op frames; tracker level 9 has no aim noise (deterministic)
    plan = plan_match("bot:tracker:9", "cpu", games=3, workers=1, options=PongOptions(points=1), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "d.jsonl"), arena=arena)
    assert summary.errors == 0
    assert len({r.frames for r in summary.records}) > 1, [r.frames for r in summary.records]


# -- failing agents ---------------------------------------------------------------------------


class BoomAgent:
    """Raises in act() in game 0 only (its reset seed is agent_seed(0, seat) < 1000)."""

    def reset(self, seed: int) -> None:
        self.fail = seed < 1000

    def act(self, observation) -> int:
        if self.fail:
            raise ValueError("boom in act")
        return 0


class BoomPlugin:
    @hookimpl
    def arena_register_agents(self, register):
        register(AgentKind(name="test:boom", build=lambda args, env_spec, options: BoomAgent(), usage="test:boom"))


def test_failing_agent_gives_error_records_not_crashes(arena, tmp_path):
    assert arena.add_plugin(BoomPlugin(), "testplugin")
    plan = plan_match("test:boom", "bot:tracker:5", games=2, workers=1, options=PongOptions(points=2), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "boom.jsonl"), arena=arena)
    lines = read_log(tmp_path / "boom.jsonl")
    assert [line["status"] for line in lines] == ["error", "ok"]  # game 1 plays on after game 0 failed
    bad, good = lines
    assert "ValueError" in bad["error"] and "boom in act" in bad["error"]
    assert bad["winner"] is None and bad["score"] is None and bad["frames"] is None
    assert "traceback" not in bad  # kept out of the log file ...
    assert "boom in act" in summary.records[0].traceback  # ... but in the returned record
    assert max(good["score"].values()) == 2
    assert (summary.games, summary.errors) == (2, 1)
    assert summary.wins_a + summary.wins_b + summary.draws == 1
    assert summary.mean_diff == good["score_a"] - good["score_b"]


def test_every_game_failing_still_summarises(arena, tmp_path):
    class AlwaysBoom(BoomAgent):
        def reset(self, seed):
            self.fail = True

    class Plugin:
        @hookimpl
        def arena_register_agents(self, register):
            register(AgentKind(name="test:always", build=lambda *a: AlwaysBoom()))

    arena.add_plugin(Plugin(), "testplugin2")
    plan = plan_match("test:always", "random", games=2, workers=1, options=PongOptions(points=1), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "x.jsonl"), arena=arena)
    assert [r.status for r in summary.records] == ["error", "error"]
    assert (summary.errors, summary.wins_a, summary.wins_b, summary.draws) == (2, 0, 0, 0)
    assert summary.mean_diff is None


# -- ladder order -----------------------------------------------------------------------------


@pytest.mark.slow
def test_tracker_9_beats_tracker_1(arena, tmp_path):
    plan = plan_match("bot:tracker:9", "bot:tracker:1", games=2, workers=2, options=PongOptions(points=5), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "l.jsonl"), arena=arena)
    assert summary.errors == 0
    assert summary.wins_a == 2, [r.score for r in summary.records]
    assert summary.mean_diff > 0


@pytest.mark.slow
def test_tracker_9_beats_cpu(arena, tmp_path):
    plan = plan_match("bot:tracker:9", "cpu", games=2, workers=2, options=PongOptions(points=5), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "c.jsonl"), arena=arena)
    assert summary.errors == 0
    assert summary.wins_a == 2, [r.score for r in summary.records]


# -- a worker process that dies -------------------------------------------------------------

CRASH_PLUGIN = '''
import os

from arena import hookimpl
from arena.plugins.agents import AgentKind


class CrashAgent:
    """Kills its worker process (like an emulator segfault) in game 0; plays NOOP otherwise."""

    def reset(self, seed):
        self.crash = seed < 1000  # agent_seed(0, seat) is 1 or 2

    def act(self, observation):
        if self.crash:
            os._exit(13)
        return 0


@hookimpl
def arena_register_agents(register):
    register(AgentKind(name="test:crash", build=lambda args, env_spec, options: CrashAgent()))
'''


@pytest.fixture
def crash_plugin(tmp_path, monkeypatch):
    """An installed-looking plugin 'crashtest' (a dist-info on sys.path), visible to spawned workers."""
    site = tmp_path / "site"
    dist = site / "arena_crashtest-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "arena_crashtest_plugin.py").write_text(CRASH_PLUGIN, encoding="utf-8")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: arena-crashtest\nVersion: 0.0.1\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[arena]\ncrashtest = arena_crashtest_plugin\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(site))  # spawned workers get the parent's sys.path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong,crashtest")
    arena = load_plugins()
    assert "test:crash" in arena.agents
    return arena


def test_dead_worker_loses_no_games(crash_plugin, tmp_path):
    arena = crash_plugin
    plan = plan_match("test:crash", "random", games=12, workers=2, options=PongOptions(points=1), arena=arena)
    summary = run_match(plan, recorder=recorder_at(tmp_path / "crash.jsonl"), arena=arena)
    lines = read_log(tmp_path / "crash.jsonl")
    # every planned game is accounted for: played, or recorded as an error
    assert sorted(line["game"] for line in lines) == list(range(12))
    assert summary.games == 12
    first = next(line for line in lines if line["game"] == 0)
    assert first["status"] == "error" and "worker process died" in first["error"]
    assert summary.wins_a + summary.wins_b + summary.draws + summary.errors == 12
