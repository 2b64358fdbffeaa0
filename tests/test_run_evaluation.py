"""Evaluation during training: validation seeds kept apart from test seeds, a frame budget per
round, the final round's progress, the published snapshot (the best on validation games, not the
last), and the lines that say where it stands against the CPU.

Runs train in this process on real Pong with tiny budgets; the publishing rules are checked on
snapshots written directly, without an emulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_train import STEPS_PER_UPDATE, TINY, assert_error_line, train_env

SETS = ["experience_length=32", "min_collect=4", "batch_size=4"]


def tiny_plan(arena, steps: int, **given):
    from arena.training.plan import plan_training

    given.setdefault("env_pairs", ["points=1"])
    given.setdefault("eval_every", 0)
    return plan_training("ac", sets=SETS, steps=steps, workers=1, arena=arena, **given)


# -- seeds ----------------------------------------------------------------------------------------


def test_validation_and_test_seeds_are_apart():
    from arena.training.evaluation import TEST_SEEDS, VALIDATION_SEEDS

    assert not set(range(TEST_SEEDS.start, TEST_SEEDS.stop)) & {VALIDATION_SEEDS.start, VALIDATION_SEEDS.stop - 1}
    assert TEST_SEEDS.stop <= VALIDATION_SEEDS.start
    assert 0 in TEST_SEEDS  # arena match --seed's default


# -- a round: validation seeds, frame budget, progress ------------------------------------------------


def test_the_final_round_plays_validation_seeds_reports_progress_and_keeps_its_frame_budget(arena, tmp_path):
    from arena.ratings.store import MatchStore
    from arena.training.evaluation import VALIDATION_SEEDS
    from arena.training.run import run_training

    plan = tiny_plan(arena, 2 * STEPS_PER_UPDATE, eval_every=100, eval_games=3, name="budget")
    events, said = [], []
    result = run_training(plan, arena=arena, on_eval=events.append, log=said.append, eval_frames=1)
    # one frame of budget: the first game spends it, and no other game starts
    final = [(e.done, e.total) for e in events if e.final]
    assert final == [(0, 3), (1, 3)], events
    games = MatchStore(tmp_path / "home" / "arena.db").games("budget")
    assert len(games) == 1 and games[0].b == "cpu"
    assert all(g.seed in VALIDATION_SEEDS for g in games)
    assert any("frame budget (1 frames, --eval-frames) was spent after 1 of 3 games" in line for line in said), said
    (entry,) = json.loads((plan.folder / "evaluations.json").read_text())["rounds"]
    assert entry["status"] == "done" and entry["cut"] and entry["validation"]["games"] == 1
    assert result.published == plan.folder / "snapshots" / entry["snapshot"]


def test_bad_eval_frames_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    import arena.plugins.manager
    from arena.cli import main

    for key, value in train_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(arena.plugins.manager, "_loaded", arena.plugins.manager.load_plugins())
    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--eval-frames", "-5", "--steps", "1"])
    out, err = capsys.readouterr()
    assert_error_line(info.value.code, out, err, "--eval-frames", "-5")
    assert not (tmp_path / "experiments").exists() and not (tmp_path / "home").exists()
    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--final-games", "-1", "--steps", "1"])
    out, err = capsys.readouterr()
    assert_error_line(info.value.code, out, err, "--final-games", "-1")
    assert not (tmp_path / "experiments").exists() and not (tmp_path / "home").exists()
    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--dry-run"])
    out, _ = capsys.readouterr()
    said = " ".join(out.split())
    assert info.value.code == 0 and "at most 100,000 frames a round" in said, said
    assert "25,000 a game; the best rounds play 6 more at the end" in said, said


# -- publishing -----------------------------------------------------------------------------------


def write_snapshots(arena, folder: Path, steps: list[int]) -> list[Path]:
    import dataclasses

    from arena.training.params import parse_params
    from arena.training.snapshot import save_snapshot, snapshot_name

    spec = arena.algorithms.get("ac")
    learner = spec.learner_class()(parse_params(spec.params_class(), [], owner="test"), 8, 3, 60.0, device="cpu")
    paths = []
    for step in steps:
        meta = {
            "algorithm": "ac", "params": dataclasses.asdict(learner.params), "env": "pong",
            "env_options": {"act_every": 2}, "obs_size": 8, "num_actions": 3, "fps": 60.0,
            "experiment": folder.name, "counters": {"steps": step},
        }  # fmt: skip
        learner.updates = step // STEPS_PER_UPDATE
        paths.append(save_snapshot(folder / "snapshots" / snapshot_name(step), meta, learner.state_dict()))
    return paths


def scored_round(path: Path, diffs: list[int]) -> dict:
    from arena.training.evaluation import validation
    from arena.training.snapshot import file_hash

    games = [
        {"index": i, "b": "cpu", "seed": 1_000_000 + i, "status": "ok", "score_a": max(0, d), "score_b": max(0, -d),
         "winner": "a" if d > 0 else "b", "frames": 5000}
        for i, d in enumerate(diffs)
    ]  # fmt: skip
    return {
        "snapshot": path.name, "agent": str(path), "hash": file_hash(path), "steps": int(path.stem), "status": "done",
        "reference": "cpu", "games": games, "validation": validation(games, "cpu"),
    }  # fmt: skip


def test_the_published_snapshot_is_the_best_on_validation_games_not_the_last(arena, tmp_path):
    from arena.training.evaluation import Rounds
    from arena.training.snapshot import file_hash, find_snapshot, load_snapshot
    from arena.training.trained import build_trained

    folder = tmp_path / "experiments" / "pick"
    first, best, last = write_snapshots(arena, folder, [128, 256, 384])
    rounds = Rounds(folder)
    for path, diffs in ((first, [-5, -3]), (best, [2, 1]), (last, [-21, -21])):
        rounds.put(scored_round(path, diffs))
    pointer = rounds.publish()
    assert pointer["snapshot"] == best.name and pointer["validation"]["mean_diff"] == 1.5
    assert json.loads((folder / "published.json").read_text())["snapshot"] == best.name

    # experiments/NAME means the published snapshot, as an agent too ...
    assert find_snapshot(folder) == best
    assert load_snapshot(folder).meta["counters"]["steps"] == 256
    pong = arena.envs.get("pong")
    assert build_trained(str(folder), pong, pong.parse_options([])).hash == file_hash(best)
    # ... the last and any step stay reachable: the snapshots folder (newest) or the file
    assert find_snapshot(folder / "snapshots") == last
    assert find_snapshot(first) == first
    assert build_trained(str(last), pong, pong.parse_options([])).hash == file_hash(last)

    # a pointer to a file that is gone falls back to the newest snapshot
    best.unlink()
    assert find_snapshot(folder) == last


def test_standing_says_where_the_published_agent_stands_from_the_numbers(arena, tmp_path):
    from arena.training.evaluation import Rounds, standing
    from arena.training.plan import plan_training

    rac = plan_training("rac", steps=1000, workers=1, name="stand", arena=arena)
    folder = rac.folder
    paths = write_snapshots(arena, folder, [128, 256, 384])
    rounds = Rounds(folder)
    assert standing(rac, rounds, 0) == ["published: the newest snapshot (no validation games against a fixed opponent chose one)"]
    rounds.put(scored_round(paths[0], [-8, -12]))  # the quick run: 13-21 and 9-21
    lines = standing(rac, rounds, 200_000)
    assert lines[1] == "against cpu: won 0 of 2 validation games, mean score difference -10.0 (2 games: too few for an interval)"
    assert lines[2].startswith("it lost both validation games against cpu. To beat it, train longer")
    for path, diffs in zip(paths, ([-15, -12], [-8, -13], [-10, -9])):
        rounds.put(scored_round(path, diffs))
    lines = standing(rac, rounds, 250_000)
    assert (
        lines[0] == "published: experiments/stand/snapshots/000000000384.pt (the best validation score of 3 evaluated snapshots)"
    )
    assert lines[1] == "against cpu: won 0 of 2 validation games, mean score difference -9.5 (2 games: too few for an interval)"
    assert lines[2].startswith("it lost both validation games against cpu. To beat it, train longer:")
    rounds.put(scored_round(paths[2], [-10, -9, -11, -9]))  # enough games for an interval, all below 0
    lines = standing(rac, rounds, 250_000)
    assert lines[1] == "against cpu: won 0 of 4 validation games, mean score difference -9.8, 95% CI [-11.3, -8.2]"
    assert lines[2].startswith("it loses to cpu. To beat it, train longer:")
    rounds.put(scored_round(paths[2], [-10, -9]))
    assert "after 2,000,000 frames and this run has trained 250,000" in lines[2] and "--steps 1000000" in lines[2]
    # a run whose steps came faster than one seat's (both seats train against the latest self):
    # its 1,000 steps took 1,700 frames, so 2M frames are about 1,176,000 steps
    assert "--steps 1200000 to go on" in standing(rac, rounds, 1_700)[2]

    # past the bench's figure, or without one, the run's own trend speaks
    assert "validation score went from -13.5 at step 128 to -9.5 at 384: train longer" in standing(rac, rounds, 3_000_000)[2]
    rounds.put(scored_round(paths[2], [-13, -17]))
    assert "went from -13.5 at step 128 to -15.0 at 384: more steps alone may not help" in standing(rac, rounds, 3_000_000)[2]

    rounds.put(scored_round(paths[1], [7, 8, 6]))
    lines = standing(rac, rounds, 0)
    assert lines[1] == "against cpu: won 3 of 3 validation games, mean score difference +7.0, 95% CI [+4.5, +9.5]"
    assert lines[2].startswith("it beats cpu on these games (chosen as the best of 3")
    assert "arena match experiments/stand cpu --games 10` measures it on test seeds" in lines[2]


def test_the_advice_to_go_on_counts_what_the_experiment_trained_not_this_command(arena, tmp_path):
    """A rerun with ``--steps 1`` of an experiment that trained 3,072 steps in 4,376 frames gave
    other advice (1,000,000 steps) than the run itself (1,400,000): the advice divided this
    command's --steps, not the experiment's, by the experiment's frames."""
    from arena.training.evaluation import Rounds, standing
    from arena.training.plan import plan_training

    run = plan_training("rac", steps=3000, workers=1, name="go", arena=arena)
    rerun = plan_training("rac", steps=1, workers=1, name="go", arena=arena)
    paths = write_snapshots(arena, run.folder, [1024])
    rounds = Rounds(run.folder)
    rounds.put(scored_round(paths[0], [-20, -21]))
    said = standing(run, rounds, 4_376, steps=3_072)[2]
    assert said == standing(rerun, rounds, 4_376, steps=3_072)[2]
    assert "--steps 1500000 to go on" in said  # 3,072 steps a 4,376 frames: 2M frames are 1,404,022 steps

    # the bench's figure is for games to 21 at the env's defaults; ppo's held-out mean never passed the CPU
    short = plan_training("rac", steps=3000, workers=1, name="short", env_pairs=["points=2"], arena=arena)
    ppo = plan_training("ppo", steps=3000, workers=1, name="ppo", arena=arena)
    for plan in (short, ppo):
        assert "bench/train_pong.py" not in " ".join(standing(plan, rounds, 4_376, steps=3_072))


