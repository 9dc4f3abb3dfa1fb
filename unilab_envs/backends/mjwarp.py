"""MuJoCo Warp backend (``mujoco-warp``, the ``mjwarp`` extra): ``nworld`` copies of one MjModel on a Warp device.

The same MJCF as the MuJoCo backend, compiled by MuJoCo and put on the device (``cuda[:N]`` on an NVIDIA GPU,
``cpu`` anywhere: slow, and the first step compiles Warp's kernels for ~30 s, cached in ``~/.cache/warp``).
Per-env randomisation lives in batched model fields (one row per world); ``set_const`` derives what follows
from a new mass, inertia or size, as ``mujoco.batch`` does. Readings are host numpy arrays (a copy per step on a
GPU); keeping the task layer on the device is the next step of this backend's issue.

Sizes: MuJoCo Warp preallocates contacts and constraint rows. ``nconmax`` (contacts per world) defaults to
twice the scene's colliding hand geoms and ``njmax`` (constraint rows per world) to six rows per contact
(condim 6, elliptic) plus two per joint; a world that overflows them makes ``step`` raise an error naming
the option to raise (``env.sim_options``). MuJoCo Warp never auto-resets a world: a non-finite one stays so
until ``set_state`` places it anew, as the protocol asks.
"""
from __future__ import annotations

import dataclasses

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp

from ..rotations import quat_rotate
from ..scene import PhysicsOptions, SceneLayout
from .base import CachedReadings, ObjectState, check_ids, check_params
from .mujoco_batch import hand_collision_geoms

#: overflows of preallocated memory (an error); a solver that hit its iteration cap (ITERATIONS, LS_ITERATIONS)
#: is not one: MuJoCo's C library goes on with the best iterate too
MEMORY_OVERFLOW = (mjw.OverflowType.NEFC | mjw.OverflowType.NJMAX_NNZ | mjw.OverflowType.BROADPHASE
                   | mjw.OverflowType.NARROWPHASE | mjw.OverflowType.CCD | mjw.OverflowType.NVMAX
                   | mjw.OverflowType.CONTACT_MATCH | mjw.OverflowType.EPA_HORIZON | mjw.OverflowType.HFIELD
                   | mjw.OverflowType.TACTILE)

#: model fields randomised per world, and the ones set_const derives from them
BATCHED = ("body_mass", "body_inertia", "body_ipos", "body_subtreemass", "body_invweight0", "dof_invweight0",
           "geom_size", "geom_aabb", "geom_rbound", "geom_friction", "actuator_gainprm", "actuator_biasprm",
           "actuator_acc0")


def _device(device: str | None) -> str:
    device = device or ("cuda:0" if wp.is_cuda_available() else "cpu")
    if device.startswith("cuda") and not wp.is_cuda_available():
        raise ValueError(f"sim_device={device!r}: Warp finds no CUDA device on this machine; use --sim-device cpu "
                         "(slow: for tests) or run on a machine with an NVIDIA GPU")
    return "cuda:0" if device == "cuda" else device


