"""``arena leaderboard``: run, show, report and recompute leaderboards."""

from __future__ import annotations

import os

import click

from arena.cli import backend_options, cli

DB_OPTION = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), default=None,
    help="Match database [default: $ARENA_DB or $ARENA_HOME/arena.db].",
)  # fmt: skip


@cli.group("leaderboard")
def leaderboard_group() -> None:
    """Rate agents against each other: a durable match log and TrueSkill ratings."""


class _Board:
    """What every view of a leaderboard reads: its games, its entrants (the definition's, then the
    guests the log adds) and the pins its stored ratings were computed with. Ratings come from
    the games and those pins only, so every view prints what matchmaking reads."""

    def __init__(self, store, name: str):
        from arena.ratings.leaderboard import find_definition

        self.name = name
        self.definition = find_definition(name, required=False)
        self.games = store.games(name)
        listed = list(self.definition.entrants) if self.definition else []
        self.entrants = list(dict.fromkeys([*listed, *(who for g in self.games for who in (g.a, g.b))]))
        self.guests = set(self.entrants) - set(listed) if self.definition else set()
        self.pins = store.pins(name)

    def standings(self):
        from arena.ratings.standings import standings

        return standings(self.games, self.entrants, pinned=self.pins)

    def pins_changed(self) -> str:
        """A note when the definition's pins differ from the ones the stored ratings use."""
        if self.definition is None or self.definition.pinned == self.pins:
            return ""
        return f"the pins in {self.definition.path} changed since the last game was recorded; `arena leaderboard recompute {self.name}` applies them"


def _open(db_path, name: str, *, must_exist: bool = True):
    from arena.errors import ArenaError
    from arena.paths import db_path as default_db_path
    from arena.ratings.leaderboard import available
    from arena.ratings.store import MatchStore

    path = db_path or default_db_path()
    if must_exist and not os.path.exists(path):
        raise ArenaError(
            f"leaderboard '{name}' has no games: no match database at {path} yet; run `arena leaderboard run {name}` or point --db at one"
        )
    store = MatchStore(path, create=not must_exist)
    if must_exist and name not in store.leaderboards():
        known = sorted(set(store.leaderboards()) | set(available()))
        store.close()
        raise ArenaError(f"leaderboard '{name}' has no games in {store.path}; known: {', '.join(known) or '(none)'}")
    return store


