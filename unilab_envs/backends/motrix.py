"""MotrixSim backend (``motrixsim``, the ``motrix`` extra): the protocol on a batched ``SceneData``.

It loads the same MJCF text as the MuJoCo backend and converts at its edge only: MotrixSim's xyzw
quaternions to wxyz, its dof layout to the hand spec's joint order (resolved by name), its float32
to float64. What MotrixSim 0.10 does differently, and how this module meets the protocol
(``base.py``; measured notes in docs/motrixsim.md):

- Solver options it does not apply (``impratio``, ``cone``, ``integrator``, ``ls_iterations``,
  ``noslip_iterations``) are named once per process in a ``UserWarning``; it honours the timestep,
  ``iterations`` and the contact filter (``HONOURED_OPTIONS``). Its own integrator matches MuJoCo's
  implicitfast: contact-free joint trajectories agree to float32 rounding (tests/test_backend_parity.py).
- It has no actuator-force buffer: ``actuator_forces`` evaluates the position actuator's law
  ``clip(kp (ctrl - q) - kv qdot, force range)`` at the state after the step.
- External forces last one physics step: while a force is set, ``step`` steps substep by substep and
  applies it before each.
- One non-finite world makes MotrixSim panic for the whole batch. Worlds whose state has left any
  physical range are set aside before a step (the others step on without them) and read as NaN until
  ``set_state`` places them anew, so the task sees, counts and resets them as on MuJoCo.
- Contact sensors are refreshed by a step: right after ``set_state`` the placed worlds read no
  contact and zero tactile force until their next step.
- ``SceneData.reset`` keeps the solver's warm-start impulses: ``set_state`` first steps the placed worlds once in
  a load-free pose so those impulses are exactly zero (``_clear_solver_state``); a constraint inactive in that
  pose (a joint limit) keeps its stale impulse, so reset is not bitwise reproducible in every case (README).
- It has no offscreen renderer on a CPU machine: ``render`` draws this backend's state with MuJoCo's
  renderer on the same MJCF (kinematics only; the physics stays MotrixSim's).
- Its thread pool is per process and fixed at the first model: the first backend's ``num_threads``
  wins, a later different request is warned about.
"""
from __future__ import annotations

import os
import warnings

import motrixsim as mx
import numpy as np
from motrixsim import query

from ..rotations import quat_rotate
from ..scene import SceneLayout
from .base import CachedReadings, ObjectState, check_ids, check_params

#: ``PhysicsOptions`` fields MotrixSim applies; the others are MuJoCo solver settings it ignores.
HONOURED_OPTIONS = frozenset({"timestep", "iterations", "contact_filter"})
_IGNORED_TAGS = ("impratio", "cone", "integrator", "ls_iterations", "noslip_iterations")
#: A world whose coordinates leave these bounds has diverged (m or rad; m/s or rad/s).
_MAX_POS, _MAX_VEL = 1e3, 1e5
#: Solver settings of the load-free step that zeroes a placed world's warm-start impulses
#: (``MotrixBackend._clear_solver_state``): converged until the impulses underflow to exactly zero.
_CLEAR_TOLERANCE, _CLEAR_ITERATIONS = float(np.finfo(np.float32).tiny), 200

_threads: int | None = None
_warned: set[str] = set()


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


def _start_thread_pool(num_threads: int) -> None:
    """MotrixSim's worker pool is per process and must start before the first model loads."""
    global _threads
    want = num_threads or os.cpu_count() or 1
    if _threads is None:
        try:
            mx.init_thread_pool(want)
            _threads = want
        except RuntimeError as exc:  # someone else's MotrixSim model came first
            _threads = -1
            _warn_once("threads", f"MotrixSim's thread pool was already started in this process ({exc}); "
                                  f"num_threads={num_threads} is not applied")
    elif want != _threads and _threads > 0:
        _warn_once(f"threads{want}", f"MotrixSim runs one thread pool per process, started with {_threads} threads; "
                                     f"num_threads={num_threads} is ignored (start a new process to change it)")


