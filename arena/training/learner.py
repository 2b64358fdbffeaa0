"""The small base class every algorithm builds on, and what it trains on (imports torch: load it lazily).

Data flow: rollout workers play with an :class:`Actor` (the model, acting one step at a time) and
send back *trajectories*: dicts of numpy arrays, ``experience_length`` (``T``) steps each::

    obs           [T+1, D] float32  obs[T] is the observation after the last step
                                    (images: [T+1, H, W, C] uint8, as the env gives them)
    prev_actions  [T+1]    int64    the action taken before obs[t] (0 at an episode's start)
    starts        [T+1]    bool     obs[t] is the first of an episode: recurrent state resets
    actions       [T]      int64
    rewards       [T]      float32  the training reward (score change plus shaping)
    terminated    [T]      bool     the game ended at step t (no bootstrap)
    truncated     [T]      bool     the game was cut off at step t (bootstrap from trunc_values)
    trunc_values  [T]      float32  the actor's V(final observation) where truncated, else 0
    logp          [T]      float32  log-probability of the action under the behaviour policy
    state         [H]      float32  the recurrent state before obs[0] (H = 0 for feed-forward)

The learner stacks them time-major into a :class:`Batch` (``[T, B]``). :meth:`Learner.update` owns
the whole schedule, the same for every algorithm::

    data = collate(trajectories)              # on-policy: every fresh trajectory; dqn: its replay
    data = prepare(data)                      # once, before any step, without gradients
    for each of `sweeps` passes:
        for minibatch in minibatches(data):   # shuffled trajectories (or single steps)
            `batch_steps` times:
                loss, metrics = loss(minibatch)
                stop before stepping if should_stop(metrics)   # e.g. PPO's KL limit
                clip the gradient, step the optimiser, after_step()

An algorithm is a leaf class in its own file: it provides :meth:`Learner.make_model` and
:meth:`Learner.loss`, and overrides only the hooks it needs. The networks it may share are in
:mod:`arena.training.networks`, the returns and losses in :mod:`arena.training.functional`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from arena.training import functional

# Re-exported: plugins written against earlier versions import the network pieces from here.
from arena.training.networks import (  # noqa: F401
    Model,
    ModelOutput,
    RecurrentCore,
    activation,
    mlp,
    numpy_gru,
    numpy_sequential,
    obs_shape,
)
from arena.training.params import CommonParams

TRAJECTORY_KEYS = (
    "obs",
    "prev_actions",
    "starts",
    "actions",
    "rewards",
    "terminated",
    "truncated",
    "trunc_values",
    "logp",
    "state",
)
_WITH_NEXT = ("obs", "prev_actions", "starts")  # [T+1]: they include the observation after the last step


@dataclass
class Batch:
    """Trajectories stacked time-major. Keys as in the module docstring, each ``[T(+1), B, ...]``.

    The last fields are empty until an algorithm's :meth:`Learner.prepare` fills them, once per
    update, before any gradient step (each ``[T, B]``).
    """

    obs: torch.Tensor
    prev_actions: torch.Tensor
    starts: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    trunc_values: torch.Tensor
    logp: torch.Tensor
    state: torch.Tensor
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None  # the critic's targets
    values: torch.Tensor | None = None  # V(s_t) before the update
    prox_logp: torch.Tensor | None = None  # log-probability under the learner's policy before the update

    @classmethod
    def stack(cls, trajectories: list[dict], device: Any = "cpu") -> Batch:
        def col(key):
            return torch.as_tensor(np.stack([t[key] for t in trajectories], axis=1 if key != "state" else 0), device=device)

        return cls(**{key: col(key) for key in TRAJECTORY_KEYS})

    @property
    def steps(self) -> int:
        return self.actions.numel()

    @property
    def width(self) -> int:
        """``B``: the trajectories side by side."""
        return self.actions.shape[1]

    def with_(self, **changes: torch.Tensor) -> Batch:
        """This batch with some fields replaced (what :meth:`Learner.prepare` returns)."""
        return replace(self, **changes)

    def select(self, columns: torch.Tensor) -> Batch:
        """The trajectories ``columns`` (indices into ``B``)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = None if value is None else value[columns] if f.name == "state" else value[:, columns]
        return Batch(**out)

    def transitions(self, index: torch.Tensor) -> Batch:
        """Single steps ``index`` (into the ``T * B`` steps, time-major) as a batch of one-step
        trajectories: what a feed-forward learner shuffles when its minibatches are of steps."""
        if self.state.shape[-1]:
            raise ValueError("a recurrent model trains on whole trajectories, not single steps")
        t, b = index // self.width, index % self.width
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                out[f.name] = None
            elif f.name == "state":
                out[f.name] = value[b]
            elif f.name in _WITH_NEXT:
                out[f.name] = torch.stack([value[t, b], value[t + 1, b]])
            else:
                out[f.name] = value[t, b].unsqueeze(0)
        return Batch(**out)

    def next_values(self, values_all: torch.Tensor) -> torch.Tensor:
        """V(s_{t+1}) for each step from values over obs[0..T]: the value of the next observation,
        except where the game was cut off (the actor's value of the final observation, because
        obs[t+1] is then the next game's first). Terminated steps are masked by the losses."""
        return torch.where(self.truncated, self.trunc_values, values_all[1:].detach())


