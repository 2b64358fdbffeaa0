"""The one exception type users see: a bad input or a broken setup, printed as one line."""


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
