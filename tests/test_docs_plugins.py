"""docs/plugins.md stays true: every field and helper a plugin author uses is in the guide, and
everything the guide tables name exists."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")


def table_rows(heading: str, first_column: str) -> list[str]:
    """The first cells (backticks stripped) of every table whose header starts with
    ``| first_column |`` in the section titled ``heading``, in order."""
    section = GUIDE.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    rows = []
    for start in (i for i, line in enumerate(lines) if line.startswith(f"| {first_column} |")):
        for line in lines[start + 2 :]:
            if not line.startswith("|"):
                break
            rows.append(line.split("|")[1].strip().strip("`").split("(")[0].strip())
    return rows


def test_every_envspec_field_is_in_the_guide():
    from arena.plugins.envs import EnvSpec

    assert table_rows("## Environments", "field") == [f.name for f in dataclasses.fields(EnvSpec)]


def test_every_batch_field_is_in_the_guide():
    from arena.training.learner import TRAJECTORY_KEYS, Batch

    names = [f.name for f in dataclasses.fields(Batch)]
    assert names[: len(TRAJECTORY_KEYS)] == list(TRAJECTORY_KEYS)
    assert table_rows("## Algorithms: the learner contract", "field") == list(TRAJECTORY_KEYS)
    for prepared in names[len(TRAJECTORY_KEYS) :]:  # the fields prepare() fills
        assert f"`{prepared}`" in GUIDE, prepared


def test_the_learner_methods_and_attributes_the_guide_names_exist():
    from arena.training.learner import Learner

    methods = table_rows("## Algorithms: the learner contract", "method")
    assert "make_model" in methods and "loss" in methods and "mixed_log_probs" in methods
    for name in methods:
        for part in name.split(","):
            assert hasattr(Learner, part.strip().strip("`").split("(")[0]), part
    init = inspect.getsource(Learner.__init__)
    for row in table_rows("## Algorithms: the learner contract", "attribute"):
        for attr in re.findall(r"self\.(\w+)", row):
            assert f"self.{attr} =" in init or f"self.{attr}:" in init, attr


def test_every_functional_helper_is_named():
    from arena.training import functional

    public = [name for name, obj in vars(functional).items() if inspect.isfunction(obj) and not name.startswith("_")]
    public = [name for name in public if vars(functional)[name].__module__ == functional.__name__]
    assert public
    for name in public:
        assert f"`{name}`" in GUIDE or f"`{name}(" in GUIDE, name


def test_every_common_parameter_is_accounted_for():
    from arena.training.params import CommonParams

    section = GUIDE.split("**Params.**", 1)[1].split("\n\n", 1)[0]
    for field in dataclasses.fields(CommonParams):
        assert f"`{field.name}`" in section, field.name


@pytest.mark.parametrize("cls_name", ["SamplingRule", "Enemy", "NamedPool"])
def test_every_enemies_contract_field_is_in_the_guide(cls_name):
    from arena.plugins import enemies

    fields = [f.name for f in dataclasses.fields(getattr(enemies, cls_name))]
    rows = table_rows("## Enemy pools and sampling rules", "field")
    assert set(fields) <= set(rows), set(fields) - set(rows)


def test_every_hook_has_a_section():
    from arena.plugins import hookspecs

    for name in (n for n in dir(hookspecs) if n.startswith("arena_register_") and n != "arena_register_opponents"):
        assert f"### `{name}(" in GUIDE, name
