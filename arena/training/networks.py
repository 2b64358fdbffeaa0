"""The networks the built-in algorithms share, and the numpy acting path (imports torch).

* :class:`Model`: what a learner trains and an :class:`~arena.training.learner.Actor` plays.
* :func:`mlp`, :class:`NatureEncoder` (Nature DQN's convolutions, for images), :func:`embedding`
  (whichever of the two fits the observation), :class:`RecurrentCore` (phillip's GRU over the
  embedding and the previous action).
* :class:`ActorCritic` (ac, a2c, ppo, rac) and :class:`QNetwork` (dqn, rdqn).
* :func:`numpy_sequential`, :func:`numpy_encoder`, :func:`numpy_gru`: one acting step in numpy, for
  rollout workers.

What a network sees is given as ``obs_size`` (what ``make_model`` receives): an ``int`` ``N`` for a
flat vector of ``N`` float32 numbers, or a tuple ``(H, W, C)`` for an image of uint8 pixels,
channel last (``-o obs=pixels``: ``(84, 84, 4)``). :func:`obs_shape` reads either.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
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


def obs_shape(obs_size: int | tuple[int, ...] | list[int]) -> tuple[int, ...]:
    """The observation's shape from ``obs_size``: ``(N,)`` for an int ``N`` (a flat vector),
    else the tuple itself (``(H, W, C)`` for an image; a snapshot's JSON gives a list)."""
    if isinstance(obs_size, (int, np.integer)):
        return (int(obs_size),)
    return tuple(int(size) for size in obs_size)


def is_image(obs_size: int | tuple[int, ...]) -> bool:
    """Whether ``obs_size`` describes an image ``(H, W, C)`` (uint8, channel last)."""
    return len(obs_shape(obs_size)) == 3


class NatureEncoder(nn.Module):
    """Nature DQN's encoder (Mnih et al., 2015) over uint8 images ``[..., H, W, C]``, channel last:
    ``x / 255``, conv 32 8x8 stride 4, conv 64 4x4 stride 2, conv 64 3x3 stride 1, each with ReLU,
    flattened, then linear 512 with ReLU: ``[..., 512]``. On 84x84 the convolutions leave 7x7x64."""

    out_size = 512

    def __init__(self, shape: tuple[int, int, int]):
        super().__init__()
        height, width, channels = shape
        self.convs = nn.Sequential(
            nn.Conv2d(channels, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
        )
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, channels, height, width)).numel()
        self.linear = nn.Sequential(nn.Linear(flat, self.out_size), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead = obs.shape[:-3]
        x = obs.reshape(-1, *obs.shape[-3:]).permute(0, 3, 1, 2).float() / 255.0  # NCHW in [0, 1]
        return self.linear(self.convs(x).flatten(1)).reshape(*lead, self.out_size)


def embedding(params: Any, obs_size: int | tuple[int, ...]) -> tuple[nn.Module, int]:
    """What the built-in networks put first, and its output size: for an image the
    :class:`NatureEncoder`, else :func:`mlp` over ``params.embed_sizes`` with ``params.activation``."""
    if is_image(obs_size):
        encoder = NatureEncoder(obs_shape(obs_size))
        return encoder, encoder.out_size
    return mlp(obs_shape(obs_size)[0], sizes(params.embed_sizes), params.activation)


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
        """``None``, or ``step(obs, prev_action, start, state [H]) -> (logits [A], value, state)``
        (``obs``: a float32 vector ``[D]``, or an image ``[H, W, C]`` as the env gives it)
        computing exactly what ``forward`` computes for one step, with the live weights. ``value``
        may be a float or a zero-argument function (computed only when asked: acting needs only
        the logits)."""
        return None

    def initial_state(self, batch: int, device: Any = None) -> torch.Tensor:
        return torch.zeros(batch, self.state_size, device=device)

    def forward(self, obs, prev_actions, starts, state) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError


def _np_activation(name: str):
    if name == "elu":  # expm1(x) >= x, so the max picks x above 0 and expm1(x) below: 3 ufuncs, not 4
        return lambda x: np.maximum(x, np.expm1(np.minimum(x, 0)))
    if name == "relu":
        return lambda x: np.maximum(x, 0)
    return np.tanh


def _np(tensor: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)


def numpy_sequential(seq: nn.Module):
    """A numpy function computing ``seq`` (Linear layers, ELU/ReLU/Tanh, a :class:`NatureEncoder`)
    on one observation: a vector, or an image ``[H, W, C]`` where the encoder comes first.

    It copies the weights as they are now: after loading new weights, build it again (the
    :class:`Actor` does, in :meth:`Actor.refresh`).
    """
    ops = []

    def walk(module: nn.Module) -> None:
        if isinstance(module, NatureEncoder):
            ops.append((numpy_encoder(module), None))
        elif isinstance(module, nn.Sequential):
            for child in module:
                walk(child)
        elif isinstance(module, nn.Linear):
            ops.append((_np(module.weight.T), _np(module.bias)))
        elif isinstance(module, (nn.ELU, nn.ReLU, nn.Tanh)):
            ops.append((_np_activation({nn.ELU: "elu", nn.ReLU: "relu", nn.Tanh: "tanh"}[type(module)]), None))
        else:
            raise TypeError(f"numpy_sequential cannot run {type(module).__name__}")

    walk(seq)

    def run(x):
        for weight, bias in ops:
            x = weight(x) if bias is None else x @ weight + bias
        return x

    return run


def numpy_encoder(encoder: NatureEncoder):
    """A :class:`NatureEncoder` in numpy on one image ``[H, W, C]``: each convolution is one matrix
    product over the image's patches (im2col: ``sliding_window_view``, strided, then copied to
    ``[positions, k * k * C]``), with the ``/ 255`` folded into the first convolution's weights.
    Everything stays channel last: a patch's rows are then runs of ``k * C`` contiguous numbers,
    which copies 2-4x faster than torch's ``(C, kh, kw)`` order; the weights are permuted to fit."""
    convs = []
    for index, conv in enumerate(layer for layer in encoder.convs if isinstance(layer, nn.Conv2d)):
        weight = conv.weight.permute(2, 3, 1, 0).reshape(-1, conv.out_channels)  # [kh * kw * C, out]
        convs.append((_np(weight / 255.0 if index == 0 else weight), _np(conv.bias), conv.kernel_size[0], conv.stride[0]))
    linear = encoder.linear[0]
    channels = convs[-1][0].shape[1]
    # torch flattens [C, h, w]; the numpy activations are [h, w, C]
    w_lin = linear.weight.reshape(linear.out_features, channels, -1).permute(2, 1, 0).reshape(-1, linear.out_features)
    w_lin, b_lin = _np(w_lin), _np(linear.bias)

    def run(image):
        x = np.asarray(image, dtype=np.float32)
        for weight, bias, kernel, stride in convs:
            patches = sliding_window_view(x, (kernel, kernel), axis=(0, 1))[::stride, ::stride]  # [h, w, C, kh, kw]
            patches = patches.transpose(0, 1, 3, 4, 2)  # [h, w, kh, kw, C]
            height, width = patches.shape[:2]
            x = np.maximum(patches.reshape(height * width, -1) @ weight + bias, 0).reshape(height, width, -1)
        return np.maximum(x.reshape(-1) @ w_lin + b_lin, 0)

    return run


def numpy_gru(core: RecurrentCore):
    """One GRU step in numpy over ``[x, one-hot prev_action]`` (PyTorch's gate equations), with
    the input bias folded into each action's column so a step is two matrix-vector products."""
    gru = core.gru
    hidden, width = core.hidden, gru.weight_ih_l0.shape[1] - core.num_actions
    two = 2 * hidden
    # sigmoid(v) = 0.5 * tanh(v / 2) + 0.5: the r and z columns come pre-halved
    half = torch.ones(3 * hidden, dtype=gru.weight_ih_l0.dtype, device=gru.weight_ih_l0.device)
    half[:two] = 0.5
    w_x = _np(gru.weight_ih_l0[:, :width].T * half)  # [E, 3H]
    w_a = _np((gru.weight_ih_l0[:, width:].T + gru.bias_ih_l0) * half)  # [A, 3H]: action column + input bias
    w_h, b_h = _np(gru.weight_hh_l0.T * half), _np(gru.bias_hh_l0 * half)

    def step(x, prev_action, h):
        gi = x @ w_x + w_a[prev_action]
        gh = h @ w_h + b_h
        rz = 0.5 * np.tanh(gi[:two] + gh[:two]) + 0.5
        n = np.tanh(gi[two:] + rz[:hidden] * gh[two:])
        return n + rz[hidden:] * (h - n)

    return step


def orthogonal_init(model: nn.Module, gain: float = 2**0.5) -> None:
    """Orthogonal weights (``gain``) and zero biases for every linear and convolution layer:
    baselines' init."""
    for layer in model.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(layer.weight, gain=gain)
            nn.init.zeros_(layer.bias)


class ActorCritic(Model):
    """Embedding -> [GRU over embedding + previous action] -> policy and value heads.

    ``params`` needs ``embed_sizes``, ``actor_sizes``, ``critic_sizes``, ``activation`` and
    ``shared_critic`` (:class:`arena.training.params.ActorCriticParams`). With ``shared_critic``
    false the critic is a network of its own on the observation (phillip's critic.py), so the value
    loss's gradient never reaches the features the policy reads; on images it has an encoder of
    its own. The embedding is :func:`embedding`'s: an MLP, or Nature DQN's encoder for an image.
    """

    def __init__(self, params: Any, obs_size: int | tuple[int, ...], num_actions: int, gru_size: int = 0):
        super().__init__()
        self.embed, width = embedding(params, obs_size)
        self.core = RecurrentCore(width, num_actions, gru_size) if gru_size else None
        self.state_size = gru_size
        width = gru_size or width
        actor, actor_out = mlp(width, sizes(params.actor_sizes), params.activation)
        self.shared_critic = params.shared_critic
        if self.shared_critic:
            critic, critic_out = mlp(width, sizes(params.critic_sizes), params.activation)
        elif is_image(obs_size):
            encoder = NatureEncoder(obs_shape(obs_size))
            hidden, critic_out = mlp(encoder.out_size, sizes(params.critic_sizes), params.activation)
            critic = nn.Sequential(encoder, hidden)
        else:
            critic, critic_out = mlp(obs_shape(obs_size)[0], sizes(params.critic_sizes), params.activation)
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
    from an actor works unchanged. The embedding is :func:`embedding`'s, as in :class:`ActorCritic`.
    """

    def __init__(self, params: Any, obs_size: int | tuple[int, ...], num_actions: int, gru_size: int = 0):
        super().__init__()
        self.temperature = params.temperature
        self.embed, width = embedding(params, obs_size)
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
