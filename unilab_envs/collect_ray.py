"""Grasp collection fanned out over Ray: each task runs the batched collector on one chunk of one scale.

    python -m unilab_envs.collect_grasps --hand sharpa --scale 0.8 0.9 1.0 --ray local
    train --algo ppo --task sharpa_inhand_grasp --sim mujoco --ray auto

A scale's ``num_grasps`` split into chunks of ``chunk_grasps`` (default: the grasps of every scale spread
evenly over the cluster's task slots, CPUs / ``num_cpus_per_worker``, at least 100: each task builds its
env once, ~0.4 s on 2 cores, so more chunks than slots only add that, see
``benchmarks/results/ray_collection.json``); chunk ``k`` is collected with its own seed
(from the collection's seed and ``k``) by ``collect_grasps`` on ``num_cpus_per_worker`` cores, in a
temporary folder of the worker, and comes back as an array. The driver keeps each chunk by its index and,
once a scale's chunks are all in, writes ``<prefix>_<scale>.npy`` and its sidecar (atomically, the format
of a one-machine collection, with ``extra.ray`` saying how it was made). A worker that dies is retried by
Ray (``max_retries``); since only a chunk's finished result is kept, and kept once under its index, no
grasp is lost or counted twice. One progress bar counts the grasps of every scale.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .grasp_cache import save_grasps
from .grasp_cache.store import CacheKey, read_metadata


@dataclass(frozen=True)
class Job:
    """One cache to make: where, at which scale, how many grasps."""

    path: Path
    scale: float
    num_grasps: int


def collect_chunk(scale: float, num_grasps: int, seed: int, options: dict) -> tuple[np.ndarray, dict]:
    """One chunk on this worker: ``collect_grasps`` into a temporary file, returned as (grasps, sidecar)."""
    from .collect_grasps import collect_grasps

    with tempfile.TemporaryDirectory(prefix="unilab_chunk_") as folder:
        path = collect_grasps(Path(folder) / "chunk.npy", scale=scale, num_grasps=num_grasps, seed=seed,
                              progress=False, resume=False, **options)
        return np.load(path), read_metadata(path)


def chunk_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(k)]).generate_state(1)[0])


def auto_chunk(ray, jobs: list[Job], num_cpus_per_worker: float) -> int:
    """Grasps per task that give every task slot of the cluster one chunk (at least 100 grasps)."""
    slots = max(int(ray.cluster_resources().get("CPU", 1) // max(num_cpus_per_worker, 1e-9)), 1)
    return max(-(-sum(job.num_grasps for job in jobs) // slots), 100)


def collect_on_ray(ray, jobs: list[Job], *, seed: int = 0, chunk_grasps: int | None = None,
                   num_cpus_per_worker: float = 2,
                   num_gpus_per_worker: float = 0, max_retries: int = 3, progress: bool = True,
                   collect=collect_chunk, **options) -> list[Path]:
    """Collect every job's grasps on the Ray cluster ``ray`` (an initialised ``ray`` module); ``options`` go to
    ``collect_grasps`` (hand, object_type, num_envs, physics, ...). Returns the written cache paths."""
    chunk_grasps = auto_chunk(ray, jobs, num_cpus_per_worker) if chunk_grasps is None else int(chunk_grasps)
    if chunk_grasps < 1:
        raise ValueError(f"chunk_grasps={chunk_grasps} must be >= 1")
    options = {"num_threads": max(int(num_cpus_per_worker), 1)} | options
    task = ray.remote(collect).options(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker,
                                       max_retries=max_retries)
    pending, sizes = {}, {}
    for j, job in enumerate(jobs):
        for k, start in enumerate(range(0, job.num_grasps, chunk_grasps)):
            n = min(chunk_grasps, job.num_grasps - start)
            pending[task.remote(job.scale, n, chunk_seed(seed, k), options)] = (j, k)
            sizes[(j, k)] = n
    results: dict[int, dict[int, tuple[np.ndarray, dict]]] = {j: {} for j in range(len(jobs))}
    written: dict[int, Path] = {}
    total = sum(job.num_grasps for job in jobs)
    with tqdm(total=total, unit="grasp", desc=f"grasps on Ray ({len(pending)} chunks)", disable=not progress,
              mininterval=1.0) as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            j, k = pending.pop(done[0])
            results[j][k] = ray.get(done[0])  # a task that failed past its retries raises here, naming the error
            bar.update(sizes[(j, k)])
            if len(results[j]) == len(range(0, jobs[j].num_grasps, chunk_grasps)):
                written[j] = _merge(jobs[j], results.pop(j), seed, chunk_grasps)
    return [written[j] for j in range(len(jobs))]


def _merge(job: Job, chunks: dict[int, tuple[np.ndarray, dict]], seed: int, chunk_grasps: int) -> Path:
    """The chunks of one scale, in chunk order, as one cache with the sidecar of a one-machine collection."""
    order = sorted(chunks)
    grasps = np.concatenate([chunks[k][0] for k in order])
    meta = chunks[order[0]][1]
    key = CacheKey(hand=meta["hand"], object_type=meta["object_type"], scale=meta["scale"],
                   model_hash=meta["model_hash"], columns=tuple(meta["columns"]))
    attempts = sum(int(chunks[k][1]["extra"]["attempts"]) for k in order)
    extra = {"attempts": attempts, "seed": seed, "resumed": 0, "yield": len(grasps) / max(attempts, 1),
             "ray": {"chunks": len(order), "chunk_grasps": chunk_grasps,
                     "chunk_seeds": [chunk_seed(seed, k) for k in order]}}
    return Path(save_grasps(job.path, grasps, key, criteria=meta["criteria"], extra=extra,
                            backend=meta.get("backend", "mujoco")))
