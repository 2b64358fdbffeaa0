"""Super Smash Bros. Melee (NTSC 1.02) in Dolphin: the ``melee`` environment.

Cheap to import: Dolphin, dolphin-memory-engine and numpy are imported only when a game is
built (:mod:`arena_melee.env`). Against ``cpu:LEVEL`` the game's own CPU plays port
1 at that level (1-9) and the agent port 2; see docs/melee.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from arena import hookimpl
from arena.plugins.envs import EnvSpec
from arena_melee.pads import ACTION_MEANINGS, NUM_ACTIONS
from arena_melee.tables import CHARACTERS, STAGES

CharacterName = Literal[tuple(CHARACTERS)]  # type: ignore[valid-type]
StageName = Literal[tuple(STAGES)]  # type: ignore[valid-type]


@dataclass(frozen=True)
class MeleeOptions:
    """Options of the ``melee`` environment (``-o key=value``)."""

    iso: str = ""
    """Path to a Super Smash Bros. Melee NTSC 1.02 disc image (ISO/GCM, RVZ, WIA or CISO). Required."""
    dolphin: str = ""
    """The Dolphin binary; default: dolphin-emu-nogui on PATH or in /usr/games."""
    user_dir: str = ""
    """An existing Dolphin user folder to use (its config is updated for pipe pads); default: a
    fresh folder per env, deleted when the env closes. One env at a time per folder."""
    char: CharacterName = "falcon"
    """Port 2's character: the agent's against the CPU."""
    cpu_char: CharacterName = "falcon"
    """Port 1's character: the CPU's, or the first agent's when two agents play."""
    stage: StageName = "final_destination"
    act_every: int = 2
    """Frames between agent steps (at least; Dolphin may run a little further before the read).
    The env's timing, as in every env: training, evaluation games and matches all play at it
    (``-o act_every=N``), and a trained agent replays the one it was trained at."""
    delay: int = 0
    """The agent sees observations this many steps old (phillip's reaction delay); the env's, like
    ``act_every``."""
    max_frames: int = 8 * 60 * 60
    """A game is cut off (truncated) after this many frames: 8 minutes of game time."""
    speed: float = 0.0
    """Dolphin's emulation speed: 0 is unlimited, 1 is real time."""
    timeout: float = 60.0
    """Seconds to wait for Dolphin to boot, for each menu screen, and for a frame, before failing."""

    def __post_init__(self):
        for name, low in (("act_every", 1), ("delay", 0), ("max_frames", 1)):
            if getattr(self, name) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0 (0 is unlimited), got {self.speed}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {self.timeout}")
        # Checked now, so a missing ISO or Dolphin fails the command before any game starts.
        from arena_melee.dolphin import check_iso, find_dolphin

        object.__setattr__(self, "iso", str(check_iso(self.iso).absolute()))
        object.__setattr__(self, "dolphin", find_dolphin(self.dolphin))
        if self.user_dir:
            object.__setattr__(self, "user_dir", str(Path(self.user_dir).expanduser().absolute()))


def make_melee(options: MeleeOptions, cpu_level: int | None):
    from arena_melee.env import MeleeEnv  # Dolphin, the reader and numpy load only here

    return MeleeEnv(options, cpu_level)


def melee_observation_shape(options) -> tuple[int, ...]:
    from arena_melee.embed import OBS_SIZE

    return (OBS_SIZE,)


MELEE = EnvSpec(
    name="melee",
    make=make_melee,
    description="Super Smash Bros. Melee NTSC 1.02 in Dolphin: two ports, or port 2 vs the game's CPU at level 1-9",
    seats=("p1", "p2"),
    num_actions=NUM_ACTIONS,
    options=MeleeOptions,
    cpu_seat="p1",
    cpu_levels=tuple(range(1, 10)),
    action_meanings=ACTION_MEANINGS,
    fps=60.0,
    observation_shape=melee_observation_shape,
    machine_options=("iso", "dolphin", "user_dir", "speed", "timeout"),
    ray_resources=("dolphin",),  # on Ray, workers go to the nodes that say they can run Dolphin
)


@hookimpl
def arena_register_envs(register):
    register(MELEE)


@hookimpl
def arena_register_commands(cli):
    import click  # loaded with the command line anyway; the check's own imports wait for it to run

    @cli.group("melee")
    def melee() -> None:
        """Melee in Dolphin: check a setup with the real game."""

    @melee.command("check")
    @click.option("--iso", required=True, metavar="PATH", help="Your Super Smash Bros. Melee NTSC 1.02 disc image.")
    @click.option(
        "--dolphin", default="", metavar="PATH", help="The Dolphin binary [default: dolphin-emu-nogui on PATH or in /usr/games]."
    )
    @click.option(
        "--user-dir",
        default="",
        metavar="PATH",
        help="A Dolphin user folder of yours (its memory card's VS rules) [default: a fresh one].",
    )
    @click.option("--char", type=click.Choice(list(CHARACTERS)), default="falcon", show_default=True, help="Port 2's character.")
    @click.option(
        "--cpu-char",
        type=click.Choice(list(CHARACTERS)),
        default="falcon",
        show_default=True,
        help="The CPU's character (port 1).",
    )
    @click.option("--stage", type=click.Choice(list(STAGES)), default="final_destination", show_default=True)
    @click.option("--level", type=click.IntRange(1, 9), default=9, show_default=True, help="The CPU's level.")
    @click.option(
        "--seconds", type=click.FloatRange(min=0.1), default=5.0, show_default=True, help="Seconds of game time to play."
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=1),
        default=60.0,
        show_default=True,
        help="Seconds to wait for Dolphin to boot and for each screen.",
    )
    @click.option(
        "--report", default="", metavar="PATH", help="Where to write the report [default: melee-check-DATE-TIME.md here]."
    )
    def check(iso, dolphin, user_dir, char, cpu_char, stage, level, seconds, timeout, report) -> None:
        """Boot Dolphin with your disc, drive the menus to a match against the CPU, check every
        reading on the way, play a few seconds, quit, and write a report to attach to a bug report.

        Each step prints one line; a failed step names what was read. Exit status 0 when every step
        passed, 1 when one failed (the report says which), 2 for bad input (nothing is run)."""
        import sys

        from arena.errors import ArenaError

        options = MeleeOptions(
            iso=iso, dolphin=dolphin, user_dir=user_dir, char=char, cpu_char=cpu_char, stage=stage, timeout=timeout
        )
        from arena_melee.check import default_report_name, run_check  # Dolphin's reader and numpy

        path = Path(report or default_report_name()).expanduser()
        if path.is_dir() or not path.parent.is_dir():
            raise ArenaError(
                f"cannot write the report to {path}: {'it is a folder' if path.is_dir() else 'its folder does not exist'}; pass --report FILE"
            )
        try:
            result = run_check(options, level, seconds, path, echo=click.echo)
        except KeyboardInterrupt:
            click.echo(f"interrupted; report so far: {path}", err=True)
            raise
        if result.failed:
            click.echo(f"report: {path} (attach it to a bug report; the first failed step is '{result.failed[0].name}')")
            sys.exit(1)
        click.echo(f"report: {path}")