# -- resuming ----------------------------------------------------------------------------------------


def test_a_resumed_run_starts_where_it_was_with_its_reward_window(arena, tmp_path):
    """The first progress report of a resumed run is at its resumed step and carries the mean
    reward of the games before the snapshot (it used to start at step 0, the window empty)."""
    from arena.training.run import run_training
    from arena.training.snapshot import load_snapshot

    run_training(tiny_plan(arena, 3 * STEPS_PER_UPDATE, name="window"), arena=arena)
    saved = load_snapshot(tmp_path / "experiments" / "window").meta["recent"]
    assert saved, "no game finished in 3 updates to 1 point"
    reports = []
    run_training(tiny_plan(arena, 4 * STEPS_PER_UPDATE, name="window"), arena=arena, on_progress=reports.append)
    first = reports[0]
    assert (first.steps, first.updates, first.note) == (3 * STEPS_PER_UPDATE, 3, "starting workers")
    assert first.reward == pytest.approx(sum(saved) / len(saved))


def test_a_resume_past_a_damaged_snapshot_never_plays_it_in_a_round(arena, tmp_path):
    """A run that ended off the snapshot cadence, its last snapshot then damaged: the resumed run
    starts from the one before, and its rounds play the previous snapshot it still has (a round
    against the damaged one failed whole, its games against the CPU too)."""
    from arena.training.run import run_training

    def plan(updates):
        return tiny_plan(arena, updates * STEPS_PER_UPDATE, name="damaged", snapshot_every=2 * STEPS_PER_UPDATE,
                         eval_every=2, eval_games=1, final_games=0)  # fmt: skip

    run_training(plan(3), arena=arena)
    snapshots = plan(3).folder / "snapshots"
    damaged = snapshots / f"{3 * STEPS_PER_UPDATE:012d}.pt"  # the final save, between cadence snapshots
    damaged.write_bytes(damaged.read_bytes()[:1000])
    said = []
    run_training(plan(6), arena=arena, log=said.append)
    rounds = json.loads((snapshots.parent / "evaluations.json").read_text())["rounds"]
    assert [r["status"] for r in rounds] == ["done"] * len(rounds), said
    assert not any(damaged.name in opponent for r in rounds for opponent in r["opponents"]), rounds
    resumed = [r for r in rounds if r["steps"] > 2 * STEPS_PER_UPDATE]
    assert resumed and resumed[0]["opponents"][-1].endswith(f"{2 * STEPS_PER_UPDATE:012d}.pt"), resumed


