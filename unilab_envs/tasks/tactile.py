"""Tactile readings as a policy sees them: pad forces clipped, smoothed, sometimes stale."""
from __future__ import annotations

import numpy as np

from .arrays import NUMPY, Arrays


class TactileFilter:
    """Per env and pad: ``min(force, max_force)``, then an EMA (``smoothing`` = weight of the previous
    reading), and with probability ``latency`` per step and pad the previous reading is kept (a stale
    sensor). Readings start at 0 after a reset: no contact has been measured yet."""

    def __init__(self, num_envs: int, num_pads: int, max_force: float, smoothing: float, latency: float,
                 arrays: Arrays = NUMPY):
        self.max_force, self.smoothing, self.latency = max_force, smoothing, latency
        self.xp = arrays.xp
        self.value = arrays.zeros((num_envs, num_pads))
        self.active = num_pads > 0  # a hand without pads: no reading is taken at all

    @property
    def drawn(self) -> bool:
        """Whether a step draws stale pads (pads and a latency): a uniform in [0, 1) per env and pad."""
        return self.active and self.latency > 0

    def stale(self, uniform):
        """This step's stale pads, (N, pads) bool, from uniforms in [0, 1) (``step_draws``)."""
        return uniform < self.latency

    def update(self, forces: np.ndarray, stale=None) -> np.ndarray:
        """Fold this step's raw forces (N, pads) into the readings, keeping the ``stale`` ones, and return them."""
        xp = self.xp
        fresh = self.smoothing * self.value + (1.0 - self.smoothing) * xp.minimum(forces, self.max_force)
        if stale is not None:
            fresh = xp.where(stale, self.value, fresh)
        self.value = fresh
        return self.value

    def reset(self, ids: np.ndarray) -> None:
        self.value[ids] = 0.0