class RMSpropTF(torch.optim.Optimizer):
    """RMSprop as TensorFlow 1 and OpenAI baselines compute it.

    ``v = alpha * v + (1 - alpha) * g^2`` with ``v`` starting at 1, and ``w -= lr * g / sqrt(v + eps)``.
    torch's RMSprop starts ``v`` at 0 and puts ``eps`` outside the square root, so its first steps on
    small gradients are hundreds to thousands of times larger than the ones the A2C references took.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-5):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for weight in group["params"]:
                if weight.grad is None:
                    continue
                state = self.state[weight]
                if not state:
                    state["square_avg"] = torch.ones_like(weight)
                square_avg = state["square_avg"]
                square_avg.mul_(group["alpha"]).addcmul_(weight.grad, weight.grad, value=1 - group["alpha"])
                weight.addcdiv_(weight.grad, square_avg.add(group["eps"]).sqrt_(), value=-group["lr"])


def make_optimizer(params: CommonParams, parameters) -> torch.optim.Optimizer:
    parameters = list(parameters)
    if params.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=params.learning_rate)
    if params.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=params.learning_rate, alpha=0.99, eps=1e-5)
    if params.optimizer == "rmsprop_tf":
        return RMSpropTF(parameters, lr=params.learning_rate, alpha=0.99, eps=1e-5)
    return torch.optim.SGD(parameters, lr=params.learning_rate)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Replay:
    """The newest ``size`` trajectories, sampled uniformly (the Q-learners' replay buffer)."""

    def __init__(self, size: int, seed: int):
        self.trajectories: list[dict] = []
        self.size = size
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.trajectories)

    def add(self, trajectories: list[dict]) -> None:
        self.trajectories = (self.trajectories + list(trajectories))[-self.size :]

    def sample(self, count: int, device: Any) -> Batch:
        """``count`` distinct trajectories (all of them if fewer are held)."""
        picks = self.rng.choice(len(self), size=min(count, len(self)), replace=False)
        return Batch.stack([self.trajectories[i] for i in picks], device)


