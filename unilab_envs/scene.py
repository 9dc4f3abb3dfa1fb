"""Builds the MJCF scene a backend loads: a hand, one free object, a camera and named sensors.

The scene is plain MJCF in MuJoCo's conventions (quaternions wxyz). Every backend loads the same
text; what a task reads from it is named in :class:`SceneLayout`, never addressed by index.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import mujoco
import numpy as np

from .hands import HandSpec
from .hands.collision_audit import drop_audited_exclusions
from .objects import ObjectSpec

OBJECT_BODY = "object"
OBJECT_JOINT = "object_joint"
OBJECT_GEOM = "object_geom"
CAMERA = "side"


@dataclass(frozen=True)
class PhysicsOptions:
    """Solver settings written into the scene's ``<option>``."""

    timestep: float = 1.0 / 120.0  # HORA's: 6 substeps per 20 Hz control step
    impratio: float = 10.0
    integrator: str = "implicitfast"
    cone: str = "elliptic"
    iterations: int = 50
    ls_iterations: int = 10
    noslip_iterations: int = 0
    # Test only the contacts that can happen: the hand's audited self-collision exclusions and a
    # floor that is scenery. False tests every geom pair (the model before the audit), for comparison.
    contact_filter: bool = True


@dataclass(frozen=True)
class SceneLayout:
    """A compiled-ready scene and the names of what tasks read and write."""

    xml: str
    hand: HandSpec
    obj: ObjectSpec
    timestep: float
    object_body: str = OBJECT_BODY
    object_joint: str = OBJECT_JOINT
    object_geom: str = OBJECT_GEOM
    camera: str = CAMERA

    @property
    def contact_sensors(self) -> tuple[str, ...]:
        return tuple(f"{g}_touch" for g in self.hand.fingertip_geoms)

    @property
    def tactile_sensors(self) -> tuple[str, ...]:
        """One net pad-object contact force sensor per fingertip pad; empty for a hand without pads."""
        return tuple(f"{g}_force" for g in self.hand.fingertip_geoms) if self.hand.tactile else ()

    @property
    def model_hash(self) -> str:
        """Digest of the scene text at scale 1: a grasp cache records it to detect model changes."""
        return hashlib.sha256(self.xml.encode()).hexdigest()[:16]


