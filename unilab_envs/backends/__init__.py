"""Physics backends, imported lazily so that an uninstalled one costs nothing until asked for."""
from __future__ import annotations

import importlib

from .base import PARAM_SHAPES, ObjectState, PhysicsBackend

#: name -> (module, class, pip requirement that provides it)
BACKENDS = {
    "mujoco": ("unilab_envs.backends.mujoco_batch", "MujocoBatchBackend", "mujoco>=4.0"),
}


def make_backend(name: str, layout, num_envs: int, **kwargs) -> PhysicsBackend:
    """Instantiate backend ``name`` on ``layout`` with ``num_envs`` simulations."""
    if name not in BACKENDS:
        raise ValueError(f"unknown physics backend sim={name!r}; available: {sorted(BACKENDS)}")
    module_name, cls_name, requirement = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"physics backend {name!r} needs {requirement!r}, which failed to import "
                          f"({exc}). Install it with: pip install '{requirement}'") from exc
    return getattr(module, cls_name)(layout, num_envs, **kwargs)


__all__ = ["BACKENDS", "PARAM_SHAPES", "ObjectState", "PhysicsBackend", "make_backend"]
