"""The per-step math of in-hand rotation on host numpy arrays, fused into numba calls.

At one env, the array-API step (``step_math.advance``) is about a hundred small numpy calls of ~1 us each, longer
than the physics it follows; this module does the same math in compiled passes over the envs: before the physics
the joint targets from the actions and the random pushes' update (one call), after it, from the backend's
``readings()`` (one more call), the terminations, the reward terms (the formulas of ``rewards.py``, weighted by
``RewardScales``), the episode sums, the rotation about the task axis (``rotations.rotation_about_axis``), the new
history frame and the "state" observation (one call). What remains per call is numba's own cost, per argument and
per array returned, so the kernels take few arguments (packed arrays) and return none (they fill arrays the
caller made). The env uses it whenever its arrays are numpy and ``compiled_step`` is on (the default);
``tests/test_compiled_step.py`` holds it equal to the array-API path step by step, and
``benchmarks/throughput.py --compare compiled_step=false`` measures what it saves.

The kernels compile on first use (~9 s on a 2-core machine, once) and are cached on disk by numba
(``NUMBA_CACHE_DIR``).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import rewards
from .domain_rand import RandomPushes, update_pushes
from .observations import OBS_CLIP
from .step_math import VALUE_ROWS, StepMath

#: the episode sums, rows of one (len, N) array: ``EPISODE_MEANS`` then ``reward_<term>`` in ``rewards.TERMS`` order
NUM_MEANS = 3

@njit(cache=True)
def _next_targets(actions, targets, lo, hi, scale):
    """``targets = clip(targets + clip(actions, -1, 1) * scale, lo, hi)`` in place; False (nothing changed) if an
    action is not finite."""
    n, nj = targets.shape
    for i in range(n):
        for j in range(nj):
            if not np.isfinite(actions[i, j]):
                return False
    for i in range(n):
        for j in range(nj):
            t = min(max(actions[i, j], -1.0), 1.0) * scale + targets[i, j]
            targets[i, j] = min(max(t, lo[j]), hi[j])
    return True


@njit(cache=True)
def _targets_and_pushes(actions, targets, lo, hi, scale, force, mass, uniform, column, normal, decay, prob,
                        push_scale):
    """``_next_targets``, then (if the actions were finite) ``RandomPushes.step``'s update: one call, not two."""
    if not _next_targets(actions, targets, lo, hi, scale):
        return False
    update_pushes(force, mass, uniform[:, column], normal, decay, prob, push_scale)
    return True


#: the leading entries of the kernel's ``consts``; then the weights (``rewards.TERMS`` order), the joints' lower and
#: upper limits
CONSTS = ("termination_height", "max_dist2", "band", "clip_lo", "clip_hi", "inv_radius", "inv_nj", "inv_dt",
          "noise_col", "noise_scale", "stale_col", "latency", "smoothing", "max_force", "obs_clip", "ax", "ay", "az")
NOISE_SCALE = CONSTS.index("noise_scale")


