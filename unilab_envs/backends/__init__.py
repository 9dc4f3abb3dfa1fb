"""Physics backends, imported lazily so that an uninstalled one costs nothing until asked for."""
from __future__ import annotations

import importlib

from .base import PARAM_SHAPES, ObjectState, PhysicsBackend, host

#: name -> (module, class, pip requirement that provides it)
BACKENDS = {
    "mujoco": ("unilab_envs.backends.mujoco_batch", "MujocoBatchBackend", "mujoco>=4.0"),
    "motrix": ("unilab_envs.backends.motrix", "MotrixBackend", "unilab-envs[motrix]"),
    "mjwarp": ("unilab_envs.backends.mjwarp", "MjwarpBackend", "unilab-envs[mjwarp]"),
}
#: name -> the physics devices it can run on (``sim_device``; None picks the first)
DEVICES = {"mujoco": ("cpu",), "motrix": ("cpu",), "mjwarp": ("cuda", "cpu")}


def check_device(name: str, device: str | None) -> str:
    """The physics device for backend ``name``: ``device`` if the backend runs there, else a clear error
    (legged_gym's ``--sim-device``); None: the backend's own choice (MuJoCo Warp: a GPU if there is one)."""
    devices = DEVICES.get(name, ("cpu",))
    if device is None:
        return devices[0] if len(devices) == 1 else None
    kind = str(device).split(":")[0].strip().lower()
    if kind not in devices:
        raise ValueError(f"sim_device={device!r}: the {name!r} physics backend runs on {', '.join(devices)} only; "
                         f"use --sim-device {devices[0]} (env.sim_device={devices[0]}), or a backend that runs on "
                         f"{kind} (available: {sorted(BACKENDS)})")
    return str(device)


#: name -> the array namespaces its readings can come in (``arrays``; the first is its own, what "auto" picks)
ARRAYS = {"mujoco": ("numpy",), "motrix": ("numpy",), "mjwarp": ("torch", "numpy")}


def resolve_arrays(name: str, arrays: str) -> str:
    """``"numpy"`` or ``"torch"``: the env's array namespace on backend ``name`` (``"auto"``: the backend's own,
    torch tensors on its device for MuJoCo Warp, host numpy for the CPU engines); a clear error otherwise."""
    own = ARRAYS.get(name, ("numpy",))
    if arrays == "auto":
        return own[0]
    if arrays not in ("numpy", "torch"):
        raise ValueError(f"arrays={arrays!r}; choose 'auto' (the backend's own), 'numpy' or 'torch'")
    if arrays not in own:
        raise ValueError(f"arrays={arrays!r} on sim={name!r}: its readings are host numpy arrays; use arrays='numpy' "
                         f"(or 'auto') and wrap the env in gymnasium.wrappers.vector.NumpyToTorch for tensors, or use "
                         f"sim='mjwarp', whose arrays live on its device")
    return arrays


#: name -> the SimOptions keys it takes
OPTIONS = {"mjwarp": ("nconmax", "njmax")}


def backend_options(name: str, sim_options) -> dict:
    """The set (non-null) fields of ``sim_options`` as keyword arguments of backend ``name``; a clear error for
    an option this backend does not have."""
    import dataclasses

    given = {k: v for k, v in dataclasses.asdict(sim_options).items() if v is not None}
    wrong = sorted(set(given) - set(OPTIONS.get(name, ())))
    if wrong:
        owners = sorted(b for b, keys in OPTIONS.items() if set(wrong) <= set(keys))
        raise ValueError(f"sim_options.{wrong[0]}={given[wrong[0]]!r} has no effect on sim={name!r}: it is an option "
                         f"of sim={', '.join(owners) or '?'}; leave it null (its default) for sim={name!r}")
    return given


def make_backend(name: str, layout, num_envs: int, device: str | None = None, **kwargs) -> PhysicsBackend:
    """Instantiate backend ``name`` on ``layout`` with ``num_envs`` simulations on physics device ``device``
    (None: the backend's default). ``arrays="torch"`` asks a backend that has them for device tensors
    (``resolve_arrays``); by default every backend reads into host numpy arrays."""
    if name not in BACKENDS:
        raise ValueError(f"unknown physics backend sim={name!r}; available: {sorted(BACKENDS)}")
    check_device(name, device)
    module_name, cls_name, requirement = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"physics backend {name!r} needs {requirement!r}, which failed to import "
                          f"({exc}). Install it with: pip install '{requirement}'"
                          + (" (from a clone: pip install -e '.[" + requirement.split("[")[1].rstrip("]") + "]')"
                             if "[" in requirement else "")) from exc
    if len(DEVICES.get(name, ("cpu",))) > 1:  # a backend with a device choice is told which
        kwargs["device"] = device
    arrays = resolve_arrays(name, kwargs.pop("arrays", "numpy"))
    if len(ARRAYS.get(name, ())) > 1:  # likewise the array namespace
        kwargs["arrays"] = arrays
    return getattr(module, cls_name)(layout, num_envs, **kwargs)


__all__ = ["ARRAYS", "BACKENDS", "DEVICES", "OPTIONS", "PARAM_SHAPES", "ObjectState", "PhysicsBackend",
           "backend_options", "check_device", "host", "make_backend", "resolve_arrays"]
