"""Env steps per second of AllegroInhandRotation-v0 beside bare ``mujoco.batch`` stepping.

One env step = one 20 Hz control step of one env (10 physics substeps). The physics ceiling is a
bare ``mujoco.batch.Batch`` of the same compiled model, with the env's per-env (randomised)
parameters and state copied in, stepped with the same substeps and threads and nothing else:
the ratio says what the task layer (actions, rewards, observations, resets, domain
randomisation) costs. Env and ceiling steps are timed alternately, one each in turn.

    python benchmarks/throughput.py                    # 1, 64, 256, 1024 envs
    python benchmarks/throughput.py --num-envs 256 --seconds 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from mujoco import batch as mjbatch

import unilab_envs  # noqa: F401  (registers the ids)

RESULTS = Path(__file__).parent / "results"


def clone_physics(backend) -> mjbatch.Batch:
    """A bare Batch of the env's model with the env's per-env parameters and current state."""
    src = backend.batch
    bare = mjbatch.Batch(backend.model, src.nsim, nthread=src.nthread, persistent=True)
    for name in mjbatch.MODEL_FIELDS:
        values = src.expanded(name)
        if values is not None:  # randomised mass, size, friction, gains and what set_const derived
            bare.expand(name)[:] = values
    for name in ("qpos", "qvel", "act", "ctrl", "qacc_warmstart", "xfrc_applied"):
        bare.bind(name)[:] = src.bind(name)
    bare.forward()
    return bare


def measure(num_envs: int, seconds: float, threads: int, env_id: str, resync_every: int = 5) -> dict:
    """Time env steps and ceiling steps alternately, one each in turn, for about ``seconds``.

    Alternating step by step gives both the same machine conditions. The ceiling is re-cloned
    from the env every ``resync_every`` steps so that both simulate the same state distribution
    (left alone, the bare copy's dropped balls stay dropped, which is cheaper to simulate).
    """
    envs = gym.make_vec(env_id, num_envs=num_envs, num_threads=threads)
    envs.reset(seed=0)
    zeros = np.zeros(envs.action_space.shape, np.float32)
    for _ in range(3):
        envs.step(zeros)
    substeps = envs.cfg.control_substeps
    env_time = phys_time = 0.0
    steps = 0
    while env_time + phys_time < seconds or steps < 2 * resync_every:
        bare = clone_physics(envs.backend)
        for _ in range(resync_every):
            t0 = time.perf_counter()
            envs.step(zeros)
            t1 = time.perf_counter()
            bare.step(nstep=substeps)
            t2 = time.perf_counter()
            env_time, phys_time, steps = env_time + t1 - t0, phys_time + t2 - t1, steps + 1
    threads = envs.backend.batch.nthread
    envs.close()
    return {"num_envs": num_envs, "env_steps_per_s": steps * num_envs / env_time,
            "physics_steps_per_s": steps * num_envs / phys_time, "ratio": phys_time / env_time,
            "threads": threads, "substeps": substeps, "control_steps_timed": steps}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = [r["num_envs"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(n, [r["physics_steps_per_s"] for r in rows], "o--", label="bare mujoco.batch (ceiling)")
    ax.plot(n, [r["env_steps_per_s"] for r in rows], "o-", label="AllegroInhandRotation-v0")
    for r in rows:
        ax.annotate(f"{r['ratio']:.0%}", (r["num_envs"], r["env_steps_per_s"]), textcoords="offset points",
                    xytext=(0, -14), ha="center", fontsize=8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("num_envs")
    ax.set_ylabel("env steps / s (20 Hz control steps)")
    ax.set_title(f"Allegro rotation, MuJoCo batch, up to {max(r['threads'] for r in rows)} threads")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per num_envs")
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--env-id", default="AllegroInhandRotation-v0")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput")
    args = parser.parse_args()
    rows = []
    print(f"{'num_envs':>8} {'env steps/s':>12} {'physics steps/s':>16} {'ratio':>6}")
    for n in args.num_envs:
        r = measure(n, args.seconds, args.threads, args.env_id)
        rows.append(r)
        print(f"{n:>8} {r['env_steps_per_s']:>12.0f} {r['physics_steps_per_s']:>16.0f} {r['ratio']:>6.1%}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "python": platform.python_version(),
            "env_id": args.env_id, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    plot(rows, args.out.with_suffix(".png"))
    print(f"wrote {args.out.with_suffix('.json')} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