def _warn_ignored_options(xml: str) -> None:
    import re

    opt = re.search(r"<option\b[^>]*>", xml)
    ignored = [f"{k}={v}" for k, v in re.findall(r'(\w+)="([^"]*)"', opt.group(0) if opt else "")
               if k in _IGNORED_TAGS]
    if ignored:
        _warn_once("options", "MotrixSim 0.10 does not apply the MuJoCo solver options " + ", ".join(ignored)
                   + " of this scene: it has no elliptic cone or impratio, so motion in contact differs from "
                   "sim=mujoco (its own integrator matches implicitfast on contact-free motion); README 'MotrixSim' "
                   "gives the measured differences")


class MotrixBackend(CachedReadings):
    """``num_envs`` MotrixSim worlds of one scene, stepped together on MotrixSim's thread pool."""

    name = "motrix"
    honoured_options = HONOURED_OPTIONS

    def __init__(self, layout: SceneLayout, num_envs: int, num_threads: int = 0):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        _start_thread_pool(num_threads)
        _warn_ignored_options(layout.xml)
        self.layout, self.num_envs = layout, num_envs
        self.threads = _threads if _threads and _threads > 0 else (os.cpu_count() or 1)
        self.model = m = mx.load_mjcf_str(layout.xml)
        self.data = mx.SceneData(m, batch=[num_envs])
        self.timestep = float(m.options.timestep)
        hand = layout.hand

        joints = [j.name for j in m.joints]
        self._jq = np.asarray(m.joint_dof_pos_indices)[[joints.index(n) for n in hand.joint_names]]
        self._jv = np.asarray(m.joint_dof_vel_indices)[[joints.index(n) for n in hand.joint_names]]
        acts = [a.name for a in m.actuators]
        self._act = np.array([acts.index(n) for n in hand.joint_names])  # actuators share joint names
        self._actuators = [m.actuators[i] for i in self._act]
        base = next(b for b in m.floating_bases if b.name in (layout.object_joint, layout.object_body)) \
            if len(m.floating_bases) > 1 else m.floating_bases[0]
        self._oq = np.asarray(base.dof_pos_indices)   # x y z qx qy qz qw
        self._ov = np.asarray(base.dof_vel_indices)   # world linear, body angular
        self._link = m.get_link(layout.object_body)
        self._ogeom = m.get_geom(layout.object_geom)
        self._friction_geoms = _hand_collision_geoms(m, layout) + [self._ogeom]

        fields = {"dof_pos": query.DofPosition(), "dof_vel": query.DofVelocity(),
                  "tips": query.SitePosition(list(hand.fingertip_sites)),
                  "palm": query.SitePosition([hand.palm_site]),
                  "touch": query.SensorValues(list(layout.contact_sensors))}
        if layout.tactile_sensors:
            fields["force"] = query.SensorValues(list(layout.tactile_sensors))
        self._query = m.compile_query(fields).allocate(self.data)

        kp = np.array([a.get_gain_override(self.data)[0] if hasattr(a, "get_gain_override")
                       else a.get_kp_override(self.data)[0] for a in self._actuators], float)
        kv = np.array([a.get_damping_override(self.data)[0] if hasattr(a, "get_damping_override")
                       else a.get_kd_override(self.data)[0] for a in self._actuators], float)
        self._force_range = np.array([a.force_range or (-np.inf, np.inf) for a in self._actuators], float)
        size0 = self._ogeom.get_size_override(self.data)[0].astype(float)
        inertia0 = self._link.get_inertia_override(self.data)[0, :3].astype(float)
        mass0 = float(self._link.mass)
        self._nominal = {
            "object_mass": np.array(mass0),
            "object_com": np.asarray(self._link.center_of_mass, float).copy(),
            "object_scale": np.array(1.0),
            "friction": np.array(float(self._ogeom.friction[0])),
            "friction_scale": np.array(1.0),
            "gravity": np.asarray(m.options.gravity, float).copy(),
            "kp": kp, "kv": kv,
        }
        self._size0, self._unit_inertia = size0, inertia0 / mass0
        self._friction0 = np.array([np.asarray(g.friction, float) for g in self._friction_geoms])  # (G, 3)
        # Current per-env values this backend needs again (actuator law, inertia on rescale).
        self._kp = np.tile(kp, (num_envs, 1))
        self._kv = np.tile(kv, (num_envs, 1))
        self._mass = np.full(num_envs, mass0)
        self._scale = np.ones(num_envs)
        self._ctrl = np.zeros((num_envs, len(acts)), np.float32)
        self._force: np.ndarray | None = None
        self._lost = np.zeros(num_envs, bool)
        self._fresh = np.zeros(num_envs, bool)  # placed since the last step: contact sensors not yet computed
        m.forward_kinematic(self.data)
        self._read()

    # --- stepping and state ---------------------------------------------------------------
    def step(self, ctrl: np.ndarray, substeps: int) -> None:
        self._ctrl[:, self._act] = ctrl
        self.data.actuator_ctrls = self._ctrl
        self._lost |= self._diverged()
        data = self.data if not self._lost.any() else self.data[mx.DisjointIndices(np.flatnonzero(~self._lost))]
        force = self._force
        if force is not None and self._lost.any():
            force = force[~self._lost]
        try:
            if force is None:
                self.model.step_n(data, substeps)
            else:
                for _ in range(substeps):
                    self._link.add_external_force(data, force, local=False)
                    self.model.step(data)
        except BaseException as exc:  # pyo3's PanicException derives from BaseException
            if type(exc).__name__ != "PanicException":
                raise
            newly = self._diverged() & ~self._lost
            if not newly.any():
                raise
            self._lost |= newly
            warnings.warn(f"MotrixSim stopped a step when env(s) {np.flatnonzero(newly).tolist()} went non-finite "
                          f"({exc}); the other envs of this batch may have advanced fewer than {substeps} substeps "
                          "this once", RuntimeWarning, stacklevel=2)
        self._fresh[:] = False
        self._read()

    def _diverged(self) -> np.ndarray:
        """Worlds whose state is non-finite or has left every physical range."""
        pos, vel = self.data.dof_pos, self.data.dof_vel
        return (~np.isfinite(pos).all(-1) | ~np.isfinite(vel).all(-1)
                | (np.abs(pos) > _MAX_POS).any(-1) | (np.abs(vel) > _MAX_VEL).any(-1))

    def _read(self) -> None:
        """One query execution per step; every getter below slices these float64 copies."""
        q = self._query.execute(self.data)
        pos, vel = q["dof_pos"].astype(float), q["dof_vel"].astype(float)
        pos[self._lost] = np.nan
        vel[self._lost] = np.nan
        self._q, self._qd = pos[:, self._jq], vel[:, self._jv]
        o = pos[:, self._oq]
        quat = o[:, [6, 3, 4, 5]]
        v = vel[:, self._ov]
        self._object = ObjectState(o[:, :3], quat, v[:, :3], quat_rotate(quat, v[:, 3:]))
        self._tips = q["tips"].astype(float)
        self._palm = q["palm"].astype(float).reshape(self.num_envs, 3)
        self._touch = q["touch"].reshape(self.num_envs, -1) > 0
        self._touch[self._fresh] = False
        if "force" in q.keys():
            f = q["force"].astype(float).reshape(self.num_envs, -1, 3)
            self._tactile = np.sqrt(np.einsum("ijk,ijk->ij", f, f))
            self._tactile[self._fresh] = 0.0
        else:
            self._tactile = np.zeros((self.num_envs, 0))
        self._tips[self._lost] = np.nan
        self._palm[self._lost] = np.nan

    def actuator_forces(self) -> np.ndarray:
        """The position actuator's law at the current state (MotrixSim keeps no actuator-force buffer)."""
        tau = self._kp * (self._ctrl[:, self._act] - self._q) - self._kv * self._qd
        return np.clip(tau, self._force_range[:, 0], self._force_range[:, 1])

    def set_state(self, ids, joint_pos, object_pos, object_quat) -> None:
        ids = check_ids(ids, self.num_envs)
        if ids.size == 0:
            return
        pos = self.data.dof_pos[ids]
        pos[:, self._jq] = joint_pos
        pos[:, self._oq[:3]] = object_pos
        pos[:, self._oq[3:]] = np.asarray(object_quat)[:, [1, 2, 3, 0]]
        vel = np.zeros((ids.size, self.model.num_dof_vel), np.float32)
        sub = self.data[mx.DisjointIndices(ids)]
        self._clear_solver_state(ids, sub, pos)
        sub.reset(self.model, dof_pos=pos.astype(np.float32), dof_vel=vel, forward_kinematic=True,
                  reset_overrides=False)
        self._ctrl[ids[:, None], self._act] = joint_pos
        self.data.actuator_ctrls = self._ctrl
        self._lost[ids] = False
        self._fresh[ids] = True
        self._read()

    def _clear_solver_state(self, ids: np.ndarray, sub, pos: np.ndarray) -> None:
        """Zero the solver state the placed worlds carry over from their last episode.

        MotrixSim's ``SceneData.reset`` rewrites the dof state but keeps the cached solver state (its
        docstring: "warm-start lambdas ... are kept"): the friction-loss, joint-limit and contact impulses
        of the previous step warm-start the next one, so the same state set twice stepped differently
        (0.04 rad and 5 N of tactile force after one Sharpa step) and ``reset(seed=...)`` did not
        reproduce an episode. MotrixSim 0.10 has no call that clears them, so the placed worlds take one
        physics step in a load-free pose (hand at its home pose, at rest, targets at the pose, no gravity,
        the object 1 m above its start, out of reach) with the solver run until its impulses underflow to
        exactly zero, what a new ``SceneData`` holds; the last episode's contacts are dropped by that step.
        Batched over ``ids`` (one ``step`` of the sub-batch); the caller then places the real state. Left
        over: a constraint inactive in that pose (a joint limit) keeps its stale impulse until it engages
        again (README 'MotrixSim' gives the measured size).
        """
        m, opts = self.model, self.model.options
        prime = pos.astype(np.float32)
        prime[:, self._jq] = self.layout.hand.home_pose
        prime[:, self._oq[:3]] = np.asarray(self.layout.hand.object_start) + (0.0, 0.0, 1.0)
        prime[:, self._oq[3:]] = (0.0, 0.0, 0.0, 1.0)
        sub.reset(m, dof_pos=prime, dof_vel=np.zeros((ids.size, m.num_dof_vel), np.float32),
                  forward_kinematic=True, reset_overrides=False)
        self._ctrl[ids[:, None], self._act] = self.layout.hand.home_pose
        self.data.actuator_ctrls = self._ctrl
        gravity = m.get_gravity_override(sub).copy()
        tol, iters = opts.solver_tolerance, opts.max_iterations
        m.set_gravity_override(sub, np.zeros((ids.size, 3), np.float32))
        opts.solver_tolerance, opts.max_iterations = _CLEAR_TOLERANCE, max(iters, _CLEAR_ITERATIONS)
        try:
            m.step(sub)
        finally:
            opts.solver_tolerance, opts.max_iterations = tol, iters
            m.set_gravity_override(sub, gravity)

    def joint_ranges(self) -> np.ndarray:
        limits = np.asarray(self.model.joint_limits, float).T  # (nj, 2) in the model's joint order
        joints = [j.name for j in self.model.joints]
        return limits[[joints.index(n) for n in self.layout.hand.joint_names]]

    # --- per-env physical parameters ------------------------------------------------------
    def set_params(self, ids, **params) -> None:
        ids = check_params(ids, self.num_envs, params)
        if ids.size == 0 or not params:
            return
        p = {k: _positive_where_needed(k, np.asarray(v, float)) for k, v in params.items()}
        sub, f32 = self.data[mx.DisjointIndices(ids)], np.float32
        if "object_scale" in p:
            self._scale[ids] = p["object_scale"].reshape(-1)
            self._ogeom.set_size_override(sub, (self._size0 * self._scale[ids, None]).astype(f32))
        if "object_mass" in p or "object_scale" in p:
            if "object_mass" in p:
                self._mass[ids] = p["object_mass"].reshape(-1)
            self._link.set_mass_override(sub, self._mass[ids].astype(f32))
            diag = self._unit_inertia * (self._mass[ids] * self._scale[ids] ** 2)[:, None]
            self._link.set_inertia_override(sub, np.concatenate([diag, np.zeros_like(diag)], 1).astype(f32))
        if "object_com" in p:
            self._link.set_center_of_mass_override(sub, p["object_com"].reshape(-1, 3).astype(f32))
        if "friction" in p or "friction_scale" in p:
            for geom, f0 in zip(self._friction_geoms, self._friction0, strict=True):
                f = np.tile(f0, (ids.size, 1))
                f[:, 0] = p["friction"].reshape(-1) if "friction" in p else p["friction_scale"].reshape(-1) * f0[0]
                geom.set_friction_override(sub, f.astype(f32))
        if "gravity" in p:
            self.model.set_gravity_override(sub, p["gravity"].reshape(-1, 3).astype(f32))
        if "kp" in p:
            self._kp[ids] = p["kp"]
            for j, a in enumerate(self._actuators):
                if hasattr(a, "set_gain_override"):
                    a.set_gain_override(sub, self._kp[ids, j].astype(f32))
                    a.set_stiffness_override(sub, self._kp[ids, j].astype(f32))
                else:
                    a.set_kp_override(sub, self._kp[ids, j].astype(f32))
        if "kv" in p:
            self._kv[ids] = p["kv"]
            for j, a in enumerate(self._actuators):
                a.set_damping_override(sub, self._kv[ids, j].astype(f32))

    # --- forces (render and close: CachedReadings) -------------------------------------------
    def apply_object_force(self, force: np.ndarray) -> None:
        force = np.asarray(force, np.float32).reshape(self.num_envs, 3)
        self._force = force.copy() if force.any() else None


