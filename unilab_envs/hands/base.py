"""What a task needs to know about a hand: names, home pose, where the object starts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@dataclass(frozen=True)
class HandSpec:
    """Constants of one hand model (the MJCF file holds geometry, inertia and gains).

    Attributes:
        name: short id used in cache file names and env ids (``allegro``).
        xml_path: MJCF file of the hand alone, mounted palm up.
        joint_names: actuated joints in qpos/ctrl order.
        fingertip_sites: one site per digit at the fingertip contact centre.
        fingertip_geoms: one contact geom per digit (the grasp criteria count their contacts).
        palm_site: a site on the palmar surface; "left the hand" is measured from it.
        home_pose: joint positions of the grasp-generation pose, in ``joint_names`` order.
        object_start: world position of the object centre at grasp-generation start.
        grasp_noise: half-width of the uniform joint noise around ``home_pose`` for grasp search.
        tactile: the fingertip geoms are tactile pads: the scene adds a contact-force sensor per pad.
        camera_pos, camera_lookat: a side view for ``render_mode="rgb_array"``.
    """

    name: str
    xml_path: Path
    joint_names: tuple[str, ...]
    fingertip_sites: tuple[str, ...]
    fingertip_geoms: tuple[str, ...]
    palm_site: str
    home_pose: tuple[float, ...]
    object_start: tuple[float, float, float]
    grasp_noise: float
    tactile: bool = False
    camera_pos: tuple[float, float, float] = (0.25, -0.35, 0.35)
    camera_lookat: tuple[float, float, float] = (0.0, -0.04, 0.08)

    def __post_init__(self) -> None:
        if len(self.home_pose) != len(self.joint_names):
            raise ValueError(f"{self.name}: home_pose has {len(self.home_pose)} values for "
                             f"{len(self.joint_names)} joints")

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)
