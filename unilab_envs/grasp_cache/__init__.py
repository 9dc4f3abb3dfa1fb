"""Grasp caches: stable start states for in-hand rotation episodes.

A cache is a float32 ``(N, len(columns))`` ``.npy`` array named
``<prefix>_<scale>.npy`` with a JSON metadata sidecar ``<prefix>_<scale>.json``.
Use :func:`resolve_grasp_cache` to find one (explicit path, local cache dir, the
caches shipped in the package, Hugging Face Hub, or in-process generation) and :func:`save_grasps` to write one.
"""

from .errors import GraspCacheCorrupt, GraspCacheError, GraspCacheMissing, GraspCacheStale
from .resolver import (
    DEFAULT_HUB_REPO_ID,
    SHIPPED_DIR,
    ResolvedCache,
    default_cache_dir,
    resolve_grasp_cache,
)
from .store import (
    DEFAULT_COLUMNS,
    FORMAT_VERSION,
    QUAT_COLUMNS,
    CacheKey,
    cache_filename,
    format_scale,
    generate_command,
    load_grasps,
    read_metadata,
    save_grasps,
    sidecar_path,
)

__all__ = [
    "CacheKey",
    "DEFAULT_COLUMNS",
    "DEFAULT_HUB_REPO_ID",
    "FORMAT_VERSION",
    "GraspCacheCorrupt",
    "GraspCacheError",
    "GraspCacheMissing",
    "GraspCacheStale",
    "QUAT_COLUMNS",
    "SHIPPED_DIR",
    "ResolvedCache",
    "cache_filename",
    "default_cache_dir",
    "format_scale",
    "generate_command",
    "load_grasps",
    "read_metadata",
    "resolve_grasp_cache",
    "save_grasps",
    "sidecar_path",
]