_GEOM = {"sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "box": mujoco.mjtGeom.mjGEOM_BOX,
         "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER}
_INTEGRATOR = {"euler": mujoco.mjtIntegrator.mjINT_EULER, "rk4": mujoco.mjtIntegrator.mjINT_RK4,
               "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
               "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}
_CONE = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}


def _camera_xyaxes(pos, lookat) -> list[float]:
    forward = np.asarray(lookat, float) - np.asarray(pos, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return [*right, *up]


def build_scene(hand: HandSpec, obj: ObjectSpec, options: PhysicsOptions = PhysicsOptions()) -> SceneLayout:
    """Attach ``obj`` (free joint, at ``hand.object_start``) to the hand model and add sensors."""
    for key, table in (("integrator", _INTEGRATOR), ("cone", _CONE)):
        if getattr(options, key) not in table:
            raise ValueError(f"physics.{key}={getattr(options, key)!r}; choose one of {sorted(table)}")
    for key, low in (("timestep", 0.0), ("impratio", 0.0), ("iterations", 0), ("ls_iterations", 0)):
        if not getattr(options, key) > low:
            raise ValueError(f"config key 'physics.{key}' = {getattr(options, key)!r}: must be > {low}")
    spec = mujoco.MjSpec.from_file(str(hand.xml_path))
    spec.modelname = f"{hand.name}_{obj.name}"
    if not options.contact_filter:
        drop_audited_exclusions(spec)
    opt = spec.option
    opt.timestep = options.timestep
    opt.impratio = options.impratio
    opt.integrator = _INTEGRATOR[options.integrator]
    opt.cone = _CONE[options.cone]
    opt.iterations = options.iterations
    opt.ls_iterations = options.ls_iterations
    opt.noslip_iterations = options.noslip_iterations

    world = spec.worldbody
    world.add_light(name="top", pos=[0, 0, 1.5], dir=[0, 0, -1], type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL)
    # The floor is scenery: every task ends an episode long before the object could reach it (the
    # hand is fixed), so it takes no part in collision detection.
    collides = 0 if options.contact_filter else 1
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0.5, 0.5, 0.05],
                   pos=[0, 0, -0.15], rgba=[0.8, 0.8, 0.82, 1], contype=collides, conaffinity=collides)
    world.add_camera(name=CAMERA, pos=list(hand.camera_pos),
                     xyaxes=_camera_xyaxes(hand.camera_pos, hand.camera_lookat))

    body = world.add_body(name=OBJECT_BODY, pos=list(hand.object_start))
    body.add_freejoint(name=OBJECT_JOINT)
    body.simple = False  # the centre of mass is randomised per env, so body and inertial frames differ
    # Mass on the geom: MuJoCo derives the solid shape's inertia (to_xml keeps it, unlike <inertial>).
    size = list(obj.size) + [0.0] * (3 - len(obj.size))
    body.add_geom(name=OBJECT_GEOM, type=_GEOM[obj.geom_type], size=size, mass=obj.mass,
                  friction=list(obj.friction), condim=6, priority=1,
                  solimp=list(obj.solimp), solref=list(obj.solref), rgba=[0.85, 0.35, 0.1, 1])
    body.add_site(name="object_site", size=[0.004, 0, 0], rgba=[0, 0, 0, 0], group=4)

    sens = mujoco.mjtSensor
    xbody = mujoco.mjtObj.mjOBJ_XBODY
    spec.add_sensor(name="object_pos", type=sens.mjSENS_FRAMEPOS, objtype=xbody, objname=OBJECT_BODY)
    spec.add_sensor(name="object_quat", type=sens.mjSENS_FRAMEQUAT, objtype=xbody, objname=OBJECT_BODY)
    spec.add_sensor(name="object_linvel", type=sens.mjSENS_FRAMELINVEL, objtype=xbody, objname=OBJECT_BODY)
    spec.add_sensor(name="object_angvel", type=sens.mjSENS_FRAMEANGVEL, objtype=xbody, objname=OBJECT_BODY)
    for site in hand.fingertip_sites:
        spec.add_sensor(name=f"{site}_pos", type=sens.mjSENS_FRAMEPOS,
                        objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site)
    spec.add_sensor(name="palm_pos", type=sens.mjSENS_FRAMEPOS, objtype=mujoco.mjtObj.mjOBJ_SITE,
                    objname=hand.palm_site)
    for geom in hand.fingertip_geoms:
        # data="found" (bit 0), reduce="mindist" (1), num=1: 1 while the tip touches the object.
        # geom1/geom2 (not body2): MotrixSim's MJCF loader requires both sides of one kind.
        spec.add_sensor(name=f"{geom}_touch", type=sens.mjSENS_CONTACT, objtype=mujoco.mjtObj.mjOBJ_GEOM,
                        objname=geom, reftype=mujoco.mjtObj.mjOBJ_GEOM, refname=OBJECT_GEOM,
                        intprm=[1, 1, 1])
    if hand.tactile:
        # data="force" (bit 1), reduce="netforce" (3): the net pad-object contact force, world frame (N).
        force_bit = 1 << int(mujoco.mjtConDataField.mjCONDATA_FORCE)
        for geom in hand.fingertip_geoms:
            spec.add_sensor(name=f"{geom}_force", type=sens.mjSENS_CONTACT, objtype=mujoco.mjtObj.mjOBJ_GEOM,
                            objname=geom, reftype=mujoco.mjtObj.mjOBJ_GEOM, refname=OBJECT_GEOM,
                            intprm=[force_bit, 3, 1])
    spec.compile()  # raise here, with MuJoCo's message, if anything above is wrong
    return SceneLayout(xml=spec.to_xml(), hand=hand, obj=obj, timestep=options.timestep)
