"""Rollout worker processes: trajectories come back, new weights reach them, crashes are one line."""

from __future__ import annotations

import numpy as np
import pytest
from algo_utils import Explodes, GymMaker, MatchCue

from arena.errors import ArenaError
from arena.training.rollout import ProcessExecutor, WorkerConfig


def _config(env_class, **env_kwargs):
    from arena_algorithms.ac import ACLearner, ACParams

    params = ACParams(experience_length=8, embed_sizes="16", actor_sizes="16", critic_sizes="16", shaping=0.0)
    learner = ACLearner(params, 3, 3, fps=60, device="cpu")
    config = WorkerConfig(
        learner="arena_algorithms.ac:ACLearner", params=params, obs_size=3, num_actions=3,
        gamma=learner.gamma, make_env=GymMaker(env_class, **env_kwargs), seed=5,
    )  # fmt: skip
    return config, learner


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
