"""Replays: ``--record`` keeps each game's input movie (.bk2) beside its log, a replay reproduces
the game's score exactly, ``arena replay`` renders a movie to MP4 or GIF, the report links the
replays, and bad input is one line and exit 2 with nothing written.

Pong games to 3 points between two tracker bots: about 1,000-1,500 frames each.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile

import pytest

from arena import hookimpl
from arena.errors import ArenaError
from arena.games.match import plan_match, run_match
from arena.games.replay import (
    GIF_EVERY,
    TAIL_FRAMES,
    check_movie,
    find_replay,
    play_movie,
    replay_path,
    replays_folder,
)
from arena.plugins.envs import EnvSpec
from arena.plugins.manager import load_plugins
from arena.ratings.recorder import Recorder
from arena.ratings.store import MatchStore

A, B = "bot:tracker:3", "bot:tracker:6"


@pytest.fixture
def pong(monkeypatch):
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong")
    return load_plugins()


def run_cli(tmp_path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, ARENA_HOME=str(tmp_path / "home"), ARENA_LOAD_PLUGINS="agents,pong", COLUMNS="200")
    for var in ("ARENA_STRICT_PLUGINS", "ARENA_TRACE_PLUGINS", "ARENA_DB"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-c", "from arena.cli import main; main()", *args],
        capture_output=True, text=True, timeout=timeout, cwd=tmp_path, env=env,
    )  # fmt: skip


def assert_one_line(result: subprocess.CompletedProcess, *parts: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), result.stderr
    for part in parts:
        assert part in lines[0], (part, lines[0])


def recorded_match(arena, tmp_path, games: int = 2, points: int = 3):
    spec = arena.envs.get("pong")
    plan = plan_match(A, B, games=games, seed=0, workers=1, options=spec.parse_options([f"points={points}"]), arena=arena)
    log = tmp_path / "match.jsonl"
    with MatchStore(tmp_path / "arena.db") as store, Recorder("pong-replays", log, store, arena=arena) as recorder:
        summary = run_match(plan, recorder=recorder, arena=arena, record=True)
    return summary, log


def test_a_replay_reproduces_the_games_score_exactly(pong, tmp_path):
    summary, log = recorded_match(pong, tmp_path)
    assert summary.errors == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(p.name for p in replays_folder(log).iterdir()) == sorted(
        replay_path(log, r.uid).name for r in summary.records
    )  # one movie per game
    for record, line in zip(summary.records, lines, strict=True):
        assert record.replay == line["replay"] == str(replay_path(log, record.uid))
        info = check_movie(record.replay)
        assert (info.game, info.players, info.frames) == ("Pong-Atari2600-v0", 2, record.frames)
        ram = play_movie(record.replay)
        # score1 is the left (orange) paddle's points, score2 the right (green) one's
        assert {"left": ram["score1"], "right": ram["score2"]} == record.score
        assert max(record.score.values()) == 3
    # the match database keeps no replay column: the movie is found from the game's log and uid
    stored = MatchStore(tmp_path / "arena.db").games("pong-replays")
    assert [g.replay for g in stored] == [None, None]
    assert [str(find_replay(g)) for g in stored] == [r.replay for r in summary.records]


def test_an_unrecorded_games_log_line_is_unchanged(pong, tmp_path):
    spec = pong.envs.get("pong")
    plan = plan_match(A, B, games=1, workers=1, options=spec.parse_options(["points=1"]), arena=pong)
    log = tmp_path / "plain.jsonl"
    with MatchStore(tmp_path / "arena.db") as store, Recorder("pong-plain", log, store, arena=pong) as recorder:
        summary = run_match(plan, recorder=recorder, arena=pong)
    assert summary.records[0].replay is None
    assert "replay" not in json.loads(log.read_text())
    assert not replays_folder(log).exists()


def count_and_first_frame(path):
    """A video's frame count and its first frame (without holding every frame in memory)."""
    import imageio.v2 as imageio

    reader = imageio.get_reader(path)
    try:
        first = reader.get_data(0)
        if str(path).endswith(".gif"):
            from PIL import Image

            with Image.open(path) as image:
                return image.n_frames, first
        import imageio_ffmpeg

        return imageio_ffmpeg.count_frames_and_secs(str(path))[0], first
    finally:
        reader.close()


