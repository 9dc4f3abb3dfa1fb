"""Exceptions raised by the grasp-cache subsystem.

All of them derive from :class:`GraspCacheError`, so callers that only care
whether a usable cache was obtained can catch that single type.
"""

from __future__ import annotations

__all__ = ["GraspCacheError", "GraspCacheMissing", "GraspCacheStale", "GraspCacheCorrupt"]


class GraspCacheError(Exception):
    """Base class for every grasp-cache failure."""


class GraspCacheMissing(GraspCacheError, FileNotFoundError):
    """No cache file exists at the requested location (or anywhere we looked)."""


class GraspCacheStale(GraspCacheError):
    """The cache is well-formed but was made for another model/hand/object/scale/columns."""


class GraspCacheCorrupt(GraspCacheError):
    """The cache (or its JSON sidecar) is unreadable or fails validation.

    Covers unreadable files, wrong dtype/shape, NaN/inf values, non-unit
    quaternions, empty arrays, and missing or unreadable metadata.
    """
