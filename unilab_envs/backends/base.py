"""The physics backend protocol: what a task may ask of a simulator.

Conventions every backend converts to: quaternions wxyz (MuJoCo's), world-frame velocities,
hand joints in the hand spec's order, float arrays (float64, or float32 for a float32 engine) of
leading dimension ``num_envs``. Arrays a backend returns may be live views that change on the next
``step``: copy to keep them. Joint and object state are current after ``step``; fingertip positions
and contacts and actuator forces may be those of the last substep (MuJoCo's ``mj_step``
convention), and an engine without an actuator-force buffer may evaluate the actuator law instead.

Semantics a backend must keep (docs/motrixsim.md records how MotrixSim 0.10 meets them):
- ``set_params``: a new object mass or scale rescales the object's inertia (mass x scale^2 x the
  shape's unit inertia); parameters persist until set again, ``set_state`` never clears them.
- ``apply_object_force``: the force acts on every substep until changed, even where the engine
  clears external forces after each physics step (re-apply it per substep there).
- An unstable simulation keeps its non-finite state until ``set_state`` places it anew (no engine
  auto-reset behind the task's back: MuJoCo's ``mjDSBL_AUTORESET`` is set), so that the task sees,
  counts and resets it; the other envs of the batch step on unaffected.
- ``render`` may raise ``NotImplementedError`` where the engine cannot render offscreen; MotrixSim's
  backend draws its state with MuJoCo's renderer on the same MJCF instead (``mirror.py``).
- Solver options in ``PhysicsOptions`` are MuJoCo's; ``honoured_options`` names those a backend applies,
  and a backend warns once per process about the others (never skips them silently).
- ``threads`` is the number of worker threads stepping the batch. An engine with one thread pool per
  process (MotrixSim) takes the first backend's count and warns when a later one asks for another.
- Readings are float64, or float32 for a float32 engine converted at the backend's edge; MotrixSim's
  backend converts to float64.
- ``xp`` is the array namespace of a backend's readings and of the arrays it accepts: numpy for the CPU
  engines; ``array_api_compat.torch`` for MuJoCo Warp made with ``arrays="torch"`` (float32 tensors on its
  device, no host copy). Env ids may then be a torch integer tensor as well.
"""
from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from ..scene import SceneLayout

#: Per-env physical parameters ``set_params`` accepts, with their shapes per env.
PARAM_SHAPES = {
    "object_mass": (),        # kg; inertia follows (mass x scale^2 x the shape's unit inertia)
    "object_com": (3,),       # m, centre of mass offset in the object frame
    "object_scale": (),       # factor on the object's size at scale 1
    "friction": (),           # sliding friction of the object and every hand collision geom
    "friction_scale": (),     # factor on each of those geoms' own sliding friction (pads, metal, object)
    "gravity": (3,),          # m/s^2, world-frame gravity of the env (a tilt randomises its direction)
    "kp": ("nu",),            # position-actuator stiffness, N m / rad
    "kv": ("nu",),            # position-actuator damping, N m s / rad
}


def readings_layout(num_joints: int, num_contacts: int, num_tactile: int) -> dict[str, slice]:
    """The columns of ``readings()``: joint positions, velocities and actuator forces, the object's position,
    wxyz quaternion, linear and angular velocity, the palm position, the fingertip contacts (1.0 or 0.0) and
    the tactile pad forces, in that order."""
    widths = {"q": num_joints, "qd": num_joints, "tau": num_joints, "pos": 3, "quat": 4, "linvel": 3, "angvel": 3,
              "palm": 3, "contacts": num_contacts, "tactile": num_tactile}
    out, start = {}, 0
    for name, width in widths.items():
        out[name] = slice(start, start + width)
        start += width
    return out


