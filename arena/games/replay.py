"""Game replays: recording a game's inputs as a stable-retro movie (``.bk2``) and rendering a
movie back to a video a person can watch.

* **Where**: a game logged in ``LOG.jsonl`` keeps its movie in ``LOG.replays/<uid>.bk2``
  (:func:`replay_path`), so anything that knows a game's log and uid (the match database, the
  report) finds its replay without a column of its own.
* **Recording**: an env that can record has a ``record(path)`` method; the game runner
  (:func:`arena.games.play.play_game`) calls it before ``reset`` and the env writes the next game's
  movie to ``path``. Envs that drive stable-retro's emulator themselves (Pong, Boxing) share
  :class:`RetroMovie`, which records exactly the buttons the emulator got, frame by frame. An env
  without ``record`` (Melee runs in Dolphin) cannot record: :func:`start_recording` says so.
* **Rendering**: :func:`play_movie` steps a movie through a fresh emulator (deterministic: the
  same inputs give the same game) and :func:`render` writes its frames with imageio: MP4 through
  imageio-ffmpeg's bundled ffmpeg, GIF through Pillow. A game ends when its RAM has the deciding
  point, which Pong's scoreboard shows a frame later, so the video goes on for a short tail with no
  buttons pressed (:data:`TAIL_FRAMES`) and ends on the final score.

Nothing heavy is imported at module level: stable_retro, numpy and imageio load when used.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.errors import ArenaError

SUFFIX = ".bk2"
VIDEO_FORMATS = (".mp4", ".gif")
FPS = 60  # the Atari 2600's (and stable-retro's) frame rate: MP4s play every frame at it
# GIF delays are whole centiseconds, so 1/30 s cannot be stored (it becomes 30 ms and the GIF plays
# 10% fast); every 3rd frame at 50 ms is exactly the game's speed.
GIF_EVERY = 3
GIF_DELAY_MS = 1000 * GIF_EVERY // FPS
# After the last input: Pong shows the deciding point a frame after its RAM has it, and a second
# held on the final score lets a viewer read it.
TAIL_FRAMES = FPS


# -- where replays go -------------------------------------------------------------------------


def replays_folder(log_path: str | os.PathLike) -> Path:
    """The folder beside a game log that holds its games' movies: ``LOG.replays``."""
    log = Path(log_path)
    return log.with_name(log.stem + ".replays")


def replay_path(log_path: str | os.PathLike, uid: str) -> Path:
    """Where the game ``uid`` logged in ``log_path`` keeps its movie."""
    return replays_folder(log_path) / (re.sub(r"[^A-Za-z0-9._@-]+", "-", uid).strip("-.") + SUFFIX)


def second_turn(path: str | os.PathLike) -> Path:
    """Where a one-player game played in turns (``EnvSpec.single_player``) keeps its second
    seat's turn: ``X.second.bk2`` beside the first turn's ``X.bk2``. Rendering ``X.bk2`` plays both."""
    path = Path(path)
    return path.with_name(path.stem + ".second" + path.suffix)


def find_replay(game: Any) -> Path | None:
    """A recorded game's movie: its ``replay`` field, else the file :func:`replay_path` names if it
    is there (games read back from the match database carry their log and uid only)."""
    if getattr(game, "replay", None):
        return Path(game.replay)
    log_path, uid = getattr(game, "log_path", None), getattr(game, "uid", None)
    if log_path and uid:
        path = replay_path(log_path, uid)
        if path.is_file():
            return path
    return None


# -- recording ---------------------------------------------------------------------------------


class CannotRecord(ArenaError):
    """``--record`` with an env that has no ``record``: every game would fail alike, so the game
    runner lets this one through instead of recording an errored game."""


def check_records(env_spec: Any) -> None:
    """Refuse ``--record`` before anything starts when the env cannot record (``EnvSpec.records``)."""
    if not env_spec.records:
        raise ArenaError(
            f"env '{env_spec.name}' cannot record replays (only stable-retro games such as pong and boxing write .bk2 movies); "
            "drop --record"
        )


