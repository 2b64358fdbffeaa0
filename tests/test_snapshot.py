"""Snapshots: data, never code. Round trips, refused pickles, corrupt files, atomic writes, and
snapshots as ``arena match`` agents. No emulator: everything here takes milliseconds after the
first torch import."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
import torch

from arena.errors import ArenaError
from arena.training.snapshot import file_hash, find_snapshot, list_snapshots, load_snapshot, save_snapshot, snapshot_name

PONG_OBS, PONG_ACTIONS, PONG_FPS = 8, 3, 60.0


@pytest.fixture
def arena(monkeypatch):
    """The built-in plugins, also as the process-wide state that `arena match` and trained agents use."""
    import arena.plugins.manager

    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong,algorithms,enemies")
    loaded = arena.plugins.manager.load_plugins()
    monkeypatch.setattr(arena.plugins.manager, "_loaded", loaded)
    return loaded


def make_learner(arena, act_every=2, **overrides):
    from arena.training.params import parse_params

    spec = arena.algorithms.get("ac")
    params = parse_params(spec.params_class(), [f"{k}={v}" for k, v in overrides.items()], owner="test")
    return spec.learner_class()(params, PONG_OBS, PONG_ACTIONS, PONG_FPS, device="cpu", act_every=act_every)


def meta_for(learner, steps=0, **env_options):
    return {
        "algorithm": "ac",
        "params": dataclasses.asdict(learner.params),
        "env": "pong",
        "env_options": {"act_every": learner.act_every, **env_options},
        "obs_size": PONG_OBS,
        "num_actions": PONG_ACTIONS,
        "fps": PONG_FPS,
        "experiment": "test",
        "counters": {"steps": steps, "updates": learner.updates},
    }


def write_snapshot(folder, learner, steps=0, **env_options):
    return save_snapshot(
        folder / "snapshots" / snapshot_name(steps), meta_for(learner, steps, **env_options), learner.state_dict()
    )


def assert_one_line(message: str, *needles: str) -> None:
    assert "\n" not in message and "\x1b" not in message, repr(message)
    for needle in needles:
        assert needle in message, (needle, message)


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip_keeps_weights_optimiser_and_meta(arena, tmp_path):
    learner = make_learner(arena, learning_rate=0.001)
    learner.updates = 7
    path = write_snapshot(tmp_path, learner, steps=4096)
    assert path.name == "000000004096.pt"

    # the file itself is plain data: torch's safe loader reads it without any allow-listing
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "arena-snapshot" and raw["version"] == 1

    snap = load_snapshot(path)
    assert snap.algorithm == "ac" and snap.env == "pong"
    assert snap.meta["params"]["learning_rate"] == 0.001
    assert snap.meta["counters"] == {"steps": 4096, "updates": 7}
    original = learner.state_dict()
    assert snap.learner["updates"] == 7
    assert snap.learner["model"].keys() == original["model"].keys()
    for key, tensor in original["model"].items():
        assert torch.equal(snap.learner["model"][key], tensor), key

    other = make_learner(arena, learning_rate=0.001, seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(other.model.state_dict().values(), original["model"].values()))
    other.load_state_dict(snap.learner)
    assert other.updates == 7
    for key, tensor in original["model"].items():
        assert torch.equal(other.model.state_dict()[key], tensor), key


def test_experiment_folder_means_its_newest_snapshot(arena, tmp_path):
    learner = make_learner(arena)
    for steps in (0, 128, 1024):
        write_snapshot(tmp_path, learner, steps)
    assert [p.name for p in list_snapshots(tmp_path)] == ["000000000000.pt", "000000000128.pt", "000000001024.pt"]
    assert find_snapshot(tmp_path).name == "000000001024.pt"
    assert load_snapshot(tmp_path).meta["counters"]["steps"] == 1024


def test_no_snapshot_in_folder_or_path(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArenaError) as info:
        find_snapshot(tmp_path / "empty")
    assert_one_line(str(info.value), "no snapshot in", "empty")
    with pytest.raises(ArenaError) as info:
        load_snapshot(tmp_path / "nothing-here")
    assert_one_line(str(info.value), "no snapshot at", "nothing-here", "does not exist")


# -- refused and corrupt files ------------------------------------------------------------------


class Payload:
    """Unpickling this would run code: it must never happen."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


