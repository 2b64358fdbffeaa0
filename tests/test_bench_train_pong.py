"""bench/train_pong.py: the seed roles never overlap, the across-seed arithmetic on hand-made
numbers, and a ``--smoke`` run end to end (tiny budgets, games to one point)."""

from __future__ import annotations

import importlib.util
import json
import math
from itertools import combinations
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture
def bench(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_train_pong", BENCH / "train_pong.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", tmp_path / "results")
    for var in ("ARENA_EXPERIMENTS", "ARENA_HOME", "ARENA_DB"):  # the bench sets them; put them back after
        monkeypatch.setenv(var, str(tmp_path / var))
    return module


def overlap(a: range, b: range) -> bool:
    return max(a.start, b.start) < min(a.stop, b.stop)


def test_seed_roles_are_disjoint(bench):
    train = [bench.VALIDATION_TRAIN_SEEDS, bench.TRAIN_SEEDS]
    games = [bench.RETIRED_GAME_SEEDS, bench.VALIDATION_GAME_SEEDS, bench.TEST_GAME_SEEDS]
    for a, b in [*combinations(train, 2), *combinations(games, 2)]:
        assert not overlap(a, b), (a, b)
    # What past tuning used is validation or retired, never a reported seed.
    assert {0, 1, 2, 3} <= set(bench.VALIDATION_TRAIN_SEEDS)
    assert {10_000, 10_009, 20_000} <= set(bench.RETIRED_GAME_SEEDS)
    # Every default run is on a training seed, and no training game of one gets an evaluation seed.
    args = bench.parse_args([])
    assert all(s in bench.TRAIN_SEEDS for seeds in args.plan.values() for s in seeds)
    assert args.game_seed0 in bench.TEST_GAME_SEEDS
    assert bench.train_game_seed(bench.TRAIN_SEEDS.start, 0, 0) >= max(r.stop for r in games)
    # The minimum: rac and ppo on 5 seeds, SB3 PPO on 3, the others (and the default job) at least once.
    assert {c: len(s) for c, s in args.plan.items()} == {
        "rac": 5,
        "ppo": 5,
        "sb3-ppo": 3,
        "default": 3,
        "dqn": 1,
        "rdqn": 1,
        "a2c": 1,
    }
    assert bench.parse_args(["--validation"]).game_seed0 in bench.VALIDATION_GAME_SEEDS


def test_seed_roles_follow_arenas_game_seed_ranges(bench):
    evaluation = pytest.importorskip("arena.training.evaluation")
    if not hasattr(evaluation, "TEST_SEEDS"):
        pytest.skip("this Arena does not split game seeds")
    assert bench.TEST_GAME_SEEDS.start >= evaluation.TEST_SEEDS.start and bench.TEST_GAME_SEEDS.stop <= evaluation.TEST_SEEDS.stop
    assert bench.VALIDATION_GAME_SEEDS == evaluation.VALIDATION_SEEDS


def test_reported_runs_refuse_tuning_seeds(bench):
    with pytest.raises(SystemExit, match="--validation"):
        bench.parse_args(["--seeds", "0,101"])
    assert bench.parse_args(["--seeds", "0,1", "--validation"]).plan["rac"] == [0, 1]


def test_settings_tried_keep_their_own_folder(bench):
    plain = bench.parse_args(["--validation", "--algos", "rac"])
    tried = bench.parse_args(["--validation", "--algos", "rac", "--set", "sweeps=2", "-o", "act_every=4"])
    assert bench.protocol_name(plain) == "validation_f2000000_e250000_g10"
    assert bench.protocol_name(tried) == "validation_f2000000_e250000_g10_act_every4_sweeps2"


def test_interval_and_crossings_on_hand_made_numbers(bench):
    mean, (low, high) = bench.interval([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)  # t(0.975, 4) * sd / sqrt(n)
    assert mean == 3.0 and low == pytest.approx(3.0 - half) and high == pytest.approx(3.0 + half)
    assert bench.interval([2.0]) == (2.0, None)

    curve = [(250_000, -5.0), (500_000, 0.0), (700_000, 1.0), (750_000, -0.5), (1_000_000, 2.0), (1_250_000, 3.0)]
    assert bench.first_above(curve) == 700_000  # exceeds, so 0.0 is not enough
    assert bench.above_from(curve) == 1_000_000  # the dip at 0.75M restarts it
    assert bench.first_above([(1, None), (2, -1.0)]) is None
    assert bench.above_from([(1, 1.0), (2, -1.0)]) is None

    assert bench.ratio_to(500_000, 1_000_000, 2_000_000) == (0.5, "")
    assert bench.ratio_to(None, 1_000_000, 2_000_000) == (2.0, ">")  # never: more than the budget
    assert bench.ratio_to(500_000, None, 2_000_000) == (0.25, "<")
    assert bench.ratio_to(None, None, 2_000_000) == (None, "")

    assert bench.marks_for(2_000_000, 250_000) == [250_000, 500_000, 700_000, 750_000, *range(1_000_000, 2_000_001, 250_000)]
    assert bench.marks_for(50_000, 20_000) == [20_000, 40_000, 50_000]
    snaps = [(0, "a"), (24_000, "b"), (49_000, "c"), (51_000, "d")]
    assert bench.nearest(snaps, [25_000, 50_000]) == {25_000: (24_000, "b"), 50_000: (51_000, "d")}


def test_summary_across_seeds(bench):
    def run(seed, means, published=None):
        evals = [{"mark": m, "mean": v} for m, v in zip([100, 200, 300], means)]
        return {"seed": seed, "frames": 300, "train_s": 3.0, "evals": evals, "published": published and {"mean": published}}

    runs = [run(101, [-3.0, 1.0, 4.0], 2.0), run(102, [-1.0, -1.0, 2.0], 4.0), run(103, [-2.0, 3.0, None])]
    s = bench.summarize("rac", runs, [100, 200, 300])
    assert [r["mean"] for r in s["rows"]] == [-2.0, 1.0, 3.0]
    assert s["rows"][2]["per_seed"] == {101: 4.0, 102: 2.0}  # a mark without games leaves its seed out
    half = 4.303 / math.sqrt(3)  # -3, -1, -2: sd 1, t(0.975, 2)
    assert s["rows"][0]["ci95"] == pytest.approx((-2.0 - half, -2.0 + half))
    assert s["mean_above_0"] == 200 and s["seed_above_0"] == {101: 200, 102: 300, 103: 200}
    assert s["fps"] == 100.0 and s["published"]["mean"] == 3.0
    # runs of one configuration differ in their seed by design; anything else is flagged
    for r in runs:
        r["params"] = {"seed": r["seed"], "learning_rate": 3e-4}
    assert not bench.summarize("rac", runs, [100, 200, 300])["mixed_params"]
    runs[0]["params"]["learning_rate"] = 1e-3
    assert bench.summarize("rac", runs, [100, 200, 300])["mixed_params"]


def test_swing_splits_the_marks_spread_into_the_snapshots_and_the_games(bench):
    def run(marks_diffs):
        return {"evals": [{"mark": m, "diffs": d, "mean": sum(d) / len(d)} for m, d in marks_diffs]}

    # within each snapshot the games' sample variance is 16/3 (a 4-game mean's: 4/3); the two
    # marks of each run from 1M on have means 0 and 6 (variance 18), so the snapshots' own 18 - 4/3
    runs = [
        run([(500_000, [-9, -9, -9, -9]), (1_000_000, [-2, 2, -2, 2]), (1_250_000, [4, 8, 4, 8])]),
        run([(1_000_000, [4, 8, 4, 8]), (1_250_000, [-2, 2, -2, 2]), (-1, [21, 21, 21, 21])]),  # -1: published
    ]
    w = bench.swing(runs, 1_000_000)
    assert w["game_sd"] == pytest.approx(math.sqrt(16 / 3))  # sample variance of -2, 2, -2, 2
    assert w["mark_se"] == pytest.approx(math.sqrt(16 / 3 / 4))
    assert w["between_sd"] == pytest.approx(math.sqrt(18))
    assert w["snapshot_sd"] == pytest.approx(math.sqrt(18 - 16 / 12))
    assert bench.swing([run([(1_000_000, [1, 2])])], 1_000_000) is None  # one mark: no spread between marks
    same = bench.swing([run([(1_000_000, [-5, 5]), (1_250_000, [5, -5])])], 1_000_000)
    assert same["between_sd"] == 0 and same["snapshot_sd"] == 0  # the games' noise alone explains it


def test_smoke_run_end_to_end(bench, tmp_path, capsys):
    algos = "rac,sb3-ppo" if bench.sb3_available() else "rac"
    bench.main(["--smoke", "--algos", algos])
    out = capsys.readouterr().out
    results = tmp_path / "results"
    data = json.loads((results / "train_pong_smoke.json").read_text())
    assert data["kind"] == "smoke" and data["marks"] == [2048, 4096]
    for config in algos.split(","):
        (run,) = data["runs"][config]
        assert run["seed"] == 101 and run["frames"] >= 4096 and run["train_s"] > 0
        assert [e["mark"] for e in run["evals"]] == [2048, 4096]
        for e in run["evals"]:
            assert e["games"] == 1 and e["seeds"] == [bench.TEST_GAME_SEEDS.start] and e["diffs"][0] in (-1, 0, 1)
            assert abs(e["frames"] - e["mark"]) <= 2048  # the snapshot nearest the mark
        assert f"\n{config}: training seeds 101" in out
    assert "Side by side" in out and (results / "train_pong_smoke.svg").read_text().startswith("<?xml")
    # The evaluated snapshots are kept, the others deleted; a resumed benchmark skips finished runs.
    kept = {Path(e["snapshot"]).name for e in data["runs"]["rac"][0]["evals"]}
    folder = results / "train_pong" / data["protocol"] / "experiments" / "rac-s101" / "snapshots"
    assert {p.name for p in folder.glob("*.pt")} <= kept | {max(p.name for p in folder.glob("*.pt"))}
    bench.main(["--smoke", "--algos", algos, "--resume"])
    assert "rac, training seed 101: done" in capsys.readouterr().out
    # --report tabulates what is finished and trains nothing
    bench.main(["--smoke", "--algos", "rac", "--n-seeds", "2", "--report"])
    out = capsys.readouterr().out
    assert "rac, training seed 101: done" in out and "rac, training seed 102: not run yet" in out
    assert "\nrac: training seeds 101;" in out and not (folder.parent.parent / "rac-s102").exists()
