"""Enemies files in phillip's format become agent specs; malformed ones are one-line errors."""

import json
from pathlib import Path

import pytest

from arena.errors import ArenaError
from arena.plugins.agents import spec_from_entry
from arena.training.enemies import load_enemies, load_pool_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "entry, spec",
    [
        ("self", "self"),
        ("experiments/rac-pong", "experiments/rac-pong"),
        ("bot:tracker:7", "bot:tracker:7"),
        ({"cpu": 9}, "cpu:9"),
        ({"char": "falcon", "level": 9}, "cpu:9"),
        ({"cpu": True}, "cpu"),
    ],
)
def test_entries_become_specs(entry, spec):
    assert spec_from_entry(entry) == spec


@pytest.mark.parametrize("entry", [{"char": "falcon"}, 7, "", {"cpu": "nine"}, ["self"], {"level": True}])
def test_malformed_entries_name_the_entry_and_the_accepted_forms(entry):
    with pytest.raises(ArenaError, match="malformed enemies entry.*self.*cpu"):
        spec_from_entry(entry)


def test_shipped_files_load():
    assert load_enemies(ROOT / "enemies" / "ladder.json")[-1] == "bot:tracker:9"
    assert load_enemies(ROOT / "enemies" / "cpu.json") == ["cpu"]
    assert load_enemies(ROOT / "enemies" / "self.json") == ["self"]
    assert load_enemies(ROOT / "enemies" / "default.json") == ["self", "cpu"]
    # the extended format (an object with a sampling rule) reads as its specs too
    assert load_enemies(ROOT / "enemies" / "pfsp.json") == ["self", "cpu", "bot:tracker:5", "bot:tracker:9"]


def test_every_shipped_file_is_a_valid_pool():
    files = sorted((ROOT / "enemies").glob("*.json"))
    assert {f.name for f in files} >= {"self.json", "cpu.json", "ladder.json", "default.json", "pfsp.json"}
    for path in files:
        config = load_pool_file(path)
        assert config.entries and config.sampling in ("uniform", "pfsp", "openai_five"), path
    assert load_pool_file(ROOT / "enemies" / "pfsp.json").sampling == "pfsp"


@pytest.mark.parametrize(
    "text, message",
    [
        ('["self", ', "not valid JSON \\(line 1"),
        ('{"self": 1}', "must hold a non-empty JSON list"),
        ("[]", "must hold a non-empty JSON list"),
        ('["self", {"char": "falcon"}]', "entry 1: malformed enemies entry"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ArenaError, match=message) as info:
        load_enemies(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ArenaError, match="does not exist"):
        load_enemies(tmp_path / "nope.json")


def test_phillip_file_loads_unchanged(tmp_path):
    path = tmp_path / "phillip.json"
    path.write_text(json.dumps(["self", "agents/delay0/FalcoBF", {"char": "falcon", "level": 9}]))
    assert load_enemies(path) == ["self", "agents/delay0/FalcoBF", "cpu:9"]


def test_phillip_data_file_loads_unchanged():
    # verbatim phillip style: a plain list, a path to a trained agent, a character-and-level CPU
    path = ROOT / "tests" / "data" / "phillip_enemies.json"
    assert load_enemies(path) == ["self", "agents/delay0/FalconFalconBF", "cpu:9"]
    config = load_pool_file(path)
    assert config.sampling == "uniform" and [e.weight for e in config.entries] == [1.0, 1.0, 1.0]


# -- --enemies NAME ------------------------------------------------------------------------------


@pytest.fixture
def plugins(monkeypatch, tmp_path):
    from arena.plugins.manager import load_plugins

    monkeypatch.chdir(tmp_path)  # no ./enemies/ here: Arena's own files are found
    monkeypatch.setenv("ARENA_EXPERIMENTS", str(tmp_path / "experiments"))
    monkeypatch.setenv("ARENA_LOAD_PLUGINS", "agents,pong,algorithms,enemies")
    return load_plugins()


@pytest.mark.parametrize("name, file", [("self", "self.json"), ("ladder", "ladder.json"), ("pfsp.json", "pfsp.json")])
def test_a_bare_name_finds_arena_s_own_enemies_files(plugins, name, file):
    from arena.training.plan import plan_training

    plan = plan_training("ac", enemies=name, arena=plugins)
    assert plan.enemies == str(ROOT / "enemies" / file)


def test_a_file_in_the_current_folder_s_enemies_comes_first(plugins, tmp_path):
    from arena.training.plan import plan_training

    (tmp_path / "enemies").mkdir()
    (tmp_path / "enemies" / "self.json").write_text('["self", "random"]')
    plan = plan_training("ac", enemies="self", arena=plugins)
    assert [e.spec for e in plan.pool.entries] == ["self", "random"]


def test_an_unknown_name_lists_the_files_and_pools_there_are(plugins):
    from arena.training.plan import plan_training

    with pytest.raises(ArenaError) as info:
        plan_training("ac", enemies="nosuch", arena=plugins)
    message = str(info.value)
    assert "no enemies file or pool 'nosuch'" in message and "ladder" in message and "self" in message
    assert "pools: (none" in message and "\n" not in message


def test_phillips_char_for_an_env_without_a_cpu_character_is_an_error(plugins, tmp_path):
    from arena.training.plan import plan_training

    (tmp_path / "fox.json").write_text('["self", {"char": "fox", "level": 9}]')
    with pytest.raises(
        ArenaError, match=r"entry 1: \"char\": \"fox\" names the CPU's character, but env 'pong' has no cpu_char option"
    ):
        plan_training("ac", enemies="fox.json", arena=plugins)
