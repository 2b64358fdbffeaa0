"""Evaluation games: a training run's snapshots play the game's CPU, the pool and the previous
evaluated snapshot on validation seeds, and the best of them is published.

* **Seeds.** Game seeds come in two ranges, defined here and nowhere else: :data:`TEST_SEEDS` for
  the games that judge an agent (``arena match``, whose ``--seed`` defaults to 0, leaderboards,
  benchmarks) and :data:`VALIDATION_SEEDS` for the evaluation games that choose it during
  training, so a published agent is never chosen on the games it is then judged on.
* **Rounds.** A round plays in one background process of its own, niced (:data:`EVAL_NICE`) and
  one game at a time, so the rollout workers keep their cores; it starts no new game once its
  games have spent its frame budget (``--eval-frames``, default :data:`EVAL_FRAMES`), and each
  game is cut off at its share of that budget and scored as it stands, so one endless rally
  cannot spend a whole round. Every game goes to the leaderboard named after the experiment and
  to the round's entry in ``evaluations.json``; a round cut short by Ctrl-C or a kill is finished
  on resume, without playing its finished games again.
* **Publishing.** A snapshot's validation score is its mean score difference against the round's
  reference (the game's CPU, else the pool's first fixed enemy). A round's few games are too
  noisy to choose on alone, so when training ends the best :data:`FINALISTS` rounds and the last
  one play ``--final-games`` more games against the reference, all on the same seeds of their
  own, and the finalist with the best score over all its games is published. ``published.json``
  names it, and ``experiments/NAME`` as an agent plays it
  (:func:`arena.training.snapshot.find_snapshot`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena.errors import ArenaError, one_line
from arena.games.replay import CannotRecord, replay_path
from arena.text import counted
from arena.training.plan import TrainPlan
from arena.training.snapshot import PUBLISHED, snapshot_steps

if TYPE_CHECKING:
    from arena.games.play import GameTask
    from arena.games.record import GameRecord
    from arena.plugins.manager import Arena

TEST_SEEDS = range(0, 1_000_000)
"""Seeds of the games that judge an agent: ``arena match`` (``--seed``, default 0), leaderboards, benchmarks."""

VALIDATION_SEEDS = range(1_000_000, 2_000_000)
"""Seeds of evaluation games during training, which choose the published snapshot."""

EVAL_FRAMES = 100_000
"""A round's default frame budget: about ten games of Pong to 21, 30-60 s of one core."""

FINALISTS = 3
"""The rounds with the best validation scores that play the final games (the last round plays them too)."""

FINAL_SEEDS = VALIDATION_SEEDS.start + 500_000  # the final games' seeds: apart from the rounds' own

EVAL_NICE = 10  # the evaluation process yields the cores to the rollout workers and the learner

ROUNDS = "evaluations.json"

# What bench/train_pong.py measured (bench/README.md), games to 21 at the env's defaults: on five
# held-out training seeds against the CPU alone, the default rac's snapshots were first above
# Pong's CPU on the mean at 1M frames and all five were ahead at 2M (+0.4 to +13.5). ppo's mean
# never passed it in 2M frames (two of the five seeds did), so it has no figure. Only used to say
# how far a run is from that figure.
MIN_GAMES_FOR_INTERVAL = 3
BEATS_CPU_AFTER = {("rac", "pong"): 2_000_000}


@dataclass(frozen=True)
class EvalProgress:
    """Where a round stands: ``done`` of ``total`` games of ``snapshot`` (``final``: the run's last)."""

    snapshot: str
    done: int
    total: int
    final: bool = False