_POSITIVE = {"object_mass", "object_scale", "friction", "friction_scale", "kp"}


def _positive_where_needed(name: str, value: np.ndarray) -> np.ndarray:
    """MotrixSim ignores a non-positive or non-finite override silently: refuse it here instead."""
    if not np.isfinite(value).all():
        raise ValueError(f"set_params({name}=...) has non-finite values; MotrixSim would ignore them silently")
    if name in _POSITIVE and (value <= 0).any():
        raise ValueError(f"set_params({name}=...) must be > 0, got min {value.min():g}; "
                         "MotrixSim would ignore the override silently")
    if name == "kv" and (value < 0).any():
        raise ValueError(f"set_params(kv=...) must be >= 0, got min {value.min():g}")
    return value


def _hand_collision_geoms(model, layout: SceneLayout) -> list:
    """MotrixSim's handles of the hand's colliding geoms: the ones the MuJoCo backend randomises, matched by
    index (both keep the MJCF's geom order; checked here by each geom's body)."""
    import mujoco

    from .mujoco_batch import hand_collision_geoms

    m = mujoco.MjModel.from_xml_string(layout.xml)
    geoms = model.geoms
    bodies = [m.body(m.geom_bodyid[g]).name for g in range(m.ngeom)]
    theirs = [(g.link.name if g.link is not None else "world") for g in geoms]
    if len(geoms) != m.ngeom or any(a != b for a, b in zip(bodies, theirs, strict=True) if a != "world"):
        raise RuntimeError(f"MotrixSim's geoms of {layout.hand.name!r} are not in MuJoCo's order "
                           f"({len(geoms)} vs {m.ngeom} geoms); friction randomisation cannot be matched")
    return [geoms[g] for g in hand_collision_geoms(m, layout.hand)]