def test_the_bars_frame_rate_is_over_the_last_ten_seconds_not_one_update():
    """One update's rate swung 3,800-9,100 frames/s in a steady run as trajectories happened to
    arrive; the bar shows the rate over the updates of the last ten seconds."""
    from arena.training.run import Rate

    rate = Rate(span=10.0)
    assert rate.add(0.0, 0) == 0.0
    # updates 0.5 s apart, alternately 2,000 and 4,500 frames: one update's own rate 4,000 or 9,000
    frames, shown = 0, []
    for i in range(1, 61):
        frames += 2_000 if i % 2 else 4_500
        shown.append(rate.add(i * 0.5, frames))
    assert shown[0] == 4_000  # the first update: the rate since the start
    assert all(6_000 <= r <= 6_800 for r in shown[20:]), shown  # steady: 6,500 on the mean
    assert rate.add(40.0, frames) == 0.0  # ten seconds without a frame: stalled, not 6,500


def test_the_terminal_bar_of_a_resumed_run_starts_at_its_steps(arena, tmp_path, monkeypatch, capsys):
    import io

    from rich.console import Console

    from arena import cli
    from arena.cli import main
    from arena.training.run import run_training

    run_training(tiny_plan(arena, 2 * STEPS_PER_UPDATE, name="bar"), arena=arena)
    screen = io.StringIO()
    monkeypatch.setattr(cli, "make_console", lambda: Console(file=screen, force_terminal=True, width=200))
    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--name", "bar", "--steps", str(3 * STEPS_PER_UPDATE), "--eval-every", "0", "-o", "points=1"])
    assert info.value.code == 0, capsys.readouterr()
    bars = [line for line in screen.getvalue().replace("\r", "\n").split("\n") if "resuming bar" in line]
    assert bars and "256/384" in bars[0] and "0/384" not in bars[0], bars[:2]