class Rounds:
    """``evaluations.json``: every evaluated snapshot's round (its games and validation score), and
    ``published.json``, the best one. Rewritten whole and atomically; small."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / ROUNDS
        self.lock = threading.Lock()
        self.rounds: list[dict[str, Any]] = []
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            self.rounds = [r for r in loaded.get("rounds", []) if isinstance(r, dict) and "snapshot" in r]
        except (OSError, ValueError, AttributeError):
            pass  # none yet, or a file from before; rounds are a record, training never depends on them

    def get(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.rounds if r["snapshot"] == name), None)

    def put(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.rounds = [r for r in self.rounds if r["snapshot"] != entry["snapshot"]] + [entry]
            self.rounds.sort(key=lambda r: r["snapshot"])
            self._write()

    def save(self) -> None:
        with self.lock:
            self._write()

    def trim(self, steps: int) -> None:
        """Resuming from ``steps``: rounds of later snapshots are gone (those files are rewritten)."""
        keep = [r for r in self.rounds if (snapshot_steps(r["snapshot"]) or 0) <= steps]
        if len(keep) != len(self.rounds):
            with self.lock:
                self.rounds = keep
                self._write()
            self.publish()

    def _write(self) -> None:
        _write_atomic(self.path, json.dumps({"rounds": self.rounds}, indent=1) + "\n")

    def unfinished(self) -> list[dict[str, Any]]:
        return [r for r in self.rounds if r.get("status") == "playing"]

    def scored(self) -> list[dict[str, Any]]:
        """Finished rounds with at least one validation game, oldest first."""
        return [r for r in self.rounds if r.get("status") == "done" and (r.get("validation") or {}).get("games")]

    def finalists(self) -> list[dict[str, Any]]:
        """Scored rounds that played the final games, oldest first."""
        return [r for r in self.scored() if r.get("finalist")]

    def best(self) -> dict[str, Any] | None:
        """The round with the best validation score, among the finalists once there are any (their
        scores stand on more games); a tie goes to the newer snapshot."""
        scored = self.finalists() or self.scored()
        return max(scored, key=lambda r: (r["validation"]["mean_diff"], r["snapshot"])) if scored else None

    def contenders(self) -> list[dict[str, Any]]:
        """Who plays the final games: the :data:`FINALISTS` best rounds on their own games, and
        the last one; none when there is nothing to choose between."""
        scored = self.scored()
        if len(scored) < 2:
            return []
        ranked = sorted(scored, key=lambda r: (_round_score(r), r["snapshot"]), reverse=True)
        chosen = {r["snapshot"] for r in ranked[:FINALISTS]} | {scored[-1]["snapshot"]}
        return [r for r in scored if r["snapshot"] in chosen]

    def publish(self) -> dict[str, Any] | None:
        """Point ``published.json`` at the best validated snapshot (removed when none is); the pointer."""
        best = self.best()
        path = self.folder / PUBLISHED
        if best is None:
            path.unlink(missing_ok=True)
            return None
        pointer = {
            "snapshot": best["snapshot"],
            "steps": best.get("steps"),
            "chosen_by": "final games" if best.get("finalist") else "validation",
            "validation": best["validation"],
            "evaluated": len(self.scored()),
        }
        try:
            if json.loads(path.read_text(encoding="utf-8")) == pointer:
                return pointer
        except (OSError, ValueError):
            pass
        _write_atomic(path, json.dumps(pointer, indent=1) + "\n")
        return pointer


def validation(games: list[dict[str, Any]], reference: str | None) -> dict[str, Any]:
    """The validation score of a round's games: against ``reference``, finished games only (a game
    cut off at its frame cap counts as it stood)."""
    from arena.games.match import mean_ci95

    played = [g for g in games if g["b"] == reference and g["status"] == "ok"]
    mean, ci = mean_ci95([g["score_a"] - g["score_b"] for g in played])
    return {
        "against": reference,
        "games": len(played),
        "wins": sum(g["winner"] == "a" for g in played),
        "draws": sum(g["winner"] == "draw" for g in played),
        "cut_off": sum(bool(g.get("truncated")) for g in played),
        "mean_diff": mean,
        "ci95": list(ci) if ci else None,
    }


def _round_score(entry: dict[str, Any]) -> float:
    """A round's score on its own games (the final games left out): how finalists are picked."""
    own = [g for g in entry["games"] if not g.get("final")]
    return validation(own, entry["reference"])["mean_diff"] if own else entry["validation"]["mean_diff"]


