"""SB3 PPO pieces of our own: observation normalization inside the policy, HORA's KL-adaptive learning
rate, the HORA teacher's features (``HoraFeatures``: the shell of ``hora_model.TeacherTrunk``), and the
deterministic actors that eval, export and the HORA student use.

Normalization statistics are buffers of the policy's features extractor, so they are saved in every
checkpoint and travel with the exported actor. They are updated after each PPO update from the rollout
just learned from, so a rollout's actions and its update see the same statistics.
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from torch import nn

from .hora_model import ACTIVATIONS, TeacherActor, TeacherTrunk


class RunningObsNorm(BaseFeaturesExtractor):
    """``clip((obs - mean) / std, -clip, clip)`` with running statistics (Welford, batched)."""

    def __init__(self, observation_space: spaces.Box, clip: float = 5.0, enabled: bool = True):
        dim = int(np.prod(observation_space.shape))
        super().__init__(observation_space, features_dim=dim)
        self.clip, self.enabled = float(clip), bool(enabled)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.flatten(1).float()
        if not self.enabled:
            return obs
        return torch.clamp((obs - self.mean) / torch.sqrt(self.var + 1e-8), -self.clip, self.clip)

    @torch.no_grad()
    def update(self, batch: np.ndarray) -> None:
        x = torch.as_tensor(batch.reshape(-1, self.mean.numel()), dtype=torch.float64)
        n, mean, var = x.shape[0], x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean.double()
        new_mean = self.mean.double() + delta * n / total
        m2 = self.var.double() * self.count + var * n + delta.square() * self.count * n / total
        self.mean.copy_(new_mean.float())
        self.var.copy_((m2 / total).float())
        self.count.copy_(total)


class HoraFeatures(BaseFeaturesExtractor):
    """HORA teacher: ``{state, privileged_state}`` -> ``[normalized state, z]``, each key normalized with its
    own running statistics, ``z`` from the privileged encoder. Shared by actor and critic (SB3's default for
    on-policy algorithms), so both the policy and the value loss train the encoder. Other keys (a
    ``proprio_history``) are ignored."""

    def __init__(self, observation_space: spaces.Dict, priv_mlp=(256, 128, 8), priv_activation: str = "elu",
                 clip: float = 5.0, enabled: bool = True, priv_fields=None):
        for key in ("state", "privileged_state"):
            if not isinstance(observation_space, spaces.Dict) or key not in observation_space.spaces:
                raise ValueError(f"a HORA teacher needs a Dict observation with {key!r} (env.obs_mode=privileged); "
                                 f"got {observation_space}")
        state, priv = observation_space["state"], observation_space["privileged_state"]
        trunk = TeacherTrunk(int(np.prod(state.shape)), int(np.prod(priv.shape)), list(priv_mlp), priv_activation,
                             priv_fields)
        super().__init__(observation_space, features_dim=trunk.out_dim)
        self.state_norm = RunningObsNorm(state, clip, enabled)
        self.priv_norm = RunningObsNorm(priv, clip, enabled)
        self.trunk = trunk

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.trunk(self.state_norm(obs["state"]), self.priv_norm(obs["privileged_state"]),
                          obs.get(LATENT_NOISE_KEY))

    def update(self, batch: dict[str, np.ndarray]) -> None:
        self.state_norm.update(batch["state"])
        self.priv_norm.update(batch["privileged_state"])


LATENT_NOISE_KEY = "latent_noise"


class LatentNoise(VecEnvWrapper):
    """``model.latent_noise``: adds ``latent_noise`` ~ N(0, std^2) (one latent vector per env, redrawn every step)
    to a HORA teacher's observations while it trains. ``HoraFeatures`` adds it to z. Being part of the
    observation, the same draw is stored in the rollout buffer and reused by the update, so PPO's probability
    ratio and KL compare like with like; evaluation, export and students give no such key and act on the
    clean z."""

    def __init__(self, venv: VecEnv, latent_dim: int, std: float, seed: int):
        space = venv.observation_space
        if not isinstance(space, spaces.Dict):
            raise ValueError(f"model.latent_noise needs a HORA teacher's Dict observation; got {space}")
        noise = spaces.Box(-np.inf, np.inf, (int(latent_dim),), np.float32)
        super().__init__(venv, observation_space=spaces.Dict({**space.spaces, LATENT_NOISE_KEY: noise}))
        self.std, self.dim, self.rng = float(std), int(latent_dim), np.random.default_rng(seed)

    def _add(self, obs: dict) -> dict:
        return {**obs, LATENT_NOISE_KEY: (self.std * self.rng.standard_normal((self.num_envs, self.dim)))
                .astype(np.float32)}

    def reset(self):
        return self._add(self.venv.reset())

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        return self._add(obs), rewards, dones, infos


class AdaptivePPO(PPO):
    """SB3 PPO plus two things HORA relies on: after every update the observation statistics take in the
    rollout, and (``adaptive_lr``) the learning rate follows rl_games' KL schedule: divided by 1.5 when the
    update's KL exceeded ``2 * desired_kl``, multiplied by 1.5 when it stayed under ``desired_kl / 2``."""

    def __init__(self, *args, adaptive_lr: bool = True, desired_kl: float = 0.016, **kwargs):
        self.adaptive_lr, self.desired_kl = adaptive_lr, desired_kl
        self.post_update = None  # called after every update (SB3 callbacks have no such hook); not saved
        super().__init__(*args, **kwargs)

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "post_update"]

    def _update_learning_rate(self, optimizers) -> None:
        if not self.adaptive_lr:
            return super()._update_learning_rate(optimizers)
        self.logger.record("train/learning_rate", self.learning_rate)
        for opt in optimizers if isinstance(optimizers, list) else [optimizers]:
            for group in opt.param_groups:
                group["lr"] = self.learning_rate

    def train(self) -> None:
        super().train()
        self.policy.features_extractor.update(self.rollout_buffer.observations)
        kl = self.logger.name_to_value.get("train/approx_kl")
        if self.adaptive_lr and kl is not None and np.isfinite(kl):
            if kl > 2.0 * self.desired_kl:
                self.learning_rate = max(self.learning_rate / 1.5, 1e-6)
            elif kl < 0.5 * self.desired_kl:
                self.learning_rate = min(self.learning_rate * 1.5, 1e-2)
        if self.post_update is not None:
            self.post_update()