class Custom:
    """An arbitrary class; torch.save pickles it by reference."""


@pytest.mark.parametrize("kind", ["code", "custom class"])
def test_pickled_objects_are_refused_not_executed(arena, tmp_path, kind):
    learner = make_learner(arena)
    marker = tmp_path / "executed"
    state = learner.state_dict()
    state["extra"] = Payload(str(marker)) if kind == "code" else Custom()
    path = tmp_path / "evil.pt"
    torch.save({"format": "arena-snapshot", "version": 1, "meta": json.dumps(meta_for(learner)), "learner": state}, path)

    with pytest.raises(ArenaError) as info:
        load_snapshot(path)
    message = str(info.value)
    assert_one_line(message, str(path), "not an Arena snapshot", "pickled Python object")
    assert "weights_only=False" not in message and "weights_only` set to `False" not in message  # no unsafe advice
    assert not marker.exists()


def test_a_plain_pickle_is_refused_quietly_not_executed(tmp_path):
    """A pickle not written by torch.save: the one-line error alone, not torch's warning about its
    pickle protocol above it."""
    import pickle
    import warnings

    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Payload(str(marker)), protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ArenaError) as info:
            load_snapshot(path)
    assert_one_line(str(info.value), str(path), "not an Arena snapshot")
    assert not marker.exists()


def _truncated(good: bytes) -> bytes:
    return good[: len(good) // 2]


CORRUPT = {
    "truncated": _truncated,
    "random bytes": lambda good: bytes(range(256)) * 8,
    "empty": lambda good: b"",
    "json": lambda good: json.dumps({"format": "arena-snapshot", "version": 1}).encode(),
}


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_corrupt_file_is_a_one_line_error(arena, tmp_path, kind):
    good = write_snapshot(tmp_path, make_learner(arena)).read_bytes()
    path = tmp_path / "corrupt.pt"
    path.write_bytes(CORRUPT[kind](good))
    with pytest.raises(ArenaError) as info:
        load_snapshot(path)
    assert_one_line(str(info.value), str(path), "corrupt or not an Arena snapshot")


def test_foreign_torch_file_is_not_a_snapshot(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, path)
    with pytest.raises(ArenaError) as info:
        load_snapshot(path)
    assert_one_line(str(info.value), "not an Arena snapshot", "arena-snapshot")


def test_damaged_meta_is_named(arena, tmp_path):
    learner = make_learner(arena)
    meta = meta_for(learner)
    del meta["obs_size"]
    path = tmp_path / "damaged.pt"
    torch.save({"format": "arena-snapshot", "version": 1, "meta": json.dumps(meta), "learner": learner.state_dict()}, path)
    with pytest.raises(ArenaError) as info:
        load_snapshot(path)
    assert_one_line(str(info.value), "damaged Arena snapshot", "obs_size")


def run_cli(monkeypatch, capsys, tmp_path, *args):
    """`arena ARGS` in this process, from ``tmp_path``: (exit status, stdout, stderr)."""
    from arena.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARENA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.mark.parametrize("kind", ["truncated", "json"])
def test_match_against_a_corrupt_snapshot_exits_2(arena, tmp_path, monkeypatch, capsys, kind):
    good = write_snapshot(tmp_path, make_learner(arena)).read_bytes()
    (tmp_path / "corrupt.pt").write_bytes(CORRUPT[kind](good))
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "match", "corrupt.pt", "cpu", "--games", "1")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), err
    assert "corrupt.pt" in lines[0] and "corrupt or not an Arena snapshot" in lines[0]
    assert "Traceback" not in out + err
    assert not (tmp_path / "home").exists()  # no game played, nothing logged


