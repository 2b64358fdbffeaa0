"""``arena roms import``: bring the ROMs Arena cannot ship into stable-retro."""

from __future__ import annotations

import click

from arena.cli import cli


@cli.group("roms")
def roms_group() -> None:
    """Import game ROMs you own into stable-retro (matched by SHA1)."""


@roms_group.command("import", short_help="Import the ROMs stable-retro knows from files, folders and .zip archives.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def import_command(paths: tuple[str, ...]) -> None:
    """Import every ROM stable-retro recognises in PATH (files, folders, .zip archives).

    Prints one line per game found (imported, or already present) and one per file not
    recognised, then a summary. A PATH that does not exist, or no recognised ROM at all, is an
    error (exit 2) and nothing is written; unrecognised files next to recognised ones are only
    reported.
    """
    import stable_retro.data

    from arena.roms import UNKNOWN_SHA, import_roms

    report = import_roms(paths)
    found = sorted((f for f in report.files if f.game), key=lambda f: (f.game, f.source))
    for rom in found:
        verb = "imported from" if rom.status == "imported" else "already present, found in"
        click.echo(f"{rom.game}: {verb} {rom.source}")
    for rom in report.unrecognised:
        click.echo(f"not recognised: {rom.source}" + (f" ({rom.why})" if rom.why else ""))
    games = len(report.games)
    summary = (
        f"{games} game{'s' if games != 1 else ''} found ({len(report.imported)} imported, {len(report.present)} already present)"
    )
    unrecognised = len(report.unrecognised)
    if unrecognised:
        summary += f", {unrecognised} file{'s' if unrecognised != 1 else ''} not recognised"
        if not any(rom.why for rom in report.unrecognised):
            summary += " (no game stable-retro knows has their SHA1)" if unrecognised > 1 else f" ({UNKNOWN_SHA})"
    click.echo(f"{summary}; stable-retro's data folder: {stable_retro.data.path()}")
