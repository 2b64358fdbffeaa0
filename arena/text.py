"""How Arena words things for people: counts with their nouns, and the nearest name to a misspelt one."""

import difflib
from collections.abc import Iterable


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the nearest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def counted(count: int, noun: str) -> str:
    """``"1 game"``, ``"2 games"``, ``"1,024 steps"``: a count and its noun, plural when it is not one."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
