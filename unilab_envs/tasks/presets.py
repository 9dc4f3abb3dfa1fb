"""Each hand's task configs: the defaults ``gym.make`` and ``train`` start from.

Allegro's are the dataclass defaults (HORA's conventions). A second hand is a hand spec, an MJCF
file and an entry here: the deviations from those defaults that its model and task want.
"""
from __future__ import annotations

import math

from ..scene import PhysicsOptions
from .config import DomainRandConfig, GraspConfig, InhandRotationConfig, RewardScales

#: HORA's timing, as Allegro: 6 x 1/120 s = 20 Hz control. UniLab steps Sharpa at 12 x 1/240 s for its object's
#: solref 0.01 (MuJoCo raises it to 2 dt = 0.0167 s at 1/120); the README compares the two (hold rates, yield).
#: impratio 3, not Allegro's 10: at 10 the light, small object was sometimes ejected at unphysical speed (a friction
#: overshoot); 3 removes nearly all of it and keeps the hold rates (README, "Timing and stability").
_SHARPA_PHYSICS = PhysicsOptions(impratio=3.0)
SHARPA_SCALES = (0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6)

ROTATION: dict[str, InhandRotationConfig] = {
    "allegro": InhandRotationConfig(),
    "sharpa": InhandRotationConfig(
        hand="sharpa", object_type="small_cylinder", physics=_SHARPA_PHYSICS,
        rotation_sign=1.0,                    # counter-clockwise about world +z, seen from above
        termination_height=0.45,              # below the palm (at 0.5 m): the height band ends episodes first
        max_palm_distance=0.16, height_band=0.02,
        rewards=RewardScales(rotate=2.5, object_linvel=-0.3, pose_diff=-0.4, torque=-0.1, work=-0.5,
                             object_pos=0.25),
        domain_rand=DomainRandConfig(
            friction_range=(0.75, 1.25), friction_relative=True, scale_list=SHARPA_SCALES, scale_jitter=0.0,
            kp_scale_range=(0.5, 2.0), kv_scale_range=(0.5, 2.0), gravity_tilt=True, gravity_tilt_max=0.1,
            tactile_latency=0.05),
    ),
}

GRASP: dict[str, GraspConfig] = {
    "allegro": GraspConfig(),
    "sharpa": GraspConfig(
        hand="sharpa", object_type="small_cylinder", physics=_SHARPA_PHYSICS,
        object_noise=0.0, min_tip_contacts=3, min_tactile_force=0.5, min_object_height=0.55,
        max_height_change=0.005, max_orientation_change=math.radians(30.0)),
}


def _get(table: dict, hand: str, what: str):
    try:
        return table[hand]
    except KeyError:
        raise ValueError(f"no {what} config for hand {hand!r}; configured hands: {sorted(table)}") from None


def rotation_config(hand: str = "allegro") -> InhandRotationConfig:
    """The in-hand rotation defaults of ``hand``."""
    return _get(ROTATION, hand, "rotation")


def grasp_config(hand: str = "allegro") -> GraspConfig:
    """The grasp-generation defaults of ``hand``."""
    return _get(GRASP, hand, "grasp")
