"""Reading and writing grasp caches: a float32 ``.npy`` array plus a JSON sidecar.

A cache for one hand/object/scale is stored as ``<prefix>_<scale>.npy`` with its
metadata in ``<prefix>_<scale>.json`` next to it. Each row is one stable start
state (joint positions, object position, object quaternion wxyz), with the
column names recorded in the metadata.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import shlex
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GraspCacheCorrupt, GraspCacheMissing, GraspCacheStale

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
QUAT_COLUMNS: tuple[str, ...] = ("obj_qw", "obj_qx", "obj_qy", "obj_qz")
DEFAULT_COLUMNS: tuple[str, ...] = (
    tuple(f"q{i}" for i in range(16)) + ("obj_x", "obj_y", "obj_z") + QUAT_COLUMNS
)
SCALE_TOL = 1e-6
QUAT_NORM_TOL = 1e-3


def format_scale(scale: float) -> str:
    """Format ``scale`` compactly for file names: 1.0 -> "1.0", 0.9 -> "0.9", 0.85 -> "0.85"."""
    value = float(scale)
    if not math.isfinite(value):
        raise ValueError(f"scale must be finite, got {scale!r}")
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def cache_filename(prefix: str, scale: float) -> str:
    """Return ``<prefix>_<scale>.npy``, e.g. ``allegro_ball_grasp_1.0.npy``."""
    return f"{prefix}_{format_scale(scale)}.npy"


def sidecar_path(npy_path: str | os.PathLike) -> Path:
    """Return the JSON sidecar path for a cache file (``x_1.0.npy`` -> ``x_1.0.json``)."""
    p = Path(npy_path)
    stem = p.name[:-4] if p.name.endswith(".npy") else p.name
    return p.with_name(stem + ".json")


@dataclass(frozen=True)
class CacheKey:
    """Identifies the grasp cache one environment needs.

    ``prefix`` defaults to ``f"{hand}_{object_type}_grasp"``; ``columns`` is
    coerced to a tuple and ``scale`` to a float.
    """

    hand: str
    object_type: str
    scale: float
    model_hash: str
    columns: tuple[str, ...] = DEFAULT_COLUMNS
    prefix: str = field(default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "columns", tuple(self.columns))
        if not self.prefix:
            object.__setattr__(self, "prefix", f"{self.hand}_{self.object_type}_grasp")

    @property
    def filename(self) -> str:
        """``<prefix>_<scale>.npy``."""
        return cache_filename(self.prefix, self.scale)


def generate_command(key: CacheKey, path: str | os.PathLike | None = None) -> str:
    """Shell command that (re)generates the cache for ``key``: into the local cache folder, or at ``path`` (a
    ``<prefix>_<scale>.npy`` file, written through ``--out <prefix>``)."""
    command = (f"python -m unilab_envs.collect_grasps --hand {key.hand} --object {key.object_type} "
               f"--scale {format_scale(key.scale)} --num-grasps 5000")
    if path is None:
        return command
    path, suffix = Path(path).expanduser(), f"_{format_scale(key.scale)}.npy"
    if path.name.endswith(suffix):
        return f"{command} --out {shlex.quote(str(path)[:-len(suffix)])}"
    prefix = path.with_suffix("")  # collect_grasps names its files <prefix>_<scale>.npy
    return (f"{command} --out {shlex.quote(str(prefix))}   (it writes {prefix}{suffix}: point the env there, "
            f"or give it {prefix})")


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("unilab-envs")
    except Exception:
        return "unknown"


def _array_digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def _validate_values(arr: np.ndarray, columns: tuple[str, ...], exc: type[Exception], where: str) -> None:
    """Shape/finite/quaternion checks shared by save and load; raises ``exc``."""
    if arr.ndim != 2:
        raise exc(f"{where}: expected a 2-D array, got shape {arr.shape}")
    if arr.shape[1] != len(columns):
        raise exc(f"{where}: expected {len(columns)} columns {list(columns)}, got shape {arr.shape}")
    if arr.shape[0] < 1:
        raise exc(f"{where}: contains no grasps (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr).all(axis=1)))
        raise exc(f"{where}: {bad} row(s) contain NaN or inf")
    if all(c in columns for c in QUAT_COLUMNS):
        idx = [columns.index(c) for c in QUAT_COLUMNS]
        norms = np.linalg.norm(arr[:, idx].astype(np.float64), axis=1)
        off = np.abs(norms - 1.0) > QUAT_NORM_TOL
        if off.any():
            row = int(np.argmax(off))
            raise exc(
                f"{where}: {int(off.sum())} quaternion(s) not unit norm "
                f"(tol {QUAT_NORM_TOL}); first at row {row} with norm {norms[row]:.6f}"
            )


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _atomic_tmp(directory: Path, name: str, write) -> Path:
    """Write via ``write(fileobj)`` into a fsynced temp file in ``directory``; return its path."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a cache is shared like any file
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Write ``path`` via ``write(fileobj)`` atomically: fsynced temp file, rename, fsynced folder."""
    path = Path(path)
    tmp = _atomic_tmp(path.parent, path.name, write)
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_grasps(
    path: str | os.PathLike,
    grasps: np.ndarray,
    key: CacheKey,
    criteria: dict,
    extra: dict | None = None,
    backend: str = "mujoco",
) -> Path:
    """Validate ``grasps`` and write them atomically with a JSON sidecar; return the .npy path.

    ``path`` is the target ``.npy`` file, or an existing directory (then
    ``path / key.filename`` is used). Everything is validated before any file
    is touched, so a failed save leaves an existing cache intact.

    Write order: both files are first written to fsynced temp files in the
    target directory; then the JSON is ``os.replace``-d into place, then the
    ``.npy``. A reader therefore never sees a new array with old metadata. ``backend`` records the physics
    backend that made the grasps (``sim``); any backend of the same model (hash) accepts the cache. The
    sidecar also records ``num_grasps`` and ``array_sha256``, so a torn pair
    (crash between the two renames) is detected by :func:`load_grasps` as corrupt.
    """
    target = Path(path)
    if target.is_dir():
        target = target / key.filename
    arr = np.asarray(grasps)
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"grasps must be a real numeric array, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    _validate_values(arr, key.columns, ValueError, f"refusing to save grasp cache {target}")

    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "hand": key.hand,
        "object_type": key.object_type,
        "scale": key.scale,
        "columns": list(key.columns),
        "model_hash": key.model_hash,
        "backend": str(backend),
        "criteria": dict(criteria),
        "num_grasps": int(arr.shape[0]),
        "array_sha256": _array_digest(arr),
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(),
        "unilab_envs_version": _package_version(),
        "extra": dict(extra or {}),
    }
    try:  # serialize before touching the disk
        meta_bytes = (json.dumps(meta, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    except (TypeError, ValueError) as e:
        raise ValueError(f"criteria/extra must be JSON-serializable: {e}") from e

    target.parent.mkdir(parents=True, exist_ok=True)
    json_target = sidecar_path(target)
    tmp_json = tmp_npy = None
    try:
        tmp_json = _atomic_tmp(target.parent, json_target.name, lambda f: f.write(meta_bytes))
        tmp_npy = _atomic_tmp(target.parent, target.name, lambda f: np.save(f, arr, allow_pickle=False))
        os.replace(tmp_json, json_target)
        tmp_json = None
        os.replace(tmp_npy, target)
        tmp_npy = None
        _fsync_dir(target.parent)
    finally:
        for tmp in (tmp_json, tmp_npy):
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    logger.debug("wrote %d grasps to %s", arr.shape[0], target)
    return target


def read_metadata(path: str | os.PathLike) -> dict:
    """Read the JSON sidecar of cache ``path``; raise :class:`GraspCacheCorrupt` if absent/unreadable."""
    meta_path = sidecar_path(path)
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise GraspCacheCorrupt(f"grasp cache {path}: metadata sidecar {meta_path} is missing") from None
    except (OSError, ValueError) as e:
        raise GraspCacheCorrupt(f"grasp cache {path}: metadata sidecar {meta_path} is unreadable: {e}") from e
    if not isinstance(meta, dict):
        raise GraspCacheCorrupt(f"grasp cache {path}: metadata sidecar {meta_path} is not a JSON object")
    return meta


def _check_stale(path: Path, meta: dict, expected: CacheKey) -> None:
    """Raise :class:`GraspCacheStale` naming the first metadata field that differs from ``expected``."""
    for name in ("format_version", "hand", "object_type", "scale", "columns", "model_hash"):
        exp = FORMAT_VERSION if name == "format_version" else getattr(expected, name)
        got = meta.get(name)
        if name == "columns" and isinstance(got, list):
            got = tuple(got)
        if name == "scale":
            same = isinstance(got, (int, float)) and abs(float(got) - exp) <= SCALE_TOL
        else:
            same = got == exp
        if not same:
            raise GraspCacheStale(
                f"grasp cache {path} is stale: {name} differs (expected {exp!r}, found {got!r}). "
                f"Regenerate it with:\n  {generate_command(expected, path)}"
            )


def load_grasps(path: str | os.PathLike, expected: CacheKey) -> np.ndarray:
    """Load and validate the cache at ``path`` (a ``.npy`` file) against ``expected``.

    Returns a read-only float32 array of shape ``(N, len(expected.columns))``.
    Raises :class:`GraspCacheMissing`, :class:`GraspCacheCorrupt` or
    :class:`GraspCacheStale` (metadata is checked for staleness before the
    array contents are validated).
    """
    path = Path(path)
    if not path.is_file():
        raise GraspCacheMissing(f"grasp cache {path} does not exist")
    meta = read_metadata(path)
    _check_stale(path, meta, expected)
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as e:
        raise GraspCacheCorrupt(f"grasp cache {path} is unreadable: {type(e).__name__}: {e}") from e
    if not isinstance(arr, np.ndarray):
        raise GraspCacheCorrupt(f"grasp cache {path} is not a single .npy array")
    if arr.dtype != np.float32:
        raise GraspCacheCorrupt(f"grasp cache {path}: expected dtype float32, got {arr.dtype}")
    _validate_values(arr, expected.columns, GraspCacheCorrupt, f"grasp cache {path}")
    if meta.get("num_grasps") != arr.shape[0]:
        raise GraspCacheCorrupt(
            f"grasp cache {path}: metadata says {meta.get('num_grasps')!r} grasps, array has {arr.shape[0]}"
        )
    digest = meta.get("array_sha256")
    if digest is not None and digest != _array_digest(arr):
        raise GraspCacheCorrupt(f"grasp cache {path}: array checksum does not match its metadata")
    arr.setflags(write=False)
    return arr
