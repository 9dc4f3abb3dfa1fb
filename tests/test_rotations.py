"""Quaternion helpers against MuJoCo's own implementations."""
from __future__ import annotations

import mujoco
import numpy as np

from unilab_envs.rotations import (
    quat_mul,
    quat_rotate,
    random_quat,
    rotation_about_axis,
    rotation_vector,
    skew,
    world_rotation_between,
)


def test_against_mujoco():
    rng = np.random.default_rng(0)
    a, b = random_quat(rng, 50), random_quat(rng, 50)
    v = rng.standard_normal((50, 3))
    for i in range(50):
        expected = np.zeros(4)
        mujoco.mju_mulQuat(expected, a[i], b[i])
        np.testing.assert_allclose(quat_mul(a[i:i + 1], b[i:i + 1])[0], expected, atol=1e-12)
        rotated = np.zeros(3)
        mujoco.mju_rotVecQuat(rotated, v[i], a[i])
        np.testing.assert_allclose(quat_rotate(a[i:i + 1], v[i:i + 1])[0], rotated, atol=1e-12)
        vel = np.zeros(3)
        mujoco.mju_quat2Vel(vel, a[i] if a[i, 0] >= 0 else -a[i], 1.0)
        np.testing.assert_allclose(rotation_vector(a[i:i + 1])[0], vel, atol=1e-9)


def test_world_rotation_between_recovers_a_turn_about_z():
    angle = 0.3
    q0 = np.array([[np.cos(0.2), np.sin(0.2), 0.0, 0.0]])  # tilted start
    turn = np.array([[np.cos(angle / 2), 0.0, 0.0, np.sin(angle / 2)]])
    q1 = quat_mul(turn, q0)  # world-frame turn applied after q0
    np.testing.assert_allclose(world_rotation_between(q0, q1)[0], [0.0, 0.0, angle], atol=1e-12)


def test_rotation_about_axis_equals_the_projected_rotation_vector():
    rng = np.random.default_rng(1)
    q0 = random_quat(rng, 400)
    small = np.concatenate([np.ones((200, 1)), 0.05 * rng.standard_normal((200, 3))], axis=1)  # per-step turns
    small /= np.linalg.norm(small, axis=1, keepdims=True)
    q1 = np.concatenate([quat_mul(small, q0[:200]), random_quat(rng, 200)])  # and arbitrary ones
    q1[::3] *= -1  # the same orientation with the other sign
    axis = np.array([0.3, -0.2, 0.9])
    expected = world_rotation_between(q0, q1) @ axis
    np.testing.assert_allclose(rotation_about_axis(q0, q1, axis), expected, atol=1e-9)
    np.testing.assert_allclose(rotation_about_axis(q0, q0, axis), 0.0, atol=1e-12)
    x = rng.standard_normal((5, 3))
    np.testing.assert_allclose(x @ skew(axis), np.cross(x, axis), atol=1e-12)
