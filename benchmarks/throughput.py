"""Env steps per second beside the bare physics ceiling, and physics configs or backends compared.

One env step = one 20 Hz control step of one env. The ceiling is the env's own engine, bare: a second
batch of the same compiled model with the env's per-env (randomised) parameters and state copied in,
stepped with the same substeps and threads and nothing else (``ceilings.py``: ``mujoco.batch`` for
sim=mujoco, a MotrixSim ``SceneData`` for sim=motrix): the ratio says what the task layer
(actions, rewards, observations, resets, randomisation) costs on that backend. At ``num_envs=1`` the env is the
one-env ``gym.make`` (with Gymnasium's wrappers), the path most users' first loop takes.

Everything is interleaved step by step (env A, ceiling A, env B, ceiling B, ...), so every figure
of one run shares the machine's conditions, and ratios between configs are measured, not assumed.
Before every timed pair the ceiling is synced to the env's current parameters and state (untimed),
so both time the same physics: a ceiling left to run on its own drifts into cheaper states (its
dropped balls fall freely while the env resets them into fresh grasps) and flatters itself. Each
timed section starts after a 1 ms untimed pause, so that the other batch's idle worker threads
have stopped spinning. On one thread (one env) each timed section is instead 20 steps back to back, the ceiling's
continuing from the env's state at the end of the env's: no worker spins, and a user's one-env loop runs warm,
which one step timed between the other batch's steps does not.
Every timed section records its CPU/wall ratio; a run on a busy machine is flagged (see
``timing.py``) and must not be published.

    python benchmarks/throughput.py                               # default physics, 1/64/256/1024 envs
    python benchmarks/throughput.py --compare legacy --num-envs 256
    python benchmarks/throughput.py --compare "physics.timestep=0.0125,control_substeps=4"   # also 20 Hz
    python benchmarks/throughput.py --compare motrix --num-envs 64 256 1024 --out benchmarks/results/backends_allegro
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from ceilings import make_ceiling
from configs import PRESETS, make_env, parse_overrides
from timing import MachineLoad, Section, clocks, machine_info, verdict, warn_if_contended

import unilab_envs  # noqa: F401  (registers the ids)

RESULTS = Path(__file__).parent / "results"


def vector_env(env):
    return env.unwrapped.vector_env if isinstance(env, gym.Env) else env


#: untimed pause before each timed section: mujoco.batch's persistent workers spin for ~0.5 ms after a
#: call, and must not steal the cores from the other batch's timed section (one env has one batch)
SETTLE = 0.001
#: steps per timed section on one thread (1 s of simulated time at 20 Hz)
ONE_THREAD_BLOCK = 20


class Subject:
    """One config at one num_envs: the env, its ceiling, and their timed sections."""

    def __init__(self, name: str, env, num_envs: int, warmup: int):
        self.name, self.env, self.num_envs = name, env, num_envs
        self.vec = vector_env(env)
        self.single = isinstance(env, gym.Env)
        self.substeps = self.vec.cfg.control_substeps
        self.zeros = np.zeros(env.action_space.shape, np.float32)
        env.reset(seed=0)
        for _ in range(warmup):
            self.env_step()
        self.env_sec, self.phys_sec = Section(), Section()
        self.bare = make_ceiling(self.vec.backend)

    def env_step(self) -> None:
        _, _, terminated, truncated, _ = self.env.step(self.zeros)
        if self.single and (terminated or truncated):
            self.env.reset()

    def timed_pair(self) -> None:
        """One timed env section and one timed ceiling section from the same state. With worker threads, one step
        each, after a pause; on one thread (one env) ``ONE_THREAD_BLOCK`` steps each, back to back: no workers
        spin, and a user's one-env loop runs warm, which a single step timed between two other batches' steps
        does not (the other batch's memory has pushed this one's out of the caches)."""
        threaded = self.bare.threads > 1
        settle, block = (SETTLE, 1) if threaded else (0.0, ONE_THREAD_BLOCK)
        self.bare.sync()
        time.sleep(settle)
        w0, c0 = clocks()
        for _ in range(block):
            self.env_step()
        w1, c1 = clocks()
        if not threaded:  # the ceiling's block continues from where the env's ended (zero actions on both)
            self.bare.sync()
        time.sleep(settle)
        w2, c2 = clocks()
        for _ in range(block):
            self.bare.step(self.substeps)
        w3, c3 = clocks()
        self.env_sec.add(w1 - w0, c1 - c0, block)
        self.phys_sec.add(w3 - w2, c3 - c2, block)

    def row(self) -> dict:
        threads = self.bare.threads
        n = self.num_envs
        return {"config": self.name, "sim": self.vec.backend.name, "num_envs": n,
                "api": "gym.make" if self.single else "gym.make_vec",
                "env_steps_per_s": self.env_sec.count * n / self.env_sec.wall,
                "physics_steps_per_s": self.phys_sec.count * n / self.phys_sec.wall,
                "ratio": self.phys_sec.wall / self.env_sec.wall, "threads": threads, "substeps": self.substeps,
                "timestep": self.vec.cfg.physics.timestep, "control_steps_timed": self.env_sec.count,
                # the ceiling is pure physics on `threads` threads; the env section also runs Python
                "timing": verdict({"env": (self.env_sec, 0), "ceiling": (self.phys_sec, threads)})}


def measure(num_envs: int, seconds: float, threads: int, env_id: str, configs: dict[str, dict], tmp: Path,
            warmup: int = 40) -> list[dict]:
    """Time every config's env and ceiling steps interleaved, one each in turn, for about ``seconds`` each,
    after ``warmup`` untimed steps (2 s of simulated time: past the burst of early drops after reset)."""
    subjects = [Subject(name, make_env(env_id, num_envs, {"num_threads": threads, **ov}, tmp / name), num_envs,
                        warmup) for name, ov in configs.items()]
    with MachineLoad() as load:
        while min(s.env_sec.wall + s.phys_sec.wall for s in subjects) < seconds or subjects[0].env_sec.count < 10:
            for s in subjects:
                s.timed_pair()
    rows = [s.row() for s in subjects]
    for s in subjects:
        s.env.close()
    base = rows[0]
    for r in rows:
        r["speedup_vs_" + base["config"]] = r["env_steps_per_s"] / base["env_steps_per_s"]
        r["timing"]["others_cpu_share"] = load.others_share
        if load.others_share is not None and load.others_share > 0.10:
            r["timing"]["contended"] = True
            r["timing"]["reasons"].append(f"other processes used {load.others_share:.0%} of the CPU")
    return rows


def plot(rows: list[dict], path: Path, configs: list[str]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, name in enumerate(configs):
        sel = [r for r in rows if r["config"] == name]
        n = [r["num_envs"] for r in sel]
        color = f"C{k}"
        ax.plot(n, [r["physics_steps_per_s"] for r in sel], "o--", color=color, alpha=0.6,
                label=f"bare {sel[0]['sim']} ({name})")
        ax.plot(n, [r["env_steps_per_s"] for r in sel], "o-", color=color, label=f"env ({name})")
        for r in sel:
            ax.annotate(f"{r['ratio']:.0%}", (r["num_envs"], r["env_steps_per_s"]), textcoords="offset points",
                        xytext=(0, -14), ha="center", fontsize=8, color=color)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("num_envs (1 = gym.make)")
    ax.set_ylabel("env steps / s (20 Hz control steps)")
    ax.set_title(f"{rows[0]['env_id']}, up to {max(r['threads'] for r in rows)} threads", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 64, 256, 1024])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per config and num_envs")
    parser.add_argument("--threads", type=int, default=0, help="0: all cores")
    parser.add_argument("--env-id", default="AllegroInhandRotation-v0")
    parser.add_argument("--compare", nargs="+", default=[], metavar="CONFIG",
                        help=f"configs timed against the default: a preset ({', '.join(PRESETS)}) or "
                             "'key=value,key=value' env overrides")
    parser.add_argument("--out", type=Path, default=None, help="results prefix (.json and .png)")
    args = parser.parse_args()
    configs = {"default": {}} | {c: parse_overrides(c) for c in args.compare}
    out = args.out or RESULTS / ("throughput_compare" if args.compare else "throughput")
    rows = []
    print(f"{'config':>10} {'num_envs':>8} {'env steps/s':>12} {'ceiling/s':>10} {'ratio':>6} "
          f"{'vs default':>10} {'cpu/wall env, ceiling':>22}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.num_envs:
            for r in measure(n, args.seconds, args.threads, args.env_id, configs, Path(tmp)):
                rows.append(r | {"env_id": args.env_id})
                t = r["timing"]["sections"]
                print(f"{r['config']:>10} {n:>8} {r['env_steps_per_s']:>12.0f} {r['physics_steps_per_s']:>10.0f} "
                      f"{r['ratio']:>6.1%} {r['speedup_vs_default']:>9.2f}x "
                      f"{t['env']['cpu_per_wall']:>11.2f}, {t['ceiling']['cpu_per_wall']:.2f} "
                      f"({r['threads']} thr){'  CONTENDED' if r['timing']['contended'] else ''}", flush=True)
                warn_if_contended(r["timing"], f"{r['config']} at {n} envs")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": machine_info(), "env_id": args.env_id, "configs": configs,
            "contended": any(r["timing"]["contended"] for r in rows), "rows": rows}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    plot(rows, out.with_suffix(".png"), list(configs))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    if meta["contended"]:
        print("WARNING: some figures were taken on a contended machine; see 'reasons' in the JSON.")


if __name__ == "__main__":
    main()