@pytest.mark.parametrize("width", [80, 120])
def test_the_terminal_bar_keeps_its_counts_and_times_whole_on_a_narrow_terminal(width):
    import io
    import re
    from types import SimpleNamespace

    from rich.console import Console

    from arena.cli.train import _Bar

    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    bar = _Bar(console, SimpleNamespace(resume_from=None, name="rac_lr=0.001_batch_size=16", steps=1_000_000), 0)
    status = "4,716 frames/s  86 games  reward -6.82  wins self 80%/5  cpu 0%/3  eval 2/4"
    bar.progress.update(bar.steps, completed=362_496, status=status)
    screen = Console(file=io.StringIO(), width=width, color_system=None, record=True)
    for part in bar.progress.get_renderables():
        screen.print(part)
    lines = screen.export_text().splitlines()
    assert re.search(r" 362,496/1,000,000 steps \d:\d\d:\d\d [-\d]:[-\d]{2}:[-\d]{2}$", lines[0]), lines
    assert lines[1].strip() == status, lines


def test_piped_output_has_plain_progress_lines_and_ends_with_the_standing(arena, tmp_path, capsys):
    from arena.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--name", "piped", "--steps", str(4 * STEPS_PER_UPDATE), "--eval-every", "2",
              "--eval-games", "1", "-o", "points=1"])  # fmt: skip
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    lines = out.splitlines()
    progress = [line for line in lines if line.startswith("piped: ") and " steps (" in line]
    assert [line.split()[1] for line in progress] == ["128/512", "256/512", "384/512", "512/512"], out
    assert "eval 1/" in out  # the evaluation's progress, game by game
    published = json.loads((tmp_path / "experiments" / "piped" / "published.json").read_text())
    assert lines[-3].startswith(f"published: experiments/piped/snapshots/{published['snapshot']} (the best validation score of")
    assert "(play it: arena match" in out
    assert lines[-2].startswith("against cpu: won ")
    assert lines[-1].startswith("it ")


