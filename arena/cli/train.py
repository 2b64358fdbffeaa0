"""``arena train --plugin NAME``: train an algorithm by self-play against an enemy pool."""

from __future__ import annotations

import json

import click

from arena.cli import backend_options, cli
from arena.text import counted
from arena.training.plan import DEFAULT_STEPS, EVAL_EVERY_STEPS, EVAL_GAMES, FINAL_GAMES, SNAPSHOT_EVERY


@cli.command("train", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--plugin", "-p", "plugin", default="rac", show_default=True, help="Algorithm to train (see `arena plugins`).")
@click.option("--env", "env_name", default="pong", show_default=True, help="Environment to train in.")
@click.option(
    "--enemies", default=None, metavar="FILE", help="Enemies file (JSON) [default: enemies/default.json: self + the game's CPU]."
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Hyperparameter, e.g. --set learning_rate=1e-4 (repeatable; --list-params shows them).",
)
@click.option(
    "--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Environment option, e.g. -o points=11 (repeatable)."
)
@click.option(
    "--name", default=None, help="Experiment name [default: the algorithm plus the parameters that differ from their defaults]."
)
@click.option("--tag", is_flag=True, help="Add a random tag to the name, for a second run with the same parameters.")
@click.option("--init", is_flag=True, help="Start fresh instead of resuming (refuses to overwrite snapshots without --force).")
@click.option("--force", is_flag=True, help="With --init: delete the experiment's snapshots, metrics and logs first.")
@click.option(
    "--steps",
    type=int,
    default=None,
    help=f"Total agent steps to train (counting those already trained) [default: {DEFAULT_STEPS:,}].",
)
@click.option("--workers", "-w", type=int, default=None, help="Rollout worker processes, one emulator each [default: cores].")
@click.option(
    "--eval-every",
    type=int,
    default=None,
    help=f"Updates between evaluation rounds (0: none) [default: about every {EVAL_EVERY_STEPS:,} agent steps].",
)
@click.option(
    "--eval-games", type=int, default=EVAL_GAMES, show_default=True, help="Evaluation games against each opponent per round."
)
@click.option(
    "--final-games",
    type=int,
    default=FINAL_GAMES,
    show_default=True,
    help="When training ends, the best rounds and the last play this many more validation games (against the CPU, else the first fixed enemy) to choose the published snapshot (0: none).",
)
@click.option(
    "--eval-frames",
    type=int,
    default=None,
    metavar="FRAMES",
    help="Emulator frames an evaluation round may spend; no game starts past it, and each game stops at its equal share (0: no cap) [default: 100,000].",
)
@click.option("--snapshot-every", type=int, default=SNAPSHOT_EVERY, show_default=True, help="Updates between snapshots.")
@click.option("--dry-run", is_flag=True, help="Print what would run (name, params, workers, enemies) and change nothing.")
@click.option("--list-params", is_flag=True, help="List the algorithm's hyperparameters with their defaults and exit.")
@click.option(
    "--record", is_flag=True, help="Keep each evaluation game's input movie (.bk2) in the experiment (see `arena replay`)."
)
@backend_options
@click.option(
    "--learner-gpus", type=click.FloatRange(min=0), default=0, show_default=True, metavar="N",
    help="With --backend ray: run the learner as a Ray actor asking for N GPUs, on a node that has them (0: in this process).",
)  # fmt: skip
@click.pass_context
def train_command(
    ctx,
    plugin,
    env_name,
    enemies,
    sets,
    options,
    name,
    tag,
    init,
    force,
    steps,
    workers,
    eval_every,
    eval_games,
    final_games,
    eval_frames,
    snapshot_every,
    dry_run,
    list_params,
    record,
    backend,
    address,
    learner_gpus,
) -> None:
    """Train an algorithm in an environment against the enemies in an enemies file.

    Rerunning the same command resumes from the experiment's newest snapshot.
    Every env option is also a flag: `--points 11` is `-o points=11`.

    \b
    Examples:
      arena train --plugin rac
      arena train --plugin ppo --set learning_rate=1e-4 --steps 500000
      arena train --plugin rac --enemies enemies/ladder.json --workers 4
      arena train --plugin rac --env melee --iso PATH
    """
    from arena.cli import make_console
    from arena.errors import ArenaError
    from arena.plugins.manager import get_arena

    arena = get_arena()
    console = make_console()
    if force and not init:
        raise ArenaError("--force only goes with --init (it deletes the experiment's snapshots)")
    if eval_frames is not None and eval_frames < 0:
        raise ArenaError(f"--eval-frames must be at least 0 (0: no cap), got {eval_frames}")
    if list_params:
        _list_params(console, arena, plugin)
        return
    from arena.backends import Backend

    backend = Backend(backend, address)
    if learner_gpus and backend.name != "ray":
        raise ArenaError("--learner-gpus runs the learner as a Ray actor: pass --backend ray with it")
    from arena.training.plan import plan_training
    from arena.training.run import run_training

    if ctx.args:  # env options given as flags, as in arena match
        from arena.cli.match import env_flags

        flags = env_flags(ctx.args, env_name, arena.envs.get(env_name), command="arena train", takes="only options")
        options = (*flags, *options)
    plan = plan_training(
        plugin, env=env_name, enemies=enemies, sets=sets, env_pairs=options, name=name, tag=tag, init=init, force=force,
        steps=steps, workers=workers, eval_every=eval_every, eval_games=eval_games, final_games=final_games,
        snapshot_every=snapshot_every, arena=arena,
        device_here=not learner_gpus,
    )  # fmt: skip
    from arena.training.evaluation import EVAL_FRAMES

    eval_frames = EVAL_FRAMES if eval_frames is None else eval_frames
    if dry_run:
        _show_plan(console, plan, arena, eval_frames)
        return
    backend.check(arena.envs.get(plan.env).ray_resources)  # one line before the experiment is written
    _train(console, plan, arena, run_training, eval_frames, record, backend, learner_gpus)


def _list_params(console, arena, plugin) -> None:
    from rich.table import Table

    from arena.errors import ArenaError
    from arena.text import suggest
    from arena.training.params import describe
    from arena.training.plan import algorithm_class

    if plugin not in arena.algorithms:
        raise ArenaError(
            f"unknown algorithm '{plugin}'{suggest(plugin, arena.algorithms.names())}; installed: {arena.algorithms.choices()}"
        )
    params_class = algorithm_class(arena, arena.algorithms.get(plugin), "params")
    table = Table(title=f"{plugin} hyperparameters (--set KEY=VALUE)", title_justify="left")
    for column in ("name", "type", "default", "names the experiment", "meaning"):
        table.add_column(column)
    for field_name, type_name, default, help_text, naming in describe(params_class):
        table.add_row(field_name, type_name, str(default), "yes" if naming else "no", help_text)
    console.print(table)


def _show_plan(console, plan, arena, eval_frames: int) -> None:
    from arena.training.evaluation import Evaluator
    from arena.training.params import to_dict

    what = (
        "resume from " + str(plan.resume_from)
        if plan.resume_from
        else ("start over (--init --force)" if plan.init and plan.existing_snapshots else "start")
    )
    console.print("[bold]dry run[/bold]: nothing is written")
    console.print(f"experiment: {plan.name}  ({plan.folder})  -> {what}", soft_wrap=True)
    per_game = Evaluator(plan, arena, print, frames=eval_frames).game_frames()
    cap = f"at most {eval_frames:,} frames a round, {per_game:,} a game" if per_game else "no frame cap"
    evaluation = (
        f"every {plan.eval_every} updates, {plan.eval_games} games an opponent, {cap}; "
        + (f"the best rounds play {plan.final_games} more at the end" if plan.final_games else "no final games")
        if plan.eval_every and plan.eval_games
        else "off"
    )
    console.print(
        f"algorithm: {plan.algorithm.name}   env: {plan.env}   workers: {plan.workers}   steps: {plan.steps:,}   evaluation: {evaluation}"
    )
    enemies = ", ".join(f"{e.label} (weight {e.weight:g})" for e in plan.pool.entries)
    console.print(f"enemies: {plan.enemies} ({plan.pool.sampling}): {enemies}", soft_wrap=True)
    console.print("params: " + json.dumps(to_dict(plan.params)), soft_wrap=True)
    import dataclasses

    console.print("env options: " + json.dumps(dataclasses.asdict(plan.env_options)), soft_wrap=True)


PLAIN_EVERY_S = 30.0  # piped output: a progress line at least this often...
PLAIN_EVERY_SHARE = 0.1  # ...and every tenth of the step budget


def _status(p) -> str:
    if p.note:
        return p.note
    rates = "  ".join(
        f"{label} {rate:.0%}/{games}" if rate is not None else f"{label} -/{games}"
        for label, (rate, games) in p.win_rates.items()
    )
    reward = f"{p.reward:+.2f}" if p.reward is not None else "-"
    if not any(games for _, games in p.win_rates.values()) and p.score is not None:
        return f"{p.fps:,.0f} frames/s  {p.games} games  reward {reward}  score {p.score:,.0f}"  # a one-player game
    return f"{p.fps:,.0f} frames/s  {counted(p.games, 'game')}  reward {reward}  wins {rates}"


class _Bar:
    """A terminal's progress bar: the steps, then the final evaluation's games."""

    def __init__(self, console, plan, start: int):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.table import Column
        from rich.text import Text

        class Bars(Progress):
            # Each unfinished task's status on a line of its own: beside the bar it squeezed the
            # counts and times to "..." on an 80- or 120-column terminal.
            def get_renderables(self):
                yield self.make_tasks_table(self.tasks)
                for task in self.tasks:
                    if task.fields.get("status") and not task.finished:
                        yield Text("  " + task.fields["status"], no_wrap=True, overflow="ellipsis")

        fixed = Column(no_wrap=True)
        self.progress = Bars(
            TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True, max_width=28, overflow="ellipsis")),
            BarColumn(bar_width=None, table_column=Column(min_width=4, max_width=24)),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} {task.fields[unit]}", table_column=fixed),
            TimeElapsedColumn(table_column=fixed),
            TimeRemainingColumn(table_column=fixed),
            console=console,
        )
        verb = "resuming" if plan.resume_from else "training"
        self.steps = self.progress.add_task(
            f"{verb} {plan.name}", total=plan.steps, completed=start, unit="steps", status="starting workers"
        )
        self.games = {}  # the final evaluation's bars, once they start
        self.status, self.eval = "starting workers", ""  # the steps' status, and a round's games in it

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def on_progress(self, p) -> None:
        self.status = _status(p)
        self.progress.update(self.steps, completed=p.steps, status=self.status + self.eval)

    def on_eval(self, e) -> None:
        if e.final:
            if e.snapshot not in self.games:  # the last snapshot's round, then the final choice
                what = e.snapshot if e.snapshot == "final choice" else "final evaluation"
                status = "" if e.snapshot == what else e.snapshot
                self.games[e.snapshot] = self.progress.add_task(what, total=e.total, unit="games", status=status)
            self.progress.update(self.games[e.snapshot], completed=e.done, total=e.total)
            return
        self.eval = f"  eval {e.done}/{e.total}" if e.done < e.total else ""
        self.progress.update(self.steps, status=self.status + self.eval)

    def log(self, message: str) -> None:
        self.progress.console.print(message, soft_wrap=True, highlight=False)


