"""Observation pieces of the in-hand tasks: joint history frames and privileged object facts."""
from __future__ import annotations

import numpy as np

from .arrays import NUMPY, Arrays

OBS_CLIP = 5.0  # HORA's clipObservations: every observation entry lies in [-5, 5]


def normalize_joints(q: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Map joint positions from [lower, upper] to [-1, 1]."""
    lo, hi = ranges[:, 0], ranges[:, 1]
    return (2.0 * q - (hi + lo)) / (hi - lo)


def to_unit_range(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``x`` from [lo, hi] to [-1, 1] (0 where the range is empty), HORA's priv-info scaling."""
    if hi <= lo:
        return 0.0 * x
    return (2.0 * x - hi - lo) / (hi - lo)


class FrameHistory:
    """The last ``length`` frames per env, oldest first. A frame is (normalised noisy joints, joint
    targets, tactile readings): ``2 * num_joints + num_tactile`` values (no tactile part for a hand
    without pads), then ``num_touch`` fingertip contacts (0/1) that only the whole history shows:
    ``last()`` (the policy's ``state``) leaves them out."""

    def __init__(self, num_envs: int, length: int, num_joints: int, num_tactile: int = 0, arrays: Arrays = NUMPY,
                 num_touch: int = 0):
        self.nj, self.arrays = num_joints, arrays
        self.base = 2 * num_joints + num_tactile  # columns of a frame that last() returns
        self.buf = arrays.zeros((num_envs, length, self.base + num_touch), arrays.xp.float32)

    def push(self, joints: np.ndarray, targets: np.ndarray, tactile: np.ndarray | None = None,
             touch: np.ndarray | None = None) -> None:
        older = self.buf[:, 1:]  # numpy copies overlapping ranges correctly; torch refuses them
        self.buf[:, :-1] = older if self.arrays.is_numpy else older.clone()
        self.buf[:, -1, :self.nj] = joints
        self.buf[:, -1, self.nj:2 * self.nj] = targets
        if tactile is not None:
            self.buf[:, -1, 2 * self.nj:self.base] = tactile
        if touch is not None:
            self.buf[:, -1, self.base:] = touch

    def fill(self, ids: np.ndarray, joints: np.ndarray, targets: np.ndarray) -> None:
        """Start envs ``ids`` with every frame equal to the given one (as HORA at reset), tactile and touch 0."""
        self.buf[ids, :, :self.nj] = joints[:, None]
        self.buf[ids, :, self.nj:2 * self.nj] = targets[:, None]
        self.buf[ids, :, 2 * self.nj:] = 0.0

    def last(self, frames: int) -> np.ndarray:
        """(N, frames * frame) flattened newest ``frames`` frames, without the touch columns."""
        newest = self.buf[:, -frames:]
        if newest.shape[-1] != self.base:
            newest = newest[..., :self.base]
        return newest.reshape(len(self.buf), -1)
