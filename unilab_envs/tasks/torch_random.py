"""numpy's ``Generator`` interface, as far as the tasks use it, over a torch ``Generator`` on a device.

The tasks draw their randomness through a ``numpy.random.Generator`` (Gymnasium's ``np_random`` and the
streams spawned from it). For a task layer whose arrays are torch tensors on a GPU (docs/gpu_task_layer.md)
the same calls must give tensors on that device: ``TorchGenerator`` answers ``random``, ``uniform``,
``standard_normal``, ``integers`` and ``permutation`` like numpy (same argument order, half-open ranges), seeded
from a numpy generator so that Gymnasium's seeding still decides every stream. The draws differ from numpy's
(another algorithm); runs are reproducible per device and seed.
"""
from __future__ import annotations

import numpy as np


def _shape(size) -> tuple[int, ...]:
    if size is None:
        return ()
    return (int(size),) if np.isscalar(size) else tuple(int(s) for s in size)


class TorchGenerator:
    def __init__(self, seed_from: np.random.Generator, device="cpu", dtype=None):
        import torch

        self.torch, self.device = torch, torch.device(device)
        self.dtype = dtype or torch.float32
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(int(seed_from.integers(2**63 - 1)))

    def random(self, size=None):
        t = self.torch
        return t.rand(_shape(size), generator=self.gen, device=self.device, dtype=self.dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return low + (high - low) * self.random(size)

    def standard_normal(self, size=None):
        t = self.torch
        return t.randn(_shape(size), generator=self.gen, device=self.device, dtype=self.dtype)

    def integers(self, low, high=None, size=None):
        """Integers in [low, high) (numpy's default ``endpoint=False``); ``integers(n)`` is [0, n)."""
        low, high = (0, low) if high is None else (low, high)
        if high <= low:
            raise ValueError(f"integers: high={high} must be > low={low}")
        return self.torch.randint(int(low), int(high), _shape(size), generator=self.gen, device=self.device)

    def permutation(self, x):
        """A shuffled copy of ``x`` (a sequence or array), or of ``arange(x)`` for an int."""
        t = self.torch
        x = t.arange(int(x), device=self.device) if np.isscalar(x) else t.as_tensor(np.asarray(x), device=self.device)
        return x[t.randperm(len(x), generator=self.gen, device=self.device)]

    def spawn(self, n: int) -> list[TorchGenerator]:
        """``n`` independent child streams (numpy's ``Generator.spawn``), seeded from this one."""
        seeds = self.integers(0, 2**62, size=n).tolist()
        return [TorchGenerator(np.random.default_rng(s), self.device, self.dtype) for s in seeds]
