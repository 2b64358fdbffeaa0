"""Tiny tasks and a training loop for the algorithm tests (no emulator; seconds on one core)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import Env, spaces
from torch import nn

from arena.training.learner import Model, ModelOutput
from arena.training.rollout import InlineExecutor, WorkerConfig


class ValueIsObs(Model):
    """V(s) = s[0]; the policy softmax(bias), whatever the observation."""

    def __init__(self, num_actions: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_actions))

    def forward(self, obs, prev_actions, starts, state):
        T, B = obs.shape[:2]
        return ModelOutput(self.bias.expand(T, B, -1), obs[..., 0], state)


class MatchCue(Env):
    """Each step shows a one-hot cue among 3; reward 1 for the matching action. 16 steps a game.

    Random play averages 1/3 a step; a learned policy approaches 1.
    """

    def __init__(self, length: int = 16):
        self.observation_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(3)
        self.length = length
        self.rng = np.random.default_rng(0)

    def _obs(self):
        obs = np.zeros(3, np.float32)
        obs[self.cue] = 1.0
        return obs

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        self.cue = int(self.rng.integers(3))
        return self._obs(), {}

    def step(self, action):
        reward = float(action == self.cue)
        self.t += 1
        self.cue = int(self.rng.integers(3))
        return self._obs(), reward, False, self.t >= self.length, {}


class RecallCue(Env):
    """A cue (one of 2) is shown at the first step only; then blank steps; at the last step the
    action matching the cue scores 1. Only a policy with memory beats 1/2."""

    def __init__(self, length: int = 4):
        self.observation_space = spaces.Box(0.0, 1.0, (3,), np.float32)
        self.action_space = spaces.Discrete(2)
        self.length = length
        self.rng = np.random.default_rng(0)

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.t = 0
        self.cue = int(self.rng.integers(2))
        obs = np.zeros(3, np.float32)
        obs[self.cue] = 1.0
        return obs, {}

    def step(self, action):
        self.t += 1
        done = self.t >= self.length
        obs = np.zeros(3, np.float32)
        obs[2] = 1.0 if self.t == self.length - 1 else 0.0  # "answer now"
        reward = float(action == self.cue) if done else 0.0
        return obs, reward, done, False, {}


class GymMaker:
    """Picklable env factory for WorkerConfig."""

    def __init__(self, env_class, **kwargs):
        self.env_class, self.kwargs = env_class, kwargs

    def __call__(self, index, seed):
        return GymSeatEnv(self.env_class(**self.kwargs), seed=seed)


def train_on(learner, env_class, updates: int, **env_kwargs) -> list[float]:
    """Train ``learner`` in-process for ``updates`` updates; the mean game reward of each update's games."""
    config = WorkerConfig(
        learner=f"{type(learner).__module__}:{type(learner).__name__}",
        params=learner.params,
        obs_size=learner.obs_size,
        num_actions=learner.num_actions,
        gamma=learner.gamma,
        make_env=GymMaker(env_class, **env_kwargs),
        seed=learner.params.seed,
    )
    executor = InlineExecutor(config)
    executor.start(learner.policy_weights(), 0, [])
    curve = []
    try:
        for _ in range(updates):
            results = executor.gather(learner.wants())
            games = [g["reward"] for r in results for g in r.games]
            curve.append(float(np.mean(games)) if games else float("nan"))
            learner.update([r.trajectory for r in results])
            executor.broadcast(learner.policy_weights(), learner.updates, [])
    finally:
        executor.close()
    return curve


class Explodes(MatchCue):
    """MatchCue that fails after ``after`` steps: raising, or killing its process outright."""

    def __init__(self, after: int = 40, how: str = "raise"):
        super().__init__()
        self.after, self.how, self.steps = after, how, 0

    def step(self, action):
        self.steps += 1
        if self.steps >= self.after:
            if self.how == "exit":
                import os

                os._exit(3)  # what an emulator segfault looks like from outside
            raise RuntimeError("emulator exploded")
        return super().step(action)


class GymSeatEnv:
    """A single-agent gymnasium env in :class:`~arena.training.rollout.SeatEnv` 's shape, for the tiny tasks."""

    def __init__(self, env: Any, seed: int = 0, label: str = "env"):
        self.env = env
        self.label = label
        self.potential = None
        self.frames = 0
        self.distribution: list = []
        self.latest_weights = None
        self._seed = seed
        self._episode_return = 0.0

    def reset(self):
        obs, _ = self.env.reset(seed=self._seed)
        self._seed += 1
        self._episode_return = 0.0
        return obs

    def step(self, action: int):
        obs, reward, terminated, truncated, _ = self.env.step(action)
        self.frames += 1
        self._episode_return += float(reward)
        info = {}
        if terminated or truncated:
            info = {"enemy": self.label, "score": self._episode_return, "opponent_score": 0.0, "outcome": None}
        return obs, float(reward), bool(terminated), bool(truncated), info

    def close(self):
        self.env.close()
