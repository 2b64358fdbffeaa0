"""Self-play in a worker: both seats train against the latest self, past snapshots are frozen
enemies, a worker keeps only a few enemies built, and synchronous workers hand back only what
the current weights played."""

from __future__ import annotations

import dataclasses
import gc
import shutil
import weakref
from dataclasses import dataclass

import numpy as np
import pytest

from arena import hookimpl
from arena.plugins.envs import EnvSpec
from arena.training.rollout import MAX_CACHED_ENEMIES, InlineExecutor, SeatEnv, WorkerConfig

T = 8  # steps a trajectory
GAMMA = 0.9
SHAPING = 1.0


@dataclass(frozen=True)
class TugOptions:
    length: int = 5


class TugEnv:
    """Zero-sum and turn-free: each step both seats say 0-2, saying the step number mod 3 scores,
    and a seat's reward is its hit minus the other's. A seat sees ``[step / length, one-hot step
    mod 3, +1 as p1 or -1 as p2]``. Two emulator frames a step."""

    possible_agents = ["p1", "p2"]

    def __init__(self, options: TugOptions, cpu_level=None):
        self.options = options
        self.agents: list[str] = []
        self._t = 0
        self._score = {"p1": 0, "p2": 0}

    def _obs(self):
        out = {}
        for sign, seat in ((1.0, "p1"), (-1.0, "p2")):
            obs = np.zeros(5, np.float32)
            obs[0] = self._t / self.options.length
            obs[1 + self._t % 3] = 1.0
            obs[4] = sign
            out[seat] = obs
        return out

    def reset(self, seed=None, options=None):
        self._t, self._score = 0, {"p1": 0, "p2": 0}
        self.agents = list(self.possible_agents)
        return self._obs(), {seat: {} for seat in self.agents}

    def step(self, actions):
        hits = {seat: int(int(actions[seat]) == self._t % 3) for seat in self.possible_agents}
        for seat in hits:
            self._score[seat] += hits[seat]
        rewards = {"p1": float(hits["p1"] - hits["p2"]), "p2": float(hits["p2"] - hits["p1"])}
        self._t += 1
        done = self._t >= self.options.length
        if done:
            self.agents = []
        seats = self.possible_agents
        return self._obs(), rewards, dict.fromkeys(seats, done), dict.fromkeys(seats, False), {s: {} for s in seats}

    def scores(self):
        return dict(self._score)

    @property
    def frames(self) -> int:
        return 2 * self._t

    def close(self):
        pass


def potential(obs) -> float:
    """Differs between the seats (it reads the seat's sign), so each seat's shaping is its own."""
    return float(obs[0]) + 0.25 * float(obs[4])


TUG = EnvSpec(
    name="tug", make=lambda options, cpu_level: TugEnv(options, cpu_level), description="zero-sum toy, two seats",
    seats=("p1", "p2"), num_actions=3, options=TugOptions, observation_shape=lambda options: (5,), potential=potential,
)  # fmt: skip


class TugPlugin:
    @hookimpl
    def arena_register_envs(self, register):
        register(TUG)


@pytest.fixture(scope="module")
def arena():
    from arena.plugins.manager import load_plugins

    arena = load_plugins()
    assert arena.add_plugin(TugPlugin(), "tugtest")
    return arena


@dataclass(frozen=True)
class TugMaker:
    arena: object

    def __call__(self, index: int, seed: int) -> SeatEnv:
        return SeatEnv(self.arena, "tug", TugOptions(), seed)


_spawned_arena = None


@dataclass(frozen=True)
class SpawnedTugMaker:
    """Picklable: a worker process loads the plugins and the toy env itself."""

    def __call__(self, index: int, seed: int) -> SeatEnv:
        global _spawned_arena
        if _spawned_arena is None:
            from arena.plugins.manager import load_plugins

            _spawned_arena = load_plugins()
            _spawned_arena.add_plugin(TugPlugin(), "tugtest")
        return SeatEnv(_spawned_arena, "tug", TugOptions(), seed)