class MjwarpBackend(CachedReadings):
    """``num_envs`` MuJoCo Warp worlds of one scene on one Warp device."""

    name = "mjwarp"
    honoured_options = frozenset(f.name for f in dataclasses.fields(PhysicsOptions))

    def __init__(self, layout: SceneLayout, num_envs: int, num_threads: int = 0, device: str | None = None,
                 nconmax: int | None = None, njmax: int | None = None):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        wp.config.quiet = True
        self.layout, self.num_envs = layout, num_envs
        self.device = _device(device)
        self.threads = 1  # Warp's CPU device runs kernels on one thread; a GPU runs them in parallel
        self.model = mjm = mujoco.MjModel.from_xml_string(layout.xml)
        self.timestep = float(mjm.opt.timestep)
        hand = layout.hand
        hand_geoms = hand_collision_geoms(mjm, hand)
        self.nconmax = int(nconmax or 2 * len(hand_geoms))
        self.njmax = int(njmax or 6 * self.nconmax + 2 * mjm.njnt)
        with wp.ScopedDevice(self.device):
            self.m = mjw.put_model(mjm, batch_sizes={f: num_envs for f in BATCHED})
            self.m.opt.gravity = wp.array(np.tile(mjm.opt.gravity, (num_envs, 1)), dtype=wp.vec3)
            self.d = mjw.make_data(mjm, nworld=num_envs, nconmax=self.nconmax, njmax=self.njmax)
        self.m.opt.warn_overflow = 0  # overflow is checked after every step and raised as an error here
        # CUDA graphs of the substep loop, by substep count; they hold the arrays above, which are therefore only
        # ever written in place (assign) from here on
        self._graphs = {} if wp.get_device(self.device).is_cuda else None

        jids = [mjm.joint(n).id for n in hand.joint_names]
        self._jq, self._jv = mjm.jnt_qposadr[jids].copy(), mjm.jnt_dofadr[jids].copy()
        self._act = np.array([mjm.actuator(n).id for n in hand.joint_names])
        obj_j = mjm.joint(layout.object_joint)
        self._oq, self._ov = int(mjm.jnt_qposadr[obj_j.id]), int(mjm.jnt_dofadr[obj_j.id])
        self._obody, self._ogeom = mjm.body(layout.object_body).id, mjm.geom(layout.object_geom).id
        self._friction_geoms = np.array(hand_geoms + [self._ogeom])
        palm = int(mjm.sensor("palm_pos").adr[0])
        self._s_palm = slice(palm, palm + 3)
        tips = [mjm.sensor(f"{s}_pos").adr[0] for s in hand.fingertip_sites]
        self._s_tips = (np.asarray(tips)[:, None] + np.arange(3)).ravel()
        self._s_touch = np.array([mjm.sensor(n).adr[0] for n in layout.contact_sensors])
        forces = [mjm.sensor(n).adr[0] for n in layout.tactile_sensors]
        self._s_force = (np.asarray(forces, np.int64)[:, None] + np.arange(3)).ravel()
        self._nominal = {
            "object_mass": np.array(mjm.body_mass[self._obody]), "object_com": mjm.body_ipos[self._obody].copy(),
            "object_scale": np.array(1.0), "friction": np.array(mjm.geom_friction[self._ogeom, 0]),
            "friction_scale": np.array(1.0), "gravity": mjm.opt.gravity.copy(),
            "kp": mjm.actuator_gainprm[self._act, 0].copy(), "kv": -mjm.actuator_biasprm[self._act, 2].copy()}
        self._friction0 = mjm.geom_friction[self._friction_geoms, 0].copy()
        self._unit_inertia = mjm.body_inertia[self._obody] / mjm.body_mass[self._obody]
        self._scale = np.ones(num_envs)
        self._ctrl = np.zeros((num_envs, mjm.nu))
        self._xfrc = np.zeros((num_envs, mjm.nbody, 6))
        self._forward()
        self._read()

    # --- stepping and state ---------------------------------------------------------------
    def step(self, ctrl: np.ndarray, substeps: int) -> None:
        self._ctrl[:, self._act] = ctrl
        self.d.ctrl.assign(self._ctrl)
        with wp.ScopedDevice(self.device):
            if self._graphs is None:
                for _ in range(substeps):
                    mjw.step(self.m, self.d)
            else:  # on a GPU: the substeps as one CUDA graph, captured once (MuJoCo Warp's own idiom)
                if substeps not in self._graphs:
                    with wp.ScopedCapture() as capture:
                        for _ in range(substeps):
                            mjw.step(self.m, self.d)
                    self._graphs[substeps] = capture.graph
                wp.capture_launch(self._graphs[substeps])
        overflow = self.d.overflow.numpy() & int(MEMORY_OVERFLOW)
        if overflow.any():
            worlds = np.flatnonzero(overflow)
            kinds = sorted({t.name for t in mjw.OverflowType if int(t) & int(np.bitwise_or.reduce(overflow))})
            raise RuntimeError(
                f"MuJoCo Warp ran out of preallocated memory ({', '.join(kinds)}) in env(s) {worlds[:8].tolist()} "
                f"(nconmax={self.nconmax} contacts, njmax={self.njmax} rows per world): raise them with "
                f"env.sim_options='{{nconmax: {2 * self.nconmax}, njmax: {2 * self.njmax}}}' "
                f"(gym.make(..., sim_options={{'nconmax': {2 * self.nconmax}}}))")
        self._read()

    def _read(self) -> None:
        qpos, qvel = self.d.qpos.numpy().astype(float), self.d.qvel.numpy().astype(float)
        sensor = self.d.sensordata.numpy().astype(float)
        self._q, self._qd = qpos[:, self._jq], qvel[:, self._jv]
        q, v = qpos[:, self._oq:self._oq + 7], qvel[:, self._ov:self._ov + 6]
        self._object = ObjectState(q[:, :3], q[:, 3:], v[:, :3], quat_rotate(q[:, 3:], v[:, 3:]))
        self._tips = sensor[:, self._s_tips].reshape(self.num_envs, -1, 3)
        self._palm = sensor[:, self._s_palm]
        self._touch = sensor[:, self._s_touch] > 0
        f = sensor[:, self._s_force].reshape(self.num_envs, -1, 3)
        self._tactile = np.sqrt(np.einsum("ijk,ijk->ij", f, f))
        self._force = self.d.actuator_force.numpy().astype(float)[:, self._act]







    def actuator_forces(self) -> np.ndarray:
        return self._force

    def set_state(self, ids, joint_pos, object_pos, object_quat) -> None:
        ids = check_ids(ids, self.num_envs)
        if ids.size == 0:
            return
        d = self.d
        qpos, qvel, warm = d.qpos.numpy(), d.qvel.numpy(), d.qacc_warmstart.numpy()
        qpos[ids[:, None], self._jq] = joint_pos
        qpos[ids, self._oq:self._oq + 3] = object_pos
        qpos[ids, self._oq + 3:self._oq + 7] = object_quat
        qvel[ids], warm[ids] = 0.0, 0.0
        self._ctrl[ids[:, None], self._act] = joint_pos
        for arr, values in ((d.qpos, qpos), (d.qvel, qvel), (d.qacc_warmstart, warm), (d.ctrl, self._ctrl)):
            arr.assign(values)
        self._forward()
        self._read()

    def _forward(self) -> None:
        """Positions, velocities and their sensors from the current state (no solve, no integration)."""
        with wp.ScopedDevice(self.device):
            mjw.fwd_position(self.m, self.d)
            mjw.sensor_pos(self.m, self.d)
            mjw.fwd_velocity(self.m, self.d)
            mjw.sensor_vel(self.m, self.d)

    def joint_ranges(self) -> np.ndarray:
        return np.stack([self.model.jnt_range[self.model.joint(n).id] for n in self.layout.hand.joint_names])

    # --- per-env physical parameters ------------------------------------------------------

    def set_params(self, ids, **params) -> None:
        ids = check_params(ids, self.num_envs, params)
        if ids.size == 0 or not params:
            return
        m, mjm, o, g = self.m, self.model, self._obody, self._ogeom
        changed = {}

        def field(name):
            if name not in changed:
                changed[name] = getattr(m, name).numpy()
            return changed[name]

        if "object_scale" in params:
            s = np.asarray(params["object_scale"], float).reshape(-1)
            self._scale[ids] = s
            field("geom_size")[ids, g] = mjm.geom_size[g] * s[:, None]
        if "object_mass" in params or "object_scale" in params:
            mass = field("body_mass")
            if "object_mass" in params:
                mass[ids, o] = np.asarray(params["object_mass"], float).reshape(-1)
            field("body_inertia")[ids, o] = self._unit_inertia * (mass[ids, o] * self._scale[ids] ** 2)[:, None]
        if "object_com" in params:
            field("body_ipos")[ids, o] = params["object_com"]
        if "friction" in params:
            field("geom_friction")[ids[:, None], self._friction_geoms, 0] = \
                np.asarray(params["friction"], float).reshape(-1, 1)
        if "friction_scale" in params:
            field("geom_friction")[ids[:, None], self._friction_geoms, 0] = \
                np.asarray(params["friction_scale"], float).reshape(-1, 1) * self._friction0
        if "kp" in params:
            kp = np.asarray(params["kp"], float)
            field("actuator_gainprm")[ids[:, None], self._act, 0] = kp
            field("actuator_biasprm")[ids[:, None], self._act, 1] = -kp
        if "kv" in params:
            field("actuator_biasprm")[ids[:, None], self._act, 2] = -np.asarray(params["kv"], float)
        if "gravity" in params:
            gravity = m.opt.gravity.numpy()
            gravity[ids] = params["gravity"]
            m.opt.gravity.assign(gravity)
        for name, values in changed.items():
            getattr(m, name).assign(values)
        if {"object_mass", "object_scale", "object_com"} & set(params):
            with wp.ScopedDevice(self.device):
                mjw.set_const(m, self.d)  # subtree mass, inverse weights, bounds follow the new inertia and size

    # --- forces (render and close: CachedReadings) -------------------------------------------
    def apply_object_force(self, force: np.ndarray) -> None:
        self._xfrc[:, self._obody, :3] = force
        self.d.xfrc_applied.assign(self._xfrc)
