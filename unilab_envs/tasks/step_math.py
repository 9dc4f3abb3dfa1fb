"""The per-step math of in-hand rotation, after the physics: terminations, reward terms, episode sums, the
rotation about the task axis and the new history frame.

``advance`` is the array-API version (numpy or torch tensors on a device). On host numpy arrays the env runs
``compiled_step.advance`` instead, the same math fused into one numba call (``compiled_step`` in the config);
``tests/test_compiled_step.py`` holds the two equal step by step.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..rotations import rotation_about_axis
from . import rewards
from .observations import normalize_joints


class StepMath(NamedTuple):
    terminated: np.ndarray     # (N,) bool: nonfinite | fell | left_palm | out_of_band
    truncated: np.ndarray      # (N,) bool
    reward: np.ndarray         # (N,) the sum of the weighted terms
    terms: dict                # name -> (N,) weighted term (rewards.TERMS order)
    turned: np.ndarray         # (N,) rad about the task axis this step
    tip_contacts: np.ndarray   # (N,) fingertips touching the object
    causes: object             # four (N,) bool: nonfinite, fell, left_palm, out_of_band (None without a height band)
    rotation_speed: np.ndarray  # (N,) rad/s about the task axis this step, unclipped
    object_height: np.ndarray  # (N,) m, a copy
    lost: bool = False         # whether any env's state was not finite
    # the compiled step's: the reward as float32, obs_mode "state"'s observation, and whether any episode ended
    reward32: np.ndarray | None = None
    observation: np.ndarray | None = None
    any_done: bool | None = None


def frame_draws(env, draws):
    """This step's draws for the history frame, from its ``step_draws.Draws``: joint noise (N, joints) or None, then
    the stale tactile pads (N, pads) or None (the compiled step maps the same uniforms the same way)."""
    u, columns = draws.uniform, env._draws.columns
    noise = stale = None
    if "noise" in columns:
        noise = env.dr.joint_noise_scale * (2.0 * u[:, columns["noise"]] - 1.0)
    if "stale" in columns:
        stale = env.tactile.stale(u[:, columns["stale"]])
    return noise, stale


def advance(env, q, qd, tau, obj, nonfinite, draws) -> StepMath:
    """One step's math in ``env.xp``, updating the env's episode sums, angle, progress and history; ``draws``
    are ``frame_draws``'."""
    xp, cfg = env.xp, env.cfg
    offset = obj.pos - env.backend.palm_position()
    palm_dist2 = xp.vecdot(offset, offset)
    fell = obj.pos[:, 2] < cfg.termination_height
    left_palm = palm_dist2 > cfg.max_palm_distance * cfg.max_palm_distance
    terminated = nonfinite | fell | left_palm
    moved = obj.pos - env.start_pos
    out_of_band = None
    if cfg.height_band is not None:
        out_of_band = xp.abs(moved[:, 2]) > cfg.height_band
        terminated |= out_of_band
    terms = rewards.weighted_terms(cfg.rewards, env.control_dt, angvel=obj.angvel, axis=env.axis,
                                   clip=cfg.angvel_clip, linvel=obj.linvel, joint_pos=q,
                                   start_pose=env.start_pose, tau=tau, joint_vel=qd, fell=terminated,
                                   object_offset=xp.sqrt(xp.vecdot(moved, moved)),
                                   object_radius=cfg.object_pos_radius, xp=xp)
    reward = sum(terms.values())
    sums = env.ep_sums
    sums["object_speed"] += xp.sqrt(xp.vecdot(obj.linvel, obj.linvel))
    sums["torque"] += xp.abs(tau).sum(-1) * env._inv_nj
    sums["power"] += xp.abs(xp.vecdot(tau, qd))
    for name, value in terms.items():
        sums["reward_" + name] += value
    turned = rotation_about_axis(env._prev_quat, obj.quat, env.axis, env._axis_skew, xp)
    env._prev_quat[:] = obj.quat
    env.ep_angle += turned
    env.progress += 1
    truncated = (env.progress >= env.limit) & ~terminated
    noise, stale = draws
    q_seen = q if noise is None else q + noise
    tactile = env.tactile.update(env.backend.tactile_forces(), stale) if env.tactile.active else None
    contacts = env.backend.fingertip_contacts()
    env.history.push(normalize_joints(q_seen, env.joint_ranges), env.targets, tactile,
                     contacts if env.num_touch else None)
    return StepMath(terminated, truncated, reward, terms, turned, contacts.sum(-1),
                    (nonfinite, fell, left_palm, out_of_band), turned / env.control_dt, env.arrays.copy(obj.pos[:, 2]))