# -- atomic writes ------------------------------------------------------------------------------


def test_save_leaves_no_temporary_files(arena, tmp_path):
    learner = make_learner(arena)
    for steps in (0, 128, 128):  # the last one replaces an existing snapshot
        write_snapshot(tmp_path, learner, steps)
    assert sorted(os.listdir(tmp_path / "snapshots")) == ["000000000000.pt", "000000000128.pt"]


@pytest.mark.parametrize("bad", ["unpicklable", "not loadable"])
def test_failing_save_keeps_the_previous_file(arena, tmp_path, bad):
    learner = make_learner(arena)
    path = write_snapshot(tmp_path, learner, steps=128)
    before = path.read_bytes()
    state = learner.state_dict()
    # a lambda cannot be pickled at all; a custom object pickles but would not load back safely
    state["extra"] = (lambda: None) if bad == "unpicklable" else Custom()
    with pytest.raises(Exception) as info:
        save_snapshot(path, meta_for(learner, 128), state)
    if bad == "not loadable":
        assert isinstance(info.value, ArenaError)
        assert_one_line(str(info.value), "cannot save snapshot", "Custom", "weights_only=True")
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # the temporary file is gone
    assert load_snapshot(path).meta["counters"]["steps"] == 128


def test_listing_ignores_temporary_and_foreign_files(arena, tmp_path):
    write_snapshot(tmp_path, make_learner(arena), 256)
    folder = tmp_path / "snapshots"
    (folder / ".000000000512.pt.1234.tmp").write_bytes(b"half a snapshot")
    (folder / "notes.txt").write_text("hello")
    assert [p.name for p in list_snapshots(tmp_path)] == ["000000000256.pt"]


# -- snapshots as players -----------------------------------------------------------------------


def test_trained_agent_repeats_actions_to_its_act_every(arena, tmp_path):
    from arena.plugins.agents import resolve

    path = write_snapshot(tmp_path, make_learner(arena, act_every=4))  # the env ran at act_every=4
    pong = arena.envs.get("pong")
    for env_act_every, repeat in ((1, 4), (2, 2), (4, 1)):
        agent = resolve(str(path), arena.agents, pong, pong.parse_options([f"act_every={env_act_every}"]))
        assert (agent.repeat, agent.extra_delay) == (repeat, 0)
        assert agent.hash == file_hash(path)
    agent.reset(0)
    assert agent.act([0.0] * PONG_OBS) in range(PONG_ACTIONS)
    with pytest.raises(ArenaError) as info:
        resolve(str(path), arena.agents, pong, pong.parse_options(["act_every=3"]))
    assert_one_line(str(info.value), "act_every=4 delay=0", "act_every=3 delay=0", "-o act_every=1, 2 or 4")


def test_trained_agent_replays_its_delay_in_env_steps(arena, tmp_path):
    from arena.plugins.agents import resolve

    path = write_snapshot(tmp_path, make_learner(arena, act_every=4), delay=2)  # 2 steps of 4 frames: 8 frames late
    pong = arena.envs.get("pong")
    for pairs, repeat, extra in (
        (["act_every=4", "delay=2"], 1, 0),
        (["act_every=2"], 2, 4),
        (["act_every=2", "delay=1"], 2, 3),
        (["act_every=1", "delay=8"], 4, 0),
    ):
        agent = resolve(str(path), arena.agents, pong, pong.parse_options(pairs))
        assert (agent.repeat, agent.extra_delay) == (repeat, extra), pairs
    with pytest.raises(ArenaError) as info:  # the env alone already delays more than it was trained to see
        resolve(str(path), arena.agents, pong, pong.parse_options(["act_every=2", "delay=5"]))
    assert_one_line(str(info.value), "act_every=4 delay=2", "act_every=2 delay=5", "-o act_every=1")


