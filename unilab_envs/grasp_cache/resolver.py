"""Find a usable grasp cache: explicit path, local cache dir, the package's shipped caches, the
Hugging Face Hub, or generate.

:func:`resolve_grasp_cache` never invents a fallback pose: if no valid cache is
found it raises :class:`GraspCacheMissing` listing every place it looked and
the command that creates the cache.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .errors import GraspCacheCorrupt, GraspCacheError, GraspCacheMissing, GraspCacheStale
from .store import CacheKey, format_scale, generate_command, load_grasps, sidecar_path

logger = logging.getLogger(__name__)

DEFAULT_HUB_REPO_ID = "unilab/grasp-caches"
#: default caches that ship inside the package (one per registered rotation env and default scale)
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "assets" / "grasps"
HUB_REPO_ENV = "UNILAB_GRASP_HUB_REPO"
_FROM_ENV = object()  # sentinel: read the hub repo id from the environment

__all__ = [
    "DEFAULT_HUB_REPO_ID",
    "SHIPPED_DIR",
    "ResolvedCache",
    "default_cache_dir",
    "generate_command",
    "resolve_grasp_cache",
]


def default_cache_dir() -> Path:
    """``$UNILAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/unilab_envs/grasps``, else ``~/.cache/unilab_envs/grasps``."""
    explicit = os.environ.get("UNILAB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "unilab_envs" / "grasps"


@dataclass
class ResolvedCache:
    """A validated grasp cache and where it came from."""

    path: Path
    source: str  # "explicit" | "local" | "shipped" | "hub" | "generated"
    grasps: np.ndarray


def _explicit_candidates(explicit_path: str | os.PathLike, key: CacheKey) -> list[Path]:
    """Exact file first; then ``<prefix>_<scale>.npy`` (a trailing ``.npy`` is stripped); dirs use key.filename."""
    p = Path(explicit_path).expanduser()
    if p.is_file():
        return [p]
    if p.is_dir():
        return [p, p / key.filename]
    base = str(p)[:-4] if str(p).endswith(".npy") else str(p)
    return [p, Path(f"{base}_{format_scale(key.scale)}.npy")]


def _hub_offline() -> bool:
    """True if HF_HUB_OFFLINE is set now (huggingface_hub only reads it at import time)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.is_offline_mode())
    except Exception:
        return False


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _download_from_hub(repo_id: str, key: CacheKey, cache_dir: Path, timeout: float) -> Path:
    """Download the sidecar, then the array, into ``cache_dir``; return the .npy path.

    ``hf_hub_download`` retries network errors with exponential backoff (~25 s)
    when no local copy exists, so a single no-retry HEAD request with
    ``timeout`` is made first; an unreachable hub or missing file fails fast.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, not at import time
    url = hf_hub_url(repo_id, key.filename, repo_type="dataset", endpoint=endpoint)
    get_hf_file_metadata(url, timeout=timeout, endpoint=endpoint)  # fail-fast probe
    common = dict(repo_type="dataset", local_dir=cache_dir, etag_timeout=timeout, endpoint=endpoint)
    hf_hub_download(repo_id, filename=sidecar_path(key.filename).name, **common)
    return Path(hf_hub_download(repo_id, filename=key.filename, **common))


def _from_folder(source: str, path: Path, key: CacheKey, tried: list[str], log: logging.Logger) -> ResolvedCache | None:
    """The valid cache at ``path``, or None with the reason appended to ``tried`` (a stale or corrupt file
    is reported and skipped, never deleted)."""
    if not path.is_file():
        tried.append(f"{source}: {path}: not found")
        return None
    try:
        return ResolvedCache(path, source, load_grasps(path, key))
    except (GraspCacheStale, GraspCacheCorrupt) as e:
        log.warning("ignoring %s grasp cache %s: %s", source, path, e)
        tried.append(f"{source}: {path}: {type(e).__name__}: {e}")
        return None


def resolve_grasp_cache(
    key: CacheKey,
    *,
    explicit_path: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    hub_repo_id: str | None | object = _FROM_ENV,
    shipped_dir: str | os.PathLike | None = SHIPPED_DIR,
    allow_generate: bool = False,
    generate: Callable[[Path], None] | None = None,
    hub_timeout: float = 5.0,
    log: logging.Logger = logger,
) -> ResolvedCache:
    """Return a validated grasp cache for ``key``.

    Order: (a) ``explicit_path`` -- if given it must exist and validate, with no
    fallback; it may be the ``.npy`` file, a directory, or a prefix
    (``caches/my_grasp`` -> ``caches/my_grasp_1.0.npy``); (b) ``cache_dir /
    key.filename`` (default :func:`default_cache_dir`); stale/corrupt files are
    logged and skipped, never deleted: a user's own cache wins; (b2) ``shipped_dir
    / key.filename``, the caches that ship with the package (``None`` skips them);
    (c) the Hugging Face Hub dataset
    ``hub_repo_id`` (default ``$UNILAB_GRASP_HUB_REPO`` or
    :data:`DEFAULT_HUB_REPO_ID`; ``""`` or ``None`` disables it; skipped when
    ``HF_HUB_OFFLINE=1``), downloaded into ``cache_dir``; (d) if
    ``allow_generate`` and ``generate`` is given, ``generate(cache_dir /
    key.filename)`` and then validate that file; (e) raise
    :class:`GraspCacheMissing` listing every place tried.
    """
    if explicit_path is not None:
        candidates = _explicit_candidates(explicit_path, key)
        for cand in candidates:
            if cand.is_file():
                try:
                    return ResolvedCache(cand, "explicit", load_grasps(cand, key))
                except GraspCacheError as e:
                    raise type(e)(
                        f"explicit grasp cache path {str(explicit_path)!r} is unusable "
                        f"(no fallback is attempted when a path is given): {e}"
                    ) from e
        tried_paths = ", ".join(str(c) for c in candidates)
        suffix = f"_{format_scale(key.scale)}.npy"  # the file the command below writes: the given one if it can
        target = candidates[0] if candidates[0].name.endswith(suffix) else candidates[-1]
        raise GraspCacheMissing(
            f"explicit grasp cache path {str(explicit_path)!r} not found (tried {tried_paths}); "
            f"no fallback is attempted when a path is given. Create it with:\n  {generate_command(key, target)}"
        )

    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    local = cache_dir / key.filename
    tried: list[str] = []

    # (b) the local cache folder (a user's own cache wins), then (b2) the caches shipped in the package
    folders = [("local", cache_dir)] + ([("shipped", Path(shipped_dir))] if shipped_dir is not None else [])
    for source, folder in folders:
        found = _from_folder(source, folder / key.filename, key, tried, log)
        if found is not None:
            return found

    # (c) Hugging Face Hub
    repo_id = os.environ.get(HUB_REPO_ENV, DEFAULT_HUB_REPO_ID) if hub_repo_id is _FROM_ENV else hub_repo_id
    if not repo_id:
        tried.append("hub: disabled (empty hub_repo_id / UNILAB_GRASP_HUB_REPO)")
    elif _hub_offline():
        log.info("grasp cache: HF_HUB_OFFLINE is set, not downloading %s from %s", key.filename, repo_id)
        tried.append(f"hub: {repo_id}/{key.filename}: skipped, HF_HUB_OFFLINE is set")
    else:
        try:
            path = _download_from_hub(str(repo_id), key, cache_dir, hub_timeout)
            return ResolvedCache(path, "hub", load_grasps(path, key))
        except Exception as e:  # network, auth, missing file, invalid download: all non-fatal
            reason = _first_line(e)
            log.warning("grasp cache: hub %s/%s unavailable: %s", repo_id, key.filename, reason)
            tried.append(f"hub: {repo_id}/{key.filename}: {reason}")

    # (d) generate in-process
    if allow_generate and generate is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        log.info("grasp cache: generating %s (this can take a while)", local)
        generate(local)
        try:
            return ResolvedCache(local, "generated", load_grasps(local, key))
        except GraspCacheError as e:
            raise type(e)(f"generated grasp cache failed validation: {e}") from e
    if allow_generate:
        tried.append("generate: allow_generate=True but no generate callable was given")
    else:
        tried.append("generate: disabled (allow_generate=False)")

    # (e) give up loudly
    lines = "\n".join(f"  - {t.splitlines()[0]}" for t in tried)
    raise GraspCacheMissing(
        f"no usable grasp cache for hand={key.hand!r} object={key.object_type!r} "
        f"scale={format_scale(key.scale)} ({key.filename}). Tried:\n{lines}\n"
        f"Generate it with:\n  {generate_command(key)}\n"
        "or let the env generate it in-process: gymnasium.make(..., grasp_allow_generate=True), or "
        "`env.grasp_allow_generate=true` on the trainers' command line."
    )