def pack_readings(backend, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (N, readings_layout width) from a backend's getters (what ``readings`` is for a backend
    without a compiled one)."""
    q, qd = backend.joint_state()
    obj = backend.object_state()
    parts = (q, qd, backend.actuator_forces(), obj.pos, obj.quat, obj.linvel, obj.angvel, backend.palm_position(),
             backend.fingertip_contacts(), backend.tactile_forces())
    start = 0
    for x in parts:
        out[:, start:start + x.shape[1]] = x
        start += x.shape[1]
    return out


class ObjectState(NamedTuple):
    pos: np.ndarray      # (N, 3) world position of the object frame
    quat: np.ndarray     # (N, 4) wxyz
    linvel: np.ndarray   # (N, 3) world frame, m/s
    angvel: np.ndarray   # (N, 3) world frame, rad/s


@runtime_checkable
class PhysicsBackend(Protocol):
    """A batch of ``num_envs`` copies of one scene, stepped together."""

    name: str
    num_envs: int
    timestep: float
    threads: int                      # worker threads stepping the batch
    honoured_options: frozenset[str]  # the PhysicsOptions fields this engine applies
    xp: object                        # array namespace of readings and inputs (numpy, or array_api_compat.torch)

    def step(self, ctrl: np.ndarray, substeps: int) -> None:
        """Hold actuator targets ``ctrl`` (N, nu) for ``substeps`` physics steps."""

    def readings(self) -> np.ndarray:
        """Every per-step reading in one (N, width) host float64 array, columns as ``readings_layout`` (for a
        compiled task step; numpy backends only). May be a buffer that the next call overwrites."""

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Hand joint positions and velocities, (N, nj) each."""

    def object_state(self) -> ObjectState:
        """Pose and velocity of the free object."""

    def fingertip_positions(self) -> np.ndarray:
        """(N, ntip, 3) world positions of the fingertip sites."""

    def fingertip_contacts(self) -> np.ndarray:
        """(N, ntip) bool: does each fingertip touch the object."""

    def tactile_forces(self) -> np.ndarray:
        """(N, ntip) magnitude of the net contact force between each fingertip pad and the object (N),
        0 without contact; (N, 0) for a hand without tactile pads (``HandSpec.tactile``)."""

    def palm_position(self) -> np.ndarray:
        """(N, 3) world position of the palm site."""

    def actuator_forces(self) -> np.ndarray:
        """(N, nu) joint torques the actuators applied in the last substep, after force limits."""

    def set_state(self, ids: np.ndarray, joint_pos: np.ndarray, object_pos: np.ndarray,
                  object_quat: np.ndarray) -> None:
        """Place envs ``ids`` at rest: joints, actuator targets = ``joint_pos``, object pose (wxyz)."""

    def set_params(self, ids: np.ndarray, **params: np.ndarray) -> None:
        """Set per-env physical parameters (names and shapes in ``PARAM_SHAPES``) for envs ``ids``."""

    def nominal_params(self) -> dict[str, np.ndarray]:
        """The scene's own values of every ``PARAM_SHAPES`` entry (one env's worth)."""

    def joint_ranges(self) -> np.ndarray:
        """(nj, 2) lower and upper joint limits."""

    def apply_object_force(self, force: np.ndarray) -> None:
        """World-frame force (N, 3) on the object's centre of mass, held until changed."""

    def render(self, env_id: int, width: int, height: int) -> np.ndarray:
        """(height, width, 3) uint8 image of env ``env_id`` from the scene camera."""

    def close(self) -> None:
        """Release threads, renderers and native memory."""


def check_ids(ids, num_envs: int):
    """Env indices as an int array (a torch tensor stays one, on its device), with a clear error for
    out-of-range values."""
    if is_torch(ids):
        ids = ids.reshape(-1).long()
    else:
        ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    if ids.shape[0] and (int(ids.min()) < 0 or int(ids.max()) >= num_envs):
        raise IndexError(f"env ids {ids.tolist()} out of range for num_envs={num_envs}")
    return ids


def is_torch(x) -> bool:
    """Is ``x`` a torch tensor (without importing torch)?"""
    return type(x).__module__.startswith("torch")


def host(x) -> np.ndarray:
    """``x`` as a host numpy array (a torch tensor is copied from its device)."""
    return x.detach().cpu().numpy() if is_torch(x) else np.asarray(x)


def check_params(ids, num_envs: int, params: dict) -> np.ndarray:
    """``set_params``' checks, shared by every backend: env ids in range, parameter names known, and friction
    given one way. Returns the ids as an int array."""
    ids = check_ids(ids, num_envs)
    unknown = set(params) - set(PARAM_SHAPES)
    if unknown:
        raise KeyError(f"unknown physical parameter(s) {sorted(unknown)}; known: {sorted(PARAM_SHAPES)}")
    if "friction" in params and "friction_scale" in params:
        raise ValueError("set friction (an absolute coefficient) or friction_scale (a factor), not both")
    return ids


class CachedReadings:
    """For engines read once per step into host arrays (``_read`` fills them): the per-step getters, and
    ``render`` through MuJoCo's renderer on the same MJCF (``mirror.py``) for engines without an offscreen
    one. Subclasses keep ``_q, _qd, _object, _tips, _touch, _tactile, _palm`` and ``_scale`` current."""

    _renderer = None
    xp = np

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        return self._q, self._qd

    def readings(self) -> np.ndarray:
        if getattr(self, "_readings", None) is None:
            width = readings_layout(self._q.shape[1], self._touch.shape[1], self._tactile.shape[1])["tactile"].stop
            self._readings = np.zeros((self.num_envs, width))
        return pack_readings(self, self._readings)

    def object_state(self) -> ObjectState:
        return self._object

    def fingertip_positions(self) -> np.ndarray:
        return self._tips

    def fingertip_contacts(self) -> np.ndarray:
        return self._touch

    def tactile_forces(self) -> np.ndarray:
        return self._tactile

    def palm_position(self) -> np.ndarray:
        return self._palm

    def nominal_params(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self._nominal.items()}

    def render(self, env_id: int, width: int = 640, height: int = 480) -> np.ndarray:
        """This backend's state of env ``env_id`` drawn by MuJoCo's renderer on the same MJCF."""
        from .mirror import MujocoMirror

        check_ids(env_id, self.num_envs)
        if self._renderer is None:
            self._renderer = MujocoMirror(self.layout)
        o = self._object
        return self._renderer.render(host(self._q[env_id]), host(o.pos[env_id]), host(o.quat[env_id]),
                                     float(self._scale[env_id]), width, height)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


__all__ = ["PARAM_SHAPES", "CachedReadings", "ObjectState", "PhysicsBackend", "SceneLayout", "check_ids",
           "check_params", "host", "is_torch", "pack_readings", "readings_layout"]
