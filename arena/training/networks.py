"""The networks the built-in algorithms share, and the numpy acting path (imports torch).

* :class:`Model`: what a learner trains and an :class:`~arena.training.learner.Actor` plays.
* :func:`mlp`, :class:`RecurrentCore` (phillip's GRU over the embedding and the previous action).
* :class:`ActorCritic` (ac, a2c, ppo, rac) and :class:`QNetwork` (dqn, rdqn).
* :func:`numpy_sequential`, :func:`numpy_gru`: one acting step in numpy, for rollout workers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from arena.training.params import sizes


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


def orthogonal_init(model: nn.Module, gain: float = 2**0.5) -> None:
    """Orthogonal weights (``gain``) and zero biases for every linear layer: baselines' init."""
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            nn.init.orthogonal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)


class ActorCritic(Model):
    """Embedding -> [GRU over embedding + previous action] -> policy and value heads.

    ``params`` needs ``embed_sizes``, ``actor_sizes``, ``critic_sizes``, ``activation`` and
    ``shared_critic`` (:class:`arena.training.params.ActorCriticParams`). With ``shared_critic``
    false the critic is a network of its own on the observation (phillip's critic.py), so the value
    loss's gradient never reaches the features the policy reads.
    """

    def __init__(self, params: Any, obs_size: int, num_actions: int, gru_size: int = 0):
        super().__init__()
        self.embed, width = mlp(obs_size, sizes(params.embed_sizes), params.activation)
        self.core = RecurrentCore(width, num_actions, gru_size) if gru_size else None
        self.state_size = gru_size
        width = gru_size or width
        actor, actor_out = mlp(width, sizes(params.actor_sizes), params.activation)
        self.shared_critic = params.shared_critic
        critic, critic_out = mlp(width if self.shared_critic else obs_size, sizes(params.critic_sizes), params.activation)
        self.actor = nn.Sequential(actor, nn.Linear(actor_out, num_actions))
        self.critic = nn.Sequential(critic, nn.Linear(critic_out, 1))
        self.small_policy_layer()

    def small_policy_layer(self) -> None:
        """A small last policy layer starts near uniform, so early play explores."""
        nn.init.orthogonal_(self.actor[-1].weight, gain=0.01)
        nn.init.zeros_(self.actor[-1].bias)

    def numpy_step(self):
        embed, actor, critic = numpy_sequential(self.embed), numpy_sequential(self.actor), numpy_sequential(self.critic)
        gru = numpy_gru(self.core) if self.core is not None else None
        shared = self.shared_critic

        def step(obs, prev_action, start, state):
            x = embed(obs)
            if gru is not None:
                x = state = gru(x, prev_action, np.zeros_like(state) if start else state)
            return actor(x), lambda: float(critic(x if shared else obs)[0]), state  # the critic only when asked

        return step

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:
        x = self.embed(obs)
        if self.core is not None:
            x, state = self.core(x, prev_actions, starts, state)
        return ModelOutput(self.actor(x), self.critic(x if self.shared_critic else obs).squeeze(-1), state)


class QNetwork(Model):
    """Embedding -> [GRU over embedding + previous action] -> Q head; a softmax(Q / temperature) policy.

    ``params`` needs ``embed_sizes``, ``q_sizes``, ``activation`` and ``temperature``
    (:class:`arena.training.params.QParams`). ``logits = Q / temperature`` and ``values`` is the
    value of that policy, ``sum_a softmax(logits)_a Q_a``, so everything that plays or bootstraps
    from an actor works unchanged.
    """

    def __init__(self, params: Any, obs_size: int, num_actions: int, gru_size: int = 0):
        super().__init__()
        self.temperature = params.temperature
        self.embed, width = mlp(obs_size, sizes(params.embed_sizes), params.activation)
        self.core = RecurrentCore(width, num_actions, gru_size) if gru_size else None
        self.state_size = gru_size
        hidden, hidden_out = mlp(gru_size or width, sizes(params.q_sizes), params.activation)
        self.head = nn.Sequential(hidden, nn.Linear(hidden_out, num_actions))
        # Small initial Q values: the first policy is close to uniform, whatever the temperature.
        nn.init.orthogonal_(self.head[-1].weight, gain=0.01)
        nn.init.zeros_(self.head[-1].bias)

    def numpy_step(self):
        embed, head = numpy_sequential(self.embed), numpy_sequential(self.head)
        gru = numpy_gru(self.core) if self.core is not None else None
        temperature = self.temperature

        def step(obs, prev_action, start, state):
            x = embed(obs)
            if gru is not None:
                x = state = gru(x, prev_action, state * (not start))
            q = head(x)
            logits = q / temperature

            def value():  # only when asked (a cut-off game's bootstrap): acting needs the logits
                probs = np.exp(logits - logits.max())
                return float(probs @ q / probs.sum())

            return logits, value, state

        return step

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:
        x = self.embed(obs)
        if self.core is not None:
            x, state = self.core(x, prev_actions, starts, state)
        q = self.head(x)
        logits = q / self.temperature
        values = (torch.softmax(logits, -1) * q).sum(-1)
        return ModelOutput(logits, values, state, q)
