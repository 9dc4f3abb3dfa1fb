"""Where rotation episodes start: grasp caches, one per object scale, resolved once at construction."""
from __future__ import annotations

import logging

import numpy as np

from ..grasp_cache import CacheKey, read_metadata, resolve_grasp_cache
from ..hands import HandSpec
from ..scene import SceneLayout
from .arrays import NUMPY, Arrays

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
        origin = cache_backend(found.path)
        log.info("grasp cache for scale %s: %s (%s, %d grasps, made on sim=%s)", scale, found.path, found.source,
                 len(found.grasps), origin)
        if origin != cfg.sim:
            log.info("the grasp cache %s was made on sim=%s and is used on sim=%s: the same model (hash %s), so "
                     "the start states are valid; engines differ in contact, so hold rates may too "
                     "(README, 'Physics backends')", found.path.name, origin, cfg.sim, key.model_hash)
        grasps.append(found.grasps)
    return grasps


def cache_backend(path) -> str:
    """The physics backend that made the cache at ``path`` (sidecars before the field: MuJoCo)."""
    try:
        return str(read_metadata(path).get("backend", "mujoco"))
    except Exception:  # the cache itself was validated already; an unreadable note is not an error
        return "unknown"


class EpisodeStarts:
    """How each env's current episode began: its grasp (joints, object pose) and every physical parameter.

    ``rows(ids)`` gives them as a flat dict of per-env arrays (``joint_pos``, ``object_pos``,
    ``object_quat``, ``param/<name>``); ``reset(options={"episode_starts": rows})`` begins exactly those
    episodes again (failure replay), with no draw from the grasp cache or the randomisation.
    """

    STATE = ("joint_pos", "object_pos", "object_quat")

    def __init__(self, num_envs: int, num_joints: int, arrays: Arrays = NUMPY):
        self.n, self.nj, self.arrays = num_envs, num_joints, arrays
        self.state = {"joint_pos": arrays.zeros((num_envs, num_joints)), "object_pos": arrays.zeros((num_envs, 3)),
                      "object_quat": arrays.zeros((num_envs, 4))}
        self.params: dict[str, np.ndarray] = {}

    def record(self, ids: np.ndarray, params: dict[str, np.ndarray], q, obj_pos, obj_quat) -> None:
        for name, value in params.items():
            if name not in self.params:
                self.params[name] = self.arrays.zeros((self.n, *tuple(value.shape)[1:]))
            self.params[name][ids] = value
        for name, value in zip(self.STATE, (q, obj_pos, obj_quat), strict=True):
            self.state[name][ids] = value

    def rows(self, ids=None) -> dict[str, np.ndarray]:
        """Copies (an index array selects: numpy and torch copy) of the rows of envs ``ids``."""
        ids = self.arrays.arange(self.n) if ids is None else self.arrays.asarray(ids, self.arrays.xp.int64)
        return {**{k: v[ids] for k, v in self.state.items()},
                **{f"param/{k}": v[ids] for k, v in self.params.items()}}

    def parse(self, rows: dict, count: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """``(params, joint_pos, object_pos, object_quat)`` of ``count`` envs from ``rows``, checked."""
        missing = [k for k in self.STATE if k not in rows]
        if missing:
            raise ValueError(f"episode_starts lacks {missing}; pass what env.episode_starts(ids) returned")
        shapes = {"joint_pos": (count, self.nj), "object_pos": (count, 3), "object_quat": (count, 4)}
        out = []
        asarray = self.arrays.asarray
        for key, shape in shapes.items():
            value = asarray(rows[key])
            if tuple(value.shape) != shape:
                raise ValueError(f"episode_starts[{key!r}] has shape {value.shape}; expected {shape} (one row per "
                                 f"env being reset)")
            out.append(value)
        params = {k.removeprefix("param/"): asarray(v) for k, v in rows.items() if k.startswith("param/")}
        if "object_scale" not in params or "object_mass" not in params:
            raise ValueError("episode_starts lacks param/object_scale or param/object_mass; pass what "
                             "env.episode_starts(ids) returned")
        return params, *out