class _Lines:
    """Piped output has no bar: a plain progress line every tenth of the budget or half minute."""

    def __init__(self, console, plan, start: int):
        import time

        self.console, self.plan, self.clock = console, plan, time.monotonic
        self.last_time, self.last_steps = self.clock(), start

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def on_progress(self, p) -> None:
        total = self.plan.steps
        due = p.steps >= total or p.steps - self.last_steps >= PLAIN_EVERY_SHARE * total
        if p.note or not (due or self.clock() - self.last_time >= PLAIN_EVERY_S):
            return
        self.last_time, self.last_steps = self.clock(), p.steps
        self.log(f"{self.plan.name}: {p.steps:,}/{total:,} steps ({p.steps / total:.0%})  {_status(p)}")

    def on_eval(self, e) -> None:
        pass  # each evaluation game is a line of its own ("eval 2/4: ...")

    def log(self, message: str) -> None:
        self.console.print(message, soft_wrap=True, highlight=False)


def _train(
    console, plan, arena, run_training, eval_frames: int, record: bool = False, backend=None, learner_gpus: float = 0
) -> None:
    from functools import partial

    from arena.training.run import make_executor
    from arena.training.snapshot import snapshot_steps

    if learner_gpus:  # the learner on a Ray node with GPUs; it prints its own progress lines
        from arena.backends.ray import train_with_learner_actor

        result = train_with_learner_actor(
            plan, address=backend.address, gpus=learner_gpus, eval_frames=eval_frames, record=record,
            echo=lambda line: console.print(line, soft_wrap=True),
        )  # fmt: skip
    else:
        start = (snapshot_steps(plan.resume_from.name) or 0) if plan.resume_from else 0
        show = (_Bar if console.is_terminal else _Lines)(console, plan, start)
        with show:
            result = run_training(
                plan, on_progress=show.on_progress, on_eval=show.on_eval, log=show.log, arena=arena,
                eval_frames=eval_frames, record=record, executor_factory=partial(make_executor, backend=backend),
            )  # fmt: skip
    for line in summary(result, plan, arena):
        console.print(line, soft_wrap=True, highlight=False)


