"""The zero-action baseline of `eval`: the hand holds its start grasp and does nothing else.

Same episodes, randomisation and metrics as `python -m trainers eval` with its defaults, so a trained
policy's numbers can be read against "hold still" (rotation ~0 rad/s; time to fall = how long a
motionless grasp survives HORA's randomisation).

    python benchmarks/baseline_eval.py [key=value ...]
    python benchmarks/baseline_eval.py --task sharpa_inhand --out benchmarks/results/baseline_zero_action_sharpa.json
    python benchmarks/baseline_eval.py --sim motrix --out benchmarks/results/baseline_zero_action_motrix.json
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from trainers.cli import env_factory
from trainers.config import compose
from trainers.evaluate import evaluate, format_table
from unilab_envs.hands import get_hand


class ZeroActor(torch.nn.Module):
    def __init__(self, num_actions: int):
        super().__init__()
        self.num_actions = num_actions

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], self.num_actions)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*")
    p.add_argument("--task", default="allegro_inhand", help="a rotation task of conf/task/")
    p.add_argument("--sim", default="mujoco", help="physics backend (mujoco, motrix)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "baseline_zero_action.json")
    args = p.parse_args()
    cfg = compose("ppo", args.task, args.sim, overrides=args.overrides)
    ev = cfg.eval
    result = evaluate(env_factory(cfg), ZeroActor(get_hand(cfg.env.hand).num_joints), ev.episodes, ev.num_envs, ev.seed,
                      list(cfg.env.domain_rand.scale_list))
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(json.dumps(result | {"sim": args.sim}, indent=2) + "\n")
    print(format_table(result, title="zero action"))


if __name__ == "__main__":
    main()