@pytest.fixture(scope="module")
def algorithm(arena):
    """The ``ac`` algorithm through its registration (its learner by path, never by class)."""
    spec = arena.algorithms.get("ac")
    params = spec.params_class()(
        experience_length=T, embed_sizes="16", actor_sizes="16", critic_sizes="16", shaping=SHAPING, epsilon=0.1
    )
    return spec, params


def _config(arena, algorithm, **overrides) -> WorkerConfig:
    spec, params = algorithm
    return WorkerConfig(
        learner=spec.learner, params=params, obs_size=5, num_actions=3, gamma=GAMMA, make_env=TugMaker(arena), seed=3,
        **overrides,
    )  # fmt: skip


def _model(algorithm, seed: int):
    import torch

    spec, params = algorithm
    torch.manual_seed(seed)
    return spec.learner_class().make_model(params, 5, 3)


def _weights(algorithm, seed: int = 0) -> dict:
    """What a learner broadcasts: its model's weights as numpy arrays."""
    return {key: value.detach().numpy().copy() for key, value in _model(algorithm, seed).state_dict().items()}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory, algorithm):
    """A past snapshot of a learner on the toy env."""
    from arena.training.snapshot import save_snapshot, snapshot_name

    spec, params = algorithm
    meta = {
        "algorithm": spec.name, "params": dataclasses.asdict(params), "env": "tug", "env_options": {},
        "obs_size": 5, "num_actions": 3,
    }  # fmt: skip
    folder = tmp_path_factory.mktemp("experiment") / "snapshots"
    return save_snapshot(folder / snapshot_name(4096), meta, {"model": _model(algorithm, seed=1).state_dict()})


SELF_ONLY = [("self", "self", 1.0)]


def _shaped(obs, next_obs, terminated, raw):
    phi_next = 0.0 if terminated else potential(next_obs)
    return raw + SHAPING * (GAMMA * phi_next - potential(obs))


def test_both_seats_train_against_the_latest_self(arena, algorithm):
    executor = InlineExecutor(_config(arena, algorithm))
    executor.start(_weights(algorithm), 0, SELF_ONLY)
    try:
        results = executor.gather(6)  # three segments, two trajectories each
        env = executor.worker.env
        assert sum(r.frames for r in results) == env.frames > 0  # every frame counted once
    finally:
        executor.close()
    for ours, theirs in zip(results[0::2], results[1::2]):
        assert ours.frames == 2 * T and theirs.frames == 0  # T steps of two frames (Tug resets take none)
        assert ours.steps == theirs.steps == T and ours.version == theirs.version == 0
        assert theirs.games == [] and ours.games and all(g["enemy"] == "self" for g in ours.games)
        a, b = ours.trajectory, theirs.trajectory
        assert a.keys() == b.keys()
        for key in a:
            assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
        # the same frames from the other side: the same cues, the other seat's sign
        np.testing.assert_array_equal(a["obs"][:, :4], b["obs"][:, :4])
        np.testing.assert_array_equal(a["obs"][:, 4], -b["obs"][:, 4])
        for key in ("starts", "terminated", "truncated"):
            np.testing.assert_array_equal(a[key], b[key])
        # each seat's reward is its own score change (opposite signs: zero-sum) plus its own shaping
        for t in range(T):
            cue = int(np.argmax(a["obs"][t, 1:4]))
            raw = float(a["actions"][t] == cue) - float(b["actions"][t] == cue)
            for traj, sign in ((a, 1.0), (b, -1.0)):
                expected = _shaped(traj["obs"][t], traj["obs"][t + 1], traj["terminated"][t], sign * raw)
                assert traj["rewards"][t] == pytest.approx(expected, abs=1e-6), (t, sign)
    # the seats play their own policies' samples: not a copy of each other's actions
    assert any((r.trajectory["actions"] != s.trajectory["actions"]).any() for r, s in zip(results[0::2], results[1::2]))


