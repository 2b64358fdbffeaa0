"""``arena match A B``: play a series of games between two agents."""

from __future__ import annotations

from dataclasses import asdict

import click

from arena.cli import backend_options, cli


def _fmt(x: float) -> str:
    return f"{x:+.2f}"


def env_flags(
    args: list[str], env_name: str, env_spec, *, command: str = "arena match", takes: str = "two agents, then options"
) -> list[str]:
    """Turn leftover ``--key value`` / ``--key=value`` flags into env options (``key=value``).

    Every env option doubles as a flag, so ``--env melee --iso PATH --cpu-char falcon`` works
    like ``-o iso=PATH -o cpu_char=falcon`` (in ``command``, which ``takes`` what errors say).
    """
    import dataclasses

    from arena.errors import ArenaError

    names = {f.name for f in dataclasses.fields(env_spec.options)}
    flags = ", ".join("--" + n.replace("_", "-") for n in sorted(names))
    out, rest = [], list(args)
    while rest:
        token = rest.pop(0)
        if not token.startswith("--"):
            raise ArenaError(f"unexpected argument '{token}'; {command} takes {takes}")
        key, eq, value = token[2:].partition("=")
        option = key.replace("-", "_")
        if option not in names:
            raise ArenaError(f"no such option '{token.split('=')[0]}' for {command} or env '{env_name}'; env options: {flags}")
        if not eq:
            if not rest or rest[0].startswith("--"):
                raise ArenaError(f"option '{token}' of env '{env_name}' needs a value: {token} VALUE")
            value = rest.pop(0)
        out.append(f"{option}={value}")
    return out


@cli.command("match", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("a")
@click.argument("b")
@click.option("--env", "env_name", default="pong", show_default=True, help="Environment to play in (see `arena plugins`).")
@click.option("--games", "-n", type=int, default=2, show_default=True, help="Number of games; sides alternate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of game 0; game i uses seed + i.")
@click.option("--workers", "-w", type=int, default=None, help="Parallel worker processes, one emulator each [default: cores].")
@click.option(
    "--option", "-o", "options", multiple=True, metavar="KEY=VALUE", help="Environment option, e.g. -o act_every=4 (repeatable)."
)
@click.option(
    "--leaderboard", "leaderboard", default=None, help="Record the games in this leaderboard [default: the env's own, e.g. pong]."
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Match database [default: $ARENA_DB or $ARENA_HOME/arena.db].",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON-lines game log [default: $ARENA_HOME/matches/...].",
)
@click.option(
    "--record", is_flag=True, help="Keep each game's input movie (.bk2) beside the log, in LOG.replays/ (see `arena replay`)."
)
@click.pass_context
@backend_options
def match_command(
    ctx, a, b, env_name, games, seed, workers, options, leaderboard, db_path, log_path, record, backend, address
) -> None:
    """Play GAMES games of agent A against agent B.

    An agent is `cpu` or `cpu:LEVEL` (the game's own computer player), `random`,
    `bot:NAME:LEVEL` (a scripted bot such as bot:tracker:7), or what a plugin adds.
    Every env option is also a flag: `--points 11` is `-o points=11`.

    \b
    Examples:
      arena match bot:tracker:9 cpu --games 4
      arena match bot:tracker:3 bot:tracker:8 --games 6 --points 11
      arena match random cpu:9 --env melee --iso PATH --cpu-char falcon
      arena match bot:tracker:3 bot:tracker:8 --points 3 --record
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Table

    from arena.backends import Backend
    from arena.cli import make_console
    from arena.games.match import default_log_path, plan_match, run_match
    from arena.plugins.manager import get_arena
    from arena.ratings.recorder import Recorder
    from arena.ratings.store import MatchStore
    from arena.text import counted

    arena = get_arena()
    env_spec = arena.envs.get(env_name)
    options = [*env_flags(ctx.args, env_name, env_spec), *options]
    plan = plan_match(
        a, b, env=env_name, games=games, seed=seed, workers=workers,
        options=env_spec.parse_options(options), arena=arena,
    )  # fmt: skip
    backend = Backend(backend, address)
    backend.check(env_spec.ray_resources)  # no Ray, an unreachable cluster: one line before anything is written
    store = MatchStore(db_path)  # opened before any game: a bad database fails fast
    recorder = Recorder(leaderboard or env_name, log_path or default_log_path(a, b), store, arena=arena)
    recorder.check(env_name, asdict(plan.tasks[0].options))  # a leaderboard's definition may refuse the games
    console = make_console()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,  # piped: the per-game lines are the progress
    )

    def show(record) -> None:
        bar_task = progress.tasks[0].id
        progress.advance(bar_task)
        sides = record.sides
        left, right = env_spec.seats
        head = f"game {record.game:>3}  seed {record.seed:<6}"
        if not record.ok:
            progress.console.print(f"{head} [red]error[/red] {record.error}", soft_wrap=True)
            return
        cut = " (frame cap)" if record.truncated else ""
        progress.console.print(
            f"{head} {left} {sides[left]} [bold]{record.score[left]}[/bold] - "
            f"[bold]{record.score[right]}[/bold] {sides[right]} {right}"
            f"   {record.frames:,} frames, {record.wall_s:.1f}s{cut}",
            soft_wrap=True,
        )

    with progress, recorder:
        progress.add_task(f"{a} vs {b}", total=games)
        summary = run_match(plan, recorder=recorder, arena=arena, on_game=show, record=record, backend=backend)

    played = summary.games - summary.errors
    console.print(
        f"{a} vs {b} on {env_name}: {counted(summary.games, 'game')}", soft_wrap=True
    )  # a title would wrap at the table's width
    table = Table()
    for column in ("agent", "wins", "win rate"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    rows = (a, b) if a != b else (f"{a} (first)", f"{b} (second)")  # an agent against itself: two rows
    for name, wins in zip(rows, (summary.wins_a, summary.wins_b)):
        table.add_row(name, str(wins), f"{wins / played:.0%}" if played else "-")
    console.print(table)
    console.print(f"draws: {summary.draws}   errors: {summary.errors}")
    if summary.mean_diff is None:
        console.print("no game finished")
    else:
        ci = f", 95% CI [{_fmt(summary.ci95[0])}, {_fmt(summary.ci95[1])}]" if summary.ci95 else " (one game: no interval)"
        console.print(f"mean score difference ({a} - {b}): {_fmt(summary.mean_diff)}{ci}", soft_wrap=True)
    rate = summary.frames / summary.wall_s if summary.wall_s else 0.0
    console.print(f"{summary.frames:,} frames in {summary.wall_s:.1f}s ({rate:,.0f} frames/s)")
    console.print(f"log: {summary.log_path}", soft_wrap=True)
    if record:
        from arena.games.replay import replays_folder

        kept = sum(r.replay is not None for r in summary.records)
        console.print(f"replays: {kept} in {replays_folder(summary.log_path)} (watch one: arena replay FILE)", soft_wrap=True)
    console.print(f"recorded in leaderboard '{leaderboard or env_name}' of {store.path}", soft_wrap=True)
    if summary.errors:
        raise SystemExit(1)
