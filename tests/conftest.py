"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def fresh_plugin_state(monkeypatch):
    """Every test starts without the process-wide plugin state (``get_arena`` loads it on first
    use), so one loaded under another test's ``ARENA_LOAD_PLUGINS`` never leaks into the next."""
    import arena.plugins.manager

    monkeypatch.setattr(arena.plugins.manager, "_loaded", None)


@pytest.fixture
def arena(tmp_path, monkeypatch):
    """The built-in plugins as the process-wide state (trained agents and spawned workers use it),
    with experiments, home and the working directory in ``tmp_path``. A module that needs other
    plugins defines its own ``arena``."""
    import torch
    from test_train import train_env

    import arena.plugins.manager

    for key, value in train_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    for var in ("ARENA_STRICT_PLUGINS", "ARENA_TRACE_PLUGINS", "ARENA_DB", "ARENA_INLINE_ROLLOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    loaded = arena.plugins.manager.load_plugins()
    monkeypatch.setattr(arena.plugins.manager, "_loaded", loaded)
    threads = torch.get_num_threads()
    yield loaded
    torch.set_num_threads(threads)  # run_training sets the learner's thread count
