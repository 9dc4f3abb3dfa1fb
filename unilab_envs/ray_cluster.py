"""Connecting to Ray (an optional extra: ``pip install 'unilab-envs[ray]'``), with errors that name the fix.

Addresses, as ``--ray [ADDRESS]`` and ``training.ray.address`` take them: empty = no Ray; ``local`` = a Ray
instance started on this machine for this command; ``auto`` = the cluster this machine has joined
(``ray start``); ``ray://host:10001`` = a remote cluster through Ray Client. Everything is checked before any
work starts: a missing ``ray`` package or an unreachable address fails at once.
"""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

INSTALL = "pip install 'unilab-envs[ray]' (or: pip install 'ray[tune]')"


class RayUnavailable(RuntimeError):
    """Ray was asked for but is not installed or cannot be reached."""


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise RayUnavailable(f"--ray needs the ray package, which is not installed ({e}); {INSTALL}") from e
    return ray


def connect(address: str | None, num_cpus: int | None = None):
    """The ``ray`` module, initialised for ``address`` (see the module docstring); None for no Ray."""
    if not address:
        return None
    ray = import_ray()
    if ray.is_initialized():
        return ray
    address = str(address).strip()
    kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address not in ("local", "auto"):
        _check_reachable(address)  # Ray itself retries an unreachable address for minutes
    try:
        if address == "local":
            ray.init(num_cpus=num_cpus, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except Exception as e:  # ConnectionError, RuntimeError, ValueError depending on the address kind
        raise RayUnavailable(
            f"cannot reach Ray at --ray {address}: {type(e).__name__}: {e}. Use --ray local for a Ray instance on "
            f"this machine, --ray auto on a machine that joined a cluster with `ray start --address=...`, or "
            f"--ray ray://<head>:10001 for Ray Client") from e
    resources = ray.cluster_resources()
    log.info("Ray at %s: %s CPUs, %s GPUs", address, resources.get("CPU", 0), resources.get("GPU", 0))
    return ray


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A TCP connection to ``[ray://]host:port`` within ``timeout`` seconds, else a clear error."""
    import socket

    hostport = address.removeprefix("ray://")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailable(f"--ray {address}: not an address; give local, auto, host:port or ray://host:10001")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise RayUnavailable(f"cannot reach Ray at --ray {address} ({e}): is the head node up (`ray start --head`) "
                             f"and the port open? Or use --ray local for a Ray instance on this machine") from e


def shutdown() -> None:
    try:
        import ray
    except ImportError:
        return
    if ray.is_initialized():
        ray.shutdown()
