"""Do the hand poses a policy visits ever bring an excluded self-collision pair into contact?

The Allegro MJCF excludes body pairs that the collision audit (``unilab_envs.hands.collision_audit``)
found never come within 5 mm anywhere in the joint ranges. This script checks that claim on the
poses real rollouts visit: it steps AllegroInhandRotation-v0 (full randomisation) with a policy, and
after every step runs MuJoCo's collision detection for each env's hand pose on the *unfiltered* hand
model, counting contacts (and approaches closer than ``--margin``) on the excluded pairs. With the
filter such pairs could pass through each other unnoticed; this would see it.

    python benchmarks/excluded_contacts.py --policy logs/sb3_ppo/<...>/exported/policy.pt
    python benchmarks/excluded_contacts.py --policy random        # the worst case a policy can do
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

import unilab_envs  # noqa: F401
from unilab_envs.hands import get_hand
from unilab_envs.hands.collision_audit import audited_exclusions, drop_audited_exclusions

RESULTS = Path(__file__).parent / "results"


def unfiltered_hand(hand: str, margin: float) -> mujoco.MjModel:
    m = drop_audited_exclusions(mujoco.MjSpec.from_file(str(get_hand(hand).xml_path))).compile()
    m.geom_margin[:] = margin
    return m


def make_policy(spec: str, action_shape, rng):
    if spec == "random":
        return lambda obs: rng.uniform(-1, 1, action_shape).astype(np.float32)
    if spec == "zero":
        return lambda obs: np.zeros(action_shape, np.float32)
    import torch

    actor = torch.jit.load(spec)

    def policy(obs):
        with torch.no_grad():
            return actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    return policy


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policy", default="random", help="exported TorchScript policy.pt, 'random' or 'zero'")
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--steps", type=int, default=800, help="control steps (20 Hz)")
    p.add_argument("--margin", type=float, default=0.002, help="m; also count approaches closer than this")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=args.num_envs)
    excluded = audited_exclusions("allegro")
    m = unfiltered_hand("allegro", args.margin)
    d = mujoco.MjData(m)
    qadr = np.array([m.jnt_qposadr[m.joint(n).id] for n in envs.hand.joint_names])
    body = m.geom_bodyid
    touching, near = Counter(), Counter()
    rng = np.random.default_rng(args.seed)
    policy = make_policy(args.policy, envs.action_space.shape, rng)
    obs, _ = envs.reset(seed=args.seed)
    for _ in range(args.steps):
        obs, *_ = envs.step(policy(obs))
        q, _ = envs.backend.joint_state()
        for pose in q:  # a study, not an env step: one collision pass per visited hand pose
            d.qpos[qadr] = pose
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            for c in d.contact[:d.ncon]:
                pair = tuple(sorted((m.body(int(body[c.geom1])).name, m.body(int(body[c.geom2])).name)))
                if pair in excluded:
                    (touching if c.dist < 0 else near)[pair] += 1
    envs.close()
    poses = args.num_envs * args.steps
    result = {"policy": args.policy, "poses_checked": poses, "excluded_pairs": len(excluded),
              "margin_m": args.margin, "penetrating": {"__".join(k): v for k, v in touching.items()},
              "closer_than_margin": {"__".join(k): v for k, v in near.items()}}
    print(f"{poses:,} hand poses ({args.policy}): {sum(touching.values())} contacts and {sum(near.values())} "
          f"approaches closer than {args.margin * 1000:g} mm on the {len(excluded)} excluded pairs")
    out = args.out or RESULTS / f"excluded_contacts_{Path(args.policy).stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