def summary(result, plan, arena) -> list[str]:
    """The lines a run ends with: what it trained, its final snapshot, and last, which snapshot
    ``experiments/NAME`` plays (the published one, when it is not the final one) and where it stands."""
    rate = result.frames_this_run / result.wall_s if result.wall_s else 0.0
    lines = [
        f"{result.name}: {result.steps:,} steps, {result.frames:,} frames, {counted(result.updates, 'update')}, {counted(result.games, 'game')}"
        + (f", {rate:,.0f} frames/s this run" if result.wall_s else "")
    ]
    published_other = result.published is not None and result.published != result.final_snapshot
    if result.final_snapshot:
        agent = result.final_snapshot if published_other else plan.folder
        lines.append(f"final snapshot: {result.final_snapshot}  (play it: {play_hint(plan, arena, agent)})")
    lines.append(f"leaderboard: arena leaderboard show {result.name}   curves: {result.folder / 'curves' / 'index.html'}")
    standing = list(result.standing)
    if published_other and standing:  # its first line names the published snapshot, which the folder plays
        standing[0] += f"  (play it: {play_hint(plan, arena)})"
    return lines + standing


def play_hint(plan, arena, agent=None) -> str:
    """An ``arena match`` command that plays ``agent`` (default: the experiment folder, which plays
    its published snapshot) in the run's env: against the game's CPU if the env has one (else
    ``random``), with ``--env`` for another env than pong and the options that say where things are
    on this machine (Melee's ``--iso``) as flags."""
    import dataclasses
    import shlex

    env_spec = arena.envs.get(plan.env)
    words = ["arena", "match", str(agent or plan.folder), "cpu" if env_spec.has_cpu else "random"]
    if plan.env != "pong":
        words += ["--env", plan.env]
    defaults = {f.name: f.default for f in dataclasses.fields(plan.env_options)}
    for name in env_spec.machine_options:
        value = getattr(plan.env_options, name, None)
        if name in defaults and value != defaults[name]:
            words += ["--" + name.replace("_", "-"), str(value)]
    return shlex.join(words)