def test_arena_match_record_then_arena_replay_to_mp4_and_gif_and_the_report_links_them(tmp_path):
    log = tmp_path / "m.jsonl"
    done = run_cli(
        tmp_path, "match", A, B, "--games", "2", "--points", "3", "--workers", "1", "--record",
        "--log", str(log), "--db", str(tmp_path / "arena.db"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"replays: 2 in {replays_folder(log)}" in done.stdout
    records = [json.loads(line) for line in log.read_text().splitlines()]
    movies = sorted(replays_folder(log).glob("*.bk2"))
    assert len(movies) == 2 and sorted(r["replay"] for r in records) == [str(m) for m in movies]

    first = next(r for r in records if r["game"] == 0)
    movie = first["replay"]
    mp4, gif = tmp_path / "video" / "game.mp4", tmp_path / "game.gif"
    said = {}
    for out in (mp4, gif):
        done = run_cli(tmp_path, "replay", movie, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert f"wrote {out}" in done.stdout
        said[out] = done.stdout
    (n_video, video), (n_animation, animation) = count_and_first_frame(mp4), count_and_first_frame(gif)
    assert n_video == first["frames"] + TAIL_FRAMES  # one video frame per emulator frame, then the tail
    assert f"{n_video:,} frames, {n_video / 60:.1f} s" in said[mp4]
    # GIF: every third frame; Pillow merges the still ending's identical frames into one
    assert n_animation <= math.ceil(n_video / GIF_EVERY) and f"{n_animation:,} frames" in said[gif]
    for shown in (video, animation):
        assert shown.shape[:2] == (210, 160)
        assert shown.mean() > 40  # Pong's brown court, not a black screen
    # the default --out: the movie's name with .mp4, beside it
    done = run_cli(tmp_path, "replay", movie)
    assert done.returncode == 0, done.stderr
    assert os.path.isfile(movie[: -len(".bk2")] + ".mp4")

    from arena.ratings.report import write_report

    games = MatchStore(tmp_path / "arena.db").games("pong")
    page = write_report(tmp_path / "report", "pong", games).read_text()
    for m in movies:
        assert f'href="../m.replays/{m.name}"' in page
    assert f'href="../m.replays/{os.path.basename(movie)[: -len(".bk2")]}.mp4"' in page
    assert page.count(">replay</a>") == 2


# -- bad input: one line, exit 2, nothing written ---------------------------------------------------


def test_bad_replay_files_and_formats_are_one_line(tmp_path):
    not_a_movie = tmp_path / "notes.bk2"
    not_a_movie.write_text("hello")
    assert_one_line(run_cli(tmp_path, "replay", str(not_a_movie)), str(not_a_movie), "not a stable-retro movie", "--record")
    assert_one_line(run_cli(tmp_path, "replay", str(tmp_path / "gone.bk2")), "no such replay file")
    # a real movie's inputs, but of a game Arena cannot render (no ROM): rewrite its header
    foreign = tmp_path / "sonic.bk2"
    with zipfile.ZipFile(foreign, "w") as z:
        z.writestr("Header.txt", "MovieVersion Retro\nGameName SonicTheHedgehog-Genesis-v0\nPlatform Genesis\n")
        z.writestr("Input Log.txt", "[Input]\n[/Input]\n")
        z.writestr("Core.bin", b"")
    result = run_cli(tmp_path, "replay", str(foreign))
    if result.returncode == 2 and "not a stable-retro movie" in result.stderr:
        pytest.fail(f"the hand-made movie did not load: {result.stderr}")
    assert_one_line(result, "SonicTheHedgehog-Genesis-v0", "cannot render", "arena roms import")
    assert_one_line(run_cli(tmp_path, "replay", str(foreign), "--out", "game.txt"), "'.txt'", ".mp4 or .gif")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["notes.bk2", "sonic.bk2"]


class _Count:
    """A toy env without ``record`` (like Melee, which plays in Dolphin and has no .bk2)."""

    @hookimpl
    def arena_register_envs(self, register):
        from toy_envs import CountEnv, CountOptions

        register(
            EnvSpec(
                name="count",
                make=lambda options, cpu_level: CountEnv(options, cpu_level),
                description="count",
                seats=("p1", "p2"),
                num_actions=3,
                options=CountOptions,
            )  # fmt: skip
        )


def test_record_on_an_env_that_cannot_record_is_one_line_and_writes_nothing(pong, tmp_path, monkeypatch, capsys):
    import arena.plugins.manager
    from arena.cli import main

    assert pong.add_plugin(_Count(), "count")
    monkeypatch.setattr(arena.plugins.manager, "_loaded", pong)
    log = tmp_path / "count.jsonl"
    with pytest.raises(SystemExit) as exit_info:
        main(["match", "random", "random", "--env", "count", "--workers", "1", "--record", "--log", str(log),
              "--db", str(tmp_path / "arena.db")])  # fmt: skip
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "env 'count' cannot record replays" in err[0] and "drop --record" in err[0], err
    assert not log.exists() and not replays_folder(log).exists()
    assert MatchStore(tmp_path / "arena.db").games("count") == []

    from arena.games.replay import check_records
    from arena_boxing import BOXING
    from arena_melee import MELEE
    from arena_pong import PONG

    with pytest.raises(ArenaError, match="env 'melee' cannot record replays"):  # refused before Dolphin starts
        check_records(MELEE)
    check_records(PONG), check_records(BOXING)


def test_run_match_with_record_needs_a_log(pong):
    plan = plan_match(A, B, games=1, workers=1, options=pong.envs.get("pong").parse_options(["points=1"]), arena=pong)
    with pytest.raises(ArenaError, match="needs a game log"):
        run_match(plan, arena=pong, record=True)


def test_boxing_records_both_joysticks_and_replays_to_the_same_score(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,boxing")
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    arena = load_plugins()
    spec = arena.envs.get("boxing")
    plan = plan_match("random", "random", env="boxing", games=1, workers=1, options=spec.parse_options(["max_frames=1500"]),
                      arena=arena)  # fmt: skip
    with MatchStore(tmp_path / "arena.db") as store, Recorder("boxing-x", tmp_path / "b.jsonl", store, arena=arena) as rec:
        (record,) = run_match(plan, recorder=rec, arena=arena, record=True).records
    assert record.ok and record.replay
    assert check_movie(record.replay).frames == record.frames
    ram = play_movie(record.replay)  # score1/score2: the white/black boxer's points (BCD, decoded)
    assert {"white": ram["score1"], "black": ram["score2"]} == record.score
    assert sum(record.score.values()) > 0  # something happened worth reproducing


def test_train_record_keeps_the_evaluation_games_movies_in_the_experiment(arena, tmp_path):
    from test_run_evaluation import tiny_plan
    from test_train import STEPS_PER_UPDATE

    from arena.training.run import run_training

    plan = tiny_plan(arena, 2 * STEPS_PER_UPDATE, eval_every=100, eval_games=1, name="recorded")
    run_training(plan, arena=arena, record=True)
    movies = sorted((plan.folder / "logs" / "eval.replays").glob("*.bk2"))
    games = [json.loads(line) for line in (plan.folder / "logs" / "eval.jsonl").read_text().splitlines()]
    assert movies and sorted(g["replay"] for g in games) == [str(m) for m in movies]
    assert all(check_movie(m).frames == g["frames"] for m, g in zip(movies, sorted(games, key=lambda g: g["replay"])))


def test_a_leaderboard_run_with_record_keeps_every_games_movie(pong, tmp_path, monkeypatch):
    from arena.ratings.leaderboard import load_definition
    from arena.ratings.scheduler import run_leaderboard

    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    path = tmp_path / "board.json"
    path.write_text(json.dumps({"env": "pong", "options": {"points": 1}, "entrants": [A, B], "stop": {"max_games": 2}}))
    with MatchStore(tmp_path / "arena.db") as store:
        result = run_leaderboard(load_definition(path), store, workers=1, arena=pong, seed=0, record=True)
        games = store.games("board")
    assert result.played == 2 and result.errors == 0
    movies = [find_replay(game) for game in games]
    assert all(movie is not None and movie.is_file() for movie in movies), movies
    for game, movie in zip(games, movies):  # each movie is its own game: it replays to that score
        ram = play_movie(movie)
        assert (
            sorted((ram["score1"], ram["score2"])) == sorted((game.score_a, game.score_b))
            and max(game.score_a, game.score_b) == 1
        )


# -- what the rendered video shows --------------------------------------------------------------


def one_point_game(arena, tmp_path):
    """Game 0 of a points=1 match between the trackers: the RAM has the point a frame before
    Pong's scoreboard shows it, so the movie's last frame still shows 0 0."""
    summary, _ = recorded_match(arena, tmp_path, games=1, points=1)
    (record,) = summary.records
    assert record.ok and max(record.score.values()) == 1
    return record


def scoreboard(frame):
    """Pong's score digits: the rows above the court's top wall."""
    return frame[:22].astype(int)


def test_the_videos_last_frame_shows_the_deciding_point(pong, tmp_path):
    import imageio.v2 as imageio

    record = one_point_game(pong, tmp_path)
    out = tmp_path / "game.mp4"
    done = run_cli(tmp_path, "replay", record.replay, "--out", str(out))
    assert done.returncode == 0, done.stderr
    reader = imageio.get_reader(out)
    try:
        frames = [frame for frame in reader]
    finally:
        reader.close()
    assert len(frames) > record.frames  # the movie's frames, then a tail with no buttons pressed

    def changed(a, b) -> int:  # pixels that differ by more than H.264 noise
        return int((abs(scoreboard(a) - scoreboard(b)).max(axis=2) > 60).sum())

    assert changed(frames[0], frames[-1]) > 20, "the last frame shows the starting 0 0"
    assert changed(frames[-10], frames[-1]) == 0  # the score settled: the video ends on it


def test_a_gif_plays_for_as_long_as_the_command_says(pong, tmp_path):
    import re

    from PIL import Image

    record = one_point_game(pong, tmp_path)
    out = tmp_path / "game.gif"
    done = run_cli(tmp_path, "replay", record.replay, "--out", str(out))
    assert done.returncode == 0, done.stderr
    said = float(re.search(r"frames, ([0-9.]+) s", done.stdout).group(1))
    with Image.open(out) as image:
        durations = []
        for i in range(image.n_frames):
            image.seek(i)
            durations.append(image.info["duration"])
    plays = sum(durations) / 1000
    assert abs(plays - said) <= 0.05 + 1e-9, (plays, said)  # said to 0.1 s
    # the game's own time at 60 frames a second, the tail included (nobody scores in it here): to a
    # GIF frame, which shows 3 of the game's
    assert abs(plays - (record.frames + TAIL_FRAMES) / 60) <= GIF_EVERY / 60, (plays, record.frames)


def test_a_movie_with_no_frames_is_one_line_and_writes_nothing(pong, tmp_path):
    record = one_point_game(pong, tmp_path)
    with zipfile.ZipFile(record.replay) as real:
        parts = {name: real.read(name) for name in real.namelist()}
    assert "Input Log.txt" in parts
    work = tmp_path / "work"
    work.mkdir()
    cases = {"garbage.bk2": b"garbage\n", "empty.bk2": b"[Input]\n[/Input]\n"}
    for name, log in cases.items():
        with zipfile.ZipFile(work / name, "w") as z:
            for part, data in parts.items():
                z.writestr(part, log if part == "Input Log.txt" else data)
    for name, why in (("garbage.bk2", "not a bk2 input log"), ("empty.bk2", "holds no frames")):
        for out in ("bad.gif", "bad.mp4"):
            result = run_cli(work, "replay", str(work / name), "--out", out)
            assert_one_line(result, str(work / name), "no frames", why)
    assert sorted(p.name for p in work.rglob("*")) == sorted(cases)  # no video, no partial one
