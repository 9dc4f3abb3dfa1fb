"""Reward terms of in-hand rotation, each a small pure function of batched state (HORA's terms).

Terms are unweighted; ``weighted_terms`` multiplies each by its scale from ``RewardScales`` and, for
rates, by the control period (``fall`` is an event: its weight is paid once), so the reward is
``sum(terms)`` and each term is logged under its own name.

Every function takes ``xp``, the array namespace of its inputs (numpy by default; ``array_api_compat.torch``
for tensors on a device: docs/gpu_task_layer.md), so the same terms serve either. On host numpy arrays the env
computes them in ``compiled_step.py`` instead (one numba pass with the rest of the step): a change to a term here
must be made there too, and ``tests/test_compiled_step.py`` fails until both agree.
"""
from __future__ import annotations

import numpy as np

from .config import RewardScales


def rotate(angvel: np.ndarray, axis: np.ndarray, clip: tuple[float, float], xp=np) -> np.ndarray:
    """Object angular velocity about the task axis, clipped (rad/s)."""
    return xp.minimum(xp.maximum(angvel @ axis, clip[0]), clip[1])


def object_linvel(linvel: np.ndarray, xp=np) -> np.ndarray:
    """L1 norm of the object's linear velocity (m/s)."""
    return xp.abs(linvel).sum(-1)  # the method: numpy's function form costs ~1 us more per call


def pose_diff(joint_pos: np.ndarray, start_pose: np.ndarray, xp=np) -> np.ndarray:
    """Squared distance of the joints from the episode's start grasp (rad^2)."""
    return xp.square(joint_pos - start_pose).sum(-1)


def torque(tau: np.ndarray, xp=np) -> np.ndarray:
    """Squared actuator torques ((N m)^2)."""
    return xp.square(tau).sum(-1)


def work(tau: np.ndarray, joint_vel: np.ndarray, xp=np) -> np.ndarray:
    """Squared mechanical power of the actuators (W^2)."""
    return xp.square((tau * joint_vel).sum(-1))


def object_pos(offset: np.ndarray, radius: float, xp=np) -> np.ndarray:
    """``max(0, 1 - |p - p_start| / radius)``: 1 with the object where the episode started, 0 from
    ``radius`` (m) away; bounded, so it never outweighs the rotate term (README: what it is worth)."""
    return xp.maximum(1.0 - offset * (1.0 / radius), 0.0)


def fall(fell: np.ndarray, xp=np, dtype=None) -> np.ndarray:
    """1 at the step the object drops or leaves the hand, else 0 (IsaacGymEnvs' ``fall_penalty``)."""
    dtype = dtype or xp.float64
    return fell.astype(dtype) if xp is np else xp.astype(fell, dtype)  # numpy's method: ~1 us less per call


#: terms paid once per event rather than per second
EVENTS = ("fall",)


def weights(scales: RewardScales, dt: float) -> dict[str, float]:
    """Each term's factor: its scale, times ``dt`` unless it is an event (paid once)."""
    return {name: getattr(scales, name) * (1.0 if name in EVENTS else dt) for name in TERMS}


def weighted_terms(scales: RewardScales, dt: float, *, angvel, axis, clip, linvel, joint_pos,
                   start_pose, tau, joint_vel, fell, object_offset, object_radius, xp=np) -> dict[str, np.ndarray]:
    """Every term times its scale (and ``dt`` unless it is an event); the reward is the sum of the values."""
    raw = {
        "rotate": rotate(angvel, axis, clip, xp),
        "object_linvel": object_linvel(linvel, xp),
        "pose_diff": pose_diff(joint_pos, start_pose, xp),
        "torque": torque(tau, xp),
        "work": work(tau, joint_vel, xp),
        "fall": fall(fell, xp, angvel.dtype),
        "object_pos": object_pos(object_offset, object_radius, xp),
    }
    w = weights(scales, dt)
    return {name: value * w[name] for name, value in raw.items()}


TERMS = ("rotate", "object_linvel", "pose_diff", "torque", "work", "fall", "object_pos")
assert set(TERMS) == set(RewardScales.__dataclass_fields__), "every reward term needs a scale"
