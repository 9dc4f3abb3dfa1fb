"""Roll out AllegroInhandRotation-v0 (or SharpaInhandRotation-v0, --env-id) with a fixed policy and report
physical metrics.

    python examples/rollout.py                          # 256 envs, hold still (zero action), 20 s
    python examples/rollout.py --policy random --video rollout.mp4

The metrics are the ones a trained policy is judged by: seconds before a drop and rotation speed
about the task axis (rad/s, from the object's orientation). A policy that holds still should keep
the ball for most of the episode and rotate it ~0 rad/s; learning has to do better.
"""
from __future__ import annotations

import argparse

import gymnasium as gym
import numpy as np

import unilab_envs  # registers the env ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-id", default="AllegroInhandRotation-v0",
                        choices=[i for i in unilab_envs.TASKS if "Rotation" in i], help="a rotation task")
    parser.add_argument("--num-envs", type=int, default=256)
    parser.add_argument("--steps", type=int, default=400, help="control steps (20 Hz)")
    parser.add_argument("--policy", choices=["zero", "random"], default="zero")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--video", default=None, help="write env 0 to this mp4 (needs imageio[ffmpeg])")
    parser.add_argument("--no-domain-rand", action="store_true", help="nominal physics")
    args = parser.parse_args()

    kwargs = {"stagger_episodes": False}
    if args.no_domain_rand:
        kwargs["domain_rand"] = {"enabled": False}
    if args.video:
        kwargs["render_mode"] = "rgb_array"
    envs = gym.make_vec(args.env_id, num_envs=args.num_envs, **kwargs)
    envs.reset(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    frames, episodes = [], []
    for _ in range(args.steps):
        if args.policy == "zero":
            action = np.zeros(envs.action_space.shape, np.float32)
        else:
            action = rng.uniform(-1, 1, envs.action_space.shape).astype(np.float32)
        _, _, _, _, info = envs.step(action)
        if "final_info" in info:
            done = info["_final_info"]
            episodes.append({k: v[done] for k, v in info["final_info"].items()
                             if not k.startswith("_") and not isinstance(v, dict)})
        if args.video:
            frames.append(envs.render())
    envs.close()

    if not episodes:
        print(f"no episode ended within {args.steps} steps")
        return
    ep = {k: np.concatenate([e[k] for e in episodes]) for k in episodes[0]}
    print(f"{len(ep['dropped'])} episodes ended in {args.steps} control steps of {args.num_envs} envs")
    print(f"  dropped:             {ep['dropped'].mean():.1%}")
    print(f"  seconds before end:  {ep['episode_seconds'].mean():.2f} s (mean)")
    print(f"  rotation speed:      {ep['rotation_speed'].mean():+.3f} rad/s about the task axis")
    print(f"  episode return:      {ep['episode_return'].mean():+.3f}")
    if args.video:
        import imageio.v2 as imageio
        imageio.mimsave(args.video, frames, fps=envs.metadata["render_fps"])
        print(f"wrote {args.video}")


if __name__ == "__main__":
    main()
