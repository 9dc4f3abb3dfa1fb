"""SB3 PPO pieces of our own: observation normalization inside the policy, HORA's KL-adaptive learning
rate, and the deterministic actor that eval and export use.

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
from torch import nn

ACTIVATIONS = {"elu": nn.ELU, "relu": nn.ReLU, "tanh": nn.Tanh}


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


class PPOActor(nn.Module):
    """Raw observation -> deterministic action (the Gaussian's mean, clipped to [-1, 1]), normalization inside.

    Plain torch: ``torch.jit.trace`` and ``torch.onnx.export`` take it, and it needs neither SB3 nor us.
    """

    def __init__(self, policy):
        super().__init__()
        norm = policy.features_extractor
        self.register_buffer("mean", norm.mean.clone())
        self.register_buffer("std", torch.sqrt(norm.var + 1e-8) if norm.enabled else torch.ones_like(norm.var))
        self.clip = norm.clip if norm.enabled else float("inf")
        self.body = policy.mlp_extractor.policy_net
        self.head = policy.action_net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = torch.clamp((obs.flatten(1).float() - self.mean) / self.std, -self.clip, self.clip)
        return torch.clamp(self.head(self.body(x)), -1.0, 1.0)


def policy_kwargs(algo) -> dict:
    arch = list(algo.net_arch)
    if algo.activation not in ACTIVATIONS:
        raise ValueError(f"algo.activation={algo.activation!r}; choose one of {sorted(ACTIVATIONS)}")
    return dict(net_arch=dict(pi=arch, vf=arch), activation_fn=ACTIVATIONS[algo.activation],
                log_std_init=float(algo.log_std_init), features_extractor_class=RunningObsNorm,
                features_extractor_kwargs=dict(clip=float(algo.obs_norm_clip), enabled=bool(algo.obs_norm)))
