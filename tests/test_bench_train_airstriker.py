"""bench/train_airstriker.py: the seed roles and defaults, the "well above random" arithmetic on
hand-made numbers, and a ``--smoke`` run end to end (tiny budgets, turns cut at 300 frames)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_train_airstriker", BENCH / "train_airstriker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    for var in ("ARENA_EXPERIMENTS", "ARENA_HOME", "ARENA_DB"):  # the bench sets them; put them back after
        monkeypatch.setenv(var, str(tmp_path / var))
    return module


def test_defaults_and_seed_roles(bench):
    args = bench.parse_args([])
    assert args.plan == {config: [101, 102, 103] for config in ("a2c", "a2c-adam", "ppo", "sb3-a2c")}
    assert (args.frames, args.eval_every, args.games, args.workers) == (600_000, 200_000, 10, 2)
    assert args.game_seed0 == 500_000 and args.game_seed0 in bench.pong.TEST_GAME_SEEDS
    assert bench.marks_for(args.frames, args.eval_every) == [200_000, 400_000, 600_000]
    assert bench.protocol_name(args) == "f600000_e200000_g10"
    # No training game of a reported run gets a test or validation game seed.
    assert bench.train_game_seed(101, 0, 1) >= bench.pong.VALIDATION_GAME_SEEDS.stop
    # Tuning stays apart: validation seeds, validation games, its own folder.
    tuning = bench.parse_args(["--validation", "--algos", "a2c"])
    assert tuning.plan == {"a2c": [0, 1, 2]} and tuning.game_seed0 in bench.pong.VALIDATION_GAME_SEEDS
    assert bench.protocol_name(tuning).startswith("validation_")
    # settings tried on the same seed keep their own experiments
    tried = bench.parse_args(["--validation", "--algos", "a2c", "--set", "learning_rate=7e-4"])
    assert bench.protocol_name(tried) == bench.protocol_name(tuning) + "_learning_rate7e-4"
    with pytest.raises(SystemExit, match="--validation"):
        bench.parse_args(["--seeds", "0,101"])
    # random is the baseline, always played: naming it trains nothing; an unknown name is refused.
    assert bench.parse_args(["--algos", "random,a2c", "--n-seeds", "1"]).plan == {"a2c": [101]}
    with pytest.raises(SystemExit):
        bench.parse_args(["--algos", "dqn"])
    assert bench.parse_args(["--algos", "ppo", "--seeds", "104"]).plan == {"ppo": [104]}
    smoke = bench.parse_args(["--smoke"])
    assert smoke.workers == 1 and "max_frames=300" in smoke.options and smoke.plan["a2c"] == [101]
    assert bench.protocol_name(smoke) == "f4096_e2048_g1_w1_max_frames300_experience_length128"


def test_marks_and_policy_seeds(bench):
    assert bench.marks_for(50_000, 20_000) == [20_000, 40_000, 50_000]
    assert bench.marks_for(4096, 2048) == [2048, 4096]
    # A test game's draws are a match's first seat's; the random agent's repeats draw differently.
    assert bench.policy_seed(500_000) == 500_000 * 1000 + 1
    assert len({bench.policy_seed(500_000, r) for r in range(bench.RANDOM_REPEATS)}) == bench.RANDOM_REPEATS


def test_well_above_random_on_hand_made_numbers(bench):
    assert bench.ratio(300.0, 150.0) == 2.0
    assert bench.ratio(None, 150.0) is None and bench.ratio(300.0, 0.0) is None and bench.ratio(1.0, None) is None
    # twice random's mean and the interval's lower end above random's mean; one seed (no interval): never
    assert bench.well_above(300.0, (160.0, 440.0), 150.0)
    assert not bench.well_above(290.0, (160.0, 420.0), 150.0)  # under 2x
    assert not bench.well_above(400.0, (140.0, 660.0), 150.0)  # the interval reaches random
    assert not bench.well_above(400.0, None, 150.0)
    assert not bench.well_above(None, None, 150.0)
    flags = [(1, False), (2, True), (3, False), (4, True), (5, True)]
    assert bench.first_and_from(flags) == (2, 4)  # the dip at 3 restarts it
    assert bench.first_and_from([(1, True), (2, False)]) == (1, None)
    assert bench.first_and_from([(1, False)]) == (None, None)


def test_summary_across_seeds(bench):
    def run(seed, means):
        evals = [{"mark": m, "mean": v} for m, v in zip([100, 200, 300], means)]
        return {"seed": seed, "frames": 300, "train_s": 3.0, "evals": evals, "params": {"seed": seed}}

    runs = [run(101, [100.0, 300.0, 500.0]), run(102, [120.0, 320.0, 520.0]), run(103, [110.0, 280.0, None])]
    s = bench.summarize("a2c", runs, [100, 200, 300], random_mean=100.0)
    assert [r["mean"] for r in s["rows"]] == [110.0, 300.0, 510.0]
    assert s["rows"][2]["per_seed"] == {101: 500.0, 102: 520.0}  # a mark without games leaves its seed out
    half = 4.303 * 10.0 / math.sqrt(3)  # 100, 120, 110: sd 10, t(0.975, 2)
    assert s["rows"][0]["ci95"] == pytest.approx((110.0 - half, 110.0 + half))
    assert [r["x_random"] for r in s["rows"]] == [1.1, 3.0, 5.1]
    assert [r["well_above"] for r in s["rows"]] == [False, True, True]
    assert (s["well_above_first"], s["well_above_from"], s["mean_above_2x"]) == (200, 200, 200)
    assert s["seed_above_2x"] == {101: 200, 102: 200, 103: 200}
    assert s["fps"] == 100.0 and not s["mixed_params"]
    line = bench.summary_line(s, 300)
    assert line.startswith("a2c: well above random first at 0.2k, from 0.2k on;") and "x5.10 random" in line

    rand = bench.random_summary({"games": [[500_000, 1, 100, 900], [500_000, 2, 200, 1100], [500_001, 1, 300, 1000]]})
    assert rand["mean"] == 200.0 and rand["games"] == 3 and rand["frames"] == 3000
    assert rand["ci95"] == pytest.approx((200.0 - 4.303 * 100.0 / math.sqrt(3), 200.0 + 4.303 * 100.0 / math.sqrt(3)))


@pytest.mark.slow
def test_smoke_run_end_to_end(bench, tmp_path, capsys):
    algos = "a2c,a2c-adam,sb3-a2c" if bench.sb3_available() else "a2c,a2c-adam"
    bench.main(["--smoke", "--algos", algos])
    out = capsys.readouterr().out
    results = tmp_path / "results"
    data = json.loads((results / "train_airstriker_smoke.json").read_text())
    assert data["kind"] == "smoke" and data["env"] == "airstriker" and data["marks"] == [2048, 4096]
    # The baseline: the random agent on the same test seeds, scoring more than nothing.
    assert data["random"]["mean"] > 0 and data["random"]["games"] == bench.RANDOM_REPEATS
    assert {seed for seed, *_ in data["random"]["run"]["games"]} == {bench.pong.TEST_GAME_SEEDS.start}
    assert [s["config"] for s in data["summary"]] == algos.split(",")
    for config in algos.split(","):
        (run,) = data["runs"][config]
        assert run["seed"] == 101 and run["frames"] >= 4096 and run["train_s"] > 0 and run["fps"] > 0
        assert [e["mark"] for e in run["evals"]] == [2048, 4096]
        for e in run["evals"]:
            assert e["games"] == 1 and e["seeds"] == [bench.pong.TEST_GAME_SEEDS.start] and e["scores"][0] >= 0
            assert 0 < e["game_frames"] <= 300 + 30 + 4  # the turn is cut at 300 frames, after its no-ops
            assert abs(e["frames"] - e["mark"]) <= 1024  # the snapshot nearest the mark
        (summary,) = [s for s in data["summary"] if s["config"] == config]
        assert [r["mark"] for r in summary["rows"]] == [2048, 4096]
        assert all(r["x_random"] is not None for r in summary["rows"])
        assert f"\n{config}: training seeds 101" in out and f"\n{config}: well above random first at" in out
    # a named configuration is its algorithm with its own settings (the smoke's shorter trajectories on top)
    params = data["runs"]["a2c-adam"][0]["params"]
    assert (params["optimizer"], params["sweeps"], params["advantage_norm"], params["experience_length"]) == (
        "adam",
        1,
        True,
        128,
    )
    assert data["runs"]["a2c"][0]["params"]["optimizer"] == "rmsprop_tf"
    if "sb3-a2c" in algos:  # the baseline at RL Baselines3 Zoo's Atari settings, not SB3's bare defaults
        params = data["runs"]["sb3-a2c"][0]["params"]
        assert (params["ent_coef"], params["vf_coef"], params["optimizer"]) == (0.01, 0.25, "RMSpropTFLike")
    # The frames x configurations table, with random's column.
    header = next(line for line in out.splitlines() if line.lstrip().startswith("frames |"))
    assert all(f"{config} (1 seeds)" in header for config in algos.split(",")) and header.rstrip().endswith("random")
    assert any(line.lstrip().startswith("4,096 |") for line in out.splitlines())
    assert (results / "train_airstriker_smoke.svg").read_text().startswith("<?xml")
    # The evaluated snapshots are kept, the others deleted; a resumed benchmark skips finished runs.
    kept = {Path(e["snapshot"]).name for e in data["runs"]["a2c"][0]["evals"]}
    folder = results / "train_airstriker" / data["protocol"] / "experiments" / "a2c-s101" / "snapshots"
    assert {p.name for p in folder.glob("*.pt")} <= kept | {max(p.name for p in folder.glob("*.pt"))}
    bench.main(["--smoke", "--algos", algos, "--resume"])
    out = capsys.readouterr().out
    assert "random: done" in out and "a2c, training seed 101: done" in out
    # --report tabulates what is finished and trains nothing
    bench.main(["--smoke", "--algos", "a2c", "--n-seeds", "2", "--report"])
    out = capsys.readouterr().out
    assert "a2c, training seed 101: done" in out and "a2c, training seed 102: not run yet" in out
    assert not (folder.parent.parent / "a2c-s102").exists()
