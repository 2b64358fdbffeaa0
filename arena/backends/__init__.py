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

    def check(self, resources: tuple[str, ...] = ()) -> None:
        """One-line errors before anything is written: no Ray installed, an unreachable address,
        a cluster where no node offers one of ``resources`` (the env's ``ray_resources``)."""
        if self.name == "ray":
            from arena.backends.ray import check_ray

            check_ray(self.address, resources)

    def game_pool(self, workers: int, arena: Arena | None = None, resources: tuple[str, ...] = ()):
        """A pool of ``workers`` game workers (each one emulator at a time); on Ray each needs
        one unit of every custom resource in ``resources`` (the env's ``ray_resources``)."""
        if self.name == "ray":
            from arena.backends.ray import RayGamePool

            return RayGamePool(workers, address=self.address, resources=resources)
        from arena.games.play import GamePool

        return GamePool(workers, arena)


LOCAL = Backend()
