"""The objects a hand spins: primitive shapes at scale 1, scaled per env at reset."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectSpec:
    """A rigid primitive. ``size`` is MuJoCo's geom size at scale 1 (radius / half-sizes).

    The mass sits on the geom, so MuJoCo derives the solid shape's inertia from it. The object
    has contact priority: its friction, solref and solimp govern every contact it makes.
    """

    name: str
    geom_type: str  # MJCF geom type
    size: tuple[float, ...]
    mass: float = 0.05
    friction: tuple[float, float, float] = (2.0, 0.05, 0.01)
    solref: tuple[float, float] = (0.02, 1.0)
    solimp: tuple[float, ...] = (0.9, 0.95, 0.001, 0.5, 2.0)


OBJECTS: dict[str, ObjectSpec] = {
    "ball": ObjectSpec("ball", "sphere", (0.04,)),
    "cube": ObjectSpec("cube", "box", (0.03, 0.03, 0.03)),
    "cylinder": ObjectSpec("cylinder", "cylinder", (0.035, 0.03)),
    # UniLab's Sharpa object (docs/specs/sharpa_wave.md section 6): r 2 cm, 3.2 cm tall at scale 1.
    "small_cylinder": ObjectSpec("small_cylinder", "cylinder", (0.02, 0.016), friction=(2.0, 0.1, 0.02),
                                 solref=(0.01, 1.0), solimp=(0.95, 0.99, 0.001, 0.5, 2.0)),
}


def get_object(name: str) -> ObjectSpec:
    try:
        return OBJECTS[name]
    except KeyError:
        raise ValueError(f"unknown object_type {name!r}; choose one of {sorted(OBJECTS)}") from None
