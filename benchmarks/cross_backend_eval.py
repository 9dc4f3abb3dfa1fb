"""Policies trained on each physics backend, evaluated on their own backend and across, beside zero action.

    python benchmarks/cross_backend_eval.py RUN_MUJOCO RUN_MOTRIX --episodes 256 \
        --out benchmarks/results/backends_learning_eval.json

Every run (a `train` run folder of PPO on a rotation task) is evaluated with `python -m trainers eval` on
every backend of `--sims` (the same eval seed and episodes everywhere), and the zero-action baseline is
evaluated on each backend too. Writes one JSON (rows: policy, trained on, evaluated on, metrics, end
causes) and prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml
from baseline_eval import ZeroActor

from trainers import cli
from trainers.cli import env_factory
from trainers.config import compose
from trainers.evaluate import evaluate
from unilab_envs.hands import get_hand

METRICS = ("episodes", "rotation_speed", "time_to_fall", "drop_rate", "return")


def eval_run(run: Path, sim: str, episodes: int, num_envs: int) -> dict:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    task = cfg["run"]["task"]
    before = set((run / "eval").glob("*.json")) if (run / "eval").is_dir() else set()
    assert cli.main(["eval", "--algo", cfg["run"]["algo"], "--task", task, "--sim", sim, "--load-run", str(run),
                     f"eval.episodes={episodes}", f"eval.num_envs={num_envs}", "training.progress_bar=false"]) == 0
    (new,) = set((run / "eval").glob("*.json")) - before
    return json.loads(new.read_text())


def zero_action(task: str, sim: str, episodes: int, num_envs: int) -> dict:
    cfg = compose("ppo", task, sim, overrides=[f"eval.episodes={episodes}", f"eval.num_envs={num_envs}"])
    ev = cfg.eval
    return evaluate(env_factory(cfg), ZeroActor(get_hand(cfg.env.hand).num_joints), ev.episodes, ev.num_envs,
                    ev.seed, list(cfg.env.domain_rand.scale_list), progress=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--sims", nargs="+", default=["mujoco", "motrix"])
    p.add_argument("--episodes", type=int, default=256)
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    rows = []
    task = yaml.safe_load((args.runs[0] / "config.yaml").read_text())["run"]["task"]
    for sim in args.sims:
        r = zero_action(task, sim, args.episodes, args.num_envs)
        rows.append({"policy": "zero action", "trained_on": "-", "evaluated_on": sim}
                    | {k: r["overall"][k] for k in METRICS} | {"end_causes": r["overall"].get("end_causes", {})})
    for run in args.runs:
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        summary = json.loads((run / "summary.json").read_text())
        for sim in args.sims:
            r = eval_run(run, sim, args.episodes, args.num_envs)
            rows.append({"policy": f"PPO seed {cfg['training']['seed']}", "trained_on": cfg["env"]["sim"],
                         "evaluated_on": sim, "run": str(run), "checkpoint": Path(r["checkpoint"]).name,
                         "env_steps": summary.get("env_steps"), "train_wall_s": summary.get("wall_seconds")}
                        | {k: r["overall"][k] for k in METRICS} | {"end_causes": r["overall"].get("end_causes", {})})
    head = "| policy | trained on | evaluated on | rotation speed (rad/s) | time to fall (s) | drop rate | return |"
    lines = [head, "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['policy']} | {r['trained_on']} | {r['evaluated_on']} | {r['rotation_speed']:.3f} | "
                     f"{r['time_to_fall']:.1f} | {r['drop_rate']:.1%} | {r['return']:.2f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"episodes": args.episodes, "task": task, "rows": rows}, indent=2) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
