"""Where a task's arrays live: host numpy (float64), or torch tensors (float32) on the physics device.

The env takes its ``Arrays`` from the backend (``backend.xp``: numpy for MuJoCo and MotrixSim, torch for MuJoCo
Warp with ``arrays="torch"``) and allocates every per-env array through it, so that ``step`` runs where the
physics' arrays already are (docs/gpu_task_layer.md). The numpy case calls numpy directly: a one-env step pays
nothing for the indirection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Arrays:
    xp: Any              # numpy, or array_api_compat.torch
    float: Any           # np.float64, or torch.float32
    device: Any = None   # None (numpy), or a torch.device

    @property
    def is_numpy(self) -> bool:
        return self.xp is np

    def zeros(self, shape, dtype=None):
        return self.xp.zeros(shape, dtype=self.float if dtype is None else dtype, device=self.device)

    def full(self, shape, value, dtype=None):
        return self.xp.full(shape, value, dtype=self.float if dtype is None else dtype, device=self.device)

    def asarray(self, x, dtype=None):
        """``x`` (numpy, a list, or a tensor on any device) in this namespace, dtype and device."""
        if self.xp is not np and isinstance(x, np.ndarray) and not x.flags.writeable:
            x = x.copy()  # torch would share a read-only buffer (a memory-mapped cache) and warn
        return self.xp.asarray(x, dtype=self.float if dtype is None else dtype, device=self.device)

    def arange(self, n: int):
        return self.xp.arange(n, dtype=self.xp.int64, device=self.device)

    def copy(self, x):
        return x.copy() if self.xp is np else x.clone()

    def any(self, mask) -> bool:
        """Whether any entry of a bool array is set (numpy's ``count_nonzero``: a tenth of ``.any()``'s cost)."""
        return bool(np.count_nonzero(mask)) if self.xp is np else bool(mask.any())

    def flatnonzero(self, mask):
        return np.flatnonzero(mask) if self.xp is np else self.xp.nonzero(mask)[0]

    def generator(self, seed_from: np.random.Generator):
        """The stream the task draws from: ``seed_from`` itself for numpy, else a ``TorchGenerator`` on the device
        seeded from it (Gymnasium's seeding still decides every stream)."""
        if self.xp is np:
            return seed_from
        from .torch_random import TorchGenerator

        return TorchGenerator(seed_from, self.device, self.float)


NUMPY = Arrays(np, np.float64)


def arrays_of(backend) -> Arrays:
    """The ``Arrays`` of a backend's readings (``backend.xp``; numpy when it declares none)."""
    xp = getattr(backend, "xp", np)
    if xp is np:
        return NUMPY
    import torch

    return Arrays(xp, torch.float32, getattr(backend, "torch_device", torch.device("cpu")))
