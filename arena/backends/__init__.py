"""Where games run: ``local`` worker processes on this machine, or ``ray`` actors on a Ray cluster.

Both make a game pool with one interface (:class:`arena.games.play.GamePool`'s: ``submit`` a
task, ``next_result`` a record as each game finishes, a context manager that stops the workers),
so ``arena match`` and ``arena leaderboard run`` take ``--backend`` and change nothing else.
Ray is an optional extra, imported only when the Ray backend is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from arena.errors import ArenaError

if TYPE_CHECKING:
    from arena.plugins.manager import Arena

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Backend:
    """``name``: ``local`` or ``ray``. ``address`` (Ray only): ``auto`` or ``HOST:PORT`` of a
    running cluster; empty starts a Ray instance on this machine for the run."""

    name: str = "local"
    address: str = ""

    def __post_init__(self):
        if self.name not in BACKENDS:
            raise ArenaError(f"no backend '{self.name}'; choose one of: {', '.join(BACKENDS)}")
        if self.address and self.name != "ray":
            raise ArenaError(f"--address {self.address} is a Ray cluster's: pass --backend ray with it")

    def check(self) -> None:
        """One-line errors (no Ray installed, an unreachable address) before anything is written."""
        if self.name == "ray":
            from arena.backends.ray import check_ray

            check_ray(self.address)

    def game_pool(self, workers: int, arena: Arena | None = None):
        """A pool of ``workers`` game workers (each one emulator at a time)."""
        if self.name == "ray":
            from arena.backends.ray import RayGamePool

            return RayGamePool(workers, address=self.address)
        from arena.games.play import GamePool

        return GamePool(workers, arena)


LOCAL = Backend()
