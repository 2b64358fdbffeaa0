"""Action repeat (``act_every``) and observation delay (``delay``) are the env's options.

Training, evaluation games, ``arena match`` and leaderboards read them from the env's options
(:func:`arena.plugins.envs.timing`); an env without them has no repeat and no delay; a trained
agent replays the timing it was trained at (its snapshot's env options) in an env that runs
another, or is refused with one line. Files written when they were algorithm parameters
(``tests/data/v0.1.0``: ``old-ac`` at ``act_every=4 delay=3``, ``old-rac`` at the defaults) still
play and resume.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from toy_envs import CountEnv, CountOptions

from arena import hookimpl
from arena.errors import ArenaError
from arena.plugins.envs import EnvSpec, Timing, timing

REPO = Path(__file__).resolve().parents[1]
OLD = REPO / "tests" / "data" / "v0.1.0" / "experiments"
OLD_AC_SETS = ["embed_sizes=8", "actor_sizes=8", "critic_sizes=8"]  # how old-ac and old-rac were made
OLD_RAC_SETS = [*OLD_AC_SETS, "gru_size=8"]


class RecordingActor:
    """Stands in for a trained agent's actor: remembers what it was shown, picks action 0."""

    def __init__(self):
        self.seen: list[float] = []

    def reset(self, seed=None) -> None:
        pass

    def act(self, observation) -> int:
        self.seen.append(float(np.asarray(observation).reshape(-1)[0]))
        return 0


def feed(agent, count: int) -> list[float]:
    """Observation k (all k's) at env step k, from a reset; what reached the actor, in order."""
    agent.actor = RecordingActor()
    agent.reset(0)
    for k in range(count):
        agent.act(np.full(8, float(k), np.float32))
    return agent.actor.seen


def assert_one_line(message: str, *needles: str) -> None:
    assert "\n" not in message, repr(message)
    for needle in needles:
        assert needle in message, (needle, message)


# -- the helper -----------------------------------------------------------------------------------


def test_timing_reads_any_options_and_defaults_to_no_repeat_no_delay():
    from arena_pong import PongOptions

    assert timing(PongOptions()) == Timing(2, 0) == timing(PongOptions)  # Pong's defaults: 2 frames a step
    assert timing(PongOptions(act_every=4, delay=3)) == (4, 3)
    assert timing({"act_every": 4, "delay": 3, "points": 21}) == (4, 3)  # a params.json's env_options
    assert timing({"points": 21}) == timing(object()) == Timing(1, 0)  # an env without them
    assert str(Timing(4, 3)) == "act_every=4 delay=3"


# -- a. an old experiment trained at act_every=4 delay=3 plays in today's Pong ----------------------


def test_old_ac_plays_in_arena_match(tmp_path):
    """``arena match`` of an experiment from 0.1.0 (trained with ``--set act_every=4 --set
    delay=3``) in the default Pong env, which now runs at act_every 2, with no warning about the
    parameters that moved."""
    env = dict(os.environ, ARENA_HOME=str(tmp_path / "home"), ARENA_DB=str(tmp_path / "arena.db"),
               ARENA_LOAD_PLUGINS="agents,pong,algorithms,enemies", COLUMNS="200")  # fmt: skip
    log = tmp_path / "games.jsonl"
    proc = subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", "match", "tests/data/v0.1.0/experiments/old-ac",
         "bot:tracker:1", "--games", "1", "-o", "points=1", "--workers", "1", "--log", str(log)],
        capture_output=True, text=True, timeout=300, cwd=REPO, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    (record,) = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert record["status"] == "ok" and max(record["score"].values()) == 1
    assert record["options"]["act_every"] == 2 and record["options"]["delay"] == 0  # Pong's defaults


