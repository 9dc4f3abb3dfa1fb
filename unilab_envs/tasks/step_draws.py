"""A task's per-step random numbers, drawn for many steps at once.

A step draws the onset of each random push and its direction, the joint observation noise and the stale tactile
pads. At one env each numpy ``Generator`` call (~2-4 us, more inside a stepping loop) costs more than the numbers
are worth, so ``StepDraws`` draws a block of ``block`` steps in (at most) two calls, uniforms in [0, 1) and
standard normals, and hands out one step's rows. The block shrinks as ``num_envs`` grows (``BLOCK_ROWS`` env rows
per refill: one env refills every 256 steps, 256 or more envs every step), so memory stays small on a GPU.

The consumers map the uniforms to what they need (``RandomPushes``, ``step_math.frame_draws`` and the compiled
step), so the same numbers reach every path. The stream is the env's step stream (``_step_rng``): seeding
``reset`` starts a new block, and a run is reproducible per seed and ``num_envs``.
"""
from __future__ import annotations

from typing import NamedTuple

#: env rows per refill: a block of ``max(1, BLOCK_ROWS // num_envs)`` steps
BLOCK_ROWS = 256


class Draws(NamedTuple):
    uniform: object  # (N, width) in [0, 1): the columns ``StepDraws.columns`` names
    normal: object   # (N, normals) standard normal (the push directions), or None


class StepDraws:
    """Hands out each step's ``Draws``; ``columns`` maps a name to its width in ``uniform`` (0: not drawn)."""

    def __init__(self, num_envs: int, columns: dict[str, int], normals: int, arrays):
        self.num_envs, self.normals, self.arrays = num_envs, normals, arrays
        self.columns, offset = {}, 0
        for name, width in columns.items():
            if width:
                self.columns[name] = slice(offset, offset + width)
                offset += width
        self.width = offset
        self.block = max(1, BLOCK_ROWS // num_envs)
        self.rng = None
        self._t = self.block

    def start(self, rng) -> None:
        """Draw from ``rng`` from now on (``reset`` with a seed): the next step begins a new block."""
        self.rng, self._t = rng, self.block

    def offset(self, name: str) -> int:
        """First column of ``name`` in ``uniform``; -1 if it is not drawn (for the compiled step)."""
        s = self.columns.get(name)
        return -1 if s is None else s.start

    def give_back(self) -> None:
        """Undo the last ``next()`` (a step that raised before using its draws): the next step takes them again."""
        self._t -= 1

    def next(self) -> Draws:
        if self._t == self.block:
            shape = (self.block, self.num_envs)
            self._uniform = self.rng.random((*shape, self.width))
            self._normal = self.rng.standard_normal((*shape, self.normals)) if self.normals else None
            self._t = 0
        t = self._t
        self._t = t + 1
        return Draws(self._uniform[t], None if self._normal is None else self._normal[t])