class FrozenNorm(nn.Module):
    """A ``RunningObsNorm``'s statistics at one moment, as a fixed normalization."""

    def __init__(self, norm: RunningObsNorm):
        super().__init__()
        self.register_buffer("mean", norm.mean.clone())
        self.register_buffer("std", torch.sqrt(norm.var + 1e-8) if norm.enabled else torch.ones_like(norm.var))
        self.clip = norm.clip if norm.enabled else float("inf")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.clamp((obs.flatten(1).float() - self.mean) / self.std, -self.clip, self.clip)


class PPOActor(nn.Module):
    """Raw observation -> deterministic action (the Gaussian's mean, clipped to [-1, 1]), normalization inside.

    Plain torch: ``torch.jit.trace`` and ``torch.onnx.export`` take it, and it needs neither SB3 nor us.
    """

    def __init__(self, policy):
        super().__init__()
        self.norm = FrozenNorm(policy.features_extractor)
        self.body = policy.mlp_extractor.policy_net
        self.head = policy.action_net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.head(self.body(self.norm(obs))), -1.0, 1.0)


class HoraPPOActor(TeacherActor):
    """An SB3 HORA teacher (``HoraFeatures``) as ``(state, privileged_state) -> action``, with ``encode`` and
    ``act_latent`` for the student (see ``hora_model.TeacherActor``)."""

    def __init__(self, policy):
        super().__init__()
        fe = policy.features_extractor
        self.state_norm, self.priv_norm = FrozenNorm(fe.state_norm), FrozenNorm(fe.priv_norm)
        self.encoder = fe.trunk.encoder
        self.latent_dim = fe.trunk.latent_dim
        self.body = policy.mlp_extractor.policy_net
        self.head = policy.action_net

    def encode(self, priv: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.priv_norm(priv))

    def act_latent(self, state: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.head(self.body(torch.cat([self.state_norm(state), z], -1))), -1.0, 1.0)


def fields(model) -> list[str] | None:
    """``model.priv_fields`` as a plain list (None: every privileged fact)."""
    value = model.get("priv_fields") if model is not None else None
    return None if value is None else [str(x) for x in value]


def policy_kwargs(algo, model=None) -> dict:
    """SB3 ``policy_kwargs`` from the ``algo`` section; with ``model`` (a HORA teacher's ``model`` section)
    the features are ``HoraFeatures``."""
    arch = list(algo.net_arch)
    if algo.activation not in ACTIVATIONS:
        raise ValueError(f"algo.activation={algo.activation!r}; choose one of {sorted(ACTIVATIONS)}")
    norm = dict(clip=float(algo.obs_norm_clip), enabled=bool(algo.obs_norm))
    if model is None:
        features = dict(features_extractor_class=RunningObsNorm, features_extractor_kwargs=norm)
    else:
        features = dict(features_extractor_class=HoraFeatures,
                        features_extractor_kwargs=norm | dict(priv_mlp=[int(x) for x in model.priv_mlp],
                                                              priv_activation=str(model.priv_activation),
                                                              priv_fields=fields(model)))
    return dict(net_arch=dict(pi=arch, vf=arch), activation_fn=ACTIVATIONS[algo.activation],
                log_std_init=float(algo.log_std_init), **features)
