"""The one exception type users see: a bad input or a broken setup, printed as one line."""

import difflib
from collections.abc import Iterable


class ArenaError(Exception):
    """A problem the user can fix. The CLI prints ``arena: error: <message>`` and exits 2.

    Messages name the bad value and what would be valid, on one line.
    """

    exit_code = 2


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, after the command has said what it saved and how to go on: the CLI exits 130 without
    another word."""


def one_line(text: object) -> str:
    """Collapse an exception or message to a single line for warnings and error records."""
    return " ".join(str(text).split())


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def counted(count: int, noun: str) -> str:
    """``"1 game"``, ``"2 games"``, ``"1,024 steps"``: a count and its noun, plural when it is not one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
