"""Grasp collection of several scales: one after another on this machine against chunked on a local Ray instance.

    python benchmarks/ray_collection.py [--num-grasps 2000] [--scales 1.0 1.1] [--repeats 2]

Interleaved (sequential, Ray, sequential, Ray, ...), each collecting every scale into a temporary folder
with the same seed. The sequential path is ``collect_grasps`` per scale with all cores; the Ray path is
``collect_on_ray`` with ``--cpus-per-worker`` CPUs per chunk task on a Ray instance started once (its start
is timed apart and reported). Ray's workers are other processes, so the CPU figure here is the whole
machine's busy time over wall time (~2.0 = both cores busy; the machine must be otherwise quiet).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from timing import _busy_seconds, machine_info

from unilab_envs.collect_grasps import collect_grasps
from unilab_envs.collect_ray import Job, auto_chunk, collect_on_ray

RESULTS = Path(__file__).parent / "results"


def timed(fn) -> dict:
    busy0, t0 = _busy_seconds(), time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    busy = _busy_seconds() - busy0
    return {"wall_s": round(wall, 2), "machine_cpu_per_wall": round(busy / wall, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-grasps", type=int, default=2000, help="per scale")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 1.1])
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--chunk-grasps", type=int, default=None, help="default: collect_on_ray's (one per task slot)")
    p.add_argument("--cpus-per-worker", type=float, default=1)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out", type=Path, default=RESULTS / "ray_collection.json")
    args = p.parse_args()
    import ray

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_start = time.perf_counter() - t0
    chunk = args.chunk_grasps or auto_chunk(ray, [Job(Path("x"), s, args.num_grasps) for s in args.scales],
                                            args.cpus_per_worker)
    rows = []
    try:
        for rep in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                def sequential(rep=rep, tmp=tmp):
                    for s in args.scales:
                        collect_grasps(Path(tmp) / "seq" / f"allegro_ball_grasp_{s}.npy", scale=s,
                                       num_grasps=args.num_grasps, num_envs=args.num_envs, seed=rep, progress=False)

                def on_ray(rep=rep, tmp=tmp):
                    jobs = [Job(Path(tmp) / "ray" / f"allegro_ball_grasp_{s}.npy", s, args.num_grasps)
                            for s in args.scales]
                    collect_on_ray(ray, jobs, seed=rep, chunk_grasps=chunk,
                                   num_cpus_per_worker=args.cpus_per_worker, progress=False, num_envs=args.num_envs)

                for name, fn in (("sequential", sequential), ("ray_local", on_ray)):
                    rows.append({"repeat": rep, "path": name, **timed(fn)})
                    print(rows[-1])
    finally:
        ray.shutdown()
    seq = [r["wall_s"] for r in rows if r["path"] == "sequential"]
    ray_rows = [r["wall_s"] for r in rows if r["path"] == "ray_local"]
    result = {"machine": machine_info(), "scales": args.scales, "grasps_per_scale": args.num_grasps,
              "num_envs": args.num_envs, "chunk_grasps": chunk, "cpus_per_worker": args.cpus_per_worker,
              "ray_start_s": round(ray_start, 2), "rows": rows,
              "ray_over_sequential": [round(r / s, 3) for r, s in zip(ray_rows, seq, strict=True)]}
    result["ray_with_start_over_sequential"] = [round((r + ray_start) / s, 3)
                                                for r, s in zip(ray_rows, seq, strict=True)]
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("ray_start_s", "ray_over_sequential", "ray_with_start_over_sequential")}))


if __name__ == "__main__":
    main()
