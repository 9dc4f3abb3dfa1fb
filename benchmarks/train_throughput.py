"""Training throughput of each algorithm: env steps per second *including learning*, through `train`.

Each algo trains AllegroInhandRotation-v0 for a fixed number of env steps in a temporary log folder with
its shipped config (only the length and the log folder are changed); the number reported is the env steps
of the run divided by its wall time of training (environment start-up and export excluded). The env-only
rate of the same machine (benchmarks/throughput.py) is the ceiling this is compared with. The command's
CPU/wall ratio and the CPU other processes used while it ran are recorded; a run on a busy machine is
flagged (see timing.py).

    python benchmarks/train_throughput.py                      # ppo and appo, ~200k env steps each
    python benchmarks/train_throughput.py --algos ppo --env-steps 100000
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import MachineLoad, Section, machine_info, verdict, warn_if_contended

RESULTS = Path(__file__).parent / "results"


def iterations_for(algo: str, env_steps: int) -> tuple[int, int]:
    from trainers.appo import steps_per_iteration as appo_steps
    from trainers.config import compose

    cfg = compose(algo, "allegro_inhand", "mujoco")
    per_iter = cfg.algo.n_steps * cfg.training.num_envs if algo == "ppo" else appo_steps(cfg)
    return max(1, round(env_steps / per_iter)), cfg.training.num_envs


def run(algo: str, env_steps: int) -> dict:
    iters, num_envs = iterations_for(algo, env_steps)
    with tempfile.TemporaryDirectory() as logdir:
        cmd = [sys.executable, "-m", "trainers", "train", "--algo", algo, "--task", "allegro_inhand", "--sim",
               "mujoco", "--max-iterations", str(iters), f"training.logdir={logdir}", "training.no_play=true",
               "training.export=false", "training.progress_bar=false"]
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with MachineLoad() as load:
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - t0
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sec = Section()
        sec.add(wall, usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime)
        (summary_path,) = Path(logdir).rglob("summary.json")
        summary = json.loads(summary_path.read_text())
    return {"algo": algo, "num_envs": num_envs, "iterations": summary["iterations"], "env_steps": summary["env_steps"],
            "train_seconds": summary["wall_seconds"], "command_seconds": round(wall, 1),
            "env_steps_per_second": summary["env_steps_per_second"],
            # learning has single-threaded stretches: CPU/wall is recorded, the machine's other load judged
            "timing": verdict({"train command": (sec, 0)}, load)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algos", nargs="+", default=["ppo", "appo"])
    p.add_argument("--env-steps", type=int, default=200_000)
    args = p.parse_args()
    rows = [run(a, args.env_steps) for a in args.algos]
    for r in rows:
        warn_if_contended(r["timing"], f"training throughput of {r['algo']}")
    out = {"machine": machine_info(), "results": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_throughput.json").write_text(json.dumps(out, indent=2) + "\n")
    print("| algo | envs | env steps | train s | env steps/s (incl. learning) | CPU/wall |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['algo']} | {r['num_envs']} | {r['env_steps']:,} | {r['train_seconds']:.0f} | "
              f"{r['env_steps_per_second']:,.0f} | {r['timing']['sections']['train command']['cpu_per_wall']:.2f} |")


if __name__ == "__main__":
    main()
