"""Ctrl-C during training: quiet, honest and resumable.

A snapshot saved on Ctrl-C counts exactly the steps its learner trained on (an update under way
finishes first), no internal message reaches the user, and an evaluation round that Ctrl-C cut
short is finished on resume without playing its finished games again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_train import STEPS_PER_UPDATE, TINY, metrics, run_arena, snapshot_steps, train_env

SETS = ["experience_length=32", "min_collect=4", "batch_size=4"]


@pytest.fixture(autouse=True)
def ctrl_c_is_heard():
    """A Ctrl-C raises KeyboardInterrupt here, as at a terminal: a test run started in the
    background of a non-interactive shell inherits SIGINT ignored, and Python keeps it so."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def _hear_ctrl_c() -> None:  # in the child, before it runs: the same for a spawned `arena train`
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_an_update_lets_it_finish_and_counts_only_what_was_trained(arena, tmp_path, monkeypatch):
    """Ctrl-C used to land inside the update: its trajectories were counted, never trained on
    (29 updates for 30,720 steps). Now the update finishes, then the run saves and stops."""
    from arena.training.plan import plan_training
    from arena.training.run import run_training
    from arena.training.snapshot import list_snapshots, load_snapshot

    plan = plan_training(
        "ac", sets=SETS, env_pairs=["points=3"], steps=100 * STEPS_PER_UPDATE, workers=1, eval_every=0, arena=arena
    )
    learner_class = plan.algorithm.learner_class()
    original = learner_class.update

    def update(self, trajectories):
        if self.updates == 1:  # Ctrl-C arrives in the middle of the second update
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        return original(self, trajectories)

    monkeypatch.setattr(learner_class, "update", update)
    said = []
    with pytest.raises(KeyboardInterrupt):
        run_training(plan, arena=arena, log=said.append)
    snapshot = load_snapshot(list_snapshots(plan.folder)[-1])
    counters = snapshot.meta["counters"]
    assert snapshot.learner["updates"] == counters["updates"] == 2
    assert counters["steps"] == 2 * STEPS_PER_UPDATE  # every counted step was trained on
    assert [row["steps"] for row in metrics(plan.folder)] == [STEPS_PER_UPDATE, 2 * STEPS_PER_UPDATE]
    assert any("interrupted at 256 steps (2 updates" in line and "rerun the same command to resume" in line for line in said)


def test_ctrl_c_stops_the_evaluation_round_quietly(arena, tmp_path, monkeypatch):
    """The round playing when Ctrl-C came used to go on in the background after the run said it
    stopped (and, at exit, said "evaluation failed: RuntimeError: cannot schedule new futures
    after shutdown"). Now it stops with the run and says nothing."""
    import threading

    from arena.training.plan import plan_training
    from arena.training.run import run_training

    plan = plan_training(
        "ac", sets=SETS, env_pairs=["points=2"], steps=1000 * STEPS_PER_UPDATE, workers=1, eval_every=1, eval_games=3,
        snapshot_every=1, arena=arena,
    )  # fmt: skip
    said: list[str] = []
    pressed: list[int] = []
    crashed: list = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)

    def log(message: str) -> None:
        said.append(message)
        if message.startswith("eval ") and not pressed:
            pressed.append(1)  # one Ctrl-C: a second would stop the run before it can say so
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C once the first evaluation game is in

    with pytest.raises(KeyboardInterrupt):
        run_training(plan, arena=arena, log=log)
    assert not [t for t in threading.enumerate() if t.name == "arena-eval" and t.is_alive()]
    time.sleep(2)
    stopped = next(i for i, line in enumerate(said) if line.startswith("interrupted"))
    assert said[stopped + 1 :] == [], said  # nothing after "interrupted ..."
    assert not any("failed" in line for line in said) and not crashed, (said, crashed)


