"""MuJoCo Warp backend (``mujoco-warp``, the ``mjwarp`` extra): ``nworld`` copies of one MjModel on a Warp device.

The same MJCF as the MuJoCo backend, compiled by MuJoCo and put on the device (``cuda[:N]`` on an NVIDIA GPU,
``cpu`` anywhere: slow, and the first step compiles Warp's kernels for ~30 s, cached in ``~/.cache/warp``).
Per-env randomisation lives in batched model fields (one row per world); ``set_const`` derives what follows
from a new mass, inertia or size, as ``mujoco.batch`` does. The backend works on torch views of MuJoCo Warp's
arrays (``wp.to_torch``: no copy). With ``arrays="torch"`` (what the rotation env asks for by default) its
readings and inputs are float32 tensors on the physics device, and nothing crosses to the host per step but
the overflow check; with ``arrays="numpy"`` (the default here: the contract suite, grasp collection, SB3 and
Sample Factory) readings are copied to host float64 arrays after each step.

Sizes: MuJoCo Warp preallocates contacts and constraint rows. ``nconmax`` (contacts per world) defaults to
twice the scene's colliding hand geoms and ``njmax`` (constraint rows per world) to six rows per contact
(condim 6, elliptic) plus two per joint; a world that overflows them makes ``step`` raise an error naming
the option to raise (``env.sim_options``). MuJoCo Warp never auto-resets a world: a non-finite one stays so
until ``set_state`` places it anew, as the protocol asks.
"""
from __future__ import annotations

import contextlib
import dataclasses

import array_api_compat.torch as torch_xp
import mujoco
import mujoco_warp as mjw
import numpy as np
import torch
import warp as wp