def test_old_ac_holds_two_env_steps_and_sees_six_steps_late(arena, capsys):
    """Trained at act_every 4, delay 3 (3 steps of 4 frames: 12 frames late). In Pong's default
    env (act_every 2, delay 0) it decides every 2 env steps, on what the env showed 6 env steps
    (12 frames) before; at act_every 3 a decision is not a whole number of env steps: refused."""
    from arena.training.trained import build_trained

    pong = arena.envs.get("pong")
    agent = build_trained(str(OLD / "old-ac"), pong, pong.parse_options())
    # decisions at env steps 0, 2, 4, ...; at step k it sees observation max(0, k - 6)
    assert feed(agent, 14) == [0, 0, 0, 0, 2, 4, 6]
    assert feed(agent, 3) == [0, 0]  # a reset starts a fresh buffer, filled with the first observation
    assert (agent.repeat, agent.extra_delay) == (2, 6)
    assert "warning" not in capsys.readouterr().err  # params.act_every/delay of old snapshots: no warning

    # in an env that delays by itself, the agent adds only the rest
    agent = build_trained(str(OLD / "old-ac"), pong, pong.parse_options(["delay=2"]))
    assert (agent.repeat, agent.extra_delay) == (2, 4)
    agent = build_trained(str(OLD / "old-ac"), pong, pong.parse_options(["act_every=4", "delay=3"]))
    assert (agent.repeat, agent.extra_delay) == (1, 0)
    assert feed(agent, 3) == [0, 1, 2]

    with pytest.raises(ArenaError) as info:
        build_trained(str(OLD / "old-ac"), pong, pong.parse_options(["act_every=3"]))
    assert_one_line(str(info.value), "old-ac", "act_every=4 delay=3", "act_every=3 delay=0", "-o act_every=1, 2 or 4")


# -- b. an env without act_every/delay: trained and played alike -------------------------------------


COUNT = EnvSpec(
    name="count", make=lambda options, cpu_level: CountEnv(options, cpu_level), description="count to N, two seats",
    seats=("p1", "p2"), num_actions=3, options=CountOptions, observation_shape=lambda options: (4,),
)  # fmt: skip


class CountPlugin:
    @hookimpl
    def arena_register_envs(self, register):
        register(COUNT)


def test_the_default_enemies_on_an_env_without_a_cpu_say_to_pass_enemies(arena):
    from arena.training.plan import plan_training

    assert arena.add_plugin(CountPlugin(), "counttest")
    with pytest.raises(ArenaError, match=r"env 'count' has no CPU of its own.*pass --enemies self") as info:
        plan_training("ac", env="count", arena=arena)
    assert "\n" not in str(info.value)
    assert plan_training("ac", env="count", enemies="self", arena=arena).pool.entries[0].spec == "self"


