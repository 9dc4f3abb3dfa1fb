"""MuJoCo Warp env throughput on a GPU: env steps/s, the share of a step spent in physics, memory per world.

For each hand, world count and action kind (zero, random in [-1, 1]) it times ``env.step`` of
``gym.make_vec(..., sim="mjwarp")`` and, interleaved with it, the bare physics of the same model and data
(``mujoco_warp.step`` x substeps on the env's own worlds through the backend's ``advance``, on a GPU the same
CUDA graph as in the env's step; synchronised): the ratio is the share of a step in physics; the rest is the
task layer. ``--arrays torch`` (the env's default on MuJoCo Warp) keeps actions,
observations and rewards on the device; ``--arrays numpy`` times the host-copy path that SB3 and Sample Factory
use. GPU memory per world is the device memory the env took, divided by its worlds.

    python benchmarks/gpu_throughput.py                                   # cuda, 1k-64k worlds, both hands
    python benchmarks/gpu_throughput.py --arrays torch numpy --num-envs 16384                 # both task paths
    python benchmarks/gpu_throughput.py --device cpu --num-envs 16 --seconds 1 --out /tmp/smoke.json   # smoke
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from timing import Section, clocks, machine_info

import unilab_envs  # noqa: F401

RESULTS = Path(__file__).parent / "results"


def free_memory(device: str) -> int | None:
    import warp as wp

    d = wp.get_device(device)
    return int(d.free_memory) if d.is_cuda else None


def measure(env_id: str, n: int, device: str, actions: str, seconds: float, warmup: int, arrays: str) -> dict:
    import torch
    import warp as wp

    free0 = free_memory(device)
    env = gym.make_vec(env_id, num_envs=n, sim="mjwarp", sim_device=device, arrays=arrays)
    free1 = free_memory(device)
    be, rng = env.backend, np.random.default_rng(0)
    env.reset(seed=0)
    shape = env.action_space.shape

    def act():  # where the policy's actions would be: on the device for torch, on the host for numpy
        if arrays == "torch":
            a = torch.zeros(shape, device=be.torch_device)
            return a if actions == "zero" else a.uniform_(-1, 1)
        return np.zeros(shape, np.float32) if actions == "zero" else rng.uniform(-1, 1, shape).astype(np.float32)

    for _ in range(warmup):
        env.step(act())
    env_sec, phys_sec = Section(), Section()
    substeps = env.cfg.control_substeps
    while env_sec.wall + phys_sec.wall < seconds or env_sec.count < 5:
        a = act()
        wp.synchronize()
        w0, c0 = clocks()
        env.step(a)
        wp.synchronize()
        w1, c1 = clocks()
        be.advance(substeps)  # the same physics as in env.step (one CUDA graph on a GPU)
        wp.synchronize()
        w2, c2 = clocks()
        env_sec.add(w1 - w0, c1 - c0)
        phys_sec.add(w2 - w1, c2 - c1)
    env.close()
    return {"env_id": env_id, "num_envs": n, "actions": actions, "device": device, "arrays": arrays,
            "env_steps_per_s": env_sec.count * n / env_sec.wall,
            "physics_steps_per_s": phys_sec.count * n / phys_sec.wall,
            "physics_share": phys_sec.wall / env_sec.wall, "steps_timed": env_sec.count,
            "bytes_per_world": None if free0 is None else (free0 - free1) / n,
            "cpu_per_wall_env": env_sec.cpu_per_wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-ids", nargs="+", default=["AllegroInhandRotation-v0", "SharpaInhandRotation-v0"])
    p.add_argument("--num-envs", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    p.add_argument("--actions", nargs="+", default=["zero", "random"], choices=["zero", "random"])
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--arrays", nargs="+", default=["torch"], choices=["torch", "numpy"],
                   help="the env's task path: torch (on the device, its default) and/or numpy (host copies)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--out", type=Path, default=RESULTS / "gpu_throughput.json")
    args = p.parse_args()
    rows = []
    print(f"{'env':>26} {'worlds':>7} {'actions':>7} {'arrays':>6} {'env steps/s':>12} {'physics/s':>11} "
          f"{'physics share':>13} {'MB/world':>8}")
    for env_id in args.env_ids:
        for n in args.num_envs:
            for actions in args.actions:
                for arrays in args.arrays:
                    t0 = time.time()
                    r = measure(env_id, n, args.device, actions, args.seconds, args.warmup, arrays)
                    r["wall_s"] = round(time.time() - t0, 1)
                    rows.append(r)
                    mb = "-" if r["bytes_per_world"] is None else f"{r['bytes_per_world'] / 2**20:.3f}"
                    print(f"{env_id:>26} {n:>7} {actions:>7} {arrays:>6} {r['env_steps_per_s']:>12.0f} "
                          f"{r['physics_steps_per_s']:>11.0f} {r['physics_share']:>13.1%} {mb:>8}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": machine_info(), "gpu": _gpu(args.device), "rows": rows}
    args.out.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {args.out}")


def _gpu(device: str) -> str | None:
    import warp as wp

    d = wp.get_device(device)
    return d.name if d.is_cuda else None


if __name__ == "__main__":
    main()
