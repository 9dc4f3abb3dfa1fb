"""How often the physics flings the object at unphysical speed: steps with the object faster than a limit.

Uniform random actions (the harshest thing a policy does early in training) from cached grasps, full
randomisation; counts the env steps in which the object moves faster than ``--limit`` m/s (a hand
moves its fingertips at ~1-2 m/s; faster objects were ejected by a solver overshoot) and the fastest
speed seen. Compare physics configs with ``--config`` (a preset or ``key=value,...``).

    python benchmarks/ejections.py --env-id SharpaInhandRotation-v0
    python benchmarks/ejections.py --env-id SharpaInhandRotation-v0 --config physics.impratio=10
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from configs import make_env, parse_overrides
from timing import MachineLoad, machine_info

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env-id", default="AllegroInhandRotation-v0")
    p.add_argument("--config", default="default")
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--limit", type=float, default=5.0, help="m/s")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    overrides = parse_overrides(args.config)
    with MachineLoad() as load, tempfile.TemporaryDirectory() as tmp:
        envs = make_env(args.env_id, args.num_envs, overrides, Path(tmp), grasps=1000)
        envs.reset(seed=args.seed)
        rng = np.random.default_rng(args.seed)
        fast, fastest = 0, 0.0
        for _ in range(args.steps):
            envs.step(rng.uniform(-1, 1, envs.action_space.shape))
            speed = np.linalg.norm(envs.unwrapped.backend.object_state().linvel, axis=1)
            fast += int((speed > args.limit).sum())
            fastest = max(fastest, float(speed.max()))
        envs.close()
    total = args.num_envs * args.steps
    result = {"machine": machine_info(), "env_id": args.env_id, "config": args.config, "overrides": overrides,
              "num_envs": args.num_envs, "steps": args.steps, "seed": args.seed, "limit_m_s": args.limit,
              "fast_env_steps": fast, "env_steps": total, "fastest_m_s": fastest, "others_cpu_share": load.others_share}
    print(f"{args.env_id} [{args.config}]: {fast} of {total} env steps with the object faster than {args.limit} m/s "
          f"({fast / total:.3%}), fastest {fastest:.1f} m/s")
    out = args.out or RESULTS / f"ejections_{args.env_id.split('Inhand')[0].lower()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