def test_an_env_without_act_every_trains_and_plays_one_decision_a_step(arena, tmp_path, monkeypatch):
    from arena.training.plan import plan_training
    from arena.training.run import run_training
    from arena.training.snapshot import load_snapshot
    from arena.training.trained import build_trained

    assert arena.add_plugin(CountPlugin(), "counttest")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "count.json").write_text('["random"]')  # one seat trains: one frame a step
    tiny = ["embed_sizes=8", "actor_sizes=8", "critic_sizes=8", "experience_length=8", "min_collect=2", "batch_size=2"]
    plan = plan_training("ac", env="count", enemies=str(tmp_path / "count.json"), sets=tiny, steps=32, workers=1,
                         eval_every=0, snapshot_every=1, arena=arena)  # fmt: skip
    assert timing(plan.env_options) == Timing(1, 0) and "ae=" not in plan.name
    result = run_training(plan, arena=arena)
    assert result.steps == 32 and result.updates == 2
    rows = [json.loads(line) for line in (plan.folder / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["frames"] == rows[-1]["steps"] == 32  # trained with no repeat: one frame a step

    snapshot = load_snapshot(plan.folder)
    assert timing(snapshot.meta["env_options"]) == Timing(1, 0)
    agent = build_trained(str(plan.folder), COUNT, CountOptions())

    # a game against random: the agent decides at every env step, on that step's observation
    env, other = COUNT.make(CountOptions(), None), arena.agents.get("random").build(None, COUNT, CountOptions())
    real = agent.actor
    seen = []

    class Spy:
        def reset(self, seed=None):
            real.reset(seed)

        def act(self, observation):
            seen.append(float(observation[0]))
            return real.act(observation)

    agent.actor = Spy()
    obs, _ = env.reset(seed=0)
    agent.reset(1), other.reset(2)
    while env.agents:
        obs, *_ = env.step({"p1": agent.act(obs["p1"]), "p2": other.act(obs["p2"])})
    assert seen == pytest.approx([t / 10 for t in range(10)])
    assert (agent.repeat, agent.extra_delay) == (1, 0)
    assert "act_every" not in snapshot.meta["params"] and "delay" not in snapshot.meta["params"]


# -- c. old experiments resume -----------------------------------------------------------------------


def test_old_rac_resumes(arena, tmp_path, capsys):
    from arena.training.functional import gamma_from_halflife
    from arena.training.plan import plan_training
    from arena.training.run import run_training
    from arena.training.snapshot import list_snapshots, load_snapshot

    folder = tmp_path / "experiments" / "old-rac"
    shutil.copytree(OLD / "old-rac", folder)
    plan = plan_training("rac", name="old-rac", sets=OLD_RAC_SETS, steps=3072, workers=1, eval_every=0, arena=arena)
    assert plan.resume_from == folder / "snapshots" / "000000002048.pt"
    assert timing(plan.env_options) == Timing(2, 0)
    result = run_training(plan, arena=arena)
    assert result.resumed_from == plan.resume_from and result.steps >= 3072
    newest = load_snapshot(list_snapshots(folder)[-1])
    assert newest.meta["counters"]["steps"] >= 3072 and newest.learner["updates"] == 3
    # recorded once, as what the env ran: the env options, no longer the parameters
    assert "act_every" not in newest.meta["params"] and "delay" not in newest.meta["params"]
    assert timing(newest.meta["env_options"]) == Timing(2, 0)
    learner = plan.algorithm.learner_class()(
        plan.params, plan.obs_size, plan.num_actions, plan.fps, act_every=plan.timing.act_every
    )
    assert learner.gamma == pytest.approx(gamma_from_halflife(2.0, 60.0, 2))
    learner.load_state_dict(newest.learner)
    assert "ignoring parameters" not in capsys.readouterr().err


def test_old_ac_resumes_only_at_its_timing(arena, tmp_path):
    from arena.training.functional import gamma_from_halflife
    from arena.training.plan import plan_training
    from arena.training.snapshot import load_snapshot

    folder = tmp_path / "experiments" / "old-ac"
    shutil.copytree(OLD / "old-ac", folder)
    with pytest.raises(ArenaError) as info:
        plan_training("ac", name="old-ac", sets=OLD_AC_SETS, steps=1024, workers=1, eval_every=0, arena=arena)
    assert_one_line(
        str(info.value), "old-ac was trained with act_every=4 delay=3, not act_every=2 delay=0",
        "resume it with -o act_every=4 -o delay=3",
    )  # fmt: skip
    plan = plan_training(
        "ac",
        name="old-ac",
        sets=OLD_AC_SETS,
        env_pairs=["act_every=4", "delay=3"],
        steps=1024,
        workers=1,
        eval_every=0,
        arena=arena,
    )
    assert plan.resume_from == folder / "snapshots" / "000000000768.pt" and plan.timing == Timing(4, 3)
    learner = plan.algorithm.learner_class()(
        plan.params, plan.obs_size, plan.num_actions, plan.fps, act_every=plan.timing.act_every
    )
    learner.load_state_dict(load_snapshot(plan.resume_from).learner)
    assert learner.gamma == pytest.approx(gamma_from_halflife(2.0, 60.0, 4))

    # without --name, the derived name is the one 0.1.0 gave the same settings: it resumes too
    (tmp_path / "experiments" / "old-ac").rename(tmp_path / "experiments" / "ac_embed=8_ae=4_delay=3_actor=8_critic=8")
    plan = plan_training(
        "ac", sets=OLD_AC_SETS, env_pairs=["act_every=4", "delay=3"], steps=1024, workers=1, eval_every=0, arena=arena
    )
    assert plan.name == "ac_embed=8_ae=4_delay=3_actor=8_critic=8" and plan.resume_from is not None


def test_timing_names_experiments_by_the_old_short_names(arena):
    from arena.training.plan import plan_training

    assert plan_training("rac", env_pairs=["act_every=4", "delay=3"], arena=arena).name == "rac_ae=4_delay=3"
    assert plan_training("rac", env_pairs=["act_every=2"], arena=arena).name == "rac"  # Pong's default
    assert plan_training("rac", sets=["learning_rate=0.001"], env_pairs=["delay=2"], arena=arena).name == "rac_lr=0.001_delay=2"
    params = dataclasses.asdict(plan_training("rac", env_pairs=["act_every=4"], arena=arena).params)
    assert "act_every" not in params and "delay" not in params
    for name in ("act_every", "delay"):
        with pytest.raises(ArenaError) as info:
            plan_training("ac", sets=[f"{name}=4"], arena=arena)
        assert_one_line(str(info.value), f"use -o {name}=4")
