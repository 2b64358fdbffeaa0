"""The small base class every algorithm builds on (imports torch: load it lazily).

Data flow: rollout workers play with an :class:`Actor` (the model, acting one step at a time) and
send back *trajectories*: dicts of numpy arrays, ``experience_length`` (``T``) steps each::

    obs           [T+1, D] float32  obs[T] is the observation after the last step
    prev_actions  [T+1]    int64    the action taken before obs[t] (0 at an episode's start)
    starts        [T+1]    bool     obs[t] is the first of an episode: recurrent state resets
    actions       [T]      int64
    rewards       [T]      float32  the training reward (score change plus shaping)
    terminated    [T]      bool     the game ended at step t (no bootstrap)
    truncated     [T]      bool     the game was cut off at step t (bootstrap from trunc_values)
    trunc_values  [T]      float32  the actor's V(final observation) where truncated, else 0
    logp          [T]      float32  log-probability of the action under the behaviour policy
    state         [H]      float32  the recurrent state before obs[0] (H = 0 for feed-forward)

The learner stacks them time-major into a :class:`Batch` (``[T, B]``) and an algorithm's
:meth:`Learner.loss` turns it into a scalar with the pure functions of :mod:`arena.training.functional`.
:meth:`Learner.update` owns phillip's schedule (``sweeps`` x ``batches`` x ``batch_steps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

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


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # [T, B, A]: the policy is softmax(logits) (a Q-net's logits are Q / temperature)
    values: torch.Tensor  # [T, B]: V(s_t)
    state: torch.Tensor  # [B, H]: the recurrent state after the last step ([B, 0] for feed-forward)
    q: torch.Tensor | None = None  # [T, B, A] for Q-learning models


def activation(name: str) -> type[nn.Module]:
    return {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}[name]


def mlp(in_size: int, layer_sizes: tuple[int, ...], act: str) -> tuple[nn.Module, int]:
    """A stack of linear layers, each followed by ``act``; returns it and its output size."""
    layers: list[nn.Module] = []
    for size in layer_sizes:
        layers += [nn.Linear(in_size, size), activation(act)()]
        in_size = size
    return nn.Sequential(*layers), in_size


class RecurrentCore(nn.Module):
    """A GRU over ``[embedding, one-hot previous action]`` (phillip's rac input), reset at
    episode starts inside a sequence.

    The learner runs the fused ``nn.GRU`` over the stretches between resets (games are long, so
    usually the whole sequence at once) instead of a Python loop of cells.
    """

    def __init__(self, in_size: int, num_actions: int, hidden: int):
        super().__init__()
        self.num_actions = num_actions
        self.hidden = hidden
        self.gru = nn.GRU(in_size + num_actions, hidden)

    def forward(self, x: torch.Tensor, prev_actions: torch.Tensor, starts: torch.Tensor, state: torch.Tensor):
        # x [T, B, E], prev_actions [T, B], starts [T, B] bool, state [B, H]
        inputs = torch.cat([x, nn.functional.one_hot(prev_actions, self.num_actions).to(x.dtype)], dim=-1)
        keep = (~starts).to(x.dtype).unsqueeze(-1)
        cuts = [0] + [t for t in range(1, inputs.shape[0]) if bool(starts[t].any())] + [inputs.shape[0]]
        outputs = []
        h = state.unsqueeze(0)
        for begin, end in zip(cuts[:-1], cuts[1:]):
            out, h = self.gru(inputs[begin:end], h * keep[begin])
            outputs.append(out)
        return torch.cat(outputs), h.squeeze(0)


class Model(nn.Module):
    """What a learner trains and an actor plays. Subclasses set ``state_size`` (0: feed-forward).

    A model may also offer :meth:`numpy_step`, one acting step in numpy: on a CPU core a batch-1
    torch forward costs ~10x the arithmetic in per-op overhead, which would eat a rollout
    worker's time. :class:`Actor` uses it when present.
    """

    state_size = 0

    def numpy_step(self):
        """``None``, or ``step(obs [D], prev_action, start, state [H]) -> (logits [A], value, state)``
        computing exactly what ``forward`` computes for one step, with the live weights. ``value``
        may be a float or a zero-argument function (computed only when asked: acting needs only
        the logits)."""
        return None

    def initial_state(self, batch: int, device: Any = None) -> torch.Tensor:
        return torch.zeros(batch, self.state_size, device=device)

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError


def _np_activation(name: str):
    if name == "elu":
        return lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    return np.tanh


def _np(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)


def numpy_sequential(seq: nn.Module):
    """A numpy function computing ``seq`` (Linear layers and ELU/ReLU/Tanh) on a vector.

    It copies the weights as they are now: after loading new weights, build it again (the
    :class:`Actor` does, in :meth:`Actor.refresh`).
    """
    ops = []
    for layer in seq.modules():
        if isinstance(layer, nn.Linear):
            ops.append((_np(layer.weight.T), _np(layer.bias)))
        elif isinstance(layer, (nn.ELU, nn.ReLU, nn.Tanh)):
            ops.append((_np_activation({nn.ELU: "elu", nn.ReLU: "relu", nn.Tanh: "tanh"}[type(layer)]), None))
        elif not isinstance(layer, nn.Sequential):
            raise TypeError(f"numpy_sequential cannot run {type(layer).__name__}")

    def run(x):
        for weight, bias in ops:
            x = weight(x) if bias is None else x @ weight + bias
        return x

    return run


def numpy_gru(core: RecurrentCore):
    """One GRU step in numpy over ``[x, one-hot prev_action]`` (PyTorch's gate equations), with
    the input bias folded into each action's column so a step is two matrix-vector products."""
    gru = core.gru
    hidden, width = core.hidden, gru.weight_ih_l0.shape[1] - core.num_actions
    w_x = _np(gru.weight_ih_l0[:, :width].T)  # [E, 3H]
    w_a = _np(gru.weight_ih_l0[:, width:].T + gru.bias_ih_l0)  # [A, 3H]: action column + input bias
    w_h, b_h = _np(gru.weight_hh_l0.T), _np(gru.bias_hh_l0)
    two = 2 * hidden

    def step(x, prev_action, h):
        gi = x @ w_x + w_a[prev_action]
        gh = h @ w_h + b_h
        rz = 0.5 * np.tanh(0.5 * (gi[:two] + gh[:two])) + 0.5  # sigmoid, in one ufunc
        n = np.tanh(gi[two:] + rz[:hidden] * gh[two:])
        return n + rz[hidden:] * (h - n)

    return step


@dataclass
class Batch:
    """Trajectories stacked time-major. Keys as in the module docstring, each ``[T(+1), B, ...]``."""

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

    @classmethod
    def stack(cls, trajectories: list[dict], device: Any = "cpu") -> Batch:
        def col(key):
            return torch.as_tensor(np.stack([t[key] for t in trajectories], axis=1 if key != "state" else 0), device=device)

        return cls(**{key: col(key) for key in TRAJECTORY_KEYS})

    @property
    def steps(self) -> int:
        return self.actions.numel()

    def next_values(self, values_all: torch.Tensor) -> torch.Tensor:
        """V(s_{t+1}) for each step from values over obs[0..T]: the value of the next observation,
        except where the game was cut off (the actor's value of the final observation, because
        obs[t+1] is then the next game's first). Terminated steps are masked by the losses."""
        return torch.where(self.truncated, self.trunc_values, values_all[1:].detach())


def make_optimizer(params: CommonParams, parameters) -> torch.optim.Optimizer:
    parameters = list(parameters)
    if params.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=params.learning_rate)
    if params.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=params.learning_rate, alpha=0.99, eps=1e-5)
    return torch.optim.SGD(parameters, lr=params.learning_rate)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Learner:
    """Owns a model, its optimiser and the update schedule; algorithms override :meth:`loss`.

    :param params: the algorithm's hyperparameters.
    :param obs_size: length of the (flat) observation vector.
    :param num_actions: size of the discrete action space.
    :param fps: the game's frames per second (for the discount's half-life).
    :param act_every: the env's frames per agent step (its ``act_every`` option, 1 if it has none):
        the half-life is in seconds of game time, so the per-step discount depends on it.
    """

    params_class: type = CommonParams
    on_policy = True  # off-policy learners (DQN) keep a replay buffer: see update()

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
        self.obs_size = obs_size = int(obs_size)  # numpy ints (gym's action_space.n) break nn.GRU
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
        """The network; also built by rollout workers and by ``arena match`` to play."""
        raise NotImplementedError

    def loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar to minimise on one minibatch, and numbers worth logging."""
        raise NotImplementedError

    def mixed_log_probs(self, logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log of ``(1 - epsilon) * softmax(logits) + epsilon / A`` at ``actions``: the policy the
        workers actually play (see :class:`Actor`).

        Policy gradients use this, not the bare softmax: an action taken by the epsilon floor has
        softmax probability near 0 once the policy is sharp, and its bare log-probability would
        give a huge, noisy gradient that can collapse the policy to one action. Under the mixture
        that action has probability
        >= epsilon / A and almost no gradient.
        """
        log_probs = torch.log_softmax(logits, -1).gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        eps = self.params.epsilon
        if eps == 0:
            return log_probs
        if eps == 1:
            return torch.full_like(log_probs, -math.log(self.num_actions))
        return torch.logaddexp(log_probs + math.log(1 - eps), torch.full_like(log_probs, math.log(eps / self.num_actions)))

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
        """One update from fresh trajectories: ``sweeps`` passes, each over ``batches`` shuffled
        minibatches of ``batch_size`` trajectories, ``batch_steps`` gradient steps on each."""
        p = self.params
        use = trajectories[-p.batches * p.batch_size :]
        metrics: dict[str, list[float]] = {}
        generator = torch.Generator().manual_seed(p.seed * 1_000_003 + self.updates)
        for _ in range(p.sweeps):
            order = torch.randperm(len(use), generator=generator).tolist()
            for start in range(0, len(order), p.batch_size):
                batch = Batch.stack([use[i] for i in order[start : start + p.batch_size]], self.device)
                for _ in range(p.batch_steps):
                    for key, value in self.step(batch).items():
                        metrics.setdefault(key, []).append(value)
        self.updates += 1
        return {key: float(np.mean(values)) for key, values in metrics.items()}

    def step(self, batch: Batch) -> dict[str, float]:
        """One gradient step on ``batch``."""
        loss, metrics = self.loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.params.max_grad_norm > 0:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.params.max_grad_norm)
            metrics["grad_norm"] = float(norm)
        self.optimizer.step()
        metrics["loss"] = float(loss.detach())
        return metrics

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
    model.load_state_dict({key: torch.as_tensor(value) for key, value in weights.items()})


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
        obs = np.asarray(obs, dtype=np.float32).reshape(-1)
        if self._numpy is not None:
            return self._numpy(obs, self.prev_action, self.start, self.state)
        with torch.inference_mode():
            out = self.model(
                torch.from_numpy(obs).view(1, 1, -1),
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