class Evaluator:
    """Evaluation rounds in a background process, recorded in the experiment's leaderboard.

    One round at a time: if the previous round is still playing, the new one is skipped (and
    said so) rather than queued, so evaluation never holds training back.
    """

    def __init__(
        self,
        plan: TrainPlan,
        arena: Arena,
        log: Callable[[str], None],
        *,
        frames: int = EVAL_FRAMES,
        on_progress: Callable[[EvalProgress], None] | None = None,
        record: bool = False,
    ):
        self.plan = plan
        self.record = record  # keep each game's input movie beside the evaluation log
        self.arena = arena
        self.log = log
        self.frames = frames  # 0: no budget
        self.on_progress = on_progress
        self.rounds = Rounds(plan.folder)
        self.thread: threading.Thread | None = None
        self.process: Any = None
        self.stopping = threading.Event()
        self.results: list[GameRecord] = []
        self.previous = self._last_evaluated()  # each round plays it too

    def trim(self, steps: int) -> None:
        """Resuming from ``steps``: forget the rounds of later snapshots (those files are rewritten,
        or were never kept), so no round plays one of them as the previous snapshot."""
        self.rounds.trim(steps)
        self.previous = self._last_evaluated()

    def _last_evaluated(self) -> str | None:
        last = self.rounds.rounds[-1] if self.rounds.rounds else None
        return last.get("agent") if last else None

    def opponents(self) -> list[str]:
        env_spec = self.arena.envs.get(self.plan.env)
        out = []
        if env_spec.has_cpu:
            level = env_spec.check_cpu_level(None)
            out.append("cpu" if not env_spec.cpu_levels else f"cpu:{level}")
        for entry in self.plan.pool.entries:
            if (
                entry.spec != "self"
                and entry.spec not in out
                and not (entry.spec == "cpu" and not env_spec.cpu_levels and "cpu" in out)
            ):
                out.append(entry.spec)
        return out

    def evaluated(self, snapshot: Path) -> bool:
        """``snapshot`` has a round already (the final save rewrites the last evaluated one)."""
        entry = self.rounds.get(snapshot.name)
        return entry is not None and entry.get("agent") == _display_path(snapshot)

    def submit(self, snapshot: Path, counters: dict[str, Any] | None = None, *, wait: bool = False, final: bool = False) -> bool:
        """Start a round for ``snapshot`` (``wait``: after the one playing, and to its end); whether one started."""
        if self.plan.eval_games == 0 or self.evaluated(snapshot):
            return False
        if self.busy():
            if not wait:
                self.log(f"evaluation of {snapshot.name} skipped: the previous round is still playing")
                return False
            self.wait()
        from arena.training.snapshot import file_hash

        me = _display_path(snapshot)
        opponents = self.opponents()
        entry = {
            "snapshot": snapshot.name,
            "agent": me,
            # The hash makes the games' uids unique per weights: after --init --force the same
            # snapshot paths come back with other weights, and their games must not be dropped as repeats.
            "hash": file_hash(snapshot),
            "steps": snapshot_steps(snapshot.name),
            **{key: (counters or {}).get(key) for key in ("updates", "frames")},
            "reference": opponents[0] if opponents else None,
            "opponents": opponents + ([self.previous] if self.previous and self.previous != me else []),
            "status": "playing",
            "games": [],
        }
        self.rounds.put(entry)
        self.previous = me
        self._start(entry, final, wait)
        return True

    def replay(self, wait: bool = False) -> None:
        """Finish the rounds a kill or Ctrl-C cut short (their finished games stay as they are)."""
        from arena.training.snapshot import file_hash

        for entry in self.rounds.unfinished():
            path = self._snapshot_file(entry)
            if not path.is_file():
                continue
            self.wait()  # one round at a time (and the playing one saves the rounds file)
            if file_hash(path) != entry.get("hash"):  # rewritten since: its games were other weights'
                entry.update(hash=file_hash(path), games=[])
            self.log(f"finishing the evaluation of {entry['snapshot']} that was cut short ({len(entry['games'])} games played)")
            self._start(entry, False, wait)

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self) -> None:
        while self.busy():
            self.thread.join(0.2)  # a short join keeps Ctrl-C working

    def cancel(self) -> None:
        """Stop the round playing now, quietly: it stays unfinished and is finished on resume."""
        self.stopping.set()
        process = self.process
        if process is not None and process.is_alive():
            process.terminate()
        if self.thread is not None:
            self.thread.join(5)

    def _start(self, entry: dict[str, Any], final: bool, wait: bool) -> None:
        self.thread = threading.Thread(target=self._play, args=(entry, final), daemon=True, name="arena-eval")
        self.thread.start()
        if wait:
            self.wait()

    def game_frames(self) -> int | None:
        """Each evaluation game's frame cap: an equal share of the round's budget (None: no budget).
        Every round uses the same cap, the first (with no previous snapshot) included, so
        validation scores compare."""
        if not self.frames:
            return None
        return max(1, self.frames // max(1, self.plan.eval_games * (len(self.opponents()) + 1)))

    def _tasks(self, entry: dict[str, Any]) -> list[GameTask]:
        from arena.games.play import plan_games

        tasks: list[GameTask] = []
        me, cap = entry["agent"], self.game_frames()
        for opponent in entry["opponents"]:
            games = plan_games(
                self.arena, me, opponent, self.plan.env, self.plan.eval_games, VALIDATION_SEEDS.start, self.plan.env_options
            )
            tasks += [self._task(task, entry, opponent, task.index, len(tasks) + i, cap) for i, task in enumerate(games)]
        return tasks

    def _final_tasks(self, entry: dict[str, Any]) -> list[GameTask]:
        """A finalist's final games against the reference, the ones it has not played yet."""
        from arena.games.play import plan_games

        me, reference, cap = entry["agent"], entry["reference"], self.game_frames()
        done = {game["index"] for game in entry["games"]}
        games = plan_games(self.arena, me, reference, self.plan.env, self.plan.final_games, FINAL_SEEDS, self.plan.env_options)
        first = FINAL_SEEDS - VALIDATION_SEEDS.start  # apart from the rounds' own game indices
        return [
            self._task(task, entry, reference, f"final{i}", first + i, cap)
            for i, task in enumerate(games)
            if first + i not in done
        ]

    def _task(self, task: GameTask, entry: dict[str, Any], opponent: str, game: Any, index: int, cap: int | None) -> GameTask:
        """One game of ``entry``'s snapshot, its uid naming the weights (their hash) and the game, so
        a resume finds what was played and a recorded replay finds its game."""
        uid = f"train:{self.plan.name}:{entry['agent']}@{entry['hash']}:{opponent}:{game}"
        replay = str(replay_path(self._log_path(), uid)) if self.record else None
        return dataclasses.replace(task, index=index, uid=uid, replay=replay, max_frames=cap)

    def choose(self, workers: int = 1) -> None:
        """The final choice: the contenders (:meth:`Rounds.contenders`) play their final games in
        ``workers`` processes (training is over: the cores are free), and the best is published."""
        from arena.games.play import run_games
        from arena.ratings.recorder import Recorder
        from arena.ratings.store import MatchStore

        if not self.plan.final_games:
            return
        contenders = [entry for entry in self.rounds.contenders() if self._snapshot_file(entry).is_file()]
        tasks = {entry["snapshot"]: self._final_tasks(entry) for entry in contenders}
        todo = [task for entry in contenders for task in tasks[entry["snapshot"]]]
        for entry in contenders:
            entry["finalist"] = True
        if not todo:
            self.rounds.save()
            return
        by_agent = {entry["agent"]: entry for entry in contenders}
        total, done = len(todo), 0
        self.log(
            f"final choice: {counted(len(contenders), 'snapshot')} play {counted(self.plan.final_games, 'more game')} each "
            f"against {contenders[0]['reference']}"
        )
        self._report("final choice", 0, total, True)
        with MatchStore() as store, Recorder(self.plan.name, self._log_path(), store, arena=self.arena) as recorder:
            for record in run_games(todo, workers, self.arena):
                record = recorder.write(record)
                self.results.append(record)
                entry = by_agent[record.a]
                entry["games"].append({**_game(record), "final": True})
                entry["validation"] = validation(entry["games"], entry["reference"])
                self.rounds.save()
                done += 1
                if record.ok:
                    self.log(f"final {done}/{total}: {record.a} {record.score_a}-{record.score_b} {record.b}")
                else:
                    self.log(f"final {done}/{total}: {record.a} vs {record.b}: error {record.error}")
                self._report("final choice", done, total, True)
        for entry in contenders:
            score = entry["validation"]
            self.log(f"final choice: {entry['snapshot']} {score['mean_diff']:+.1f} over {counted(score['games'], 'game')}")

    def _snapshot_file(self, entry: dict[str, Any]) -> Path:
        return self.plan.folder / "snapshots" / entry["snapshot"]

    def _log_path(self) -> Path:
        """The evaluation games' log; with ``record`` their movies are in ``eval.replays/`` beside it."""
        return self.plan.folder / "logs" / "eval.jsonl"

    def _play(self, entry: dict[str, Any], final: bool) -> None:
        from arena.ratings.recorder import Recorder
        from arena.ratings.store import MatchStore

        name = entry["snapshot"]
        try:
            tasks = self._tasks(entry)
            done = {game["index"] for game in entry["games"]}
            todo = [task for task in tasks if task.index not in done]
            spent = sum(game.get("frames") or 0 for game in entry["games"])
            budget = self.frames - spent if self.frames else None
            self._report(name, len(done), len(tasks), final)
            if todo and (budget is None or budget > 0):
                log_path = self._log_path()
                with MatchStore() as store, Recorder(self.plan.name, log_path, store, arena=self.arena) as recorder:
                    for record in self._games(todo, budget):
                        record = recorder.write(record)
                        self.results.append(record)
                        entry["games"].append(_game(record))
                        spent += record.frames or 0
                        self.rounds.save()
                        played = len(entry["games"])
                        if record.ok:
                            self.log(f"eval {played}/{len(tasks)}: {record.a} {record.score_a}-{record.score_b} {record.b}")
                        else:
                            self.log(f"eval {played}/{len(tasks)}: {record.a} vs {record.b}: error {record.error}")
                        self._report(name, played, len(tasks), final)
            if self.stopping.is_set():
                return
            if len(entry["games"]) < len(tasks):
                entry["cut"] = True
                self.log(
                    f"evaluation of {name}: its frame budget ({self.frames:,} frames, --eval-frames) was spent "
                    f"after {len(entry['games'])} of {len(tasks)} games"
                )
            entry.update(status="done", frames_played=spent, validation=validation(entry["games"], entry["reference"]))
            self.rounds.save()
            pointer = self.rounds.publish()
            score = entry["validation"]
            if score["games"] and pointer is not None:
                self.log(
                    f"validation score of {name}: {score['mean_diff']:+.1f} against {score['against']} over "
                    f"{counted(score['games'], 'game')}; published: {pointer['snapshot']}"
                )
        except Exception as exc:  # evaluation must never take training down
            if not self.stopping.is_set():
                self.log(f"evaluation of {name} failed: {type(exc).__name__}: {one_line(exc)}")
                entry.update(status="failed", error=one_line(exc))  # not replayed: it would fail again
                self.rounds.save()

    def _games(self, tasks: list[GameTask], budget: int | None):
        """Play ``tasks`` in a niced process of their own; yield each record as it comes."""
        import multiprocessing

        from arena.plugins.manager import share_warnings

        share_warnings()  # the process loads the plugins again: no second copy of this process's warnings
        context = multiprocessing.get_context("spawn")
        outbox = context.Queue()
        process = context.Process(target=_play_games, args=(tasks, budget, outbox), daemon=True, name="arena-eval")
        self.process = process
        process.start()
        try:
            while not self.stopping.is_set():
                try:
                    kind, payload = outbox.get(timeout=0.2)
                except queue.Empty:
                    if not process.is_alive():
                        try:  # what it put just before it ended
                            kind, payload = outbox.get(timeout=0.5)
                        except queue.Empty:
                            if not self.stopping.is_set():
                                raise RuntimeError(f"the evaluation process ended (exit code {process.exitcode})") from None
                            return
                    else:
                        continue
                if kind == "done" or self.stopping.is_set():
                    return
                if kind == "error":  # --record with an env that cannot record
                    raise ArenaError(payload)
                yield payload
        finally:
            if process.is_alive():
                process.terminate()
            process.join(2)
            outbox.close()
            self.process = None

    def _report(self, name: str, done: int, total: int, final: bool) -> None:
        if self.on_progress is not None and not self.stopping.is_set():
            self.on_progress(EvalProgress(name, done, total, final))


def _game(record: GameRecord) -> dict[str, Any]:
    """What a round keeps of a game: enough to score it and to know it was played."""
    return {
        "index": record.game,
        "b": record.b,
        "seed": record.seed,
        "status": record.status,
        "score_a": record.score_a,
        "score_b": record.score_b,
        "winner": record.winner,
        "frames": record.frames,
        "truncated": record.truncated,
    }


def _play_games(tasks: list[GameTask], budget: int | None, outbox: Any) -> None:
    """The evaluation process: one game at a time, niced, until the tasks or the budget run out."""
    import multiprocessing

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the learner's to handle
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        os.nice(EVAL_NICE)
    except (AttributeError, OSError):
        pass
    from arena.games.play import GamePool
    from arena.plugins.manager import get_arena

    spent = 0
    with GamePool(1, get_arena(), processes=False) as pool:
        for task in tasks:
            if budget is not None and spent >= budget:
                break
            parent = multiprocessing.parent_process()
            if parent is not None and not parent.is_alive():
                return  # the learner was killed: nobody reads these games
            pool.submit(task)
            try:
                record = pool.next_result()
            except CannotRecord as exc:
                outbox.put(("error", str(exc)))
                return
            spent += record.frames or 0
            outbox.put(("game", record))
    outbox.put(("done", spent))


# -- where the published agent stands ---------------------------------------------------------------


def standing(plan: TrainPlan, rounds: Rounds, frames: int, steps: int | None = None) -> list[str]:
    """A few plain lines: which snapshot is published, how it did against the reference on its
    validation games, and what it would take to beat it, from the numbers alone. ``frames`` and
    ``steps``: what the experiment has trained, all runs of it (``steps`` default: ``plan.steps``)."""
    best = rounds.best()
    env = f" --env {plan.env}" if plan.env != "pong" else ""
    if best is None:
        why = (
            "no evaluation games"
            if not plan.eval_every or not plan.eval_games
            else "no validation games against a fixed opponent"
        )
        return [f"published: the newest snapshot ({why} chose one)"]
    v, scored, finalists = best["validation"], rounds.scored(), rounds.finalists()
    reference = v["against"]
    among = f"{len(finalists)} finalists, of " if best.get("finalist") else ""
    lines = [
        f"published: {_display_path(plan.folder / 'snapshots' / best['snapshot'])} "
        f"(the best validation score of {among}{len(scored)} evaluated snapshot{'s' * (len(scored) != 1)})"
    ]
    # Two games that ended alike give a zero-width t-interval: a claim two games cannot carry.
    interval = v["ci95"] if v["ci95"] and v["games"] >= MIN_GAMES_FOR_INTERVAL else None
    ci = (
        f", 95% CI [{interval[0]:+.1f}, {interval[1]:+.1f}]"
        if interval
        else f" ({v['games']} game{'s' * (v['games'] != 1)}: too few for an interval)"
    )
    lines.append(
        f"against {reference}: won {v['wins']} of {v['games']} validation games, mean score difference {v['mean_diff']:+.1f}{ci}"
    )
    low, high = interval if interval else (v["mean_diff"], v["mean_diff"])
    check = f"`arena match {_display_path(plan.folder)} {reference} --games 10{env}` measures it on test seeds"
    if interval and low > 0:
        lines.append(f"it beats {reference} on these games (chosen as the best of {len(scored)}, so {check})")
        return lines
    games = v["games"]
    if interval and high < 0:
        verdict = f"it loses to {reference}"
    elif v["wins"] == 0 and v["draws"] == 0:
        which = {1: "its one validation game", 2: "both validation games"}.get(games, f"all {games} validation games")
        verdict = f"it lost {which} against {reference}"
    elif games == 1:
        verdict = f"it {'won' if v['wins'] else 'drew'} its one validation game against {reference}, too few to say more"
    else:
        verdict = f"it is not clearly better than {reference} on {games} games"
    bench_protocol = reference.startswith("cpu") and plan.env_options == type(plan.env_options)()
    target = BEATS_CPU_AFTER.get((plan.algorithm.name, plan.env)) if bench_protocol else None
    if target and frames < target:
        # Steps per frame as the experiment trained them (both seats train against the latest
        # self), at least one seat's: the budget that reaches the target, rounded up to two figures.
        trained = plan.steps if steps is None else steps
        steps = max(trained * target / max(frames, 1), target / max(1, plan.timing.act_every))
        scale = 10 ** max(0, len(str(int(steps))) - 2)
        steps = int(math.ceil(steps / scale) * scale)
        lines.append(
            f"{verdict}. To beat it, train longer: bench/train_pong.py's {plan.algorithm.name} with default parameters beat "
            f"the CPU after {target:,} frames and this run has trained {frames:,}; rerun the same command with "
            f"--steps {steps} to go on"
        )
        return lines
    first, last = scored[0], scored[-1]
    rise = last["validation"]["mean_diff"] - first["validation"]["mean_diff"]
    trend = (
        f"its validation score went from {first['validation']['mean_diff']:+.1f} at step {first['steps']:,} "
        f"to {last['validation']['mean_diff']:+.1f} at {last['steps']:,}"
    )
    if len(scored) < 3:
        lines.append(
            f"{verdict}; {counted(len(scored), 'evaluated snapshot')} {'shows' if len(scored) == 1 else 'show'} no trend yet: "
            "train longer (a larger --steps) and compare"
        )
    elif rise > 0:
        lines.append(f"{verdict}; {trend}: train longer (a larger --steps) while it rises")
    else:
        lines.append(f"{verdict}; {trend}: more steps alone may not help, try other parameters (--list-params)")
    return lines


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
