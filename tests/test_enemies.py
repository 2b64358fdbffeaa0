"""Enemies files in phillip's format become agent specs; malformed ones are one-line errors."""

import json
from pathlib import Path

import pytest

from arena.agents import spec_from_entry
from arena.enemies import load_enemies
from arena.errors import ArenaError

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
