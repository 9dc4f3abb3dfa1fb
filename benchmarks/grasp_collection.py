"""Wall time of grasp-cache collections: 5,000 grasps (the shipped size) per scale with a hand's default physics.

Runs the collector exactly as ``python -m unilab_envs.collect_grasps`` does, into a temporary
folder, and records wall time, CPU/wall, the yield and the machine (a contended run is flagged).

    python benchmarks/grasp_collection.py [--num-grasps 5000] [--repeats 2]          # Allegro ball, scale 1.0
    python benchmarks/grasp_collection.py --hand sharpa --repeats 1 \
        --out benchmarks/results/grasp_collection_sharpa.json      # its nine default scales in sequence
    python benchmarks/grasp_collection.py --sims mujoco motrix --out benchmarks/results/grasp_collection_backends.json
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from timing import MachineLoad, Section, clocks, machine_info, verdict, warn_if_contended

from unilab_envs.collect_grasps import collect_grasps
from unilab_envs.grasp_cache import read_metadata
from unilab_envs.tasks.presets import rotation_config

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hand", default="allegro")
    p.add_argument("--scale", type=float, nargs="+", default=None, help="default: the hand's default scale list")
    p.add_argument("--num-grasps", type=int, default=5000)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2, help="collections with seeds 0, 1, ...")
    p.add_argument("--sims", nargs="+", default=["mujoco"], help="physics backends, interleaved per seed and scale")
    p.add_argument("--out", type=Path, default=RESULTS / "grasp_collection.json")
    args = p.parse_args()
    runs = []
    scales = args.scale or list(rotation_config(args.hand).domain_rand.scale_list)
    with tempfile.TemporaryDirectory() as tmp, MachineLoad() as load:
        for seed, scale, sim in [(seed, scale, sim) for seed in range(args.repeats) for scale in scales
                                 for sim in args.sims]:
            sec = Section()
            w0, c0 = clocks()
            path = collect_grasps(Path(tmp) / f"{args.hand}_{sim}_grasp_{seed}_{scale}.npy", hand=args.hand,
                                  scale=scale, num_grasps=args.num_grasps, num_envs=args.num_envs, seed=seed,
                                  sim=sim, progress=False)
            w1, c1 = clocks()
            sec.add(w1 - w0, c1 - c0)
            meta = read_metadata(path)
            timing = verdict({"collection": (sec, min(args.num_envs, os.cpu_count() or 1))})
            runs.append({"hand": args.hand, "sim": sim, "scale": scale, "seed": seed, "num_grasps": args.num_grasps,
                         "wall_s": sec.wall, "attempts": meta["extra"]["attempts"], "yield": meta["extra"]["yield"],
                         "timing": timing})
            print(f"{args.hand} {sim} scale {scale} seed {seed}: {args.num_grasps} grasps in {sec.wall:.1f} s, "
                  f"yield {meta['extra']['yield']:.1%}, CPU/wall {sec.cpu_per_wall:.2f}"
                  f"{'  CONTENDED' if timing['contended'] else ''}", flush=True)
            warn_if_contended(timing, f"collection seed {seed}")
    out = {"machine": machine_info(), "hand": args.hand, "num_envs": args.num_envs,
           "others_cpu_share": load.others_share, "total_wall_s": sum(r["wall_s"] for r in runs), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