def test_the_play_it_hints_name_the_snapshot_each_command_plays(arena, tmp_path):
    """`experiments/NAME` plays the published snapshot, so the final snapshot's hint must not
    offer it when another snapshot is published."""
    import dataclasses

    from arena.cli.train import summary
    from arena.training.run import TrainResult
    from arena.training.snapshot import find_snapshot

    plan = tiny_plan(arena, 2 * STEPS_PER_UPDATE, name="hints")
    snapshots = plan.folder / "snapshots"
    snapshots.mkdir(parents=True)
    published, final = snapshots / "000000000128.pt", snapshots / "000000000256.pt"
    published.write_bytes(b"weights")
    final.write_bytes(b"weights")
    (plan.folder / "published.json").write_text(json.dumps({"snapshot": published.name}))
    assert find_snapshot(plan.folder) == published
    result = TrainResult(
        name="hints", folder=plan.folder, steps=256, frames=512, updates=2, games=1, wall_s=1.0,
        final_snapshot=final, resumed_from=None, evaluations=[], published=published,
        standing=[f"published: {published} (the best validation score of 2 evaluated snapshots)", "against cpu: ..."],
    )  # fmt: skip

    def hint(line):
        return line.split("(play it: ", 1)[1].rstrip(")")

    lines = summary(result, plan, arena)
    final_line = next(line for line in lines if line.startswith("final snapshot: "))
    assert hint(final_line) == f"arena match {final} cpu"
    assert lines[-2].startswith(f"published: {published} ") and hint(lines[-2]) == f"arena match {plan.folder} cpu"
    assert lines[-1] == "against cpu: ..."

    # Nothing published, or the final snapshot published: the folder plays the final snapshot.
    for published in (None, final):
        lines = summary(dataclasses.replace(result, published=published), plan, arena)
        assert hint(next(line for line in lines if line.startswith("final snapshot: "))) == f"arena match {plan.folder} cpu"
        assert "play it" not in lines[-2]


# -- synchronous learners ------------------------------------------------------------------------------


def test_a_synchronous_learner_gathers_one_trajectory_per_worker(arena, tmp_path, monkeypatch):
    import dataclasses

    from arena.training.rollout import InlineExecutor, WorkerConfig
    from arena.training.run import run_training

    plan = tiny_plan(arena, 2 * STEPS_PER_UPDATE, name="sync", enemies="cpu.json")  # one trained seat: 32 steps a segment
    monkeypatch.setattr(plan.algorithm.learner_class(), "synchronous", True, raising=False)
    asked, configs = [], []

    class Recording(InlineExecutor):
        def gather(self, count):
            asked.append(count)
            return super().gather(count)

    def factory(plan, config):
        configs.append(config)
        return Recording(config)

    result = run_training(plan, arena=arena, executor_factory=factory)
    assert set(asked) == {plan.workers} == {1}  # not the learner's wants() (4 trajectories)
    assert result.steps == len(asked) * 32 and result.updates == len(asked)
    if "synchronous" in {f.name for f in dataclasses.fields(WorkerConfig)}:
        assert configs[0].synchronous is True


# -- stalled games and the final choice ---------------------------------------------------------------


