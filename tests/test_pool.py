"""Enemy pools: the extended enemies-file format, win-rate statistics and sampling rules,
checked against probabilities worked out by hand."""

import json
import math
import pickle
import random
from collections import Counter
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.training.enemies import EnemyEntry, PoolConfig, load_enemies, load_pool_file
from arena.training.pool import MAX_PAST_SNAPSHOTS, EnemyPool, sample
from arena_enemies import PFSP_FLOOR

ROOT = Path(__file__).resolve().parents[1]


def pool_from(tmp_path, data, name="pool.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return EnemyPool(load_pool_file(path))


def probs(distribution):
    """``{spec: probability}``; each spec appears once in a distribution."""
    specs = [spec for _, spec, _ in distribution]
    assert len(set(specs)) == len(specs)
    return {spec: p for _, spec, p in distribution}


def play(pool, label, wins=0, losses=0, draws=0):
    for outcome, n in ((1.0, wins), (0.0, losses), (0.5, draws)):
        for _ in range(n):
            pool.record(label, outcome)


# -- the format --------------------------------------------------------------------------------


def test_weights_and_labels(tmp_path):
    pool = pool_from(
        tmp_path,
        {
            "enemies": [
                {"agent": "self", "weight": 2},
                {"cpu": True, "weight": 1.5},
                {"agent": "bot:tracker:3", "weight": 3},
                "agents/foo.pt",
                {"char": "falcon", "level": 9, "weight": 0.5},
            ]
        },
    )
    assert pool.config.sampling == "uniform"  # the object form's default
    assert pool.config.entries == [
        EnemyEntry("self", "self", 2.0),
        EnemyEntry("cpu", "cpu", 1.5),
        EnemyEntry("bot:tracker:3", "bot:tracker:3", 3.0),
        EnemyEntry("agents/foo.pt", "agents/foo.pt", 1.0),
        EnemyEntry("cpu:9", "cpu:9", 0.5, char="falcon"),
    ]
    # load_enemies, used elsewhere, reads the extended format too and still returns the specs
    assert load_enemies(tmp_path / "pool.json") == ["self", "cpu", "bot:tracker:3", "agents/foo.pt", "cpu:9"]


def test_knobs(tmp_path):
    config = load_pool_file(_write(tmp_path, {"sampling": "pfsp", "pfsp_power": 1, "enemies": ["self"]}))
    assert (config.sampling, config.knobs) == ("pfsp", {"pfsp_power": 1})
    assert EnemyPool(config).rule.power == 1.0
    config = load_pool_file(_write(tmp_path, {"sampling": "openai_five", "latest_self": 0.9, "enemies": ["self"]}))
    assert (config.sampling, config.knobs) == ("openai_five", {"latest_self": 0.9})
    assert EnemyPool(config).rule.latest == 0.9
    config = load_pool_file(_write(tmp_path, {"sampling": "pfsp", "enemies": ["self"]}))
    assert config.knobs == {} and EnemyPool(config).rule.power == 2.0  # the rule's default


def test_phillip_file_loads_unchanged():
    path = ROOT / "tests" / "data" / "phillip_enemies.json"
    config = load_pool_file(path)
    assert config.sampling == "uniform"
    assert [(e.label, e.spec, e.weight) for e in config.entries] == [
        ("self", "self", 1.0),
        ("agents/delay0/FalconFalconBF", "agents/delay0/FalconFalconBF", 1.0),
        ("cpu:9", "cpu:9", 1.0),
    ]
    assert EnemyPool(config).distribution() == [
        ("self", "self", 1 / 3),
        ("agents/delay0/FalconFalconBF", "agents/delay0/FalconFalconBF", 1 / 3),
        ("cpu:9", "cpu:9", 1 / 3),
    ]


def test_shipped_pfsp_example():
    pool = EnemyPool.from_file(ROOT / "enemies" / "pfsp.json")
    assert pool.config.sampling == "pfsp"
    assert pool.labels == ["self", "cpu", "bot:tracker:5", "bot:tracker:9"]
    # nothing played yet: every entry counts as p = 0.5, so the shares are uniform
    assert probs(pool.distribution()) == pytest.approx({"self": 0.25, "cpu": 0.25, "bot:tracker:5": 0.25, "bot:tracker:9": 0.25})


def _write(tmp_path, data, name="pool.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


SELF_CPU = '["self", {"cpu": true}]'


@pytest.mark.parametrize(
    "text, message",
    [
        # not JSON, wrong top-level type, empty
        ('{"sampling": "pfsp", ', r"bad\.json is not valid JSON \(line 1, column 22"),
        ('"self"', r"must hold a non-empty JSON list, like \[\"self\", \{\"cpu\": 9\}\]"),
        ("5", "must hold a non-empty JSON list"),
        ("[]", "must hold a non-empty JSON list"),
        ('{"enemies": []}', 'must hold a non-empty JSON list.*its "enemies" is empty or not a list'),
        ('{"enemies": {"self": 1}}', 'must hold a non-empty JSON list.*its "enemies" is empty or not a list'),
        ('{"sampling": "pfsp"}', 'no "enemies" key'),
        (
            f'{{"sampler": "pfsp", "enemies": {SELF_CPU}}}',
            "unknown top-level key 'sampler' \\(did you mean 'sampling'\\?\\); valid keys: sampling, enemies",
        ),
        # sampling rules and knobs
        (
            f'{{"sampling": "pfps", "enemies": {SELF_CPU}}}',
            r"unknown sampling rule 'pfps' \(did you mean 'pfsp'\?\); installed: openai_five, pfsp, uniform",
        ),
        (
            f'{{"sampling": "openai-5", "enemies": {SELF_CPU}}}',
            r"unknown sampling rule 'openai-5' \(did you mean 'openai_five'\?\)",
        ),
        (f'{{"sampling": "Uniform", "enemies": {SELF_CPU}}}', r"'Uniform' \(did you mean 'uniform'\?\)"),
        (f'{{"sampling": 2, "enemies": {SELF_CPU}}}', r"unknown sampling rule 2; installed: openai_five, pfsp, uniform"),
        (
            '{"sampling": "openai_five", "enemies": ["bot:tracker:3", {"cpu": true}]}',
            r'"openai_five" needs a "self" entry; add "self"',
        ),
        (
            f'{{"pfsp_power": 2, "enemies": {SELF_CPU}}}',
            r'"pfsp_power" only applies to "sampling": "pfsp" \(this file uses "uniform"\)',
        ),
        (
            f'{{"sampling": "pfsp", "latest_self": 0.5, "enemies": {SELF_CPU}}}',
            r'"latest_self" only applies to "sampling": "openai_five"',
        ),
        (f'{{"sampling": "pfsp", "pfsp_power": 0, "enemies": {SELF_CPU}}}', r'"pfsp_power" must be a number > 0 .*got 0'),
        (f'{{"sampling": "pfsp", "pfsp_power": "2", "enemies": {SELF_CPU}}}', r'"pfsp_power" must be a number > 0 .*got \'2\''),
        (
            f'{{"sampling": "openai_five", "latest_self": 1, "enemies": {SELF_CPU}}}',
            r'"latest_self" must be a fraction between 0 and 1 .*got 1; it must leave some games',
        ),
        (
            f'{{"sampling": "openai_five", "latest_self": 80, "enemies": {SELF_CPU}}}',
            r'"latest_self" must be a fraction .*got 80',
        ),
        # entries
        ('["self", {"cpu": 9, "weight": -1}]', r"entry 1: weight must be a number > 0, got -1; leave it out for weight 1"),
        ('["self", {"agent": "bot:tracker:3", "weight": 0}]', r"entry 1: weight must be a number > 0, got 0"),
        ('["self", {"agent": "bot:tracker:3", "weight": "2"}]', r'entry 1: weight must be a number > 0, got "2"'),
        ('["self", {"agent": "bot:tracker:3", "weight": true}]', r"entry 1: weight must be a number > 0, got true"),
        ('["self", {"agent": "bot:tracker:3", "weight": NaN}]', r"entry 1: weight must be a number > 0, got NaN"),
        ('[{"agent": "self", "wieght": 2}]', r"entry 0: unknown key 'wieght' .*\(did you mean 'weight'\?\)"),
        ('["self", {"cpu": 9, "colour": "red"}]', r"entry 1: unknown key 'colour' .*a CPU entry \"cpu\" or \"level\""),
        ('["self", {"agnet": "bot:tracker:3"}]', r"entry 1: unknown key 'agnet' .*\(did you mean 'agent'\?\)"),
        ('["self", {"agent": "bot:tracker:3", "level": 3}]', r"entry 1: unknown key 'level'"),
        ('["self", {"agent": {"cpu": 9}, "weight": 2}]', r'entry 1: "agent" must be a spec string .*\{"cpu": 9, "weight": 2\}'),
        ('["self", {"cpu": 9, "level": 3}]', r"entry 1: give the CPU level once"),
        ('["self", {"char": "falcon"}]', r"entry 1: malformed enemies entry"),
        ('["self", 7]', r"entry 1: malformed enemies entry"),
        # each opponent once
        (
            '["self", "bot:tracker:3", "bot:tracker:3"]',
            r'entry 2: repeats entry 1 \(bot:tracker:3\); .*\{"agent": "bot:tracker:3", "weight": 2\}',
        ),
        ('["self", {"agent": "self", "weight": 2}]', r"entry 1: repeats entry 0 \(self\)"),
        ('["agents/x.pt", "./agents/x.pt"]', r"entry 1: repeats entry 0 \(agents/x\.pt\)"),
        ('[{"cpu": 9}, {"cpu": 9, "weight": 3}]', r'entry 1: repeats entry 0 \(cpu:9\); .*\{"cpu": 9, "weight": 2\}'),
        (
            '[{"char": "fox", "level": 9}, {"char": "falcon", "level": 9}]',
            r"entry 1: repeats entry 0 \(cpu:9\) with another character; .*cpu_char option",
        ),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, text, message):
    path = _write(tmp_path, text, "bad.json")
    with pytest.raises(ArenaError, match=message) as info:
        load_pool_file(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ArenaError, match=r"enemies file .*nope\.json does not exist") as info:
        load_pool_file(tmp_path / "nope.json")
    assert "\n" not in str(info.value)


def test_configs_built_in_code_are_checked():
    with pytest.raises(ArenaError, match="has no entries"):
        PoolConfig(entries=[])
    with pytest.raises(ArenaError, match="duplicate labels"):
        PoolConfig(entries=[EnemyEntry("cpu", "cpu"), EnemyEntry("cpu", "cpu")])


# -- statistics --------------------------------------------------------------------------------


def test_win_rate_is_the_mean_for_20_games_then_an_ema(tmp_path):
    pool = pool_from(tmp_path, ["self", "bot:tracker:3", "bot:tracker:9"])
    play(pool, "bot:tracker:3", wins=3, losses=1)
    play(pool, "self", draws=2, wins=1)
    assert pool.win_rates() == {"self": (pytest.approx(2 / 3), 3), "bot:tracker:3": (0.75, 4), "bot:tracker:9": (None, 0)}
    play(pool, "bot:tracker:9", wins=10, losses=10)
    assert pool.win_rates()["bot:tracker:9"] == (pytest.approx(0.5), 20)
    pool.record("bot:tracker:9", 1.0)  # game 21: the EMA moves 5% of the way: 0.5 + 0.05 * 0.5
    assert pool.win_rates()["bot:tracker:9"] == (pytest.approx(0.525), 21)
    pool.record("bot:tracker:9", 0.0)  # 0.525 - 0.05 * 0.525
    assert pool.win_rates()["bot:tracker:9"] == (pytest.approx(0.49875), 22)
    assert pool.stats()["self"] == {"games": 3, "wins": 1, "draws": 2, "losses": 0, "rate": pytest.approx(2 / 3)}


def test_record_rejects_unknown_labels_and_outcomes(tmp_path):
    pool = pool_from(tmp_path, ["self"])
    with pytest.raises(ValueError, match="no enemy labelled 'cpu'"):
        pool.record("cpu", 1.0)
    with pytest.raises(ValueError, match="outcome must be"):
        pool.record("self", 0.7)


# -- uniform -----------------------------------------------------------------------------------


WEIGHTED = {"enemies": [{"agent": "self", "weight": 2}, {"cpu": True}, {"agent": "bot:tracker:3", "weight": 3}, "bot:tracker:9"]}


def test_uniform_is_proportional_to_weight(tmp_path):
    pool = pool_from(tmp_path, WEIGHTED)  # weights 2, 1, 3, 1: total 7
    assert probs(pool.distribution()) == pytest.approx(
        {"self": 2 / 7, "cpu": 1 / 7, "bot:tracker:3": 3 / 7, "bot:tracker:9": 1 / 7}
    )
    # two past snapshots: self's 2/7 goes half to the latest, half split between them
    distribution = pool.distribution(["snaps/1.pt", "snaps/2.pt"])
    assert distribution == [
        ("self", "self", pytest.approx(1 / 7)),
        ("self", "snaps/1.pt", pytest.approx(0.5 / 7)),
        ("self", "snaps/2.pt", pytest.approx(0.5 / 7)),
        ("cpu", "cpu", pytest.approx(1 / 7)),
        ("bot:tracker:3", "bot:tracker:3", pytest.approx(3 / 7)),
        ("bot:tracker:9", "bot:tracker:9", pytest.approx(1 / 7)),
    ]
    assert math.fsum(p for *_, p in distribution) == pytest.approx(1.0, abs=1e-12)
    # uniform ignores results
    play(pool, "cpu", wins=5)
    assert pool.distribution(["snaps/1.pt", "snaps/2.pt"]) == distribution


def test_the_step_0_snapshot_is_never_an_enemy(tmp_path):
    """A run saves its random initial weights at step 0 (to resume a crash before the first real
    snapshot); that random policy is never drawn as a past self."""
    pool = pool_from(tmp_path, ["self", "bot:tracker:3"])
    first, later = "exp/snapshots/000000000000.pt", "exp/snapshots/000000004096.pt"
    assert [spec for _, spec, _ in pool.distribution([first, later])] == ["self", later, "bot:tracker:3"]
    # with only the step-0 snapshot saved, "self" is the latest self alone
    assert probs(pool.distribution([first])) == pytest.approx({"self": 0.5, "bot:tracker:3": 0.5})


def test_the_past_self_pool_is_the_newest_snapshots(tmp_path):
    past = [f"exp/snapshots/{steps:012d}.pt" for steps in range(0, 100 * 4096, 4096)]  # step 0 and 99 more
    shares = probs(pool_from(tmp_path, ["self"]).distribution(past))
    assert list(shares) == ["self", *past[-MAX_PAST_SNAPSHOTS:]] and MAX_PAST_SNAPSHOTS == 20
    assert shares["self"] == pytest.approx(0.5) and shares[past[-1]] == pytest.approx(0.5 / MAX_PAST_SNAPSHOTS)
    config = load_pool_file(_write(tmp_path, ["self"]))
    assert list(probs(EnemyPool(config, max_past=3).distribution(past))) == ["self", *past[-3:]]
    assert probs(EnemyPool(config, max_past=0).distribution(past)) == {"self": 1.0}
    with pytest.raises(ValueError, match="max_past"):
        EnemyPool(config, max_past=-1)


def test_snapshots_are_ignored_without_a_self_entry(tmp_path):
    pool = pool_from(tmp_path, ["bot:tracker:3", "bot:tracker:9"])
    assert probs(pool.distribution(["snaps/1.pt"])) == {"bot:tracker:3": 0.5, "bot:tracker:9": 0.5}


# -- pfsp --------------------------------------------------------------------------------------


def test_pfsp_favours_the_enemy_that_beats_the_learner(tmp_path):
    pool = pool_from(tmp_path, {"sampling": "pfsp", "enemies": ["bot:tracker:3", "bot:tracker:9", {"cpu": True}]})
    play(pool, "bot:tracker:3", wins=3, losses=1)  # p = 0.75: (1 - 0.75)^2 = 1/16
    play(pool, "bot:tracker:9", wins=1, losses=3)  # p = 0.25: (1 - 0.25)^2 = 9/16
    # cpu unplayed: p = 0.5, (1 - 0.5)^2 = 4/16; total 14/16
    assert probs(pool.distribution()) == pytest.approx({"bot:tracker:3": 1 / 14, "bot:tracker:9": 9 / 14, "cpu": 4 / 14})


def test_pfsp_weights_power_and_self(tmp_path):
    pool = pool_from(
        tmp_path, {"sampling": "pfsp", "pfsp_power": 1, "enemies": [{"agent": "self", "weight": 3}, "bot:tracker:9"]}
    )
    play(pool, "self", wins=2, losses=2)  # p = 0.5: 3 * 0.5 = 1.5
    play(pool, "bot:tracker:9", losses=4)  # p = 0: 1 * 1 = 1; total 2.5
    assert probs(pool.distribution()) == pytest.approx({"self": 0.6, "bot:tracker:9": 0.4})
    # self's 0.6 splits as in uniform: 0.3 latest, 0.1 to each of three snapshots
    assert probs(pool.distribution(["a", "b", "c"])) == pytest.approx(
        {"self": 0.3, "a": 0.1, "b": 0.1, "c": 0.1, "bot:tracker:9": 0.4}
    )
    # a game against a past snapshot counts for "self"
    pool.record("self", 1.0)
    assert pool.win_rates()["self"] == (pytest.approx(0.6), 5)


def test_pfsp_floor_keeps_a_beaten_enemy_in_play(tmp_path):
    pool = pool_from(
        tmp_path, {"sampling": "pfsp", "enemies": ["bot:tracker:1", "bot:tracker:5", {"agent": "bot:tracker:9", "weight": 2}]}
    )
    play(pool, "bot:tracker:1", wins=1)  # p = 1: (1 - p)^2 = 0, so it would never be played
    shares = probs(pool.distribution())
    floor = PFSP_FLOOR * 1 / 4  # 1% of its uniform share 1/4
    assert shares["bot:tracker:1"] == pytest.approx(floor) and floor == pytest.approx(0.0025)
    # the others share the remaining 0.9975 as 0.25 : 2 * 0.25
    assert shares["bot:tracker:5"] == pytest.approx(0.9975 / 3) and shares["bot:tracker:9"] == pytest.approx(0.9975 * 2 / 3)
    # the learner beats everyone every time: back to the uniform shares
    play(pool, "bot:tracker:5", wins=1)
    play(pool, "bot:tracker:9", wins=1)
    assert probs(pool.distribution()) == pytest.approx({"bot:tracker:1": 0.25, "bot:tracker:5": 0.25, "bot:tracker:9": 0.5})


def test_pfsp_floor_holds_for_any_statistics(tmp_path):
    rng = random.Random(0)
    labels = [f"bot:tracker:{level}" for level in range(1, 10)]
    for _ in range(200):
        pool = pool_from(
            tmp_path, {"sampling": "pfsp", "enemies": [{"agent": label, "weight": rng.choice([0.5, 1, 4])} for label in labels]}
        )
        for label in labels:
            play(pool, label, wins=rng.randrange(30), losses=rng.choice([0, 0, rng.randrange(3)]))
        total = math.fsum(e.weight for e in pool.config.entries)
        shares = probs(pool.distribution())
        assert math.fsum(shares.values()) == pytest.approx(1.0, abs=1e-12)
        for entry in pool.config.entries:
            assert shares[entry.spec] >= PFSP_FLOOR * entry.weight / total * (1 - 1e-12)


# -- openai_five -------------------------------------------------------------------------------


def test_openai_five_is_80_20(tmp_path):
    pool = pool_from(
        tmp_path, {"sampling": "openai_five", "enemies": ["self", {"cpu": True}, {"agent": "bot:tracker:3", "weight": 2}]}
    )
    # 20% over the past-self group (weight 1), cpu (1) and tracker 3 (2): 0.05, 0.05, 0.10
    assert pool.distribution(["s1", "s2"]) == [
        ("self", "self", 0.8),
        ("self", "s1", pytest.approx(0.025)),
        ("self", "s2", pytest.approx(0.025)),
        ("cpu", "cpu", pytest.approx(0.05)),
        ("bot:tracker:3", "bot:tracker:3", pytest.approx(0.1)),
    ]
    # no snapshots yet: the 20% goes to the other entries alone
    assert probs(pool.distribution()) == pytest.approx({"self": 0.8, "cpu": 0.2 / 3, "bot:tracker:3": 0.4 / 3})
    play(pool, "cpu", wins=20)  # results do not matter
    assert probs(pool.distribution()) == pytest.approx({"self": 0.8, "cpu": 0.2 / 3, "bot:tracker:3": 0.4 / 3})


def test_openai_five_with_only_self(tmp_path):
    pool = pool_from(tmp_path, {"sampling": "openai_five", "latest_self": 0.6, "enemies": ["self"]})
    assert pool.distribution() == [("self", "self", 1.0)]
    assert probs(pool.distribution(["a", "b", "c", "d"])) == pytest.approx({"self": 0.6, "a": 0.1, "b": 0.1, "c": 0.1, "d": 0.1})


# -- sampling ----------------------------------------------------------------------------------


def test_sampling_frequencies_match_the_distribution(tmp_path):
    pool = pool_from(tmp_path, WEIGHTED)
    distribution = pool.distribution(["snaps/1.pt", "snaps/2.pt"])
    rng = random.Random(1234)
    n = 20_000
    counts = Counter(spec for _, spec in (sample(rng, distribution) for _ in range(n)))
    for _, spec, p in distribution:
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(counts[spec] / n - p) < 4 * sigma, (spec, counts[spec] / n, p)
    # labels come along: every self snapshot is labelled "self"
    assert {sample(rng, distribution)[0] for _ in range(200)} == {"self", "cpu", "bot:tracker:3", "bot:tracker:9"}


def test_sample_is_reproducible_and_the_distribution_pickles(tmp_path):
    distribution = pool_from(tmp_path, WEIGHTED).distribution(["snaps/1.pt"])
    assert pickle.loads(pickle.dumps(distribution)) == distribution
    draws = [sample(random.Random(7), distribution) for _ in range(3)]
    assert draws[0] == draws[1] == draws[2]
    # rounding never falls off the end
    assert sample(_AlwaysOne(), [("a", "a", 0.5), ("b", "b", 0.4999999), ("c", "c", 0.0)]) == ("b", "b")
    with pytest.raises(ValueError, match="empty"):
        sample(random.Random(0), [])


class _AlwaysOne(random.Random):
    def random(self):
        return 0.9999999999


# -- resuming ----------------------------------------------------------------------------------


def test_state_dict_round_trip(tmp_path):
    pool = pool_from(tmp_path, {"sampling": "pfsp", "enemies": ["self", "bot:tracker:3", "bot:tracker:9"]})
    play(pool, "self", wins=12, losses=11, draws=3)
    play(pool, "bot:tracker:3", wins=25, losses=2)
    state = json.loads(json.dumps(pool.state_dict()))  # survives JSON
    resumed = pool_from(tmp_path, {"sampling": "pfsp", "enemies": ["self", "bot:tracker:3", "bot:tracker:9"]})
    resumed.load_state_dict(state)
    assert resumed.win_rates() == pool.win_rates() and resumed.stats() == pool.stats()
    assert resumed.distribution(["a"]) == pool.distribution(["a"])
    pool.record("bot:tracker:3", 0.0)
    resumed.record("bot:tracker:3", 0.0)
    assert resumed.win_rates() == pool.win_rates()
    # the enemies file changed: removed opponents are dropped, new ones start unplayed
    changed = pool_from(tmp_path, ["self", "bot:tracker:9", {"cpu": True}])
    changed.load_state_dict(state)
    assert changed.win_rates() == {"self": pool.win_rates()["self"], "bot:tracker:9": (None, 0), "cpu": (None, 0)}


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"version": 2, "stats": {}},
        {"version": 1},
        {"version": 1, "stats": {"self": {"games": 1}}},
        {"version": 1, "stats": {"self": {"games": 1, "wins": 1, "draws": 0, "losses": 0, "rate": 2.0}}},
        {"version": 1, "stats": {"self": {"games": 1, "wins": 1, "draws": 0, "losses": 0, "rate": 1.0, "elo": 3}}},
    ],
)
def test_malformed_state_is_a_one_line_error(tmp_path, state):
    pool = pool_from(tmp_path, ["self"])
    with pytest.raises(ArenaError, match="enemy pool state is malformed") as info:
        pool.load_state_dict(state)
    assert "\n" not in str(info.value)
