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
    ray_cfg = tr.get("ray") or {}
    if ray_cfg.get("address"):
        return _collect_on_ray(cfg)
    written = []
    for scale, path in zip(env.domain_rand.scale_list, output_paths(env), strict=True):
        collect_grasps(path, hand=env.hand, object_type=env.object_type, scale=float(scale),
                       num_grasps=int(env.grasp_collection_target), num_envs=int(tr.num_envs), seed=int(tr.seed),
                       sim=env.sim, physics=PhysicsOptions(**env.physics), num_threads=int(env.num_threads),
                       control_substeps=int(env.control_substeps),
                       progress=bool(tr.progress_bar))
        written.append({"scale": float(scale), "path": str(path), "grasps": int(env.grasp_collection_target)})
    return {"caches": written}


def _collect_on_ray(cfg: DictConfig) -> dict:
    """Every scale's cache at once, chunked over the Ray cluster of ``training.ray.address``."""
    from unilab_envs.collect_ray import Job, collect_on_ray
    from unilab_envs.ray_cluster import connect

    env, tr = cfg.env, cfg.training
    ray = connect(tr.ray.address)
    n = int(env.grasp_collection_target)
    jobs = [Job(path, float(s), n) for s, path in zip(env.domain_rand.scale_list, output_paths(env), strict=True)]
    chunk = tr.ray.get("chunk_grasps")
    paths = collect_on_ray(ray, jobs, seed=int(tr.seed), chunk_grasps=None if chunk is None else int(chunk),
                           num_cpus_per_worker=float(tr.ray.num_cpus_per_worker),
                           num_gpus_per_worker=float(tr.ray.num_gpus_per_worker), progress=bool(tr.progress_bar),
                           hand=env.hand, object_type=env.object_type, num_envs=int(tr.num_envs), sim=env.sim,
                           physics=PhysicsOptions(**env.physics), control_substeps=int(env.control_substeps))
    return {"caches": [{"scale": job.scale, "path": str(p), "grasps": n} for job, p in zip(jobs, paths, strict=True)],
            "ray": str(tr.ray.address)}