from ..rotations import quat_rotate
from ..scene import PhysicsOptions, SceneLayout
from .base import CachedReadings, ObjectState, check_ids, check_params, host
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
                 nconmax: int | None = None, njmax: int | None = None, arrays: str = "numpy"):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if arrays not in ("numpy", "torch"):
            raise ValueError(f"arrays={arrays!r}; choose 'numpy' (host copies) or 'torch' (tensors on the device)")
        wp.config.quiet = True
        self.layout, self.num_envs, self.arrays = layout, num_envs, arrays
        self.xp = torch_xp if arrays == "torch" else np
        self.device = _device(device)
        self.torch_device = torch.device(wp.device_to_torch(self.device))
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
        # ever written in place (through the torch views below) from here on
        self._graphs = {} if wp.get_device(self.device).is_cuda else None
        # torch views of the data and of the batched model fields: reads and in-place writes, no copies
        self._d = {k: wp.to_torch(getattr(self.d, k)) for k in ("qpos", "qvel", "qacc_warmstart", "ctrl",
                                                                "xfrc_applied", "sensordata", "actuator_force")}
        self._m = {k: wp.to_torch(getattr(self.m, k)) for k in BATCHED}
        self._m["gravity"] = wp.to_torch(self.m.opt.gravity)

        def index(values):
            return torch.as_tensor(np.asarray(values, np.int64), device=self.torch_device)

        jids = [mjm.joint(n).id for n in hand.joint_names]
        self._jq, self._jv = index(mjm.jnt_qposadr[jids]), index(mjm.jnt_dofadr[jids])
        self._act = index([mjm.actuator(n).id for n in hand.joint_names])
        obj_j = mjm.joint(layout.object_joint)
        self._oq, self._ov = int(mjm.jnt_qposadr[obj_j.id]), int(mjm.jnt_dofadr[obj_j.id])
        self._obody, self._ogeom = mjm.body(layout.object_body).id, mjm.geom(layout.object_geom).id
        self._friction_geoms = index(hand_geoms + [self._ogeom])
        palm = int(mjm.sensor("palm_pos").adr[0])
        self._s_palm = slice(palm, palm + 3)
        tips = [mjm.sensor(f"{s}_pos").adr[0] for s in hand.fingertip_sites]
        self._s_tips = index((np.asarray(tips)[:, None] + np.arange(3)).ravel())
        self._s_touch = index([mjm.sensor(n).adr[0] for n in layout.contact_sensors])
        forces = [mjm.sensor(n).adr[0] for n in layout.tactile_sensors]
        self._s_force = index((np.asarray(forces, np.int64)[:, None] + np.arange(3)).ravel())
        act = self._act.cpu().numpy()
        self._nominal = {
            "object_mass": np.array(mjm.body_mass[self._obody]), "object_com": mjm.body_ipos[self._obody].copy(),
            "object_scale": np.array(1.0), "friction": np.array(mjm.geom_friction[self._ogeom, 0]),
            "friction_scale": np.array(1.0), "gravity": mjm.opt.gravity.copy(),
            "kp": mjm.actuator_gainprm[act, 0].copy(), "kv": -mjm.actuator_biasprm[act, 2].copy()}
        self._friction0 = self._tensor(mjm.geom_friction[self._friction_geoms.cpu().numpy(), 0])
        self._unit_inertia = self._tensor(mjm.body_inertia[self._obody] / mjm.body_mass[self._obody])
        self._size0 = self._tensor(mjm.geom_size[self._ogeom])
        self._scale = torch.ones(num_envs, device=self.torch_device)
        self._forward()
        self._read()

    def _tensor(self, values, dtype=torch.float32) -> torch.Tensor:
        """``values`` (numpy, a list or a tensor on any device) as a tensor on the physics device."""
        return torch.as_tensor(values, dtype=dtype, device=self.torch_device)

    @contextlib.contextmanager
    def _warp(self):
        """Warp's launches on this device, ordered after torch's writes to the shared arrays and before torch's
        next reads of them: on a GPU Warp's stream waits for torch's current stream, then torch's for Warp's
        (no host sync). Warp keeps its own stream so that a CUDA graph can be captured on it."""
        with wp.ScopedDevice(self.device):
            if self._graphs is None:  # the CPU device runs everything in order
                yield
                return
            torch_stream, warp_stream = wp.stream_from_torch(self.torch_device), wp.get_stream(self.device)
            warp_stream.wait_stream(torch_stream)
            yield
            torch_stream.wait_stream(warp_stream)

    # --- stepping and state ---------------------------------------------------------------
    def step(self, ctrl, substeps: int) -> None:
        self._d["ctrl"][:, self._act] = self._tensor(ctrl)
        self.advance(substeps)
        overflow = self.d.overflow.numpy() & int(MEMORY_OVERFLOW)  # one small copy: the step's only sync
        if overflow.any():
            worlds = np.flatnonzero(overflow)
            kinds = sorted({t.name for t in mjw.OverflowType if int(t) & int(np.bitwise_or.reduce(overflow))})
            raise RuntimeError(
                f"MuJoCo Warp ran out of preallocated memory ({', '.join(kinds)}) in env(s) {worlds[:8].tolist()} "
                f"(nconmax={self.nconmax} contacts, njmax={self.njmax} rows per world): raise them with "
                f"env.sim_options='{{nconmax: {2 * self.nconmax}, njmax: {2 * self.njmax}}}' "
                f"(gym.make(..., sim_options={{'nconmax': {2 * self.nconmax}}}))")
        self._read()

    def advance(self, substeps: int) -> None:
        """The physics alone: ``substeps`` steps of every world with the controls as they are, queued on the
        device (no read-back, no overflow check). ``step`` runs it; ``benchmarks/gpu_throughput.py`` times it
        as the physics' share of a step."""
        with self._warp():
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

    def _read(self) -> None:
        d, n = self._d, self.num_envs
        qpos, qvel, sensor = d["qpos"], d["qvel"], d["sensordata"]
        q, v = qpos[:, self._oq:self._oq + 7], qvel[:, self._ov:self._ov + 6]
        f = sensor[:, self._s_force].reshape(n, -1, 3)
        readings = {
            "_q": qpos[:, self._jq], "_qd": qvel[:, self._jv],
            "_tips": sensor[:, self._s_tips].reshape(n, -1, 3), "_palm": sensor[:, self._s_palm],
            "_touch": sensor[:, self._s_touch] > 0, "_tactile": torch.linalg.vector_norm(f, dim=-1),
            "_force": d["actuator_force"][:, self._act],
            "pos": q[:, :3], "quat": q[:, 3:], "linvel": v[:, :3],
            "angvel": quat_rotate(q[:, 3:], v[:, 3:], xp=torch_xp)}  # MuJoCo's free-joint angvel is local
        if self.arrays == "numpy":
            readings = {k: _to_host(x) for k, x in readings.items()}
        # (with torch, the slices are live views of MuJoCo Warp's arrays, as the protocol allows)
        for key in ("_q", "_qd", "_tips", "_palm", "_touch", "_tactile", "_force"):
            setattr(self, key, readings[key])
        self._object = ObjectState(readings["pos"], readings["quat"], readings["linvel"], readings["angvel"])

    def actuator_forces(self):
        return self._force

    def set_state(self, ids, joint_pos, object_pos, object_quat) -> None:
        ids = self._ids(check_ids(ids, self.num_envs))
        if ids.shape[0] == 0:
            return
        d, jp = self._d, self._tensor(joint_pos)
        d["qpos"][ids[:, None], self._jq] = jp
        d["qpos"][ids, self._oq:self._oq + 3] = self._tensor(object_pos)
        d["qpos"][ids, self._oq + 3:self._oq + 7] = self._tensor(object_quat)
        d["qvel"][ids] = 0.0
        d["qacc_warmstart"][ids] = 0.0
        d["ctrl"][ids[:, None], self._act] = jp
        self._forward()
        self._read()

    def _ids(self, ids) -> torch.Tensor:
        return torch.as_tensor(ids, dtype=torch.long, device=self.torch_device)

    def _forward(self) -> None:
        """Positions, velocities and their sensors from the current state (no solve, no integration)."""
        with self._warp():
            mjw.fwd_position(self.m, self.d)
            mjw.sensor_pos(self.m, self.d)
            mjw.fwd_velocity(self.m, self.d)
            mjw.sensor_vel(self.m, self.d)

    def joint_ranges(self) -> np.ndarray:
        return np.stack([self.model.jnt_range[self.model.joint(n).id] for n in self.layout.hand.joint_names])

    # --- per-env physical parameters ------------------------------------------------------

    def set_params(self, ids, **params) -> None:
        ids = self._ids(check_params(ids, self.num_envs, params))
        if ids.shape[0] == 0 or not params:
            return
        m, o, g = self._m, self._obody, self._ogeom
        p = {k: self._tensor(v) for k, v in params.items()}
        if "object_scale" in p:
            s = p["object_scale"].reshape(-1)
            self._scale[ids] = s
            m["geom_size"][ids, g] = self._size0 * s[:, None]
        if "object_mass" in p:
            m["body_mass"][ids, o] = p["object_mass"].reshape(-1)
        if "object_mass" in p or "object_scale" in p:
            mass, scale = m["body_mass"][ids, o], self._scale[ids]
            m["body_inertia"][ids, o] = self._unit_inertia * (mass * scale * scale)[:, None]
        if "object_com" in p:
            m["body_ipos"][ids, o] = p["object_com"]
        rows = ids[:, None]
        if "friction" in p:
            m["geom_friction"][rows, self._friction_geoms, 0] = p["friction"].reshape(-1, 1)
        if "friction_scale" in p:
            m["geom_friction"][rows, self._friction_geoms, 0] = p["friction_scale"].reshape(-1, 1) * self._friction0
        if "kp" in p:
            m["actuator_gainprm"][rows, self._act, 0] = p["kp"]
            m["actuator_biasprm"][rows, self._act, 1] = -p["kp"]
        if "kv" in p:
            m["actuator_biasprm"][rows, self._act, 2] = -p["kv"]
        if "gravity" in p:
            m["gravity"][ids] = p["gravity"]
        if {"object_mass", "object_scale", "object_com"} & set(p):
            with self._warp():
                mjw.set_const(self.m, self.d)  # subtree mass, inverse weights, bounds follow the new inertia and size

    # --- forces (render and close: CachedReadings) -------------------------------------------
    def apply_object_force(self, force) -> None:
        self._d["xfrc_applied"][:, self._obody, :3] = self._tensor(force)


def _to_host(x: torch.Tensor) -> np.ndarray:
    """A reading as a host float64 (or bool) numpy array."""
    x = host(x)
    return x if x.dtype == bool else x.astype(float)
