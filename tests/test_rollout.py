"""Rollout worker processes: trajectories come back, new weights reach them, crashes are one line,
synchronous workers play only on the newest weights."""

from __future__ import annotations

import time

import numpy as np
import pytest
from algo_utils import Explodes, GymMaker, MatchCue

from arena.errors import ArenaError
from arena.training.rollout import ProcessExecutor, WorkerConfig


class _Weights:
    """Stands in for a learner: ``ac``'s network (found by its registration), its weights as
    the learner broadcasts them."""

    def __init__(self, params):
        import torch

        from arena.plugins.manager import get_arena

        torch.manual_seed(0)
        self.model = get_arena().algorithms.get("ac").learner_class().make_model(params, 3, 3)

    def policy_weights(self) -> dict:
        return {key: value.detach().numpy().copy() for key, value in self.model.state_dict().items()}


def _config(env_class, synchronous: bool = False, **env_kwargs):
    from arena.plugins.manager import get_arena

    spec = get_arena().algorithms.get("ac")
    params = spec.params_class()(experience_length=8, embed_sizes="16", actor_sizes="16", critic_sizes="16", shaping=0.0)
    config = WorkerConfig(
        learner=spec.learner, params=params, obs_size=3, num_actions=3, gamma=0.99,
        make_env=GymMaker(env_class, **env_kwargs), seed=5, synchronous=synchronous,
    )  # fmt: skip
    return config, _Weights(params)


def test_workers_send_trajectories_and_take_new_weights():
    config, learner = _config(MatchCue)
    executor = ProcessExecutor(config, workers=2)
    try:
        executor.start(learner.policy_weights(), 0, [])
        first = executor.gather(4)
        assert {r.worker for r in first} <= {0, 1} and all(r.version == 0 for r in first)
        for r in first:
            t = r.trajectory
            assert t["obs"].shape == (9, 3) and t["actions"].shape == (8,) and r.steps == 8 and r.frames == 8
            assert set(np.unique(t["actions"])) <= {0, 1, 2}
        executor.broadcast(learner.policy_weights(), 7, [])
        later = []
        for _ in range(20):  # workers switch between trajectories; queued ones may still be old
            later += executor.gather(2)
            if any(r.version == 7 for r in later):
                break
        assert any(r.version == 7 for r in later)
    finally:
        executor.close()
    assert not any(p.is_alive() for p in executor._processes)


@pytest.mark.parametrize(
    "how, message",
    [("raise", "rollout worker 0 failed: RuntimeError: emulator exploded"), ("exit", "rollout worker 0 died (exit code 3")],
)
def test_a_crashing_worker_is_a_one_line_error(how, message):
    config, learner = _config(Explodes, after=20, how=how)
    executor = ProcessExecutor(config, workers=1)
    try:
        executor.start(learner.policy_weights(), 0, [])
        with pytest.raises(ArenaError) as caught:
            executor.gather(100)
    finally:
        executor.close()
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("synchronous", [True, False])
def test_synchronous_workers_play_only_on_the_newest_weights(synchronous):
    """Synchronous (a2c): each worker plays one segment per broadcast and waits, so every gathered
    trajectory is the version last broadcast, however long the learner takes. Otherwise workers
    play on meanwhile, and trajectories from older weights queue up."""
    config, learner = _config(MatchCue, synchronous=synchronous)
    executor = ProcessExecutor(config, workers=2)
    versions = []
    try:
        executor.start(learner.policy_weights(), 0, [])
        for version in range(4):
            if version:
                executor.broadcast(learner.policy_weights(), version, [])
            results = executor.gather(2)
            assert len(results) == 2
            versions.append((version, [r.version for r in results]))
            if synchronous:
                assert {r.worker for r in results} == {0, 1}  # one segment from each worker
                with pytest.raises(ValueError, match="one segment per broadcast"):
                    executor.gather(1)
            time.sleep(0.5)  # a slow update: time enough for free workers to play on
    finally:
        executor.close()
    assert not any(p.is_alive() for p in executor._processes)
    if synchronous:
        assert all(got == [version] * 2 for version, got in versions), versions
    else:
        assert any(min(got) < version for version, got in versions[1:]), versions