@njit(cache=True)
def _advance(readings, state, counters, sums, buf, uniform, tactile, consts, dims, values, obs):
    """One step's math. Few arguments, since each costs the call: the backend's ``readings`` (``readings_layout``),
    the env's packed per-env ``state`` (targets, start pose, start position, last quaternion, episode angle) and
    ``counters`` (progress, limit), the episode ``sums``, the history ``buf``, the step's ``uniform`` draws, the
    ``tactile`` readings, ``consts`` (``CONSTS``, weights, joint limits) and ``dims`` (joints, contacts, pads,
    ``obs_frames`` of a "state" observation or 0, whether the history has touch columns). It writes its results into
    ``values`` (the terms, then ``step_math.VALUE_ROWS``; flags as 1.0 and 0.0) and ``obs`` (a "state" observation),
    arrays the caller made (an array made here and returned would cost ~1 us more), and returns (whether the state
    was finite (else nothing changed), whether any episode ended)."""
    nj, nc, ntac, obs_frames, touch_on = dims[0], dims[1], dims[2], dims[3], dims[4] != 0
    q, qd, tau = readings[:, :nj], readings[:, nj:2 * nj], readings[:, 2 * nj:3 * nj]
    r = 3 * nj
    pos, quat, linvel, angvel = readings[:, r:r + 3], readings[:, r + 3:r + 7], readings[:, r + 7:r + 10], \
        readings[:, r + 10:r + 13]
    palm, contacts, tactile_forces = readings[:, r + 13:r + 16], readings[:, r + 16:r + 16 + nc], \
        readings[:, r + 16 + nc:r + 16 + nc + ntac]
    targets, start_pose, start_pos = state[:, :nj], state[:, nj:2 * nj], state[:, 2 * nj:2 * nj + 3]
    prev_quat, ep_angle = state[:, 2 * nj + 3:2 * nj + 7], state[:, 2 * nj + 7]
    progress, limit = counters[:, 0], counters[:, 1]
    term_height, max_dist2, band, clip_lo, clip_hi = consts[0], consts[1], consts[2], consts[3], consts[4]
    inv_radius, inv_nj, inv_dt = consts[5], consts[6], consts[7]
    # the step's uniforms (step_draws): joint noise from column noise_col (-1: none), stale pads from stale_col
    noise_col, noise_scale, stale_col, latency = int(consts[8]), consts[9], int(consts[10]), consts[11]
    smoothing, max_force, obs_clip, ax, ay, az = consts[12], consts[13], consts[14], consts[15], consts[16], consts[17]
    head = len(CONSTS)
    nterms = consts.shape[0] - head - 2 * nj
    weights, lo, hi = consts[head:head + nterms], consts[head + nterms:head + nterms + nj], consts[head + nterms + nj:]
    n = q.shape[0]
    base = 2 * nj + ntac
    terms, reward, turned, speed = values[:nterms], values[nterms], values[nterms + 1], values[nterms + 2]
    height, tips, terminated, truncated = values[nterms + 3], values[nterms + 4], values[nterms + 5], values[nterms + 6]
    fell, left_palm, out_of_band = values[nterms + 8], values[nterms + 9], values[nterms + 10]
    reward32 = values[nterms + 11]
    for i in range(n):  # a non-finite state: change nothing, the array-API path takes the step (as its test)
        if not np.isfinite(pos[i].sum() + q[i].sum() + qd[i].sum()):
            return False, False
    values[:] = 0.0
    # the tactile readings (TactileFilter.update): clipped, smoothed, stale pads kept
    if ntac:
        for i in range(n):
            for k in range(ntac):
                if not (stale_col >= 0 and uniform[i, stale_col + k] < latency):
                    tactile[i, k] = smoothing * tactile[i, k] + (1.0 - smoothing) * min(tactile_forces[i, k],
                                                                                           max_force)
    for i in range(n):
        # terminations
        d0, d1, d2 = pos[i, 0] - palm[i, 0], pos[i, 1] - palm[i, 1], pos[i, 2] - palm[i, 2]
        fell_i = pos[i, 2] < term_height
        left_i = d0 * d0 + d1 * d1 + d2 * d2 > max_dist2
        m0, m1, m2 = pos[i, 0] - start_pos[i, 0], pos[i, 1] - start_pos[i, 1], pos[i, 2] - start_pos[i, 2]
        band_i = band >= 0.0 and abs(m2) > band
        ended = fell_i or left_i or band_i
        fell[i] = 1.0 if fell_i else 0.0
        left_palm[i] = 1.0 if left_i else 0.0
        out_of_band[i] = 1.0 if band_i else 0.0
        terminated[i] = 1.0 if ended else 0.0
        # reward terms, unweighted, in rewards.TERMS order
        w_axis = angvel[i, 0] * ax + angvel[i, 1] * ay + angvel[i, 2] * az
        pose = 0.0
        tau2 = 0.0
        power = 0.0
        tau_abs = 0.0
        for j in range(nj):
            e = q[i, j] - start_pose[i, j]
            pose += e * e
            tau2 += tau[i, j] * tau[i, j]
            power += tau[i, j] * qd[i, j]
            tau_abs += abs(tau[i, j])
        raw = (min(max(w_axis, clip_lo), clip_hi),
               abs(linvel[i, 0]) + abs(linvel[i, 1]) + abs(linvel[i, 2]),
               pose, tau2, power * power, 1.0 if ended else 0.0,
               max(1.0 - math.sqrt(m0 * m0 + m1 * m1 + m2 * m2) * inv_radius, 0.0))
        total = 0.0
        for k in range(nterms):
            terms[k, i] = raw[k] * weights[k]
            total += terms[k, i]
            sums[NUM_MEANS + k, i] += terms[k, i]
        reward[i] = total
        reward32[i] = np.float32(total)  # the reward as a float32 array holds it
        height[i] = pos[i, 2]
        v0, v1, v2 = linvel[i, 0], linvel[i, 1], linvel[i, 2]
        sums[0, i] += math.sqrt(v0 * v0 + v1 * v1 + v2 * v2)
        sums[1, i] += tau_abs * inv_nj
        sums[2, i] += abs(power)
        # rotation about the axis since the last step (rotations.rotation_about_axis)
        wf, wt = prev_quat[i, 0], quat[i, 0]
        f1, f2, f3 = prev_quat[i, 1], prev_quat[i, 2], prev_quat[i, 3]
        t1, t2, t3 = quat[i, 1], quat[i, 2], quat[i, 3]
        w = wt * wf + t1 * f1 + t2 * f2 + t3 * f3
        c1, c2, c3 = f2 * az - f3 * ay, f3 * ax - f1 * az, f1 * ay - f2 * ax  # v_from x axis
        va = wf * (t1 * ax + t2 * ay + t3 * az) - wt * (f1 * ax + f2 * ay + f3 * az) - (t1 * c1 + t2 * c2 + t3 * c3)
        va = math.copysign(va, va * w)
        w = abs(w)
        s = math.sqrt(max(1.0 - w * w, 0.0))
        turned[i] = va * (2.0 * math.atan2(s, w) / max(s, 1e-12) if s > 1e-12 else 2.0)
        speed[i] = turned[i] * inv_dt
        for c in range(4):
            prev_quat[i, c] = quat[i, c]
        ep_angle[i] += turned[i]
        progress[i] += 1
        truncated[i] = 1.0 if progress[i] >= limit[i] and not ended else 0.0
        # the history: drop the oldest frame, append (normalised noisy joints, targets, tactile, touch)
        frames = buf.shape[1]
        for f in range(frames - 1):
            for c in range(buf.shape[2]):
                buf[i, f, c] = buf[i, f + 1, c]
        last = frames - 1
        for j in range(nj):
            qj = q[i, j] + noise_scale * (2.0 * uniform[i, noise_col + j] - 1.0) if noise_col >= 0 else q[i, j]
            buf[i, last, j] = (2.0 * qj - (hi[j] + lo[j])) / (hi[j] - lo[j])
            buf[i, last, nj + j] = targets[i, j]
        for k in range(ntac):
            buf[i, last, 2 * nj + k] = tactile[i, k]
        for k in range(contacts.shape[1]):
            if contacts[i, k]:
                tips[i] += 1.0
            if touch_on:
                buf[i, last, base + k] = 1.0 if contacts[i, k] else 0.0
        for f in range(max(obs_frames, 0)):
            for c in range(base):
                obs[i, f * base + c] = min(max(buf[i, frames - obs_frames + f, c], -obs_clip), obs_clip)
    any_done = False
    for i in range(n):
        any_done = any_done or terminated[i] != 0.0 or truncated[i] != 0.0
    return True, any_done


