"""Where rotation episodes start: grasp caches, one per object scale, resolved once at construction."""
from __future__ import annotations

import logging

import numpy as np

from ..grasp_cache import CacheKey, resolve_grasp_cache
from ..hands import HandSpec
from ..scene import SceneLayout

log = logging.getLogger(__name__)
OBJECT_COLUMNS = ("obj_x", "obj_y", "obj_z", "obj_qw", "obj_qx", "obj_qy", "obj_qz")


def grasp_columns(hand: HandSpec) -> tuple[str, ...]:
    """Column names of a grasp cache row: joint positions, object position, object quaternion wxyz."""
    return tuple(hand.joint_names) + OBJECT_COLUMNS


def cache_key(layout: SceneLayout, scale: float, prefix: str = "") -> CacheKey:
    return CacheKey(hand=layout.hand.name, object_type=layout.obj.name, scale=scale,
                    model_hash=layout.model_hash, columns=grasp_columns(layout.hand), prefix=prefix)


def load_start_grasps(cfg, layout: SceneLayout) -> list[np.ndarray]:
    """The validated grasp array of every scale in ``cfg.domain_rand.scale_list``.

    Follows the resolver's order (``grasp_cache_path``, ``grasp_cache_dir``, the Hub, then
    generation when ``grasp_allow_generate``); raises ``GraspCacheMissing`` with the command that
    makes a cache when none is found.
    """
    from ..collect_grasps import collect_grasps  # the collector builds a grasp env: import late

    hub = {} if cfg.grasp_hub_repo is None else {"hub_repo_id": cfg.grasp_hub_repo}
    grasps = []
    for scale in cfg.domain_rand.scale_list:
        key = cache_key(layout, scale)

        def generate(path, scale=scale):
            collect_grasps(path, hand=cfg.hand, object_type=cfg.object_type, scale=scale,
                           num_grasps=cfg.grasp_collection_target, sim=cfg.sim, physics=cfg.physics,
                           num_threads=cfg.num_threads, control_substeps=cfg.control_substeps)

        found = resolve_grasp_cache(key, explicit_path=cfg.grasp_cache_path, cache_dir=cfg.grasp_cache_dir,
                                    allow_generate=cfg.grasp_allow_generate, generate=generate, **hub)
        log.info("grasp cache for scale %s: %s (%s, %d grasps)", scale, found.path, found.source,
                 len(found.grasps))
        grasps.append(found.grasps)
    return grasps
