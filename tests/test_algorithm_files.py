"""Each built-in algorithm is a leaf in its own file: it imports no other algorithm, its learner
derives from the base class directly, and its params change defaults without restating fields."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from arena.training.params import CommonParams, experiment_name, param

ALGORITHMS = Path(__file__).resolve().parents[1] / "plugins" / "arena_algorithms"
NAMES = ["ac", "rac", "dqn", "rdqn", "a2c", "ppo"]


@pytest.mark.parametrize("name", NAMES)
def test_an_algorithm_imports_no_other_algorithm(name):
    tree = ast.parse((ALGORITHMS / f"{name}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}.py imports .{node.module}"
            assert not (node.module or "").startswith("arena_algorithms"), f"{name}.py imports {node.module}"
        elif isinstance(node, ast.Import):
            assert not any(alias.name.startswith("arena_algorithms") for alias in node.names)


@pytest.mark.parametrize("name", NAMES)
def test_each_learner_is_a_leaf_of_the_base_class(name):
    from arena.training.learner import Learner

    module = importlib.import_module(f"arena_algorithms.{name}")
    learners = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Learner) and v is not Learner]
    assert len(learners) == 1 and learners[0].__bases__ == (Learner,)
    params = learners[0].params_class
    inherited = {f.name for base in params.__mro__[1:] for f in getattr(base, "__dataclass_fields__", {}).values()}
    restated = set(params.__dict__.get("__annotations__", {})) & inherited
    assert restated == set(getattr(params, "DEFAULTS", {})), f"{name} restates {restated - set(params.DEFAULTS)}"


def test_defaults_change_without_restating_the_field():
    from arena_algorithms.ppo import PPOParams

    common = {f.name: f for f in dataclasses.fields(CommonParams)}
    ppo = {f.name: f for f in dataclasses.fields(PPOParams)}
    assert ppo["learning_rate"].default == 3e-4 and ppo["activation"].default == "tanh"
    assert ppo["learning_rate"].metadata == common["learning_rate"].metadata  # help and short name kept
    assert list(ppo)[: len(common)] == list(common)  # and its place in experiment names
    assert experiment_name("ppo", PPOParams(learning_rate=1e-3, clip=0.1)) == "ppo_lr=0.001_cr=0.1"


def test_a_default_for_a_field_that_does_not_exist_is_refused():
    with pytest.raises(TypeError, match="'learning_rat'"):

        @dataclasses.dataclass(frozen=True)
        class Typo(CommonParams):
            DEFAULTS = {"learning_rat": 1e-3}

    with pytest.raises(TypeError, match="also sets it"):

        @dataclasses.dataclass(frozen=True)
        class Both(CommonParams):
            DEFAULTS = {"learning_rate": 1e-3}
            learning_rate: float = param(1e-3, "twice")


def test_rac_experiment_names_did_not_move():
    from arena_algorithms.rac import RACParams

    params = RACParams(learning_rate=1e-3, clip=0.1, gru_size=64, experience_length=64)
    assert experiment_name("rac", params) == "rac_lr=0.001_xl=64_cr=0.1_gru=64"