class CompiledStep:
    """The compiled step of one env: its constants, packed once; everything that changes is read per call."""

    def __init__(self, env):
        cfg, tactile = env.cfg, env.tactile
        nj = env.hand.num_joints
        band = -1.0 if cfg.height_band is None else float(cfg.height_band)
        self.lo, self.hi = np.ascontiguousarray(env._lo), np.ascontiguousarray(env._hi)
        head = dict(termination_height=cfg.termination_height, max_dist2=cfg.max_palm_distance ** 2, band=band,
                    clip_lo=cfg.angvel_clip[0], clip_hi=cfg.angvel_clip[1], inv_radius=1.0 / cfg.object_pos_radius,
                    inv_nj=1.0 / nj, inv_dt=1.0 / env.control_dt, noise_col=env._draws.offset("noise"),
                    noise_scale=0.0, stale_col=env._draws.offset("stale"), latency=tactile.latency,
                    smoothing=tactile.smoothing, max_force=tactile.max_force, obs_clip=OBS_CLIP,
                    ax=env.axis[0], ay=env.axis[1], az=env.axis[2])
        weights = list(rewards.weights(cfg.rewards, env.control_dt).values())  # TERMS order
        self.consts = np.array([head[k] for k in CONSTS] + weights + list(self.lo) + list(self.hi), float)
        self.obs_frames = cfg.obs_frames if cfg.obs_mode == "state" else 0  # else the env observes in Python
        self.dims = np.array([nj, len(env.layout.contact_sensors), len(env.layout.tactile_sensors), self.obs_frames,
                              env.num_touch > 0], np.int64)
        self.no_tactile = np.zeros((env.num_envs, 0))
        self.values = np.zeros((len(rewards.TERMS) + len(VALUE_ROWS), env.num_envs))
        self.obs_shape = (env.num_envs, self.obs_frames * env.frame_size)
        self.no_obs = np.zeros((env.num_envs, 0), np.float32)

    def next_targets(self, env, actions, draws) -> tuple[bool, bool]:
        """The new joint targets, in ``env.targets``, and with the env's own active ``RandomPushes`` their update in
        the same call: (whether the actions were finite (else nothing changed), whether the pushes were taken)."""
        p = env.pushes
        if type(p) is RandomPushes and p.active:  # probability and scale: the curriculum's, this step
            ok = _targets_and_pushes(actions, env.targets, self.lo, self.hi, env.cfg.action_scale, p.force, env.mass,
                                     draws.uniform, p.column, draws.normal, p.decay, p.cfg.force_prob,
                                     p.cfg.force_scale)
            return ok, ok
        return _next_targets(actions, env.targets, self.lo, self.hi, env.cfg.action_scale), False

    def advance(self, env, draws, reuse: bool = False) -> StepMath | None:
        """``step_math.advance`` compiled, or None, with nothing changed, if the state is not finite: the
        array-API path then takes the step (with the same ``draws``, ``step_draws.Draws``). ``reuse``: the values
        array is this object's own, overwritten by the next call (for a caller that reads it at once)."""
        self.consts[NOISE_SCALE] = env.dr.joint_noise_scale  # the curriculum's, this step
        tactile = env.tactile.value if env.tactile.active else self.no_tactile
        values = self.values if reuse else np.empty_like(self.values)
        obs = np.empty(self.obs_shape, np.float32) if self.obs_frames else self.no_obs
        finite, any_done = _advance(env.backend.readings(), env._state, env._counters, env._sums, env.history.buf,
                                    draws.uniform, tactile, self.consts, self.dims, values, obs)
        if not finite:
            return None
        # the flags, counts and rows are taken out of values where needed (step_math.unpack): each costs a view
        return StepMath(None, None, None, None, None, None, None, None, False, values,
                        obs if self.obs_frames else None, any_done)  # positional: ~2x faster than keywords