def start_recording(env: Any, env_name: str, path: str | os.PathLike) -> None:
    """Ask ``env`` to record its next game to ``path`` (one line if it cannot)."""
    record = getattr(env, "record", None)
    if not callable(record):
        raise CannotRecord(
            f"env '{env_name}' cannot record replays (only stable-retro games such as pong and boxing write .bk2 movies); "
            "drop --record"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    record(str(path))


class RetroMovie:
    """The recording half of an env that drives a stable-retro emulator with ``em.step()``.

    ``record(path)`` arms it; :meth:`begin` (called just before ``RetroEnv.reset()``) opens the
    movie, which then holds the reset frame; :meth:`press` sets the buttons and steps the
    emulator, writing each frame's buttons into the movie as ``RetroEnv.step`` would;
    :meth:`end` closes it (at the game's end, on the next reset, or on close).
    """

    def __init__(self, retro_env: Any):
        self._retro = retro_env.unwrapped
        self._armed: str | None = None
        self.movie: Any = None

    def record(self, path: str) -> None:
        self._armed = path

    def begin(self) -> None:
        self.end()
        if self._armed is not None:
            self._retro.record_movie(self._armed)  # RetroEnv.reset steps it once: the reset frame
            self.movie = self._retro.movie
            self._armed = None

    def press(self, em: Any, masks: list, frames: int) -> None:
        """Hold ``masks`` (one button array per player) for ``frames`` emulator frames."""
        for player, mask in enumerate(masks):
            em.set_button_mask(mask, player)
        movie = self.movie
        if movie is None:
            for _ in range(frames):
                em.step()
            return
        keys = [(i, bool(b), player) for player, mask in enumerate(masks) for i, b in enumerate(mask)]
        for _ in range(frames):
            for i, pressed, player in keys:
                movie.set_key(i, pressed, player)
            movie.step()
            em.step()

    def end(self) -> None:
        if self.movie is not None:
            self._retro.stop_record()  # closes the movie: the file is complete
            self.movie = None


# -- playing a movie back ---------------------------------------------------------------------


@dataclass(frozen=True)
class MovieInfo:
    path: Path
    game: str  # stable-retro's name, e.g. Pong-Atari2600-v0
    players: int
    frames: int  # emulator frames after the reset frame


def open_movie(path: str | os.PathLike):
    """The movie at ``path`` and what it holds, or one line saying why it cannot be played."""
    import stable_retro

    path = Path(path)
    if not path.is_file():
        raise ArenaError(f"no such replay file: {path}; give a .bk2 that --record wrote")
    try:
        movie = stable_retro.Movie(str(path))
    except RuntimeError:
        raise ArenaError(f"{path} is not a stable-retro movie (.bk2); give a .bk2 that --record wrote") from None
    game = movie.get_game()
    counter = stable_retro.Movie(str(path))
    frames = -1  # the first step is the reset frame
    while counter.step():
        frames += 1
    counter.close()
    return movie, MovieInfo(path, game, movie.players, max(frames, 0))


def _why_no_frames(path: Path) -> str:
    """Why a movie that stable-retro opened has no frames (it reads a bad input log as empty)."""
    try:
        with zipfile.ZipFile(path) as archive:
            log = archive.read("Input Log.txt").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return "it has no input log"
    if not log.lstrip().startswith("[Input]"):
        return "its input log is not a bk2 input log"
    return "its input log holds no frames"


def check_movie(path: str | os.PathLike) -> MovieInfo:
    """What the movie at ``path`` holds, or one line saying why Arena cannot render it."""
    from arena.roms import require_rom

    movie, info = open_movie(path)
    movie.close()
    try:
        require_rom(info.game)
    except ArenaError as exc:
        raise ArenaError(
            f"{info.path} is a movie of {info.game or 'an unnamed game'}, which Arena cannot render: {exc}"
        ) from None
    if info.frames == 0:  # else the video would be the bare tail, or nothing at all
        raise ArenaError(f"{info.path} has no frames to render: {_why_no_frames(info.path)}; give a .bk2 that --record wrote")
    return info


def play_movie(path: str | os.PathLike, on_frame: Callable[[Any, int], None] | None = None, *, tail: int = 0) -> dict[str, Any]:
    """Step the movie at ``path`` through a fresh emulator, calling ``on_frame(screen, n)`` after
    each frame, and return the game's RAM variables at the movie's end (stable-retro's ``info``).

    ``tail``: then run up to this many frames more with no buttons pressed, for a video to show
    what the screen shows late (Pong's scoreboard lags its RAM by a frame). The tail stops before
    a frame on which a score variable changes, so it never shows a point that was not played."""
    import numpy as np
    import stable_retro

    check_movie(path)
    movie, info = open_movie(path)
    try:
        env = stable_retro.make(
            info.game,
            state=stable_retro.State.NONE,
            players=info.players,
            use_restricted_actions=stable_retro.Actions.ALL,
            render_mode=None,
        )
    except RuntimeError as exc:
        raise ArenaError(f"cannot start the emulator for {info.game}: {exc} (one emulator per process)") from None
    try:
        retro = env.unwrapped
        retro.initial_state = movie.get_state()
        movie.step()  # the reset frame
        retro.reset()
        em, buttons = retro.em, retro.num_buttons
        masks = [np.zeros(buttons, dtype=np.uint8) for _ in range(info.players)]
        n = 0
        while movie.step():
            for player, mask in enumerate(masks):
                for i in range(buttons):
                    mask[i] = movie.get_key(i, player)
                em.set_button_mask(mask, player)
            em.step()
            n += 1
            if on_frame is not None:
                on_frame(em.get_screen(), n)
        retro.data.update_ram()
        final = dict(retro.data.lookup_all())
        scores = {key: value for key, value in final.items() if "score" in key}
        for mask in masks:
            mask[:] = 0
        for player, mask in enumerate(masks):
            em.set_button_mask(mask, player)
        for _ in range(tail if on_frame is not None else 0):
            em.step()
            retro.data.update_ram()
            if any(retro.data.lookup_value(key) != value for key, value in scores.items()):
                break  # e.g. the CPU scoring while nobody plays
            n += 1
            on_frame(em.get_screen(), n)
        return final
    finally:
        movie.close()
        env.close()
        del env


def check_video_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.suffix.lower() not in VIDEO_FORMATS:
        raise ArenaError(
            f"cannot write a video as '{out.suffix or out.name}': --out must end in .mp4 or .gif, e.g. --out game.mp4"
        )
    return out


@dataclass(frozen=True)
class Rendered:
    out: Path
    frames: int  # frames in the video file
    seconds: float  # the video's length: its playing time
    game: str
    played: int = 0  # emulator frames shown: the movie's, then the tail's


def render(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    on_start: Callable[[MovieInfo], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Rendered:
    """Render the movie at ``path`` to ``out`` (default: beside it, ``.mp4``): MP4 at the game's
    frame rate, GIF at every third frame (50 ms each: real time). Each movie is followed by up to
    :data:`TAIL_FRAMES` frames with no buttons pressed, so the video ends on the final score
    (:func:`play_movie`). ``on_start`` gets the movie's facts, its ``frames`` the most that will be
    played (tails included), ``on_frame`` the emulator frames played so far. A failure leaves
    nothing at ``out``."""
    import imageio.v2 as imageio

    out = check_video_path(out if out is not None else Path(path).with_suffix(".mp4"))
    # A game played in turns keeps its second turn beside the first: the video shows both.
    movies = [Path(path)] + [turn for turn in (second_turn(path),) if turn.is_file()]
    turns = [check_movie(movie) for movie in movies]
    info = dataclasses.replace(turns[0], frames=sum(turn.frames + TAIL_FRAMES for turn in turns))
    if on_start is not None:
        on_start(info)
    gif = out.suffix.lower() == ".gif"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial{out.suffix}")
    if gif:
        writer = imageio.get_writer(partial, format="GIF", mode="I", duration=GIF_DELAY_MS, loop=0)
    else:
        writer = imageio.get_writer(
            partial, format="FFMPEG", fps=FPS, codec="libx264", pixelformat="yuv420p", macro_block_size=2,
            ffmpeg_log_level="error",
        )  # fmt: skip
    written = played = this_turn = 0

    def frame(screen, n: int) -> None:
        nonlocal written, this_turn
        this_turn = n  # the tail's length varies: count what was shown
        if not gif or (played + n - 1) % GIF_EVERY == 0:
            writer.append_data(screen)
            written += 1
        if on_frame is not None:
            on_frame(played + n)

    try:
        try:
            for turn in turns:
                this_turn = 0
                play_movie(turn.path, frame, tail=TAIL_FRAMES)
                played += this_turn
        finally:
            writer.close()
        if written == 0:  # check_movie refuses such a movie; never let os.replace find no file
            raise ArenaError(f"{path} has no frames to render; give a .bk2 that --record wrote")
        seconds = written * GIF_DELAY_MS / 1000 if gif else written / FPS
        if gif:  # Pillow merges identical frames (a still ending) into one longer frame
            from PIL import Image

            with Image.open(partial) as image:
                written = image.n_frames
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return Rendered(out, written, seconds, info.game, played)
