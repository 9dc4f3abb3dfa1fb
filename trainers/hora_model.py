"""HORA's networks, defined once for every library: the SB3 policy (``ppo_model.py``) and the Sample Factory
encoder (``sf_hora.py``) are thin shells over these modules.

- ``PrivilegedEncoder``: privileged facts -> latent ``z`` (HORA's 256-128-8 MLP, ``tanh`` on ``z``).
- ``TeacherTrunk``: ``(state, privileged) -> [state, z]``, the input of the teacher's actor (and critic).
- ``AdaptationModule``: HORA's proprioceptive adaptation module, a per-frame MLP then temporal
  convolutions over the frame history -> ``z`` (``tanh``): the student's stand-in for the encoder.
- ``TeacherActor``: what every library's teacher offers the student: ``encode(priv) -> z`` and
  ``act_latent(state, z) -> action`` (deterministic, in [-1, 1], observation normalization inside).
- ``StudentActor``: the deployable student, ``(state, history) -> action``.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from unilab_envs.tasks.inhand_rotation import PRIV_FIELDS

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}

TEACHER_KEYS = ("state", "privileged_state")
STUDENT_KEYS = ("state", "proprio_history")


def activation(name: str) -> type[nn.Module]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def mlp(in_dim: int, sizes: Sequence[int], act: str = "elu", last_act: bool = True) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``act`` between them (and after the last one if ``last_act``)."""
    layers: list[nn.Module] = []
    for i, size in enumerate(sizes):
        layers.append(nn.Linear(in_dim, int(size)))
        if last_act or i < len(sizes) - 1:
            layers.append(activation(act)())
        in_dim = int(size)
    return nn.Sequential(*layers)


def priv_mask(fields: Sequence[str] | None, dim: int) -> torch.Tensor:
    """1 for the entries of ``privileged_state`` the encoder sees (``fields`` by name; None: all), else 0."""
    if fields is None:
        return torch.ones(dim)
    mask = torch.zeros(dim)
    for name in fields:
        if name not in PRIV_FIELDS:
            raise ValueError(f"model.priv_fields: {name!r} is not a privileged fact; choose from {list(PRIV_FIELDS)}")
        start, stop = PRIV_FIELDS[name]
        mask[start:stop] = 1.0
    return mask


class PrivilegedEncoder(nn.Module):
    """Privileged facts -> latent ``z`` in (-1, 1): an MLP of ``sizes`` (the last is the latent size). Entries
    outside ``fields`` (names of ``PRIV_FIELDS``; None: all) are zeroed before it: the teacher does not see them."""

    def __init__(self, in_dim: int, sizes: Sequence[int] = (256, 128, 8), act: str = "elu",
                 fields: Sequence[str] | None = None):
        super().__init__()
        if not sizes:
            raise ValueError("the privileged encoder needs at least one layer (its last size is the latent size)")
        self.net = mlp(in_dim, sizes, act, last_act=False)
        self.latent_dim = int(sizes[-1])
        self.register_buffer("mask", priv_mask(fields, in_dim), persistent=False)  # from the config, not saved

    def forward(self, priv: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(priv * self.mask))


class TeacherTrunk(nn.Module):
    """``(state, privileged) -> [state, z]``: the policy observation beside the privileged latent."""

    def __init__(self, state_dim: int, priv_dim: int, sizes: Sequence[int] = (256, 128, 8), act: str = "elu",
                 fields: Sequence[str] | None = None):
        super().__init__()
        self.encoder = PrivilegedEncoder(priv_dim, sizes, act, fields)
        self.state_dim, self.latent_dim = int(state_dim), self.encoder.latent_dim
        self.out_dim = self.state_dim + self.latent_dim

    def forward(self, state: torch.Tensor, priv: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise`` (``model.latent_noise``, training only) is added to z, which stays in [-1, 1]."""
        z = self.encoder(priv)
        if noise is not None:
            z = torch.clamp(z + noise, -1.0, 1.0)
        return torch.cat([state, z], dim=-1)


class AdaptationModule(nn.Module):
    """History ``(B, frames, frame_size)`` -> ``z``: a per-frame MLP (``channel_mlp``), 1-D convolutions over
    time (``conv_channels``, ``kernels``, ``strides``), a linear map of the flattened result, ``tanh``.
    HORA's sizes: 32-32 per frame, three convolutions of 32 channels with kernels 9, 5, 5 and strides 2, 1, 1."""

    def __init__(self, frames: int, frame_size: int, latent_dim: int, channel_mlp: Sequence[int] = (32, 32),
                 conv_channels: Sequence[int] = (32, 32, 32), kernels: Sequence[int] = (9, 5, 5),
                 strides: Sequence[int] = (2, 1, 1), act: str = "relu"):
        super().__init__()
        if not (len(conv_channels) == len(kernels) == len(strides)):
            raise ValueError(f"conv_channels {list(conv_channels)}, kernels {list(kernels)} and strides "
                             f"{list(strides)} must have the same length (one entry per convolution)")
        self.frames, self.frame_size = int(frames), int(frame_size)
        self.channel = mlp(frame_size, channel_mlp, act) if channel_mlp else nn.Identity()
        width = int(channel_mlp[-1]) if channel_mlp else int(frame_size)
        convs: list[nn.Module] = []
        length = self.frames
        for ch, k, s in zip(conv_channels, kernels, strides, strict=True):
            length = (length - int(k)) // int(s) + 1
            if length < 1:
                raise ValueError(f"a history of {frames} frames is too short for convolutions with kernels "
                                 f"{list(kernels)} and strides {list(strides)}; lengthen env.proprio_history or "
                                 f"shrink the kernels")
            convs += [nn.Conv1d(width, int(ch), int(k), stride=int(s)), activation(act)()]
            width = int(ch)
        self.temporal = nn.Sequential(*convs)
        self.project = nn.Linear(width * length, int(latent_dim))
        self.latent_dim = int(latent_dim)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        x = self.channel(history.float())                 # (B, T, C)
        x = self.temporal(x.transpose(1, 2))              # (B, C', T')
        return torch.tanh(self.project(x.flatten(1)))


class TeacherActor(nn.Module):
    """A trained teacher as the student sees it; subclasses implement ``encode`` and ``act_latent`` on raw
    (unnormalized) observations."""

    input_keys = TEACHER_KEYS
    latent_dim: int

    def encode(self, priv: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def act_latent(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, state: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        return self.act_latent(state, self.encode(priv))


class StudentActor(nn.Module):
    """``(state, history) -> action``: the teacher's actor head acting on the adaptation module's latent."""

    input_keys = STUDENT_KEYS

    def __init__(self, adapt: AdaptationModule, teacher: TeacherActor):
        super().__init__()
        self.adapt, self.teacher = adapt, teacher

    def forward(self, state: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        return self.teacher.act_latent(state, self.adapt(history))
