"""Grasp generation (HORA): perturb the hand's home pose, hold it, keep the grasps that stay.

Each episode places the object at the hand's start point and the joints (and their targets) at
the home pose plus uniform noise, and lets it settle for ``settle_steps``. The settled state is the
candidate grasp: it is placed again exactly as a rotation episode starts from a cache row (at rest,
targets = joint positions) and must survive ``hold_steps`` more. An episode that the object
survives ends truncated with ``final_info["is_success"]`` telling whether the end state meets
the criteria (HORA's: every fingertip near the object, enough of them touching it; a hand's
config may add limits on how far the object sank or turned over the hold), and
``final_info["grasp"]`` holding the candidate as a grasp-cache row (joint positions, object
position, object quaternion wxyz). A drop terminates the episode.

A tactile hand may also ask for pressing pads (``min_tactile_force``): at the snapshot, while the
fingers still push toward their perturbed targets, ``min_tip_contacts`` pads must press harder
than that; an attempt that fails this ends there, truncated and unsuccessful. After the re-placement
at rest the pads carry little more than the object's weight, so the force is judged before it, and
the hold then asks that the object stay (height and orientation limits), not that pads press.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from ..backends import backend_options, make_backend
from ..config import apply_overrides, require, to_dict
from ..hands import get_hand
from ..objects import get_object
from ..rotations import quat_angle
from ..scene import build_scene
from . import autoreset
from .config import GraspConfig
from .presets import grasp_config


class InhandGraspEnv(VectorEnv):
    """Batched grasp search. Actions move joint targets like the rotation task (zeros: hold)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, max_episode_steps: int | None = None, render_mode: str | None = None,
                 config: GraspConfig | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, **overrides):
        self.autoreset = autoreset.Autoreset(autoreset_mode, num_envs)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset.mode}
        cfg = apply_overrides(config or grasp_config(overrides.get("hand", "allegro")), overrides)
        if max_episode_steps is not None and "hold_steps" not in overrides:  # an explicit hold_steps wins
            cfg = dataclasses.replace(cfg, hold_steps=int(max_episode_steps) - cfg.settle_steps)
        for key in ("settle_steps", "hold_steps", "control_substeps"):
            require(getattr(cfg, key) >= 1, key, getattr(cfg, key), "must be >= 1")
        for key in ("scale", "tip_distance_max", "action_scale"):
            require(getattr(cfg, key) > 0, key, getattr(cfg, key), "must be > 0")
        require(cfg.object_noise >= 0 and (cfg.pose_noise is None or cfg.pose_noise >= 0), "pose_noise/object_noise",
                (cfg.pose_noise, cfg.object_noise), "noise half-widths must be >= 0")
        require(cfg.min_tip_contacts >= 0, "min_tip_contacts", cfg.min_tip_contacts, "must be >= 0")
        require(cfg.min_tactile_force >= 0, "min_tactile_force", cfg.min_tactile_force, "must be >= 0 N")
        for key in ("max_height_change", "max_orientation_change"):
            require(getattr(cfg, key) is None or getattr(cfg, key) > 0, key, getattr(cfg, key), "must be > 0, or null")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r}; supported: {self.metadata['render_modes']}")
        self.cfg, self.num_envs, self.render_mode = cfg, num_envs, render_mode
        self.hand, self.obj = get_hand(cfg.hand), get_object(cfg.object_type)
        if cfg.min_tactile_force > 0 and not self.hand.tactile:
            raise ValueError(f"min_tactile_force={cfg.min_tactile_force}: hand {cfg.hand!r} has no tactile pads; "
                             "set min_tactile_force=0 (count fingertip contacts)")
        self.layout = build_scene(self.hand, self.obj, cfg.physics)
        self.backend = make_backend(cfg.sim, self.layout, num_envs, device=cfg.sim_device, num_threads=cfg.num_threads,
                                    **backend_options(cfg.sim, cfg.sim_options))
        self.backend.set_params(np.arange(num_envs), object_scale=np.full(num_envs, cfg.scale))
        self.joint_ranges = self.backend.joint_ranges()
        self.noise = self.hand.grasp_noise if cfg.pose_noise is None else cfg.pose_noise
        nj = self.hand.num_joints
        self.single_action_space = spaces.Box(-1.0, 1.0, (nj,), np.float32)
        self.single_observation_space = spaces.Box(-10.0, 10.0, (nj + 7,), np.float32)  # rad, m, unit quaternion
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.targets = np.zeros((num_envs, nj))
        self.progress = np.zeros(num_envs, np.int64)
        self.candidate = np.zeros((num_envs, nj + 7), np.float32)

    def criteria(self) -> dict:
        """What a kept grasp satisfied (stored in the cache's metadata)."""
        keys = ("settle_steps", "hold_steps", "tip_distance_max", "min_tip_contacts", "min_object_height", "scale",
                "min_tactile_force", "max_height_change", "max_orientation_change")
        return {k: getattr(self.cfg, k) for k in keys} | {
            "pose_noise": self.noise, "control_dt": self.cfg.physics.timestep * self.cfg.control_substeps,
            "physics": to_dict(self.cfg.physics)}

    def _observe(self) -> np.ndarray:
        q, _ = self.backend.joint_state()
        obj = self.backend.object_state()
        return np.concatenate([q, obj.pos, obj.quat], axis=-1).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        subset = autoreset.reset_ids(options, self.num_envs, ("reset_mask",))
        ids = np.arange(self.num_envs) if subset is None else subset
        self._reset_envs(ids)
        self.autoreset.on_reset(ids)
        return self._observe(), {}

    def _reset_envs(self, ids: np.ndarray) -> None:
        rng, n = self.np_random, len(ids)
        home = np.asarray(self.hand.home_pose)
        q = np.clip(home + rng.uniform(-self.noise, self.noise, (n, home.size)),
                    self.joint_ranges[:, 0], self.joint_ranges[:, 1])
        pos = np.asarray(self.hand.object_start) + rng.uniform(-self.cfg.object_noise, self.cfg.object_noise, (n, 3))
        self.backend.set_state(ids, q, pos, np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)))
        self.targets[ids] = q
        self.progress[ids] = 0

    def step(self, actions):
        self.autoreset.require_started()
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}; expected {self.action_space.shape}")
        cfg = self.cfg
        self.targets = np.clip(self.targets + np.clip(actions, -1.0, 1.0) * cfg.action_scale,
                               self.joint_ranges[:, 0], self.joint_ranges[:, 1])
        self.backend.step(self.targets, cfg.control_substeps)
        self.progress += 1
        nj = self.hand.num_joints
        settled = np.flatnonzero(self.progress == cfg.settle_steps)
        weak = np.zeros(self.num_envs, bool)
        if settled.size and cfg.min_tactile_force > 0:
            # the fingers still press toward their perturbed targets: a grasp, not an object lying on them, has
            # min_tip_contacts pads pressing this hard; the others end here (no hold spent on them)
            pressing = (self.backend.tactile_forces()[settled] > cfg.min_tactile_force).sum(-1)
            weak[settled[pressing < cfg.min_tip_contacts]] = True
            settled = settled[pressing >= cfg.min_tip_contacts]
        if settled.size:  # snapshot, then restart from it as a rotation episode would
            self.candidate[settled] = self._observe()[settled]
            row = self.candidate[settled].astype(np.float64)
            quat = row[:, nj + 3:] / np.linalg.norm(row[:, nj + 3:], axis=-1, keepdims=True)
            self.backend.set_state(settled, row[:, :nj], row[:, nj:nj + 3], quat)
            self.targets[settled] = row[:, :nj]
        obj = self.backend.object_state()
        tip_dist = np.linalg.norm(self.backend.fingertip_positions() - obj.pos[:, None], axis=-1).max(-1)
        contacts = self.backend.fingertip_contacts().sum(-1)
        terminated = ~np.isfinite(obj.pos).all(-1) | (obj.pos[:, 2] < cfg.min_object_height)
        truncated = ((self.progress >= cfg.settle_steps + cfg.hold_steps) | weak) & ~terminated
        success = truncated & ~weak & (tip_dist < cfg.tip_distance_max)
        if cfg.min_tactile_force == 0:  # HORA's count at the end; pressing pads were counted at the snapshot
            success &= contacts >= cfg.min_tip_contacts
        if cfg.max_height_change is not None:
            success &= np.abs(obj.pos[:, 2] - self.candidate[:, nj + 2]) <= cfg.max_height_change
        if cfg.max_orientation_change is not None:
            success &= quat_angle(self.candidate[:, nj + 3:], obj.quat) <= cfg.max_orientation_change
        info = {"tip_contacts": contacts, "max_tip_distance": tip_dist}
        self.autoreset.restart_pending(self._reset_envs, terminated, truncated, success)
        obs, ended = self.autoreset.finish(terminated | truncated, self._observe(),
                                           lambda: {"is_success": success, "grasp": self.candidate.copy()},
                                           self._reset_envs, self._observe)
        info.update(ended)
        return obs, success.astype(np.float32), terminated, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        return self.backend.render(0, self.cfg.render_width, self.cfg.render_height)

    def close(self, **kwargs):
        if getattr(self, "backend", None) is not None:
            self.backend.close()
        super().close(**kwargs)