@leaderboard_group.command("run")
@click.argument("name")
@click.option("--games", "-n", type=int, default=None, help="Play this many more games.")
@click.option("--until-sigma", type=float, default=None, help="Play until every unpinned entrant's sigma is at most S.")
@click.option("--workers", "-w", type=int, default=None, help="Games at once [default: games_per_round or cores].")
@click.option("--seed", type=int, default=None, help="Seed for matchmaking ties [default: from the log's size].")
@click.option(
    "--record", is_flag=True, help="Keep each game's input movie (.bk2) beside the leaderboard's log (see `arena replay`)."
)
@DB_OPTION
@backend_options
def run_command(name, games, until_sigma, workers, seed, db_path, record, backend, address) -> None:
    """Play the most informative games of leaderboard NAME (leaderboards/NAME.json).

    With no flag the definition's stopping rule applies. Killed, it resumes when run again.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from arena import paths
    from arena.backends import Backend
    from arena.cli import make_console
    from arena.errors import ArenaError
    from arena.games.replay import replays_folder
    from arena.plugins.manager import get_arena
    from arena.ratings.leaderboard import find_definition
    from arena.ratings.scheduler import check_run, run_leaderboard
    from arena.text import counted

    # Every bad value is refused here, before the database, the log or the progress bar exist.
    if games is not None and until_sigma is not None:
        raise ArenaError("give --games or --until-sigma, not both")
    if workers is not None and workers < 1:
        raise ArenaError(f"--workers must be at least 1, got {workers}")
    definition = find_definition(name)
    arena = get_arena()
    checked = check_run(definition, arena, games=games, until_sigma=until_sigma, record=record)
    backend = Backend(backend, address)
    backend.check(checked.env_spec.ray_resources)  # one line before anything is written
    store = _create_store(db_path)
    console = make_console()
    total = games or definition.max_games
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"), console=console,
    )  # fmt: skip
    replays = 0

    with progress:
        bar = progress.add_task(name, total=total, status="")

        def show(record) -> None:
            nonlocal replays
            replays += record.replay is not None
            progress.advance(bar)
            if record.ok:
                line = f"{record.a} {record.score_a} - {record.score_b} {record.b}"
            else:
                line = f"{record.a} vs {record.b}: error {record.error}"
            top = max(store.ratings(name).values(), key=lambda s: 0 if s.pinned else s.sigma, default=None)
            status = f"max sigma {top.sigma:.2f}" if top else ""
            progress.update(bar, status=status)
            progress.console.print(line, soft_wrap=True)

        result = run_leaderboard(
            definition, store, games=games, until_sigma=until_sigma, workers=workers, arena=arena,
            seed=seed, on_game=show, record=record, backend=backend, checked=checked,
        )  # fmt: skip
    # The scheduler's reason for --games repeats the count; say which flag was met instead.
    reason = f"--games {games} reached" if games is not None and result.played + result.errors >= games else result.reason
    console.print(f"{counted(result.played, 'game')} played, {counted(result.errors, 'error')}; stopped: {reason}")
    if record:
        folder = replays_folder(paths.leaderboard_log(name))
        console.print(f"replays: {replays} in {folder} (watch one: arena replay FILE)", soft_wrap=True)
    console.print(f"see it with: arena leaderboard show {name}")
    _print_table(console, store, name)


def _create_store(db_path):
    """The match database, created if missing; a folder that cannot hold it is one line."""
    from arena.errors import ArenaError
    from arena.paths import db_path as default_db_path
    from arena.ratings.store import MatchStore

    try:
        return MatchStore(db_path)
    except OSError as exc:
        raise ArenaError(f"cannot create the match database {db_path or default_db_path()}: {exc.strerror or exc}") from exc


def _print_table(console, store, name: str) -> None:
    from rich.table import Table

    board = _Board(store, name)
    rows = board.standings()
    table = Table(title=f"leaderboard {name}: {sum(g.ok for g in board.games)} games", title_justify="left")
    for column in ("rank", "entrant", "mu", "sigma", "mu - 3 sigma", "games", "win rate", "last played"):
        # A long entrant folds onto a second line on a narrow terminal: cut to "...", snapshots of
        # one run lose the steps that tell them apart.
        overflow = "fold" if column == "entrant" else "ellipsis"
        table.add_column(column, justify="left" if column in ("entrant", "last played") else "right", overflow=overflow)
    for row in rows:
        win_rate = f"{row.win_rate:.0%}" if row.games else "-"
        last = (row.last_played or "-")[:19].replace("T", " ")
        mark = " (pinned)" if row.pinned else " (guest)" if row.name in board.guests else ""
        table.add_row(
            str(row.rank), row.name + mark, f"{row.mu:.2f}", f"{row.sigma:.2f}", f"{row.conservative:.2f}",
            str(row.games), win_rate, last,
        )  # fmt: skip
    console.print(table)
    console.print("rank: 1 + the number of entrants whose 95% interval lies wholly above this one's (ties share a rank)")
    if board.guests:
        console.print("guest: not among the definition's entrants; rated, but never scheduled by `arena leaderboard run`")
    errors = sum(not g.ok for g in board.games)
    if errors:
        console.print(f"{errors} errored games are logged and left out of the ratings")
    if board.pins_changed():
        console.print(f"note: {board.pins_changed()}", soft_wrap=True)


@leaderboard_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows instead of a table.")
@DB_OPTION
def show_command(name, as_json, db_path) -> None:
    """Print leaderboard NAME's table: rank, mu, sigma, conservative score, games, win rate."""
    from arena.cli import make_console

    store = _open(db_path, name)
    if as_json:
        import dataclasses
        import json

        rows = _Board(store, name).standings()
        click.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2, default=str))
        return
    _print_table(make_console(), store, name)


@leaderboard_group.command("report")
@click.argument("name")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for index.html, the plots and the CSVs [default: $ARENA_HOME/reports/NAME].")  # fmt: skip
@DB_OPTION
def report_command(name, out_dir, db_path) -> None:
    """Write an HTML report (table, rating history, win-probability matrices) and CSV files."""
    from arena.errors import ArenaError
    from arena.paths import report_dir
    from arena.ratings.report import write_report

    out_dir = out_dir or report_dir(name)
    store = _open(db_path, name)
    try:  # before the plots are drawn: a path under a file, say, is one line
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ArenaError(f"cannot write the report in {out_dir}: {exc.strerror or exc}") from exc
    board = _Board(store, name)
    page = write_report(out_dir, name, board.games, board.entrants, pinned=board.pins, guests=board.guests)
    click.echo(f"wrote {page}")


@leaderboard_group.command("recompute")
@click.argument("name")
@DB_OPTION
def recompute_command(name, db_path) -> None:
    """Rebuild leaderboard NAME's ratings from its match log, under its definition's pins."""
    from arena.ratings.leaderboard import find_definition

    store = _open(db_path, name)
    definition = find_definition(name, required=False)
    if definition is not None and store.sync_pins(name, definition.pinned):
        click.echo(f"applied the pins of {definition.path}")
    rated, changed = store.recompute(name)
    verdict = "identical to the stored ratings" if changed == 0 else f"{changed} entrants' ratings changed"
    click.echo(f"recomputed {name} from {rated} games: {verdict}")


@leaderboard_group.command("list")
@DB_OPTION
def list_command(db_path) -> None:
    """List defined leaderboards and those with games in the database."""
    from arena.paths import db_path as default_db_path
    from arena.ratings.leaderboard import available
    from arena.ratings.store import MatchStore
    from arena.text import counted

    # Listing reads: with no database yet there are only the definitions, and none is created.
    store = MatchStore(db_path, create=False) if os.path.exists(db_path or default_db_path()) else None
    played = set(store.leaderboards()) if store else set()
    for name in sorted(played | set(available())):
        count = store.count(name) if name in played else 0
        defined = "defined" if name in available() else "ad hoc"
        click.echo(f"{name:<24} {defined:<8} {counted(count, 'game')}")
