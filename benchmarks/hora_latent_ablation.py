"""What a HORA teacher's latent carries: the teacher evaluated with parts of its privileged input held
fixed, beside the full teacher, on the same eval episodes. A student's drop rate read against these rows
says which facts its history does not recover.

    python benchmarks/hora_latent_ablation.py --load-run RUN_DIR [--algo ppo|appo] [key=value ...]
    python benchmarks/hora_latent_ablation.py --load-run logs/sb3_ppo/AllegroInhandRotation-v0-hora/<run> \\
        eval.episodes=256 --out benchmarks/results/hora_latent_ablation.json

``--per-fact`` adds one variant per privileged fact (offset, scale, mass, friction, com, gravity), each held
alone, to tell which fact a teacher leans on.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from trainers import runs
from trainers.algos import get_algo
from trainers.cli import env_factory
from trainers.config import apply_overrides, load
from trainers.evaluate import evaluate, format_table
from trainers.hora_model import TeacherActor
from unilab_envs.tasks.inhand_rotation import PRIV_DIM, PRIV_FIELDS

#: variant -> the privileged entries held at 0 (the middle of their randomisation range; the start position
#: for the object's offset), or "z" for the latent itself held at 0
VARIANTS = {"full teacher": None, "object offset held at 0": slice(0, 3),
            "scale, mass, friction, com held mid-range": slice(3, 9), "latent z held at 0": "z"}
#: --per-fact: each privileged fact held alone, at 0 (mid-range; the start position) or, for gravity, straight down
PER_FACT = {f"{name} held at {'nominal' if name == 'gravity' else '0'}": slice(*span)
            for name, span in PRIV_FIELDS.items()}
NOMINAL = torch.zeros(PRIV_DIM)
NOMINAL[slice(*PRIV_FIELDS["gravity"])] = torch.tensor([0.0, 0.0, -1.0])


class Held(torch.nn.Module):
    input_keys = TeacherActor.input_keys

    def __init__(self, teacher: TeacherActor, held):
        super().__init__()
        self.teacher, self.held = teacher, held

    def forward(self, state: torch.Tensor, priv: torch.Tensor) -> torch.Tensor:
        if self.held == "z":
            return self.teacher.act_latent(state, torch.zeros(len(state), self.teacher.latent_dim))
        if self.held is not None:
            priv = priv.clone()
            priv[:, self.held] = NOMINAL[self.held]
        return self.teacher(state, priv)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load-run", required=True, type=Path, help="a --profile hora run folder")
    p.add_argument("--algo", default="ppo", help="the teacher's --algo: ppo | appo")
    p.add_argument("--checkpoint", default="-1")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hora_latent_ablation.json")
    p.add_argument("--per-fact", action="store_true", help="also hold each privileged fact alone")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    algo = get_algo(args.algo)
    runs.check_profile(args.load_run, "hora")
    ckpt = runs.pick_checkpoint(algo.list_checkpoints(args.load_run), args.checkpoint, args.load_run,
                                algo.checkpoint_iteration)
    cfg = apply_overrides(load(args.load_run / runs.CONFIG_FILE), args.overrides)
    teacher, _ = algo.load_actor(args.load_run, ckpt)
    ev = cfg.eval
    results = {}
    variants = VARIANTS | (PER_FACT if args.per_fact else {})
    for name, held in variants.items():
        results[name] = evaluate(env_factory(cfg), Held(teacher, held), ev.episodes, ev.num_envs, ev.seed,
                                 list(cfg.env.domain_rand.scale_list), progress=False)
        print(format_table(results[name], title=name))
    out = {"run": str(args.load_run), "checkpoint": str(ckpt), "eval": dict(ev), "variants": results}
    runs.write_json(args.out, out)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