class Learner:
    """Owns a model, its optimiser and the update schedule (see the module docstring).

    :param params: the algorithm's hyperparameters.
    :param obs_size: length of the flat observation vector (an ``int``), or an image's shape
        ``(H, W, C)`` (a tuple; its pixels arrive as uint8): passed on to :meth:`make_model` as is.
    :param num_actions: size of the discrete action space.
    :param fps: the game's frames per second (for the discount's half-life).
    :param act_every: the env's frames per agent step (its ``act_every`` option, 1 if it has none):
        the half-life is in seconds of game time, so the per-step discount depends on it.
    """

    params_class: type = CommonParams
    images = False  # make_model takes an image's shape (H, W, C) as obs_size, not only an int
    on_policy = True  # off-policy learners (DQN) keep a replay buffer
    synchronous = False  # true: every trajectory of an update was played with the current weights

    def __init__(
        self,
        params: CommonParams,
        obs_size: int,
        num_actions: int,
        fps: float = 60.0,
        device: str | None = None,
        *,
        act_every: int = 1,
    ):
        self.params = params
        # numpy ints (gym's action_space.n) break nn.GRU
        self.obs_size = obs_size = int(obs_size) if len(obs_shape(obs_size)) == 1 else obs_shape(obs_size)
        self.num_actions = num_actions = int(num_actions)
        self.act_every = int(act_every)
        self.gamma = params.gamma(fps, self.act_every)
        self.device = pick_device(device or params.device)
        torch.manual_seed(params.seed)
        self.model = self.make_model(params, obs_size, num_actions).to(self.device)
        self.optimizer = make_optimizer(params, self.model.parameters())
        self.updates = 0

    # -- what an algorithm provides ---------------------------------------------------------------

    @classmethod
    def make_model(cls, params: CommonParams, obs_size: int, num_actions: int) -> Model:
        """The network; also built by rollout workers and by ``arena match`` to play. ``obs_size``
        is an ``int`` for flat observations; a learner that sets ``images = True`` also gets an
        image's shape ``(H, W, C)`` (uint8 pixels)."""
        raise NotImplementedError

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar to minimise on one minibatch, and numbers worth logging."""
        raise NotImplementedError

    # -- hooks an algorithm may override ----------------------------------------------------------

    def collate(self, trajectories: list[dict]) -> Any:
        """What this update trains on, or ``None`` to skip training: every fresh trajectory."""
        return Batch.stack(trajectories, self.device) if trajectories else None

    def prepare(self, batch: Any) -> Any:
        """Fix what stays fixed for the whole update (advantages, the pre-update policy), without
        gradients, before the first step."""
        return batch

    def minibatches(self, batch: Any, generator: torch.Generator) -> Iterator[Batch]:
        """One pass: the trajectories shuffled into minibatches of ``batch_size``, all of them used."""
        order = torch.randperm(batch.width, generator=generator).to(self.device)
        for start in range(0, batch.width, self.params.batch_size):
            yield batch.select(order[start : start + self.params.batch_size])

    @property
    def sweeps(self) -> int:
        return self.params.sweeps

    @property
    def batch_steps(self) -> int:
        return self.params.batch_steps

    def should_stop(self, metrics: dict[str, float]) -> bool:
        """Whether to end the update now, before stepping on the minibatch ``metrics`` measured."""
        return False

    def after_step(self) -> None:
        """Called after each gradient step (dqn syncs its target network here)."""

    # -- the schedule ------------------------------------------------------------------------------

    def set_progress(self, fraction: float) -> None:
        """Tell the learner how far through its budget the run is (0 to 1), before each update:
        with ``lr_schedule=linear`` the learning rate falls linearly to 0 at the end."""
        if getattr(self.params, "lr_schedule", "constant") == "linear":
            scale = min(1.0, max(0.0, 1.0 - fraction))
            for group in self.optimizer.param_groups:
                group["lr"] = self.params.learning_rate * scale

    def wants(self) -> int:
        """Fresh trajectories to collect before the next :meth:`update`."""
        return self.params.min_collect

    def update(self, trajectories: list[dict]) -> dict[str, float]:
        """One update from fresh trajectories (the schedule in the module docstring); the mean of
        each logged number, ``grad_steps`` taken and ``early_stop`` (1 when should_stop ended it)."""
        metrics: dict[str, list[float]] = {}
        taken, stopped = 0, False
        data = self.collate(trajectories)
        if data is not None:
            with torch.no_grad():
                data = self.prepare(data)
            for minibatch in self.schedule(data):
                loss, numbers = self.loss(minibatch)
                stopped = self.should_stop(numbers)  # before the step: it is the step it prevents
                if not stopped:
                    numbers.update(self.apply(loss))
                    taken += 1
                for key, value in numbers.items():
                    metrics.setdefault(key, []).append(value)
                if stopped:
                    break
        self.updates += 1
        out = {key: float(np.mean(values)) for key, values in metrics.items()}
        out["grad_steps"] = float(taken)
        out["early_stop"] = float(stopped)
        return out

    def schedule(self, data: Any) -> Iterator[Batch]:
        """The minibatch of each gradient step of one update: ``sweeps`` passes over
        :meth:`minibatches`, ``batch_steps`` steps on each (shuffled the same on a resume)."""
        generator = torch.Generator().manual_seed(self.params.seed * 1_000_003 + self.updates)
        for _ in range(self.sweeps):
            for minibatch in self.minibatches(data, generator):
                for _ in range(self.batch_steps):
                    yield minibatch

    def step(self, batch: Batch) -> dict[str, float]:
        """One gradient step on ``batch`` (a minibatch as :meth:`minibatches` yields it, prepared)."""
        loss, numbers = self.loss(batch)
        numbers.update(self.apply(loss))
        return numbers

    def apply(self, loss: torch.Tensor) -> dict[str, float]:
        """One gradient step on ``loss``: backward, clip to ``max_grad_norm``, step, then
        :meth:`after_step`."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics = {"loss": float(loss.detach())}
        if self.params.max_grad_norm > 0:
            metrics["grad_norm"] = float(nn.utils.clip_grad_norm_(self.model.parameters(), self.params.max_grad_norm))
        self.optimizer.step()
        self.after_step()
        return metrics

    def mixed_log_probs(self, logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log of ``(1 - epsilon) * softmax(logits) + epsilon / A`` at ``actions``: the policy the
        workers actually play (see :class:`Actor`).

        Policy gradients use this, not the bare softmax: an action taken by the epsilon floor has
        softmax probability near 0 once the policy is sharp, and its bare log-probability would
        give a huge, noisy gradient that can collapse the policy to one action. Under the mixture
        that action has probability >= epsilon / A and almost no gradient.
        """
        log_probs = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        eps = self.params.epsilon
        if eps == 0:
            return log_probs
        if eps == 1:
            return torch.full_like(log_probs, -math.log(self.num_actions))
        return torch.logaddexp(log_probs + math.log(1 - eps), torch.full_like(log_probs, math.log(eps / self.num_actions)))

    def fixed_advantages(self, batch: Batch, lam: float) -> Batch:
        """``batch`` with what the model as it stands gives, for a :meth:`prepare` to keep fixed
        over an update: GAE(``lam``) advantages, the lambda-returns, the values and ``prox_logp``."""
        out = self.evaluate(batch)
        advantages, returns = functional.gae(
            batch.rewards, out.values[:-1], batch.next_values(out.values), batch.terminated, batch.truncated, self.gamma, lam
        )
        prox_logp = self.mixed_log_probs(out.logits[:-1], batch.actions)
        return batch.with_(advantages=advantages, returns=returns, values=out.values[:-1], prox_logp=prox_logp)

    def acting(self, batch: Batch) -> ModelOutput:
        """The model over the steps that acted, ``obs[0..T-1]``, from each trajectory's stored state."""
        return self.model(batch.obs[:-1], batch.prev_actions[:-1], batch.starts[:-1], batch.state)

    def evaluate(self, batch: Batch) -> ModelOutput:
        """The model over ``obs[0..T]``, the observation after the last step included (its value
        bootstraps the returns)."""
        return self.model(batch.obs, batch.prev_actions, batch.starts, batch.state)

    # -- weights -----------------------------------------------------------------------------------

    def policy_weights(self) -> dict[str, np.ndarray]:
        """The acting model's weights as numpy arrays (what workers receive)."""
        return {key: value.detach().cpu().numpy().copy() for key, value in self.model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: weights, optimiser, counters (tensors and plain data only)."""
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        if state.get("optimizer"):
            self.optimizer.load_state_dict(state["optimizer"])
        self.updates = int(state.get("updates", 0))


def load_weights(model: nn.Module, weights: dict[str, Any]) -> None:
    model.load_state_dict({key: torch.as_tensor(_writable(value)) for key, value in weights.items()})


def _writable(value: Any) -> Any:
    # Ray's object store hands out read-only arrays, which torch will not wrap without a warning.
    return value.copy() if isinstance(value, np.ndarray) and not value.flags.writeable else value


class Actor:
    """A model playing one seat, one step at a time, keeping its recurrent state and last action.

    The behaviour policy is ``(1 - epsilon) * softmax(logits) + epsilon / A`` (phillip's
    exploration floor). Used by rollout workers (exploring) and by ``arena match`` (``epsilon=0``).
    Runs the model's :meth:`Model.numpy_step` when it has one, else torch.
    """

    def __init__(self, model: Model, num_actions: int, epsilon: float = 0.0, seed: int = 0):
        self.model = model.eval()
        self.num_actions = num_actions
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.refresh()
        self.reset()

    def refresh(self) -> None:
        """Pick up the model's current weights (call after loading new ones)."""
        self._numpy = self.model.numpy_step()

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.state = np.zeros(self.model.state_size, np.float32)
        self.prev_action = 0
        self.start = True

    def _forward(self, obs) -> tuple[np.ndarray, Any, np.ndarray]:
        obs = np.asarray(obs)
        if obs.ndim != 3:  # a vector; an image [H, W, C] stays as the env gave it (uint8)
            obs = obs.astype(np.float32, copy=False).reshape(-1)
        if self._numpy is not None:
            return self._numpy(obs, self.prev_action, self.start, self.state)
        with torch.inference_mode():
            out = self.model(
                torch.from_numpy(np.ascontiguousarray(obs))[None, None],
                torch.tensor([[self.prev_action]]),
                torch.tensor([[self.start]]),
                torch.from_numpy(self.state).view(1, -1),
            )
        return out.logits[0, 0].numpy(), float(out.values[0, 0]), out.state[0].numpy()

    def step(self, obs) -> tuple[int, float]:
        """Pick an action for ``obs``: ``(action, its log-probability)``; advances the state."""
        logits, _, state = self._forward(obs)
        # A handful of actions: plain Python floats beat numpy's per-call overhead here.
        logits = logits.tolist()
        top = max(logits)
        weights = [math.exp(value - top) for value in logits]
        total = sum(weights)
        eps, num = self.epsilon, self.num_actions
        probs = [(1 - eps) * w / total + eps / num for w in weights]
        pick, action = self.rng.random(), num - 1
        for index, p in enumerate(probs):
            pick -= p
            if pick < 0:
                action = index
                break
        self.state = state
        self.prev_action = action
        self.start = False
        return action, math.log(max(probs[action], 1e-30))

    def value(self, obs) -> float:
        """V(obs) from the current state, without advancing it (a cut-off game's bootstrap)."""
        value = self._forward(obs)[1]
        return float(value() if callable(value) else value)

    # The Agent protocol, so a trained model plays in `arena match`.
    def act(self, observation) -> int:
        return self.step(observation)[0]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
