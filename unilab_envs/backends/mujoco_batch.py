"""MuJoCo backend on ``mujoco.batch.Batch``: C-threaded stepping of per-simulation models."""
from __future__ import annotations

import dataclasses
import math
import os

import mujoco
import numpy as np
from mujoco import batch as mjbatch
from numba import njit

from ..scene import PhysicsOptions, SceneLayout
from .base import ObjectState, check_ids, readings_layout

_VEL = mujoco.mjtStage.mjSTAGE_VEL


class MujocoBatchBackend:
    """``num_envs`` MuJoCo simulations of one scene on ``num_threads`` threads (0: all cores).

    State and sensors are read from arrays bound once at construction, so every per-step call
    is a slice of a live array. Joint and object state come from ``qpos``/``qvel`` and are
    current after ``step``; fingertip sensors, contacts and actuator forces are those computed
    during the last substep, as ``mj_step`` leaves them (recomputing them costs ~5% of a step).
    """

    name = "mujoco"
    xp = np  # readings are host numpy arrays
    honoured_options = frozenset(f.name for f in dataclasses.fields(PhysicsOptions))

    def __init__(self, layout: SceneLayout, num_envs: int, num_threads: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.layout = layout
        self.model = m = mujoco.MjModel.from_xml_string(layout.xml)
        # An unstable simulation stays non-finite until set_state places it anew, for the task to see, count
        # and reset: MuJoCo's own auto-reset would silently restart it from the model's default pose.
        m.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_AUTORESET)
        self.num_envs = num_envs
        self.timestep = float(m.opt.timestep)
        threads = num_threads or os.cpu_count() or 1
        self.batch = mjbatch.Batch(m, num_envs, nthread=min(threads, num_envs), persistent=True)
        self.threads = self.batch.nthread
        b = self.batch
        self._qpos, self._qvel, self._ctrl = b.bind("qpos"), b.bind("qvel"), b.bind("ctrl")
        self._warm = b.bind("qacc_warmstart")
        self._sensor, self._force = b.bind("sensordata"), b.bind("actuator_force")
        self._xfrc = b.bind("xfrc_applied")

        hand = layout.hand
        jids = [m.joint(n).id for n in hand.joint_names]
        # Index arrays for scattered writes; slices (live views, no copy) for the per-step reads when the
        # hand's entries are contiguous, as in every MJCF with the hand before the object.
        self._jq = m.jnt_qposadr[jids].copy()
        self._jv = m.jnt_dofadr[jids].copy()
        self._act = np.array([m.actuator(n).id for n in hand.joint_names])  # actuators share joint names
        self._jq_read, self._jv_read, self._act_read = (_as_slice(i) for i in (self._jq, self._jv, self._act))
        obj_j = m.joint(layout.object_joint)
        self._oq = int(m.jnt_qposadr[obj_j.id])
        self._ov = int(m.jnt_dofadr[obj_j.id])
        self._obody = m.body(layout.object_body).id
        self._ogeom = m.geom(layout.object_geom).id
        self._friction_geoms = np.array(hand_collision_geoms(m, hand) + [self._ogeom])

        palm = int(m.sensor("palm_pos").adr[0])
        self._s_palm = slice(palm, palm + 3)
        tips = [m.sensor(f"{s}_pos").adr[0] for s in hand.fingertip_sites]
        self._s_tips = _as_slice((np.asarray(tips)[:, None] + np.arange(3)).ravel())
        touch = [m.sensor(n).adr[0] for n in layout.contact_sensors]
        self._s_touch = _as_slice(np.array(touch))
        forces = [m.sensor(n).adr[0] for n in layout.tactile_sensors]
        self._s_force = _as_slice((np.asarray(forces, np.int64)[:, None] + np.arange(3)).ravel())

        # the per-step writes through views made once (a view costs ~0.5 us to make)
        self._ctrl_hand = self._ctrl[:, self._act_read] if isinstance(self._act_read, slice) else None
        self._xfrc_object = self._xfrc[:, self._obody, :3]
        # readings(): every per-step reading gathered in one compiled pass, addresses in one int array
        nj, nc, ntac = len(jids), len(touch), len(forces)
        self._read_idx = np.concatenate([[nj, nc, ntac, self._oq, self._ov, palm], self._jq, self._jv, self._act,
                                         touch, forces]).astype(np.int64)
        self._readings = np.zeros((num_envs, readings_layout(nj, nc, ntac)["tactile"].stop))

        self._nominal = {
            "object_mass": np.array(m.body_mass[self._obody]),
            "object_com": m.body_ipos[self._obody].copy(),
            "object_scale": np.array(1.0),
            "friction": np.array(m.geom_friction[self._ogeom, 0]),
            "friction_scale": np.array(1.0),
            "gravity": m.opt.gravity.copy(),
            "kp": m.actuator_gainprm[self._act, 0].copy(),
            "kv": -m.actuator_biasprm[self._act, 2].copy(),
        }
        self._friction0 = m.geom_friction[self._friction_geoms, 0].copy()
        self._unit_inertia = m.body_inertia[self._obody] / m.body_mass[self._obody]
        self._renderer = None
        b.forward()

    # --- stepping and state ---------------------------------------------------------------
    def step(self, ctrl: np.ndarray, substeps: int) -> None:
        if self._ctrl_hand is not None:
            self._ctrl_hand[...] = ctrl
        else:
            self._ctrl[:, self._act] = ctrl
        self.batch.step(nstep=substeps)  # raises mujoco.batch.SimulationError on failure

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._qpos[:, self._jq_read], self._qvel[:, self._jv_read]

    def object_state(self) -> ObjectState:
        s = free_joint_state(self._qpos, self._qvel, self._oq, self._ov)
        return ObjectState(s[:, :3], s[:, 3:7], s[:, 7:10], s[:, 10:])

    def readings(self) -> np.ndarray:
        _read(self._qpos, self._qvel, self._force, self._sensor, self._read_idx, self._readings)
        return self._readings  # returned from numba it would be boxed anew (~1 us)

    def fingertip_positions(self) -> np.ndarray:
        return self._sensor[:, self._s_tips].reshape(self.num_envs, -1, 3)

    def fingertip_contacts(self) -> np.ndarray:
        return self._sensor[:, self._s_touch] > 0

    def tactile_forces(self) -> np.ndarray:
        f = self._sensor[:, self._s_force].reshape(self.num_envs, -1, 3)
        return np.sqrt(np.einsum("ijk,ijk->ij", f, f))

    def palm_position(self) -> np.ndarray:
        return self._sensor[:, self._s_palm]

    def actuator_forces(self) -> np.ndarray:
        return self._force[:, self._act_read]

    def set_state(self, ids, joint_pos, object_pos, object_quat) -> None:
        ids = check_ids(ids, self.num_envs)
        if ids.size == 0:
            return
        self._qpos[ids[:, None], self._jq] = joint_pos
        self._qpos[ids, self._oq:self._oq + 3] = object_pos
        self._qpos[ids, self._oq + 3:self._oq + 7] = object_quat
        self._qvel[ids] = 0.0
        self._warm[ids] = 0.0
        self._ctrl[ids[:, None], self._act] = joint_pos
        self.batch.forward(ids, stage=_VEL)

    def joint_ranges(self) -> np.ndarray:
        return np.stack([self.model.jnt_range[self.model.joint(n).id] for n in self.layout.hand.joint_names])

    # --- per-env physical parameters ------------------------------------------------------
    def nominal_params(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._nominal.items()}

    def set_params(self, ids, **params) -> None:
        ids = check_ids(ids, self.num_envs)
        unknown = set(params) - set(self._nominal)
        if unknown:
            raise KeyError(f"unknown physical parameter(s) {sorted(unknown)}; known: {sorted(self._nominal)}")
        if ids.size == 0 or not params:
            return
        b, o = self.batch, self._obody
        if "object_scale" in params:
            s = np.asarray(params["object_scale"], float).reshape(-1, 1)
            m = self.model
            b.expand("geom_size")[ids, self._ogeom] = m.geom_size[self._ogeom] * s
            b.expand("geom_rbound")[ids, self._ogeom] = m.geom_rbound[self._ogeom] * s[:, 0]
            b.expand("geom_aabb")[ids, self._ogeom] = m.geom_aabb[self._ogeom] * s
            adr, num = m.body_bvhadr[o], m.body_bvhnum[o]
            if num > 0:
                b.expand("bvh_aabb")[ids, adr:adr + num] = m.bvh_aabb[adr:adr + num] * s[:, None]
        if "object_mass" in params or "object_scale" in params:
            mass = np.asarray(params.get("object_mass", b.body(o).mass[ids]), float).reshape(-1)
            scale = self._current_scale(ids) if "object_scale" not in params else \
                np.asarray(params["object_scale"], float).reshape(-1)
            b.expand("body_mass")[ids, o] = mass
            b.expand("body_inertia")[ids, o] = self._unit_inertia * (mass * scale * scale)[:, None]
        if "object_com" in params:
            b.expand("body_ipos")[ids, o] = params["object_com"]
        if "friction" in params and "friction_scale" in params:
            raise ValueError("set friction (an absolute coefficient) or friction_scale (a factor), not both")
        if "friction" in params:
            f = np.asarray(params["friction"], float).reshape(-1, 1)
            b.expand("geom_friction")[ids[:, None], self._friction_geoms, 0] = f
        if "friction_scale" in params:
            f = np.asarray(params["friction_scale"], float).reshape(-1, 1) * self._friction0
            b.expand("geom_friction")[ids[:, None], self._friction_geoms, 0] = f
        if "gravity" in params:
            b.expand("opt.gravity")[ids] = params["gravity"]
        if "kp" in params:
            kp = np.asarray(params["kp"], float)
            b.expand("actuator_gainprm")[ids[:, None], self._act, 0] = kp
            b.expand("actuator_biasprm")[ids[:, None], self._act, 1] = -kp
        if "kv" in params:
            b.expand("actuator_biasprm")[ids[:, None], self._act, 2] = -np.asarray(params["kv"], float)
        if {"object_mass", "object_scale", "object_com"} & set(params):
            b.set_const(ids)  # body_subtreemass, invweight0 and friends follow the new inertia

    def _current_scale(self, ids: np.ndarray) -> np.ndarray:
        size = self.batch.expanded("geom_size")
        if size is None:
            return np.ones(ids.size)
        return size[ids, self._ogeom, 0] / self.model.geom_size[self._ogeom, 0]

    # --- forces, rendering, lifetime ------------------------------------------------------
    def apply_object_force(self, force: np.ndarray) -> None:
        self._xfrc_object[...] = force

    def render(self, env_id: int, width: int = 640, height: int = 480) -> np.ndarray:
        check_ids(env_id, self.num_envs)
        if self._renderer is None or (self._renderer.width, self._renderer.height) != (width, height):
            self._render_model = self.batch.get_model(env_id)
            self._render_model.vis.global_.offwidth = max(width, self._render_model.vis.global_.offwidth)
            self._render_model.vis.global_.offheight = max(height, self._render_model.vis.global_.offheight)
            try:
                self._renderer = mujoco.Renderer(self._render_model, height, width)
            except Exception as exc:
                raise RuntimeError(
                    f"could not create an OpenGL context for rendering ({exc}). On a machine without a "
                    "display set MUJOCO_GL=egl (or osmesa) before mujoco is first imported; MUJOCO_GL is "
                    f"{os.environ.get('MUJOCO_GL')!r} now") from exc
            self._render_data = mujoco.MjData(self._render_model)
        self.batch.get_model(env_id, self._render_model)
        self.batch.get_data(env_id, self._render_data)
        mujoco.mj_forward(self._render_model, self._render_data)
        self._renderer.update_scene(self._render_data, camera=self.layout.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice when it is a contiguous ascending run (indexing with it then gives a view)."""
    idx = np.asarray(idx)
    if idx.size and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return slice(int(idx[0]), int(idx[0]) + idx.size)
    return idx


def hand_root_body(model: mujoco.MjModel, hand) -> str:
    """Name of the hand's root body (the palm): the tree that holds the first fingertip site."""
    body = model.site_bodyid[model.site(hand.fingertip_sites[0]).id]
    return model.body(int(model.body_rootid[body])).name


def hand_collision_geoms(model: mujoco.MjModel, hand) -> list[int]:
    """Ids of the hand's colliding geoms (contype set), in MJCF order: the geoms friction randomisation reaches."""
    root = model.body(hand_root_body(model, hand)).id
    return [g for g in range(model.ngeom) if model.geom_contype[g] and model.body_rootid[model.geom_bodyid[g]] == root]


@njit(cache=True)
def _read(qpos, qvel, force, sensor, idx, out):
    """``readings()`` into ``out``: ``idx`` holds the counts (joints, contacts, pads), the free joint's qpos and qvel
    addresses, the palm sensor's, then per joint its qpos, qvel and actuator address, the contact sensors' and the
    pad force sensors'."""
    nj, nc, ntac, oq, ov, palm = idx[0], idx[1], idx[2], idx[3], idx[4], idx[5]
    jq, jv, act, touch, pads = 6, 6 + nj, 6 + 2 * nj, 6 + 3 * nj, 6 + 3 * nj + nc
    obj = free_joint_state(qpos, qvel, oq, ov)
    for i in range(out.shape[0]):
        for j in range(nj):
            out[i, j] = qpos[i, idx[jq + j]]
            out[i, nj + j] = qvel[i, idx[jv + j]]
            out[i, 2 * nj + j] = force[i, idx[act + j]]
        c = 3 * nj
        for k in range(13):
            out[i, c + k] = obj[i, k]
        for k in range(3):
            out[i, c + 13 + k] = sensor[i, palm + k]
        c += 16
        for k in range(nc):
            out[i, c + k] = 1.0 if sensor[i, idx[touch + k]] > 0 else 0.0
        c += nc
        for k in range(ntac):
            a = idx[pads + k]
            out[i, c + k] = math.sqrt(sensor[i, a] ** 2 + sensor[i, a + 1] ** 2 + sensor[i, a + 2] ** 2)


@njit(cache=True)
def free_joint_state(qpos, qvel, oq, ov):
    """Position, wxyz quaternion, world-frame linear and angular velocity of the free joint at ``qpos[:, oq]``,
    ``qvel[:, ov]`` (MuJoCo keeps its angular velocity in the body frame: rotated here as
    ``rotations.quat_rotate`` does), as the columns of one new (N, 13) array, in one compiled pass over the envs."""
    n = qpos.shape[0]
    out = np.empty((n, 13))
    pos, quat, linvel, angvel = out[:, :3], out[:, 3:7], out[:, 7:10], out[:, 10:]
    for i in range(n):
        for c in range(3):
            pos[i, c] = qpos[i, oq + c]
            linvel[i, c] = qvel[i, ov + c]
        for c in range(4):
            quat[i, c] = qpos[i, oq + 3 + c]
        w, u0, u1, u2 = quat[i, 0], quat[i, 1], quat[i, 2], quat[i, 3]
        v0, v1, v2 = qvel[i, ov + 3], qvel[i, ov + 4], qvel[i, ov + 5]
        t0, t1, t2 = u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0  # t = 2 u x v
        t0, t1, t2 = t0 + t0, t1 + t1, t2 + t2
        angvel[i, 0] = v0 + w * t0 + (u1 * t2 - u2 * t1)  # v + w t + u x t
        angvel[i, 1] = v1 + w * t1 + (u2 * t0 - u0 * t2)
        angvel[i, 2] = v2 + w * t2 + (u0 * t1 - u1 * t0)
    return out
