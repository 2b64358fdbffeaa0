"""Where Arena keeps what it writes."""

import os
from pathlib import Path


def data_dir() -> Path:
    """``$ARENA_HOME``, or ``./arena_data`` in the current directory."""
    return Path(os.environ.get("ARENA_HOME") or "arena_data")
