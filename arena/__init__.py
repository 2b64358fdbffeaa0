"""Arena: train reinforcement-learning agents by self-play and rate them against each other."""

from arena.errors import ArenaError
from arena.plugins.hookspecs import hookimpl

__all__ = ["ArenaError", "hookimpl", "__version__"]
__version__ = "0.1.0"
