"""``arena replay FILE``: render a recorded game (a ``.bk2`` that ``--record`` kept) to a video."""

from __future__ import annotations

import click

from arena.cli import cli


@cli.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--out", "out", type=click.Path(dir_okay=False), default=None,
    help="Video to write, .mp4 or .gif (GIF: every third frame, 20 frames/s) [default: FILE with .mp4].",
)  # fmt: skip
def replay_command(file, out) -> None:
    """Render the recorded game FILE (a .bk2 movie that --record kept) to a video.

    The emulator is deterministic, so the video shows the game exactly as it was played.

    \b
    Examples:
      arena match bot:tracker:3 bot:tracker:8 --games 2 --points 3 --record
      arena replay ~/.arena/matches/<log>.replays/<game>.bk2 --out game.gif
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from arena.cli import make_console
    from arena.games.replay import check_movie, check_video_path, render

    if out is not None:
        check_video_path(out)  # before the movie is read: a bad --out fails first
    check_movie(file)  # a file that is no movie, or a game Arena cannot render: one line, before any bar
    console = make_console()
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )
    with progress:
        bar = progress.add_task("rendering", total=None)

        def start(info) -> None:
            progress.update(bar, description=f"rendering {info.game}", total=info.frames)

        def frame(n: int) -> None:
            if n % 64 == 0:
                progress.update(bar, completed=n)

        result = render(file, out, on_start=start, on_frame=frame)
        progress.update(bar, completed=progress.tasks[0].total)
    console.print(f"wrote {result.out}: {result.frames:,} frames, {result.seconds:.1f} s", soft_wrap=True)
