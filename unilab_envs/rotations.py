"""Batched quaternion helpers, wxyz (MuJoCo's convention).

The per-step helpers take ``xp``, the array namespace of their inputs (numpy by default;
``array_api_compat.torch`` for tensors on a device, docs/gpu_task_layer.md)."""
from __future__ import annotations

import numpy as np

_YZX, _ZXY = np.array([1, 2, 0]), np.array([2, 0, 1])
_CONJ = np.array([1.0, -1.0, -1.0, -1.0])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross`` for (..., 3) arrays, without its per-call axis handling (several times faster here)."""
    return a[..., _YZX] * b[..., _ZXY] - a[..., _ZXY] * b[..., _YZX]


def quat_mul(a: np.ndarray, b: np.ndarray, xp=np) -> np.ndarray:
    """Hamilton product of (..., 4) wxyz quaternions."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return xp.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def quat_rotate(q: np.ndarray, v: np.ndarray, xp=np) -> np.ndarray:
    """Rotate vectors (..., 3) by unit quaternions (..., 4) wxyz."""
    cross = _cross if xp is np else xp.linalg.cross
    w, u = q[..., :1], q[..., 1:]
    t = cross(u, v)
    t = t + t
    return v + w * t + cross(u, t)


def quat_conj(q: np.ndarray) -> np.ndarray:
    return q * _CONJ


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


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (rad, in [0, pi]) of the rotation between unit quaternions ``a`` and ``b`` (..., 4)."""
    dot = np.minimum(np.abs((np.asarray(a, float) * b).sum(-1)), 1.0)
    return 2.0 * np.arccos(dot)


def skew(v) -> np.ndarray:
    """(3, 3) matrix K with ``x @ K == cross(x, v)`` for row vectors ``x``."""
    x, y, z = np.asarray(v, float)
    return np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])


def rotation_about_axis(q_from: np.ndarray, q_to: np.ndarray, axis: np.ndarray,
                        axis_skew: np.ndarray | None = None, xp=np) -> np.ndarray:
    """``world_rotation_between(q_from, q_to) @ axis`` (rad) in a handful of batched operations.

    With dq = q_to * conj(q_from) = (w, v): w = q_to . q_from and
    v . a = w_f (v_t . a) - w_t (v_f . a) - v_t . (v_f x a); the rotation vector is v times
    2 atan2(|v|, |w|) / |v| (sign of w folded in: the shortest rotation), |v| = sqrt(1 - w^2).
    ``axis_skew`` is ``skew(axis)``, for callers that compute it once (in ``xp``'s arrays, as ``axis``).
    """
    k = skew(axis) if axis_skew is None else axis_skew
    wt, vt, wf, vf = q_to[..., 0], q_to[..., 1:], q_from[..., 0], q_from[..., 1:]
    w = (q_to * q_from).sum(-1)
    va = wf * (vt @ axis) - wt * (vf @ axis) - (vt * (vf @ k)).sum(-1)
    va = xp.copysign(va, va * w)  # (w, v) and (-w, -v) are one rotation: take the one with w >= 0
    w = xp.abs(w)
    s = xp.sqrt(xp.maximum(1.0 - w * w, 0.0))
    return va * xp.where(s > 1e-12, 2.0 * xp.atan2(s, w) / xp.maximum(s, 1e-12), 2.0)


def random_quat(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniformly distributed unit quaternions, (n, 4)."""
    q = rng.standard_normal((n, 4))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)