def test_a_worker_process_hands_back_both_seats_and_none_is_lost(arena, algorithm):
    """Gathering an odd number splits a segment's pair: the enemy seat's comes first next time."""
    from arena.training.rollout import ProcessExecutor

    executor = ProcessExecutor(dataclasses.replace(_config(arena, algorithm), make_env=SpawnedTugMaker()), workers=1)
    try:
        executor.start(_weights(algorithm), 0, SELF_ONLY)
        results = executor.gather(3) + executor.gather(3)
    finally:
        executor.close()
    assert [r.frames for r in results] == [2 * T, 0] * 3
    assert all(r.steps == T and r.version == 0 for r in results)
    for ours, theirs in zip(results[0::2], results[1::2]):  # each pair is one segment seen from both seats
        np.testing.assert_array_equal(ours.trajectory["obs"][:, 4], -theirs.trajectory["obs"][:, 4])


def test_a_past_snapshot_gives_one_trajectory(arena, algorithm, snapshot):
    executor = InlineExecutor(_config(arena, algorithm))
    executor.start(_weights(algorithm), 0, [("self", str(snapshot), 1.0)])
    try:
        results = executor.gather(3)
        assert executor.gather(0) == []
        assert all(r.frames == 2 * T for r in results)
        assert sum(r.frames for r in results) == executor.worker.env.frames  # nothing more was played
    finally:
        executor.close()


def test_the_enemy_seat_is_recorded_only_in_games_against_the_latest_self(arena, algorithm, snapshot):
    """Half the games against a past snapshot: the enemy seat's stream skips them, and its
    trajectories still come whole, counting no frames."""
    executor = InlineExecutor(_config(arena, algorithm))
    executor.start(_weights(algorithm), 0, [("self", "self", 0.5), ("self", str(snapshot), 0.5)])
    try:
        results = executor.gather(30)
        frames = executor.worker.env.frames
    finally:
        executor.close()
    ours = [r for r in results if r.frames]
    theirs = [r for r in results if not r.frames]
    assert sum(r.frames for r in results) <= frames and len(ours) > len(theirs) > 0
    for r in theirs:
        traj = r.trajectory
        assert r.games == [] and r.steps == T and traj["obs"].shape == (T + 1, 5)
        # a game starts wherever the one before ended, whoever played the games in between
        ends = traj["terminated"] | traj["truncated"]
        assert traj["starts"][1:][ends].all()


def test_a_worker_keeps_a_few_enemies_built(arena, algorithm, snapshot, tmp_path):
    """50 distinct past snapshots as enemies, one after another: the worker holds at most
    MAX_CACHED_ENEMIES of them, however many it has played."""
    paths = []
    for i in range(50):
        path = tmp_path / f"{(i + 1) * 4096:012d}.pt"
        shutil.copyfile(snapshot, path)
        paths.append(str(path))
    executor = InlineExecutor(_config(arena, algorithm))
    executor.start(_weights(algorithm), 0, [("self", paths[0], 1.0)])
    built = []
    try:
        for version, path in enumerate(paths):
            executor.broadcast(_weights(algorithm), version, [("self", path, 1.0)])
            executor.gather(1)  # a game a segment: each enemy plays
            enemy = executor.worker.env.enemy
            assert enemy.label == path
            built.append(weakref.ref(enemy))
        gc.collect()
        alive = [ref() for ref in built if ref() is not None]
        assert 0 < len(alive) <= MAX_CACHED_ENEMIES  # the others' models were freed
        assert alive[-1] is executor.worker.env.enemy  # the newest stays
    finally:
        executor.close()


def test_synchronous_results_are_all_from_the_current_weights(arena, algorithm, snapshot):
    """Against a mix of the latest self and a past snapshot the enemy seat's stream lags the
    segments; a synchronous worker drops what it played on old weights."""
    executor = InlineExecutor(_config(arena, algorithm, synchronous=True))
    distribution = [("self", "self", 0.6), ("self", str(snapshot), 0.4)]
    executor.start(_weights(algorithm), 0, distribution)
    seen = 0
    try:
        for version in range(12):
            if version:
                executor.broadcast(_weights(algorithm, seed=version), version, distribution)
            results = executor.gather(1)
            assert 1 <= len(results) <= 2 and results[0].frames > 0
            assert all(r.version == version for r in results)
            seen += len(results) - 1
            with pytest.raises(ValueError, match="one segment per broadcast"):
                executor.gather(1)
    finally:
        executor.close()
    assert seen > 0  # the enemy seat's trajectories came too