def test_match_with_incompatible_act_every_exits_2(arena, tmp_path, monkeypatch, capsys):
    write_snapshot(tmp_path / "experiments" / "ac", make_learner(arena))
    code, out, err = run_cli(monkeypatch, capsys, tmp_path, "match", "experiments/ac", "cpu", "-o", "act_every=3")
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("arena: error: "), err
    assert "experiments/ac" in lines[0] and "act_every=3" in lines[0]
    assert not (tmp_path / "home").exists()


def test_snapshot_of_a_missing_algorithm_is_named(arena, tmp_path):
    from arena.training.trained import build_model

    learner = make_learner(arena)
    meta = dict(meta_for(learner), algorithm="nope")
    path = save_snapshot(tmp_path / "x.pt", meta, learner.state_dict())
    with pytest.raises(ArenaError) as info:
        build_model(load_snapshot(path), arena)
    assert_one_line(str(info.value), "'nope'", "installed")


def test_a_parameter_this_version_lacks_is_ignored_with_a_warning(arena, tmp_path, capsys, monkeypatch):
    """A snapshot saved by a version with a parameter since removed still plays, the same way; the
    warning is said once, not for every snapshot of the experiment."""
    import arena.training.trained as trained
    from arena.training.trained import build_model

    monkeypatch.setattr(trained, "_warned", set(), raising=False)
    learner = make_learner(arena)
    meta = meta_for(learner)
    meta["params"] = dict(meta["params"], lr_target_kl=0.0)  # an option an older build had
    path = save_snapshot(tmp_path / "x.pt", meta, learner.state_dict())
    model, params = build_model(load_snapshot(path), arena)
    assert params == learner.params
    for key, value in learner.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    err = capsys.readouterr().err
    assert_one_line(err.strip(), "arena: warning:", "lr_target_kl", "'ac'")
    build_model(load_snapshot(save_snapshot(tmp_path / "y.pt", meta, learner.state_dict())), arena)
    assert capsys.readouterr().err == ""


def test_an_ignored_parameter_that_shaped_the_network_still_fails_clearly(arena, tmp_path):
    from arena.training.trained import build_model

    learner = make_learner(arena, embed_sizes="16")
    meta = meta_for(learner)
    params = dict(meta["params"])
    params["trunk_sizes"] = params.pop("embed_sizes")  # as if the field had been renamed
    path = save_snapshot(tmp_path / "x.pt", dict(meta, params=params), learner.state_dict())
    with pytest.raises(ArenaError) as info:
        build_model(load_snapshot(path), arena)
    assert_one_line(str(info.value), "does not fit", "retrain")


def test_a_snapshot_from_before_a_new_parameter_plays_as_it_was_trained(arena, tmp_path, capsys):
    """rac's critic became a network of its own (``shared_critic`` false); a snapshot saved before the
    parameter existed was trained with the shared one, and is rebuilt that way, not refused."""
    from arena.training.params import parse_params
    from arena.training.trained import build_model

    spec = arena.algorithms.get("rac")
    small = ["embed_sizes=16", "gru_size=8", "actor_sizes=8", "critic_sizes=8"]
    learner = spec.learner_class()(
        parse_params(spec.params_class(), small + ["shared_critic=true"], owner="test"),
        PONG_OBS,
        PONG_ACTIONS,
        PONG_FPS,
        device="cpu",
    )
    meta = dict(meta_for(learner), algorithm="rac")
    meta["params"] = {k: v for k, v in meta["params"].items() if k != "shared_critic"}  # as an older build wrote it
    path = save_snapshot(tmp_path / "x.pt", meta, learner.state_dict())
    model, params = build_model(load_snapshot(path), arena)
    assert params.shared_critic is True and spec.params_class()().shared_critic is False
    for key, value in learner.model.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    assert capsys.readouterr().err == ""


def test_the_torch_floor_is_past_the_known_weights_only_escapes():
    """torch before 2.6 could run code from a file even with weights_only=True (CVE-2025-32434):
    Arena must never be installed with one."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    (torch,) = [Requirement(r) for r in requires("arena-rl") if Requirement(r).name == "torch"]
    assert not torch.specifier.contains("2.5.1") and torch.specifier.contains("2.6.0")
