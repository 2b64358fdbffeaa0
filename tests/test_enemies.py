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
