"""Batched quaternion helpers, wxyz (MuJoCo's convention)."""
from __future__ import annotations

import numpy as np


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` for (..., 3) arrays, without its per-call axis handling (10x faster here)."""
    ax, ay, az = a[..., 0], a[..., 1], a[..., 2]
    bx, by, bz = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx], axis=-1)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product of (..., 4) wxyz quaternions."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors (..., 3) by unit quaternions (..., 4) wxyz."""
    w, u = q[..., :1], q[..., 1:]
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def quat_conj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def rotation_vector(q: np.ndarray) -> np.ndarray:
    """Axis times angle (rad, in [0, pi]) of unit quaternions, (..., 4) -> (..., 3)."""
    q = np.where(q[..., :1] < 0, -q, q)  # shortest rotation
    xyz = q[..., 1:]
    s = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(s, q[..., :1])
    return xyz * np.where(s > 1e-12, angle / np.maximum(s, 1e-12), 2.0)


def world_rotation_between(q_from: np.ndarray, q_to: np.ndarray) -> np.ndarray:
    """Rotation vector (world frame) taking orientation ``q_from`` to ``q_to``."""
    return rotation_vector(quat_mul(q_to, quat_conj(q_from)))


def random_quat(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniformly distributed unit quaternions, (n, 4)."""
    q = rng.standard_normal((n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)
