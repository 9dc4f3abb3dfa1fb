"""Wall time of a grasp-cache collection: 5,000 Allegro grasps (the shipped size) with the default physics.

Runs the collector exactly as ``python -m unilab_envs.collect_grasps`` does, into a temporary
folder, and records wall time, CPU/wall, the yield and the machine (a contended run is flagged).

    python benchmarks/grasp_collection.py [--num-grasps 5000] [--repeats 2]
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

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--num-grasps", type=int, default=5000)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2, help="collections with seeds 0, 1, ...")
    p.add_argument("--out", type=Path, default=RESULTS / "grasp_collection.json")
    args = p.parse_args()
    runs = []
    with tempfile.TemporaryDirectory() as tmp, MachineLoad() as load:
        for seed in range(args.repeats):
            sec = Section()
            w0, c0 = clocks()
            path = collect_grasps(Path(tmp) / f"allegro_ball_grasp_{seed}_1.0.npy", num_grasps=args.num_grasps,
                                  num_envs=args.num_envs, seed=seed, progress=False)
            w1, c1 = clocks()
            sec.add(w1 - w0, c1 - c0)
            meta = read_metadata(path)
            timing = verdict({"collection": (sec, min(args.num_envs, os.cpu_count() or 1))})
            runs.append({"seed": seed, "num_grasps": args.num_grasps, "wall_s": sec.wall,
                         "attempts": meta["extra"]["attempts"], "yield": meta["extra"]["yield"], "timing": timing})
            print(f"seed {seed}: {args.num_grasps} grasps in {sec.wall:.1f} s, yield {meta['extra']['yield']:.1%}, "
                  f"CPU/wall {sec.cpu_per_wall:.2f}{'  CONTENDED' if timing['contended'] else ''}", flush=True)
            warn_if_contended(timing, f"collection seed {seed}")
    out = {"machine": machine_info(), "num_envs": args.num_envs, "others_cpu_share": load.others_share, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
