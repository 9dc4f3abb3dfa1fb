"""``train --task *_grasp``: run the grasp collector, writing the caches where rotation runs look for them.

Output per scale in ``env.domain_rand.scale_list``: ``<prefix>_<scale>.npy`` (+ JSON sidecar), where the
prefix is ``env.grasp_cache_path`` when given (the same value then points a rotation run at the result),
else ``<env.grasp_cache_dir or the local cache folder>/<hand>_<object>_grasp`` (found by default).
"""
from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from unilab_envs.collect_grasps import collect_grasps, default_prefix, output_path
from unilab_envs.scene import PhysicsOptions


def output_paths(env: DictConfig) -> list[Path]:
    prefix = env.grasp_cache_path or default_prefix(env.hand, env.object_type, env.grasp_cache_dir)
    return [output_path(prefix, float(s)) for s in env.domain_rand.scale_list]


def collect(cfg: DictConfig) -> dict:
    env, tr = cfg.env, cfg.training
    written = []
    for scale, path in zip(env.domain_rand.scale_list, output_paths(env), strict=True):
        collect_grasps(path, hand=env.hand, object_type=env.object_type, scale=float(scale),
                       num_grasps=int(env.grasp_collection_target), num_envs=int(tr.num_envs), seed=int(tr.seed),
                       sim=env.sim, physics=PhysicsOptions(**env.physics), num_threads=int(env.num_threads),
                       control_substeps=int(env.control_substeps),
                       progress=bool(tr.progress_bar))
        written.append({"scale": float(scale), "path": str(path), "grasps": int(env.grasp_collection_target)})
    return {"caches": written}
