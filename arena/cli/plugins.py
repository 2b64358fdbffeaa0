"""``arena plugins``: what is loaded and what each plugin registered."""

from __future__ import annotations

import json

import click

from arena.cli import cli

KINDS = ("envs", "agents", "algorithms", "sampling_rules", "pools", "commands")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List loaded plugins, their versions, and what each registered."""
    from arena.plugins.manager import get_arena

    arena = get_arena()
    rows = [info.as_dict() for info in sorted(arena.plugins.values(), key=lambda i: i.name)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    from arena.cli import make_console

    table = Table(title="arena plugins", title_justify="left")
    table.add_column("plugin")
    table.add_column("version")
    table.add_column("module")
    table.add_column("registered")
    for row in rows:
        registered = "; ".join(f"{kind.replace('_', ' ')}: {', '.join(row[kind])}" for kind in KINDS if row.get(kind))
        table.add_row(row["name"], row["version"] or "-", row["module"], registered or "-")
    console = make_console()
    console.print(table)
    for name, why in sorted(arena.failed.items()):
        console.print(f"[red]not loaded[/red] {name}: {why}", highlight=False)
