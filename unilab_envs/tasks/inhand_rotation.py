"""In-hand rotation (HORA): spin the object about an axis without dropping it.

A native ``gymnasium.vector.VectorEnv``: every per-step computation is batched over envs.
Episodes start from cached stable grasps (see ``start_states.py``); finished envs reset as
Gymnasium's ``autoreset_mode`` says (``NEXT_STEP`` by default, or ``SAME_STEP``; see
``autoreset.py``), with each finished episode's statistics in ``info["final_info"]``.

Arrays live where the backend's do (``arrays``, ``tasks/arrays.py``): host numpy float64 on MuJoCo and
MotrixSim; on MuJoCo Warp, by default, float32 torch tensors on the physics device, from the actions in to the
observations, rewards, flags and infos out (``arrays="numpy"`` gives host copies instead).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..backends import backend_options, check_device, make_backend, resolve_arrays
from ..config import apply_overrides, require, require_range
from ..hands import get_hand
from ..objects import get_object
from ..rotations import skew
from ..scene import build_scene
from ..single import first_env
from . import autoreset, compiled_step, curriculum, domain_rand, end_causes, rewards, step_math
from .arrays import arrays_of
from .config import InhandRotationConfig
from .domain_rand import RandomPushes, assign_scales, sample_params
from .observations import OBS_CLIP, FrameHistory, normalize_joints, to_unit_range
from .presets import rotation_config
from .start_states import EpisodeStarts, load_start_grasps
from .step_draws import StepDraws
from .tactile import TactileFilter

OBS_MODES = ("state", "privileged", "hora")
#: object position relative to its start (3), scale, mass, friction, centre of mass (3), gravity direction (3)
PRIV_DIM = 12
#: name -> (start, stop) of each fact in ``privileged_state``
PRIV_FIELDS = {"offset": (0, 3), "scale": (3, 4), "mass": (4, 5), "friction": (5, 6), "com": (6, 9),
               "gravity": (9, 12)}
#: the entries ``privileged_delay`` holds at 0 early in an episode: scale, mass, friction, centre of mass
PRIV_HIDDEN = slice(PRIV_FIELDS["scale"][0], PRIV_FIELDS["com"][1])
#: per-episode means in ``final_info``: object speed (m/s), mean |joint torque| (N m), |mechanical power| (W)
EPISODE_MEANS = ("object_speed", "torque", "power")


def validate(cfg: InhandRotationConfig) -> None:
    """Reject settings that cannot work, naming the key and what would."""
    if cfg.obs_mode not in OBS_MODES:
        raise ValueError(f"obs_mode={cfg.obs_mode!r}; choose one of {OBS_MODES}")
    for key in ("control_substeps", "episode_length", "obs_frames", "proprio_history", "grasp_collection_target",
                "render_width", "render_height"):
        require(getattr(cfg, key) >= 1, key, getattr(cfg, key), "must be >= 1")
    if cfg.history_touch and cfg.obs_mode != "hora":
        raise ValueError(f"history_touch=True adds fingertip contacts to proprio_history, which only "
                         f"obs_mode='hora' has; got obs_mode={cfg.obs_mode!r}: set obs_mode='hora' or "
                         f"history_touch=False")
    require(cfg.privileged_delay >= 0, "privileged_delay", cfg.privileged_delay, "must be >= 0 s (0: none)")
    require(cfg.num_threads >= 0, "num_threads", cfg.num_threads, "must be >= 0 (0: all cores)")
    for key in ("action_scale", "termination_height", "max_palm_distance", "object_pos_radius", "tactile_max"):
        require(getattr(cfg, key) > 0, key, getattr(cfg, key), "must be > 0")
    require(cfg.height_band is None or cfg.height_band > 0, "height_band", cfg.height_band, "must be > 0 m, or null")
    require(0 <= cfg.tactile_smoothing < 1, "tactile_smoothing", cfg.tactile_smoothing, "an EMA weight, in [0, 1)")
    require_range("angvel_clip", cfg.angvel_clip)
    if np.linalg.norm(cfg.rotation_axis) < 1e-9:
        raise ValueError(f"rotation_axis={cfg.rotation_axis} has zero length")
    domain_rand.validate(cfg.domain_rand)
    check_device(cfg.sim, cfg.sim_device)
    backend_options(cfg.sim, cfg.sim_options)
    resolve_arrays(cfg.sim, cfg.arrays)
    curriculum.validate(cfg.curriculum, cfg.domain_rand)


class InhandRotationEnv(VectorEnv):
    """Batched in-hand rotation. Keyword arguments override ``InhandRotationConfig`` fields."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None = None, render_mode: str | None = None,
                 config: InhandRotationConfig | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, **overrides):
        mode = autoreset.resolve_mode(autoreset_mode)
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        # the hand's own defaults (tasks/presets.py), then the caller's keywords
        cfg = apply_overrides(config or rotation_config(overrides.get("hand", "allegro")), overrides)
        if max_episode_steps is not None and "episode_length" not in overrides:  # an explicit episode_length wins
            cfg = dataclasses.replace(cfg, episode_length=int(max_episode_steps))
        validate(cfg)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}; supported: {self.metadata['render_modes']}")
        self.cfg, self.num_envs, self.render_mode = cfg, num_envs, render_mode
        self.hand, self.obj = get_hand(cfg.hand), get_object(cfg.object_type)
        self.layout = build_scene(self.hand, self.obj, cfg.physics)
        grasps = load_start_grasps(cfg, self.layout)  # once, never on the reset path
        self.backend = make_backend(cfg.sim, self.layout, num_envs, device=cfg.sim_device, num_threads=cfg.num_threads,
                                    arrays=resolve_arrays(cfg.sim, cfg.arrays),
                                    **backend_options(cfg.sim, cfg.sim_options))
        self.arrays = arr = arrays_of(self.backend)
        self.xp = xp = arr.xp
        self.grasps = [arr.asarray(g) for g in grasps]  # on the physics device, once
        self.autoreset = autoreset.Autoreset(mode, num_envs, arr)
        self.starts = EpisodeStarts(num_envs, self.hand.num_joints, arr)
        self.control_dt = cfg.physics.timestep * cfg.control_substeps
        self._priv_delay = int(round(cfg.privileged_delay / self.control_dt))  # control steps
        self.joint_ranges = arr.asarray(self.backend.joint_ranges())
        self.nominal = self.backend.nominal_params()  # host numpy; sample_params puts draws on the device
        axis = np.asarray(cfg.rotation_axis, float)
        axis = cfg.rotation_sign * axis / np.linalg.norm(axis)
        self.axis, self._axis_skew = arr.asarray(axis), arr.asarray(skew(axis))
        nj = self.hand.num_joints
        self._lo, self._hi = arr.copy(self.joint_ranges[:, 0]), arr.copy(self.joint_ranges[:, 1])
        self._inv_nj = 1.0 / nj

        self.single_action_space = spaces.Box(-1.0, 1.0, (nj,), np.float32)
        ntac = len(self.layout.tactile_sensors)
        self.frame_size = 2 * nj + ntac
        self.num_touch = len(self.hand.fingertip_geoms) if cfg.history_touch else 0  # proprio_history only
        self.single_observation_space = self._make_obs_space()
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._action_shape = self.action_space.shape
        self.observation_space = batch_space(self.single_observation_space, num_envs)

        n, zeros = num_envs, arr.zeros
        # Per-env state, packed (what the compiled step takes in one argument) and named by column views: joint
        # targets, start pose, object start position, last object quaternion, rotation angle this episode.
        self._state = zeros((n, 2 * nj + 8))
        self.targets, self.start_pose = self._state[:, :nj], self._state[:, nj:2 * nj]
        self.start_pos, self._prev_quat = self._state[:, 2 * nj:2 * nj + 3], self._state[:, 2 * nj + 3:2 * nj + 7]
        self.ep_angle = self._state[:, 2 * nj + 7]
        self._counters = zeros((n, 2), xp.int64)  # steps into each episode, and the step at which it truncates
        self.progress, self.limit = self._counters[:, 0], self._counters[:, 1]
        self.limit[:] = cfg.episode_length
        frames = max(cfg.obs_frames, cfg.proprio_history if cfg.obs_mode == "hora" else 0)
        self.history = FrameHistory(n, frames, nj, ntac, arr, num_touch=self.num_touch)
        # the randomisation drawn now: the configured one, or the curriculum's stage of it
        self.curriculum = curriculum.Curriculum(cfg.curriculum, cfg.domain_rand)
        self.training_env_steps = 0
        self.dr = dr = self.curriculum.ranges()
        self.tactile = TactileFilter(n, ntac, cfg.tactile_max, cfg.tactile_smoothing,
                                     dr.tactile_latency if dr.enabled else 0.0, arr)
        self.priv = zeros((n, PRIV_DIM), xp.float32)
        self.scale_idx = zeros(n, xp.int64)  # index into scale_list, per env for its life (assign_scales)
        self.mass, self.scale = zeros(n), zeros(n)
        self.pushes = RandomPushes(cfg.domain_rand, n, self.control_dt, arr)  # on if pushes are on at full range
        self.pushes.cfg = dr
        # each step's random numbers, drawn for a block of steps at once (step_draws.py)
        full = cfg.domain_rand
        self._draws = StepDraws(n, {"push": int(self.pushes.active),
                                    "noise": nj if full.enabled and full.joint_noise else 0,
                                    "stale": ntac if self.tactile.drawn else 0}, 3 if self.pushes.active else 0, arr)
        self.pushes.column = self._draws.offset("push")
        # Per-episode sums of physical quantities (speed m/s, torque N m, power W) and of each reward term.
        # One (10, N) array (what the compiled step updates), named by row.
        names = (*EPISODE_MEANS, *(f"reward_{t}" for t in rewards.TERMS))
        self._sums = zeros((len(names), n))
        self.ep_sums = dict(zip(names, self._sums, strict=True))
        self._ep_wall_start = zeros(n, xp.float64)
        self.nonfinite_episodes = 0  # episodes the physics lost (end_cause nonfinite), since construction
        # host numpy: the per-step math in compiled calls (compiled_step.py); else the array-API code
        self._compiled = compiled_step.CompiledStep(self) if cfg.compiled_step and xp is np else None

    # --- spaces and observations ----------------------------------------------------------
    def _make_obs_space(self) -> spaces.Space:
        def box(*shape):
            return spaces.Box(-OBS_CLIP, OBS_CLIP, shape, np.float32)
        state = box(self.cfg.obs_frames * self.frame_size)
        if self.cfg.obs_mode == "state":
            return state
        parts = {"state": state, "privileged_state": box(PRIV_DIM)}
        if self.cfg.obs_mode == "hora":
            parts["proprio_history"] = box(self.cfg.proprio_history, self.frame_size + self.num_touch)
        return spaces.Dict(parts)

    def _observe(self):
        xp = self.xp
        state = xp.minimum(xp.maximum(self.history.last(self.cfg.obs_frames), -OBS_CLIP), OBS_CLIP)
        if self.cfg.obs_mode == "state":
            return state
        self.priv[:, 0:3] = self.backend.object_state().pos - self.start_pos
        obs = {"state": state, "privileged_state": xp.clip(self.priv, -OBS_CLIP, OBS_CLIP)}
        if self._priv_delay:  # the object's facts are not known yet early in an episode
            obs["privileged_state"][:, PRIV_HIDDEN] *= (self.progress >= self._priv_delay)[:, None]
        if self.cfg.obs_mode == "hora":
            obs["proprio_history"] = xp.clip(self.history.buf[:, -self.cfg.proprio_history:], -OBS_CLIP, OBS_CLIP)
        return obs

    # --- reset ----------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None or not hasattr(self, "_reset_rng"):
            # Resets draw from their own stream, so that when an env resets (this step or the next: the
            # autoreset mode) never shifts the per-step draws (pushes, observation noise) of the others.
            # On a device both streams are torch generators seeded from np_random's.
            self._reset_rng = self.arrays.generator(self.np_random.spawn(1)[0])
            self._step_rng = self.arrays.generator(self.np_random)
            self._draws.start(self._step_rng)
        subset = autoreset.reset_ids(options, self.num_envs, ("reset_mask", "episode_starts"), self.arrays)
        ids = self.arrays.arange(self.num_envs) if subset is None else subset
        if subset is None:  # a full reset splits the scales over the envs anew; later resets keep them
            self.scale_idx[:] = assign_scales(len(self.cfg.domain_rand.scale_list), self.num_envs, self._reset_rng)
        given = None if options is None else options.get("episode_starts")
        self._reset_envs(ids, None if given is None else self.starts.parse(given, len(ids)))
        self.autoreset.on_reset(ids)
        if subset is None and self.cfg.stagger_episodes and self.num_envs > 1:
            # Spread the first episodes' ends so that envs never truncate in lockstep.
            self.limit[:] = self._step_rng.integers(1, self.cfg.episode_length + 1, self.num_envs)
        return self._observe(), {}

    def _reset_envs(self, ids: np.ndarray, given: tuple | None = None) -> None:
        """Begin new episodes in envs ``ids``: drawn (grasp, randomisation), or ``given`` as
        ``(params, joint_pos, object_pos, object_quat)`` (``reset(options={"episode_starts": ...})``)."""
        if given is None:
            rng, scale_idx = self._reset_rng, self.scale_idx[ids]
            params, active = sample_params(self.dr, self.nominal, scale_idx, rng, self.arrays)
            rows = self.arrays.zeros((len(ids), self.grasps[0].shape[1]))
            for k, cache in enumerate(self.grasps):  # loop over scales (a handful), not over envs
                sel = scale_idx == k
                rows[sel] = cache[rng.integers(len(cache), size=int(sel.sum()))]
            nj = self.hand.num_joints
            q, obj_pos, obj_quat = rows[:, :nj], rows[:, nj:nj + 3], rows[:, nj + 3:nj + 7]
        else:  # every parameter is written, the undrawn ones at their nominal values
            params, q, obj_pos, obj_quat = given
            active = set(params)
        self.backend.set_params(ids, **{k: params[k] for k in active})
        self.backend.set_state(ids, q, obj_pos, obj_quat)
        self.starts.record(ids, params, q, obj_pos, obj_quat)
        self.targets[ids] = q
        self.start_pose[ids] = q
        self.progress[ids] = 0
        self.limit[ids] = self.cfg.episode_length
        self.ep_angle[ids] = 0.0
        self._ep_wall_start[ids] = time.perf_counter()
        for acc in self.ep_sums.values():
            acc[ids] = 0.0
        self._prev_quat[ids] = obj_quat
        self.start_pos[ids] = obj_pos
        self.pushes.reset(ids)
        self.tactile.reset(ids)
        self.mass[ids], self.scale[ids] = params["object_mass"], params["object_scale"]
        if self.cfg.obs_mode != "state":
            self._set_privileged(ids, params)
        self.history.fill(ids, normalize_joints(q, self.joint_ranges), q)

    def episode_starts(self, ids=None) -> dict[str, np.ndarray]:
        """How the current episodes of envs ``ids`` (default: all) began, one row per env: ``joint_pos``,
        ``object_pos``, ``object_quat`` and every physical parameter as ``param/<name>``. Passing rows for the
        envs being reset as ``reset(options={"episode_starts": rows})`` begins exactly those episodes again;
        with the same actions (and pushes) they follow the same physics (``trainers/failures.py``)."""
        return self.starts.rows(ids)

    def _set_privileged(self, ids: np.ndarray, params: dict[str, np.ndarray]) -> None:
        """HORA's privileged facts of envs ``ids``, scaled to [-1, 1] by the randomisation ranges."""
        dr = self.cfg.domain_rand
        lo = min(dr.scale_list) - dr.scale_jitter
        hi = max(dr.scale_list) + dr.scale_jitter
        self.priv[ids, 3] = to_unit_range(params["object_scale"], lo, hi)
        self.priv[ids, 4] = to_unit_range(params["object_mass"], *dr.mass_range)
        friction = params["friction_scale" if dr.friction_relative else "friction"]
        self.priv[ids, 5] = to_unit_range(friction, *dr.friction_range)
        self.priv[ids, 6:9] = to_unit_range(params["object_com"], *dr.com_range)
        gravity = params["gravity"]
        self.priv[ids, 9:12] = gravity / self.xp.linalg.vector_norm(gravity, axis=-1, keepdims=True)

    # --- training progress ----------------------------------------------------------------
    def set_training_progress(self, env_steps: int) -> None:
        """Tell the env how many env steps training has taken (all envs together, resumed parts included).

        With ``curriculum.enabled`` the randomisation follows the curriculum's stage at ``env_steps``: new
        physical parameters at each env's next reset, pushes and observation noise from the next step.
        Without it this only records the count. Trainers call it once per rollout; the env reads no clock.
        """
        if env_steps < 0:
            raise ValueError(f"env_steps={env_steps} must be >= 0 (env steps trained so far)")
        self.training_env_steps = int(env_steps)
        if not self.curriculum.enabled:
            return
        stage = self.curriculum.stage(env_steps)
        if stage != self.curriculum.progress:
            self.curriculum.progress = stage
            self.dr = self.curriculum.ranges()
            self.pushes.cfg = self.dr

    def curriculum_state(self) -> dict[str, float]:
        """The curriculum's stage (``progress``, in [0, 1]) and each term's current value; empty when it is off."""
        if not self.curriculum.enabled:
            return {}
        return {"progress": self.curriculum.progress, **self.curriculum.values()}

    # --- step -----------------------------------------------------------------------------
    def step(self, actions):
        return self._batch_outputs(*self._take_step(actions))

    def step_one(self, action):
        """``gymnasium.make``'s step (``single.SingleEnv``, one env): ``first_env`` of ``step``'s outputs. While no
        episode ends they are built from the compiled step's packed values at once (one ``tolist``), not from the
        batch's info arrays, one view and one scalar per entry."""
        out, obs = self._take_step(action[None], reuse=True)
        if out.values is None or obs is None or out.any_done or self.num_envs != 1:
            return first_env(*self._batch_outputs(out, obs))
        row, k = out.values[:, 0].tolist(), len(rewards.TERMS)  # step_math.VALUE_ROWS after the terms
        info = {"reward_terms": dict(zip(rewards.TERMS, row, strict=False)), "rotation_speed": row[k + 2],
                "object_height": row[k + 3], "tip_contacts": int(row[k + 4])}
        return obs[0], row[k + 11], False, False, info  # the reward rounded to float32, as step's

    def _take_step(self, actions, reuse: bool = False):
        """Physics and math of one step, and the NEXT_STEP restarts: the ``StepMath``, and the observation where
        the compiled step gave it (else None). ``reuse``: the compiled step's values may be overwritten by the next
        step (``step_one``, which reads them at once)."""
        if not self.autoreset.started:
            self.autoreset.require_started()  # raises
        xp = self.xp
        if xp is not np:
            actions = self.arrays.asarray(actions)
        elif self._compiled is None or type(actions) is not np.ndarray or (actions.dtype is not _F64 and
                                                                             actions.dtype is not _F32):
            actions = np.asarray(actions, dtype=np.float64)  # the compiled step takes float32 as it is (exactly)
        if actions.shape != self._action_shape:
            raise ValueError(f"actions have shape {tuple(actions.shape)}; expected {self.action_space.shape} "
                             f"(num_envs, {self.hand.num_joints})")
        cfg = self.cfg
        draws = self._draws.next()  # one step's random numbers, the same whichever path takes the step
        # target += clip(action, -1, 1) * action_scale, kept inside the joint ranges
        if self._compiled is not None:
            finite, pushed = self._compiled.next_targets(self, actions, draws)
        else:  # min/max: np.clip's cost is its Python wrapper
            finite, pushed = bool(xp.isfinite(actions).all()), False
            if finite:
                self.targets[:] = xp.minimum(xp.maximum(xp.minimum(xp.maximum(actions, -1.0), 1.0) * cfg.action_scale
                                                        + self.targets, self._lo), self._hi)
        if not finite:
            self._draws.give_back()
            raise ValueError("actions contain NaN or inf")
        self.backend.apply_object_force(self.pushes.force if pushed else self.pushes.step(self.mass, draws))
        self.backend.step(self.targets, cfg.control_substeps)

        out = self._compiled.advance(self, draws, reuse) if self._compiled is not None else None
        if out is None:  # the array-API math (torch arrays, compiled_step off, or a non-finite state)
            q, qd = self.backend.joint_state()
            obj = self.backend.object_state()
            tau = self.backend.actuator_forces()
            # a NaN anywhere in the state makes the sum NaN (the backend leaves an unstable simulation non-finite)
            nonfinite = ~xp.isfinite(obj.pos.sum(-1) + q.sum(-1) + qd.sum(-1))
            lost = self.arrays.any(nonfinite)
            if lost:
                q, qd, tau, obj = step_math.stand_in(self, nonfinite, q, qd, tau, obj)
            out = step_math.advance(self, q, qd, tau, obj, nonfinite, step_math.frame_draws(self, draws))._replace(
                lost=lost)
        obs = out.observation  # the compiled step's, for obs_mode "state"
        if self.autoreset.has_pending:
            out = step_math.unpack(out)
            self.autoreset.restart_pending(self._reset_envs, out.reward, out.terminated, out.truncated,
                                           out.rotation_speed, *out.terms.values())
            obs = None  # observe the new episodes
        return out, obs

    def _batch_outputs(self, out, obs):
        """``step``'s outputs: the observation, reward, flags and infos, and the ends of episodes (autoreset)."""
        out = step_math.unpack(out)
        xp, terminated, truncated, reward = self.xp, out.terminated, out.truncated, out.reward
        info = {"reward_terms": out.terms, "rotation_speed": out.rotation_speed, "object_height": out.object_height,
                "tip_contacts": out.tip_contacts}
        if obs is None:
            obs = self._observe()
            if out.lost:  # the finished episode's last observation: finite, its stand-in values
                obs = _finite_obs(obs)
        reward32 = reward.astype(np.float32) if xp is np else xp.astype(reward, xp.float32)
        if out.any_done is not False:  # None: not known (the array-API path)
            def stats():
                nonfinite, fell, left_palm, band = out.causes
                band = band if band is not None else xp.zeros_like(terminated)
                return self._episode_stats(terminated, end_causes.classify(nonfinite, fell, left_palm, band, xp))

            obs, ended = self.autoreset.finish(terminated | truncated, obs, stats, self._reset_envs, self._observe)
            info.update(ended)
        return obs, reward32, terminated, truncated, info

    def _episode_stats(self, terminated: np.ndarray, cause: np.ndarray) -> dict[str, np.ndarray]:
        """Per-episode statistics of every env's current episode (``autoreset`` keeps the finished ones)."""
        xp, copy = self.xp, self.arrays.copy
        seconds = self.progress * self.control_dt
        steps = xp.maximum(self.progress, 1)
        stats = {
            "episode_return": sum(self.ep_sums[f"reward_{t}"] for t in rewards.TERMS),
            "episode_length": copy(self.progress),
            "episode_seconds": seconds, "rotation_angle": copy(self.ep_angle),
            "rotation_speed": self.ep_angle / xp.maximum(seconds, self.control_dt),
            "dropped": copy(terminated), "end_cause": cause, "object_scale": copy(self.scale),
        }
        stats.update({k: self.ep_sums[k] / steps for k in EPISODE_MEANS})
        stats["work"] = self.ep_sums["power"] * self.control_dt
        stats.update({k: copy(v) for k, v in self.ep_sums.items() if k.startswith("reward_")})
        # Gymnasium's RecordEpisodeStatistics layout: return, length, wall-clock seconds (to the microsecond)
        stats["episode"] = {"r": stats["episode_return"], "l": stats["episode_length"],
                            "t": xp.round((time.perf_counter() - self._ep_wall_start) * 1e6) / 1e6}
        return stats

    # --- rendering and lifetime -----------------------------------------------------------
    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self.backend.render(0, self.cfg.render_width, self.cfg.render_height)

    def close(self, **kwargs):
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
        super().close(**kwargs)


_F64, _F32 = np.dtype(np.float64), np.dtype(np.float32)  # singletons: tested by identity


def _finite_obs(obs):
    """``obs`` (an array or a dict of arrays, numpy or torch) with NaN entries as 0 (infinities are clipped
    already)."""
    if isinstance(obs, dict):
        return {k: _finite_obs(v) for k, v in obs.items()}
    return obs.nan_to_num(nan=0.0) if hasattr(obs, "nan_to_num") else np.nan_to_num(obs, nan=0.0)
