"""Zero-action hold rates from cached grasps: the share of grasps that keep the object for 2 s and 20 s.

Each env starts one episode from a random cached grasp and holds its start targets (zero action)
for ``--seconds``; an env whose object drops or leaves the hand is counted at the moment it first
ends. Measured at nominal physics (randomisation off) and under full HORA randomisation. This is
what a policy inherits before it learns anything: a grasp cache whose nominal hold rate is low,
or physics that lose grip, show up here first.

    python benchmarks/hold_rate.py                   # 256 envs, 20 s, nominal and full DR
    python benchmarks/hold_rate.py --config legacy    # another physics config (a preset or key=value,...)
    python benchmarks/hold_rate.py --env-id SharpaInhandRotation-v0 --out benchmarks/results/hold_rate_sharpa.json
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from configs import make_env, parse_overrides
from timing import MachineLoad, Section, clocks, machine_info, verdict

import unilab_envs  # noqa: F401

RESULTS = Path(__file__).parent / "results"
MODES = {"nominal": {"domain_rand": {"enabled": False}}, "full DR": {}}


def hold(env_id: str, num_envs: int, seconds: float, seed: int, overrides: dict, tmp: Path) -> dict:
    """Seconds each env's first episode lasted (capped at ``seconds``) and hold shares at 2 s and 20 s."""
    envs = make_env(env_id, num_envs,
                    {"stagger_episodes": False, "episode_length": 10**6, **overrides}, tmp, grasps=5000)
    envs.reset(seed=seed)
    steps = round(seconds / envs.control_dt)
    ended = np.full(num_envs, np.inf)
    zeros = np.zeros(envs.action_space.shape, np.float32)
    sec = Section()
    for t in range(1, steps + 1):
        w0, c0 = clocks()
        _, _, terminated, _, _ = envs.step(zeros)
        w1, c1 = clocks()
        sec.add(w1 - w0, c1 - c0)
        ended[terminated & np.isinf(ended)] = t * envs.control_dt
    threads = envs.backend.threads
    envs.close()
    held = np.minimum(ended, seconds)
    return {"num_envs": num_envs, "seconds": seconds, "seed": seed,  # a 2 s share only if 2 s were run
            "held_2s": float((ended > 2.0).mean()) if seconds >= 2.0 else None,
            f"held_{seconds:g}s": float(np.isinf(ended).mean()),
            "mean_seconds_held": float(held.mean()), "timing": verdict({"rollout": (sec, threads)})}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="default", help="a preset (legacy) or 'key=value,key=value' overrides")
    p.add_argument("--env-id", default="AllegroInhandRotation-v0")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None,
                   help="default: results/hold_rate[_<hand>][_<preset>].json (<hand> for other hands than Allegro)")
    args = p.parse_args()
    overrides = parse_overrides(args.config)
    results = {}
    with MachineLoad() as load, tempfile.TemporaryDirectory() as tmp:
        for mode, kw in MODES.items():
            r = hold(args.env_id, args.num_envs, args.seconds, args.seed, kw | overrides, Path(tmp))
            results[mode] = r
            two = "" if r["held_2s"] is None else f"{r['held_2s']:.1%} hold 2 s, "
            print(f"{mode:>8}: {two}{r[f'held_{args.seconds:g}s']:.1%} hold "
                  f"{args.seconds:g} s, mean {r['mean_seconds_held']:.1f} s held "
                  f"({args.num_envs} envs, zero action)", flush=True)
    out = {"machine": machine_info(), "env_id": args.env_id, "config": args.config, "overrides": overrides,
           "others_cpu_share": load.others_share, "results": results}
    hand = "" if args.env_id.startswith("Allegro") else "_" + args.env_id.removesuffix("InhandRotation-v0").lower()
    preset = "" if args.config == "default" else f"_{args.config}"
    path = args.out or RESULTS / f"hold_rate{hand}{preset}.json"  # never another hand's published file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
