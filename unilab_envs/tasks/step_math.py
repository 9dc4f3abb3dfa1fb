"""The per-step math of in-hand rotation, after the physics: terminations, reward terms, episode sums, the
rotation about the task axis and the new history frame.

``advance`` is the array-API version (numpy or torch tensors on a device). On host numpy arrays the env runs
``compiled_step.advance`` instead, the same math fused into one numba call (``compiled_step`` in the config),
whose results ``unpack`` names; ``tests/test_compiled_step.py`` holds the two equal step by step.
"""
from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np

from ..backends.base import ObjectState
from ..rotations import rotation_about_axis
from . import rewards
from .observations import normalize_joints

log = logging.getLogger("unilab_envs.tasks.inhand_rotation")  # the env's logger: its warnings, where users look


class StepMath(NamedTuple):
    """One step's results. The compiled step gives only ``values``, ``observation`` and ``any_done``: ``unpack``
    takes the other fields out of ``values`` where they are needed (each costs a view or a conversion)."""
    terminated: np.ndarray | None = None     # (N,) bool: nonfinite | fell | left_palm | out_of_band
    truncated: np.ndarray | None = None      # (N,) bool
    tip_contacts: np.ndarray | None = None   # (N,) int, fingertips touching the object
    causes: object = None                    # four (N,) bool: nonfinite, fell, left_palm, out_of_band (or None)
    reward: np.ndarray | None = None         # (N,) the sum of the weighted terms
    terms: dict | None = None                # name -> (N,) weighted term (rewards.TERMS order)
    rotation_speed: np.ndarray | None = None  # (N,) rad/s about the task axis this step, unclipped
    object_height: np.ndarray | None = None  # (N,) m
    lost: bool = False                       # whether any env's state was not finite
    values: np.ndarray | None = None         # compiled: (terms + VALUE_ROWS, N) float64
    observation: np.ndarray | None = None    # compiled: obs_mode "state"'s observation
    any_done: bool | None = None             # compiled: whether any episode ended


#: the rows of the compiled step's ``values`` after the weighted terms (flags as 1.0 and 0.0)
VALUE_ROWS = ("reward", "turned", "rotation_speed", "object_height", "tip_contacts", "terminated", "truncated",
              "nonfinite", "fell", "left_palm", "out_of_band", "reward32")  # reward32: the reward rounded to float32


def unpack(out: StepMath) -> StepMath:
    """Every field of a compiled step's ``StepMath``, taken out of its ``values`` (views, bool flags, int counts);
    an unpacked one as it is."""
    if out.values is None:
        return out
    v, k = out.values, len(rewards.TERMS)
    flags = v[k + 5:k + 11] != 0.0  # terminated, truncated, then the four causes
    return StepMath(flags[0], flags[1], v[k + 4].astype(np.int64), flags[2:], v[k],
                    dict(zip(rewards.TERMS, v, strict=False)), v[k + 2], v[k + 3], out.lost, None, out.observation,
                    out.any_done)  # zip stops at the end of TERMS


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
    return StepMath(terminated, truncated, contacts.sum(-1), (nonfinite, fell, left_palm, out_of_band), reward, terms,
                    turned / env.control_dt, env.arrays.copy(obj.pos[:, 2]))


def stand_in(env, bad: np.ndarray, q, qd, tau, obj: ObjectState):
    """Envs ``bad`` went non-finite this step: count them (a warning) and give the step's reward, statistics
    and last observation their start pose at rest instead of NaN; the episode ends (``end_cause``
    ``nonfinite``) and the env is reset like any other."""
    xp = env.xp
    ids = env.arrays.flatnonzero(bad & ~env.autoreset.pending)  # NEXT_STEP: pending envs were counted last step
    if len(ids):
        env.nonfinite_episodes += len(ids)
        log.warning("non-finite physics in env(s) %s (%d so far in this env): ended with end_cause=nonfinite "
                    "and reset", ids.tolist(), env.nonfinite_episodes)
    col = bad[:, None]
    q = xp.where(col, env.start_pose, q)
    qd, tau = xp.where(col, 0.0, qd), xp.where(col, 0.0, tau)
    obj = ObjectState(xp.where(col, env.start_pos, obj.pos), xp.where(col, env._prev_quat, obj.quat),
                      xp.where(col, 0.0, obj.linvel), xp.where(col, 0.0, obj.angvel))
    return q, qd, tau, obj