def test_a_long_game_cannot_spend_the_round_each_game_is_cut_at_its_share(arena, tmp_path):
    """Against the CPU a snapshot could hold a rally nobody ends until the env's 100k-frame cap:
    that one game spent the round's budget, the round scored one game, and its lead won the
    publication. Each game now stops at its share of the budget and counts as it stood."""
    from arena.training.evaluation import Evaluator

    plan = tiny_plan(arena, STEPS_PER_UPDATE, name="share", eval_every=1, eval_games=2, env_pairs=[])  # games to 21
    (snapshot,) = write_snapshots(arena, plan.folder, [128])
    # a game to 21 takes 3,000 frames or more: the first one used to spend this whole budget
    evaluator = Evaluator(plan, arena, lambda line: None, frames=3_000)
    assert evaluator.submit(snapshot, wait=True)
    (entry,) = evaluator.rounds.rounds
    assert entry["status"] == "done" and not entry.get("cut"), entry
    assert [g["b"] for g in entry["games"]] == ["cpu", "cpu"]  # the first round has no previous snapshot
    for game in entry["games"]:  # each game's share: 2 games against each of 2 opponents
        assert game["truncated"] and 750 <= game["frames"] < 750 + 8, game
    assert entry["validation"]["games"] == 2 and entry["validation"]["cut_off"] == 2
    assert evaluator.game_frames() == 750  # the CPU and the previous snapshot, from the second round on


def test_the_final_choice_plays_the_best_rounds_again_and_one_lucky_game_no_longer_wins(arena, tmp_path):
    from arena.ratings.store import MatchStore
    from arena.training.evaluation import FINAL_SEEDS, Evaluator, standing

    plan = tiny_plan(arena, STEPS_PER_UPDATE, name="final", eval_every=1, final_games=3)  # games to 1 point
    paths = write_snapshots(arena, plan.folder, [128, 256, 384, 512, 640])
    evaluator = Evaluator(plan, arena, lambda line: None)
    rounds = evaluator.rounds
    # the round at 256 played one game, stalled at +10: the best round score, on one game
    for path, diffs in zip(paths, ([-5, -3], [10], [8, 8], [2, 1], [-21, -21])):
        rounds.put(scored_round(path, diffs))
    assert rounds.publish()["snapshot"] == paths[1].name

    evaluator.choose(workers=1)
    by_name = {r["snapshot"]: r for r in rounds.rounds}
    finals = {name: [g for g in r["games"] if g.get("final")] for name, r in by_name.items()}
    # the three best rounds and the last play the same three games; the others none
    assert {name for name, games in finals.items() if games} == {p.name for p in paths[1:]}
    seeds = {name: sorted(g["seed"] for g in games) for name, games in finals.items() if games}
    assert all(s == [FINAL_SEEDS, FINAL_SEEDS + 1, FINAL_SEEDS + 2] for s in seeds.values()), seeds
    assert all(g["b"] == "cpu" and g["status"] == "ok" for games in finals.values() for g in games)
    # the snapshots have the same weights, so the final games add the same to each: the lucky
    # round (+10 on one game) now weighs one game in four, and the round at 384 (+8, +8) wins
    pointer = json.loads((plan.folder / "published.json").read_text()) if rounds.publish() else None
    assert pointer["snapshot"] == paths[2].name and pointer["chosen_by"] == "final games", pointer
    assert pointer["validation"]["games"] == 5
    assert standing(plan, rounds, 0)[0].endswith("(the best validation score of 4 finalists, of 5 evaluated snapshots)")
    games = MatchStore(tmp_path / "home" / "arena.db").games("final")
    assert len(games) == 12

    # a rerun (a resume with nothing left to train) plays none of them again
    evaluator.choose(workers=1)
    assert len(MatchStore(tmp_path / "home" / "arena.db").games("final")) == 12


def test_the_final_choice_needs_two_rounds_and_can_be_turned_off(arena, tmp_path):
    from arena.training.evaluation import Evaluator

    plan = tiny_plan(arena, STEPS_PER_UPDATE, name="alone", eval_every=1)
    first, second = write_snapshots(arena, plan.folder, [128, 256])
    evaluator = Evaluator(plan, arena, lambda line: None)
    evaluator.rounds.put(scored_round(first, [1, 1]))
    evaluator.choose(workers=1)  # nothing to choose between
    assert not evaluator.results and not evaluator.rounds.finalists()
    evaluator.rounds.put(scored_round(second, [-1, -1]))
    off = Evaluator(tiny_plan(arena, STEPS_PER_UPDATE, name="alone", eval_every=1, final_games=0), arena, lambda line: None)
    off.choose(workers=1)
    assert not off.results and not off.rounds.finalists()
