"""The ``arena`` command line: a thin layer that parses arguments and calls library code.

Every user-fixable problem ends as one line on stderr and exit status 2, without a traceback.
"""

from __future__ import annotations

import os
import sys

import click

from arena.errors import ArenaError, Interrupted, one_line


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="arena-rl", prog_name="arena")
def cli() -> None:
    """Train reinforcement-learning agents by self-play and rate them against each other."""


_plugin_commands_added = False


def build_cli() -> click.Group:
    """The top-level group with the core commands and every plugin's commands (added once)."""
    global _plugin_commands_added
    from arena.cli import launch, leaderboard, match, plugins, replay, roms, train  # noqa: F401  (they attach themselves to `cli`)
    from arena.plugins.manager import get_arena

    if not _plugin_commands_added:
        get_arena().add_commands(cli)
        _plugin_commands_added = True
    return cli


def backend_options(command):
    """``--backend local|ray`` and ``--address``: where a command's games run (arena.backends)."""
    command = click.option(
        "--address", default="", metavar="HOST:PORT",
        help="With --backend ray: a running Ray cluster (auto, or the address 'ray start --head' printed) [default: start Ray here].",
    )(command)  # fmt: skip
    return click.option(
        "--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
        help="Where games run: local worker processes, or Ray actors (pip install -e \".[ray]\").",
    )(command)  # fmt: skip


def make_console():
    """A rich console; when output is not a terminal, wide enough that tables are not cut."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)


def fail(message: str, code: int = 2) -> None:
    print(f"arena: error: {one_line(message)}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    try:
        group = build_cli()
        code = group.main(args=argv, prog_name="arena", standalone_mode=False)
    except ArenaError as exc:
        fail(str(exc), exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(2)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        fail(exc.format_message(), exc.exit_code)
    except click.exceptions.Abort as exc:  # click turns a KeyboardInterrupt into Abort
        if not isinstance(exc.__cause__, Interrupted):
            print("arena: aborted", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt as exc:
        if not isinstance(exc, Interrupted):
            print("arena: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
