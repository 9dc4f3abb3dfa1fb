"""The physics ceiling of an env: its backend's own engine, bare, stepping the same model, parameters and state.

``Ceiling(backend)`` holds a second batch of the env's compiled model; ``sync()`` copies the env's current
per-env parameters and state into it (untimed), ``step(substeps)`` steps it with nothing else (timed). The
ratio env / ceiling is then what the task layer costs on that backend.
"""
from __future__ import annotations

import numpy as np

#: MuJoCo batch state copied by sync (warm start and held forces included)
MUJOCO_STATE = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "xfrc_applied")


class MujocoCeiling:
    def __init__(self, backend):
        from mujoco import batch as mjbatch

        self.src = backend
        self.threads = backend.batch.nthread
        self.bare = mjbatch.Batch(backend.model, backend.batch.nsim, nthread=self.threads, persistent=True)

    def sync(self) -> None:
        """Per-env parameters (randomised mass, size, friction, gains and what set_const derived) and state.
        No forward(): it would re-solve the constraints and hand the ceiling a better warm start (~10%)."""
        from mujoco import batch as mjbatch

        src, bare = self.src.batch, self.bare
        for name in mjbatch.MODEL_FIELDS:
            values = src.expanded(name)
            if values is not None:
                bare.expand(name)[:] = values
        for name in MUJOCO_STATE:
            bare.bind(name)[:] = src.bind(name)

    def step(self, substeps: int) -> None:
        self.bare.step(nstep=substeps)


class MotrixCeiling:
    """A bare ``SceneData`` of the env's MotrixSim model. Held object forces are applied the only way MotrixSim
    allows (before every substep), as the env's backend does; MotrixSim's warm-start lambdas cannot be copied,
    so the ceiling keeps its own (it steps the same states every time, so they stay close)."""

    def __init__(self, backend):
        import motrixsim as mx

        self.src, self.mx = backend, mx
        self.threads = backend.threads
        self.model = backend.model
        self.data = mx.SceneData(self.model, batch=[backend.num_envs])
        self.force = None

    def sync(self) -> None:
        src, d = self.src, self.data
        live = np.flatnonzero(~src._lost)
        self.data = d = self.mx.SceneData(self.model, batch=[len(live)]) if len(live) != d.shape[0] else d
        sub = src.data if len(live) == src.num_envs else src.data[self.mx.DisjointIndices(live)]
        d.reset(self.model, dof_pos=sub.dof_pos, dof_vel=sub.dof_vel, reset_overrides=False)
        d.actuator_ctrls = sub.actuator_ctrls
        link, pairs = src._link, []
        pairs += [(link.get_mass_override, link.set_mass_override),
                  (link.get_inertia_override, link.set_inertia_override),
                  (link.get_center_of_mass_override, link.set_center_of_mass_override),
                  (src._ogeom.get_size_override, src._ogeom.set_size_override),
                  (self.model.get_gravity_override, self.model.set_gravity_override)]
        pairs += [(g.get_friction_override, g.set_friction_override) for g in src._friction_geoms]
        for a in src._actuators:
            pairs += [(a.get_gain_override, a.set_gain_override), (a.get_stiffness_override, a.set_stiffness_override),
                      (a.get_damping_override, a.set_damping_override)]
        for get, put in pairs:
            put(d, get(sub))
        self.force = None if src._force is None else src._force[live]

    def step(self, substeps: int) -> None:
        if self.force is None:
            self.model.step_n(self.data, substeps)
        else:
            for _ in range(substeps):
                self.src._link.add_external_force(self.data, self.force, local=False)
                self.model.step(self.data)


def make_ceiling(backend):
    return {"mujoco": MujocoCeiling, "motrix": MotrixCeiling}[backend.name](backend)
