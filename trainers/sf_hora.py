"""The HORA teacher on Sample Factory: a custom SF encoder over ``hora_model.TeacherTrunk``, and the trained
teacher as the student sees it (``SFHoraTeacher``, a ``TeacherActor``).

SF builds every model part through ``global_model_factory()``, one attribute per part on a process-wide
``ModelFactory`` (``make_model_encoder_func``). ``hora_encoder(...)`` swaps the encoder factory in and puts the
previous one back on exit, so that a later plain APPO run (or model rebuilt for loading) in the same process
gets SF's default encoder again. The factory is a ``functools.partial`` of a module-level function: SF pickles
its global context into the processes it spawns (the env-info probe; workers in parallel mode).
"""
from __future__ import annotations

import contextlib
import functools
from typing import Callable, Iterator, Sequence

import torch
from sample_factory.model.encoder import Encoder
from torch import nn

from .hora_model import TeacherActor, TeacherTrunk, mlp

STATE, PRIV = "state", "privileged_state"


class HoraEncoder(Encoder):
    """SF's (normalized) obs dict -> ``TeacherTrunk`` ``[state, z]`` -> MLP of ``cfg.encoder_mlp_layers``
    with ``cfg.nonlinearity``. Other keys (``proprio_history`` with ``obs_mode=hora``) are ignored."""

    def __init__(self, cfg, obs_space, priv_mlp: Sequence[int], priv_activation: str,
                 priv_fields: Sequence[str] | None = None):
        super().__init__(cfg)
        for key in (STATE, PRIV):
            if key not in obs_space.spaces or len(obs_space[key].shape) != 1:
                raise ValueError(f"the HORA encoder needs a flat {key!r} observation; got {obs_space} "
                                 f"(train the teacher with env.obs_mode=privileged)")
        self.trunk = TeacherTrunk(obs_space[STATE].shape[0], obs_space[PRIV].shape[0], list(priv_mlp), priv_activation,
                                  priv_fields)
        layers = list(cfg.encoder_mlp_layers)
        self.mlp_head = mlp(self.trunk.out_dim, layers, cfg.nonlinearity) if layers else nn.Identity()
        self.out_size = int(layers[-1]) if layers else self.trunk.out_dim

    def head(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The MLP on ``[state, z]`` (normalized state, latent)."""
        return self.mlp_head(torch.cat([state, z], dim=-1))

    def forward(self, obs_dict: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.mlp_head(self.trunk(obs_dict[STATE], obs_dict[PRIV]))

    def get_out_size(self) -> int:
        return self.out_size


def make_hora_encoder(cfg, obs_space, *, priv_mlp: Sequence[int], priv_activation: str,
                      priv_fields: Sequence[str] | None = None) -> HoraEncoder:
    return HoraEncoder(cfg, obs_space, priv_mlp, priv_activation, priv_fields)


def register_hora_encoder(priv_mlp: Sequence[int], priv_activation: str,
                          priv_fields: Sequence[str] | None = None) -> Callable:
    """Make SF build ``HoraEncoder``s from now on; returns the encoder factory it replaced (to restore)."""
    from sample_factory.algo.utils.context import global_model_factory

    factory = global_model_factory()
    previous = factory.make_model_encoder_func
    fields = None if priv_fields is None else [str(f) for f in priv_fields]
    factory.register_encoder_factory(functools.partial(make_hora_encoder, priv_mlp=[int(s) for s in priv_mlp],
                                                       priv_activation=str(priv_activation), priv_fields=fields))
    return previous


def restore_encoder(previous: Callable) -> None:
    from sample_factory.algo.utils.context import global_model_factory

    global_model_factory().register_encoder_factory(previous)


@contextlib.contextmanager
def hora_encoder(priv_mlp: Sequence[int], priv_activation: str,
                 priv_fields: Sequence[str] | None = None) -> Iterator[None]:
    """``register_hora_encoder`` within the block; the previous encoder factory is back afterwards."""
    previous = register_hora_encoder(priv_mlp, priv_activation, priv_fields)
    try:
        yield
    finally:
        restore_encoder(previous)


def _normalize(rms: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    """SF's ``RunningMeanStdInPlace`` normalization (eval): ``(x - mean) * (1 / std)`` clipped, out of place,
    statistics untouched."""
    if rms is None:
        return x
    mean, var = rms.running_mean.float(), rms.running_var.float()
    return ((x - mean) * (1 / torch.sqrt(var + rms.eps))).clamp(-rms.clip, rms.clip)


class SFHoraTeacher(TeacherActor):
    """A trained SF HORA teacher: ``encode(priv) -> z`` and ``act_latent(state, z) -> action`` on raw
    observations (SF's normalization inside), the action being the distribution mean clipped to [-1, 1]."""

    def __init__(self, actor_critic: nn.Module, cfg):
        super().__init__()
        ac = actor_critic
        shared = bool(cfg.actor_critic_share_weights)
        self.encoder = ac.encoder if shared else ac.actor_encoder
        if not isinstance(self.encoder, HoraEncoder):
            raise TypeError(f"the actor-critic's encoder is a {type(self.encoder).__name__}, not a HoraEncoder")
        self.decoder = ac.decoder if shared else ac.actor_decoder
        self.action_head = ac.action_parameterization.distribution_linear
        self.action_dim = int(ac.action_space.shape[0])
        self.tanh_scale = float(cfg.continuous_tanh_scale) if not cfg.adaptive_stddev else 0.0
        self.latent_dim = self.encoder.trunk.latent_dim
        self.state_dim, self.priv_dim = self.encoder.trunk.state_dim, self.encoder.trunk.encoder.net[0].in_features
        rms = ac.obs_normalizer.running_mean_std
        rms = rms.running_mean_std if rms is not None else {}
        self.state_rms = rms[STATE] if STATE in rms else None
        self.priv_rms = rms[PRIV] if PRIV in rms else None

    def encode(self, priv: torch.Tensor) -> torch.Tensor:
        return self.encoder.trunk.encoder(_normalize(self.priv_rms, priv.float()))

    def act_latent(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.decoder(self.encoder.head(_normalize(self.state_rms, state.float()), z))  # no RNN core
        mean = self.action_head(x)[:, :self.action_dim]  # (means, log-stds) with adaptive stddev
        if self.tanh_scale > 0:
            mean = torch.tanh(mean / self.tanh_scale) * self.tanh_scale
        return mean.clamp(-1.0, 1.0)
