"""The objects a hand spins: primitive shapes at scale 1, scaled per env at reset."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObjectSpec:
    """A rigid primitive. ``size`` is MuJoCo's geom size at scale 1 (radius / half-sizes)."""

    name: str
    geom_type: str  # MJCF geom type
    size: tuple[float, ...]
    mass: float = 0.05
    friction: tuple[float, float, float] = (2.0, 0.05, 0.01)

    def unit_inertia(self) -> np.ndarray:
        """Principal inertia per kg of mass of the solid shape at scale 1 (multiply by m s^2)."""
        if self.geom_type == "sphere":
            r = self.size[0]
            return np.full(3, 0.4 * r * r)
        if self.geom_type == "box":
            x, y, z = (2 * s for s in self.size)
            return np.array([y * y + z * z, x * x + z * z, x * x + y * y]) / 12.0
        if self.geom_type == "cylinder":
            r, h = self.size[0], 2 * self.size[1]
            side = (3 * r * r + h * h) / 12.0
            return np.array([side, side, 0.5 * r * r])
        raise ValueError(f"no inertia formula for geom type {self.geom_type!r}")

    def bounding_radius(self, scale: float = 1.0) -> float:
        """Radius of the sphere around the centre that holds the shape."""
        if self.geom_type == "sphere":
            return self.size[0] * scale
        if self.geom_type == "box":
            return float(np.linalg.norm(self.size)) * scale
        return float(np.hypot(self.size[0], self.size[1])) * scale


OBJECTS: dict[str, ObjectSpec] = {
    "ball": ObjectSpec("ball", "sphere", (0.04,)),
    "cube": ObjectSpec("cube", "box", (0.03, 0.03, 0.03)),
    "cylinder": ObjectSpec("cylinder", "cylinder", (0.035, 0.03)),
}


def get_object(name: str) -> ObjectSpec:
    try:
        return OBJECTS[name]
    except KeyError:
        raise ValueError(f"unknown object_type {name!r}; choose one of {sorted(OBJECTS)}") from None