def test_ctrl_c_during_the_final_choice_says_what_was_saved_and_nothing_more(arena, tmp_path, monkeypatch, capsys):
    """After "interrupted during the final evaluation ..." the CLI used to add "arena: aborted"."""
    from arena.cli import main
    from arena.training.evaluation import Evaluator

    def press_ctrl_c(self, workers=1):
        raise KeyboardInterrupt

    monkeypatch.setattr(Evaluator, "choose", press_ctrl_c)
    with pytest.raises(SystemExit) as info:
        main(["train", *TINY, "--name", "final", "--steps", str(2 * STEPS_PER_UPDATE), "--eval-every", "1",
              "--eval-games", "1", "-o", "points=1"])  # fmt: skip
    out, err = capsys.readouterr()
    assert info.value.code == 130, out + err
    assert "interrupted during the final evaluation: training is saved in" in out, out
    assert err.strip() == "", err


@pytest.mark.slow
def test_ctrl_c_while_evaluating_is_quiet_and_the_round_is_finished_on_resume(tmp_path):
    from arena.ratings.store import MatchStore
    from arena.training.snapshot import list_snapshots, load_snapshot

    folder = tmp_path / "experiments" / "stopped"
    args = ("train", *TINY, "--snapshot-every", "1", "--eval-every", "1", "--eval-games", "2", "-o", "points=3")
    args += ("--name", "stopped")
    env = dict(train_env(tmp_path), ARENA_INLINE_ROLLOUT="0")
    with open(tmp_path / "first.out", "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from arena.cli import main; main()", *args, "--steps", "1000000"],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env, start_new_session=True,
            preexec_fn=_hear_ctrl_c,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 240
            # the first game of the first round is in: the round has more to play
            while not (folder / "logs" / "eval.jsonl").exists():
                assert proc.poll() is None, (tmp_path / "first.out").read_text()
                assert time.monotonic() < deadline, "no evaluation game in 240 s"
                time.sleep(0.2)
            os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail("no exit 120 s after Ctrl-C; it said:\n" + (tmp_path / "first.out").read_text())
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    said = (tmp_path / "first.out").read_text()
    assert proc.returncode == 130, said
    assert "evaluation failed" not in said and "Traceback" not in said and "RuntimeError" not in said, said
    assert "rerun the same command to resume" in said, said
    assert "aborted" not in said, said  # the run said what happened; exit 130 says Ctrl-C
    snapshot = load_snapshot(list_snapshots(folder)[-1])
    assert snapshot.meta["counters"]["steps"] == snapshot.learner["updates"] * STEPS_PER_UPDATE
    rounds = json.loads((folder / "evaluations.json").read_text())["rounds"]
    cut = [r for r in rounds if r["status"] != "done"]
    assert len(cut) == 1 and 1 <= len(cut[0]["games"]) < 4, rounds
    played_before = {g["index"] for g in cut[0]["games"]}

    # resume: the cut round is finished, its played games are not played again
    target = snapshot.meta["counters"]["steps"] + STEPS_PER_UPDATE
    proc = run_arena(tmp_path, *args, "--steps", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"finishing the evaluation of {cut[0]['snapshot']}" in proc.stdout
    rounds = {r["snapshot"]: r for r in json.loads((folder / "evaluations.json").read_text())["rounds"]}
    finished = rounds[cut[0]["snapshot"]]
    own = [g for g in finished["games"] if not g.get("final")]  # the final games come after, when training ends
    assert finished["status"] == "done" and sorted(g["index"] for g in own) == [0, 1, 2, 3][: len(own)]
    # Ctrl-C can land after the round's last game and before the round is marked done: then the
    # resume has nothing left to play, only the marking; either way no played game is replayed.
    assert played_before <= {g["index"] for g in finished["games"]}
    games = MatchStore(tmp_path / "home" / "arena.db").games("stopped")
    uids = [g.uid for g in games]
    assert len(uids) == len(set(uids))
    mine = [g for g in games if g.a.endswith(cut[0]["snapshot"])]
    assert len(mine) == len(finished["games"])  # each game of the round once
    assert max(snapshot_steps(folder)) == target
