"""Per-env domain randomisation: physical parameters drawn at reset, random pushes per step."""
from __future__ import annotations

import numpy as np

from .config import DomainRandConfig


def sample_params(cfg: DomainRandConfig, nominal: dict[str, np.ndarray], n: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Draw parameters for ``n`` envs being reset.

    Returns the index into ``cfg.scale_list`` of each env's listed scale (it picks the grasp
    cache) and the parameters for ``PhysicsBackend.set_params``. Switched-off entries get the
    nominal value, so an env never keeps a previous episode's draw.
    """
    on = cfg.enabled
    scale_idx = rng.integers(len(cfg.scale_list), size=n)
    scale = np.asarray(cfg.scale_list, float)[scale_idx]
    if on and cfg.object_scale and cfg.scale_jitter > 0:
        scale = scale + rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, n)
    nu = nominal["kp"].shape[0]
    params = {
        "object_scale": scale,
        "object_mass": rng.uniform(*cfg.mass_range, n) if on and cfg.object_mass
        else np.full(n, float(nominal["object_mass"])),
        "object_com": rng.uniform(*cfg.com_range, (n, 3)) if on and cfg.object_com
        else np.tile(nominal["object_com"], (n, 1)),
        "friction": rng.uniform(*cfg.friction_range, n) if on and cfg.friction
        else np.full(n, float(nominal["friction"])),
        "kp": nominal["kp"] * (rng.uniform(*cfg.kp_scale_range, (n, nu)) if on and cfg.pd_gains else 1.0),
        "kv": nominal["kv"] * (rng.uniform(*cfg.kv_scale_range, (n, nu)) if on and cfg.pd_gains else 1.0),
    }
    return scale_idx, params


class RandomPushes:
    """HORA's random object forces: decaying pushes, a new one with probability ``force_prob``."""

    def __init__(self, cfg: DomainRandConfig, num_envs: int, control_dt: float):
        self.active = cfg.enabled and cfg.external_force and cfg.force_scale > 0
        self.cfg = cfg
        self.decay = cfg.force_decay ** (control_dt / cfg.force_decay_interval)
        self.force = np.zeros((num_envs, 3))

    def step(self, mass: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Decay the pushes, start new ones, and return the (N, 3) forces to apply."""
        if self.active:
            self.force *= self.decay
            new = rng.random(len(self.force)) < self.cfg.force_prob
            k = int(new.sum())
            if k:
                self.force[new] = rng.standard_normal((k, 3)) * (mass[new, None] * self.cfg.force_scale)
        return self.force

    def reset(self, ids: np.ndarray) -> None:
        self.force[ids] = 0.0
