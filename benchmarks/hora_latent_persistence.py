"""Is a HORA student's latent error noise that more evidence would average away, or a persistent bias?

For a teacher whose privileged facts are constant within an episode (scale, mass, friction, centre of mass;
trained without the object's offset), its latent ``z`` is constant per episode. The student estimates it from
a sliding window of joint history. This rolls the student out (it drives, deterministic actions, the run's
eval randomisation; ``--driver teacher``: its teacher drives) and reports the latent MSE against the teacher's
``z``, and when the driver's episodes end in a drop (``--teacher-first S``: the teacher's latent drives the first
S seconds of each episode, which tells how many of a student's extra drops its first seconds cause):

- by time in the episode (``0-1.5 s``: the history still holds the start frame, ``1.5-5 s``, ``5 s-end``);
- of the window estimate itself, of its causal running mean since the episode began, and of EMAs of it.

If averaging lowered the error a lot, an estimator over the whole episode would help; if it does not, the
history lacks the information and the error is a bias per episode.

Each run is stored under ``--label`` in ``--out`` (other labels there are kept). The committed results:

    R=logs/hora_distill/AllegroInhandRotation-v0/<run>
    python benchmarks/hora_latent_persistence.py --load-run $R --steps 1200 --label student
    python benchmarks/hora_latent_persistence.py --load-run $R --steps 1200 --driver teacher --label teacher
    python benchmarks/hora_latent_persistence.py --load-run $R --steps 1200 --teacher-first 1.5 \\
        --label teacher_first_1.5s
    python benchmarks/hora_latent_persistence.py --load-run $R --steps 1200 --teacher-first 5 --label teacher_first_5s
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from trainers import hora_distill, runs
from trainers.cli import env_factory
from trainers.config import apply_overrides, load

EMAS = (0.9, 0.97)           # weight of the previous average, per control step
PHASES = (0.0, 1.5, 5.0)     # s: the starts of the episode phases reported


def rollout(actor, make, num_envs: int, steps: int, seed: int, driver: str = "student",
            teacher_first: float = 0.0) -> dict:
    """Per-step squared latent errors of each estimate, binned by the episode phase, and when the ``driver``'s
    (the student's or its teacher's) episodes end in a drop, in the same bins. ``teacher_first`` (s): the
    teacher's own latent drives the first seconds of every episode, the student's the rest."""
    teacher, adapt = actor.teacher, actor.adapt
    env = make(num_envs)  # first episodes staggered, as in training; every phase is timed from its own start
    control_dt = env.unwrapped.control_dt
    sums = {k: np.zeros(len(PHASES)) for k in ("window", "running mean", *(f"ema {a}" for a in EMAS))}
    counts, drops = np.zeros(len(PHASES)), np.zeros(len(PHASES), int)
    episodes = 0
    try:
        obs, _ = env.reset(seed=seed)
        age = np.zeros(num_envs, int)
        total = np.zeros((num_envs, teacher.latent_dim))
        emas = {a: None for a in EMAS}
        with torch.no_grad():
            for _ in range(steps):
                zt = teacher.encode(torch.as_tensor(obs["privileged_state"])).numpy()
                zs = adapt(torch.as_tensor(obs["proprio_history"])).numpy()
                total += zs
                for a in EMAS:  # an episode's first estimate seeds its averages
                    e = emas[a]
                    emas[a] = zs.copy() if e is None else np.where((age == 0)[:, None], zs, a * e + (1 - a) * zs)
                estimates = {"window": zs, "running mean": total / (age + 1)[:, None],
                             **{f"ema {a}": emas[a] for a in EMAS}}
                phase = np.searchsorted(PHASES, age * control_dt, side="right") - 1
                counts += np.bincount(phase, minlength=len(PHASES))
                for name, z in estimates.items():
                    sums[name] += np.bincount(phase, ((z - zt) ** 2).mean(-1), minlength=len(PHASES))
                state = torch.as_tensor(obs["state"])
                own = (driver == "teacher") | (age * control_dt < teacher_first)
                z = torch.as_tensor(np.where(own[:, None], zt, zs))
                obs, _, terminated, truncated, _ = env.step(teacher.act_latent(state, z).numpy())
                done = terminated | truncated
                episodes += int(done.sum())
                drops += np.bincount(phase[terminated], minlength=len(PHASES))
                age = np.where(done, 0, age + 1)
                total[done] = 0.0
    finally:
        env.close()
    labels = [f"{lo:g}-{hi:g} s" for lo, hi in zip(PHASES[:-1], PHASES[1:], strict=True)] + [f"{PHASES[-1]:g} s-end"]

    def per_phase(values) -> dict:
        return dict(zip(labels, values, strict=True))

    return {"control_dt": control_dt, "driver": driver, "teacher_first_s": teacher_first,
            "finished_episodes": episodes, "drops_per_phase": per_phase(drops.tolist()),
            "samples_per_phase": per_phase(counts.astype(int).tolist()),
            "latent_mse": {name: {"all": float(s.sum() / counts.sum()),
                                  **per_phase((s / np.maximum(counts, 1)).tolist())}
                           for name, s in sums.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--load-run", required=True, type=Path, help="a --algo hora_distill run folder")
    p.add_argument("--checkpoint", default="-1")
    p.add_argument("--num-envs", type=int, default=128)
    p.add_argument("--steps", type=int, default=800, help="control steps of every env (400 = one 20 s episode)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--driver", choices=("student", "teacher"), default="student",
                   help="whose latent drives the teacher's head (the errors are the student's either way)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hora_latent_persistence.json")
    p.add_argument("--label", default="student", help="key of this run in --out")
    p.add_argument("--teacher-first", type=float, default=0.0, metavar="S",
                   help="the teacher's latent drives the first S seconds of every episode (a student driver)")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args()
    ckpt = runs.pick_checkpoint(hora_distill.list_checkpoints(args.load_run), args.checkpoint, args.load_run,
                                hora_distill.checkpoint_iteration)
    cfg = apply_overrides(load(args.load_run / runs.CONFIG_FILE), args.overrides)
    actor, _ = hora_distill.load_actor(args.load_run, ckpt)
    result = rollout(actor, env_factory(cfg), args.num_envs, args.steps, args.seed, args.driver,
                     args.teacher_first)
    for name, row in result["latent_mse"].items():
        print(f"{name:>14}: " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()))
    print(f"{args.driver} drives (teacher first {args.teacher_first:g} s): {result['finished_episodes']} episodes "
          f"ended, drops by phase {result['drops_per_phase']}")
    stored = json.loads(args.out.read_text()) if args.out.is_file() else {}
    stored[args.label] = {"run": str(args.load_run), "checkpoint": str(ckpt), "num_envs": args.num_envs,
                          "steps": args.steps, "seed": args.seed, **result}
    runs.write_json(args.out, stored)
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
