"""Plot learning curves from runs' TensorBoard events: rotation speed, time to fall, return.

    python benchmarks/learning_curve.py logs/sb3_ppo/AllegroInhandRotation-v0/<run> --out benchmarks/results/x.png
    python benchmarks/learning_curve.py RUN_A RUN_B --labels "new, seed 42" "new, seed 43" --out cmp.png
    python benchmarks/learning_curve.py RUN_A RUN_B --causes --out cmp.png     # + the share of each end cause
    python benchmarks/learning_curve.py STUDENT_A STUDENT_B --distill --out s.png  # + a HORA student's latent error
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

#: (SB3 run tag, Sample Factory run tag, label)
PANELS = (("episode/rotation_speed_rad_s", "episode_extra_stats/rotation_speed", "rotation speed (rad/s)"),
          ("episode/time_to_fall_s", "episode_extra_stats/episode_seconds", "time to fall (s)"),
          ("episode/episode_return", "episode_extra_stats/episode_return", "episode return"))
#: with --causes: the share of ended episodes per end cause (per iteration, so a moving average of SMOOTH points)
CAUSE_PANELS = (("end_cause/time_limit", "episode_extra_stats/end_cause/time_limit", "share ended by the time limit"),
                ("end_cause/fell", "episode_extra_stats/end_cause/fell", "share ended by falling"),
                ("end_cause/left_palm", "episode_extra_stats/end_cause/left_palm", "share ended leaving the palm"))
#: with --distill: a HORA student's latent error on its own rollouts (moving average of SMOOTH points)
DISTILL_PANELS = (("distill/latent_mse", "distill/latent_mse", "student's latent error (MSE of z)"),)
SMOOTH = 25


def scalars(run: Path) -> dict[str, tuple[list[int], list[float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, tuple[list[int], list[float]]] = {}
    for events in sorted({p.parent for p in run.rglob("events.out.tfevents.*")}):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            name = tag.split("/", 1)[1] if tag.startswith("0/") else tag  # Sample Factory prefixes policy 0
            steps, values = found.setdefault(name, ([], []))
            for e in acc.Scalars(tag):
                steps.append(e.step)
                values.append(e.value)
    return found


def plot(runs: list[Path], out: Path, title: str | None = None, labels: list[str] | None = None,
         causes: bool = False, distill: bool = False) -> dict:
    """One panel per metric, one line per run; returns each run's last value of each metric. ``distill`` adds
    a panel of a HORA student's latent error; ``causes`` a second row: the share of each end cause per
    iteration. Those per-iteration panels are moving averages of ``SMOOTH`` points."""
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or [run.name for run in runs]
    grid = [PANELS + (DISTILL_PANELS if distill else ())] + ([CAUSE_PANELS] if causes else [])
    smoothed = set(DISTILL_PANELS + CAUSE_PANELS)
    ncols = max(len(row) for row in grid)
    fig, axes = plt.subplots(len(grid), ncols, figsize=(5 * ncols, 3.6 * len(grid)), squeeze=False)
    placed = [(axes[r, c], panel) for r, row in enumerate(grid) for c, panel in enumerate(row)]
    for r, row in enumerate(grid):
        for c in range(len(row), ncols):
            axes[r, c].set_visible(False)
    last: dict[str, dict] = {}
    for run, label in zip(runs, labels, strict=True):
        data = scalars(run)
        for ax, panel in placed:
            sb3_tag, sf_tag, name = panel
            tag = sb3_tag if sb3_tag in data else sf_tag
            if tag in data:
                steps, values = data[tag]
                order = sorted(range(len(steps)), key=steps.__getitem__)
                x, y = np.array([steps[i] / 1e6 for i in order]), np.array([values[i] for i in order])
                if panel in smoothed and len(y) >= SMOOTH:
                    y = np.convolve(y, np.ones(SMOOTH) / SMOOTH, mode="valid")
                    x = x[SMOOTH - 1:]
                ax.plot(x, y, label=label)
                last.setdefault(label, {})[name] = float(y[-1])
    for ax, (_, _, name) in placed:
        ax.set_xlabel("env steps (millions)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        axes[0, 0].legend(fontsize=8)
    fig.suptitle(title or ", ".join(labels))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return last


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--labels", nargs="+", help="one per run (default: the run folder names)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "learning_curve.png")
    p.add_argument("--title")
    p.add_argument("--causes", action="store_true", help="add the share of each end cause per iteration")
    p.add_argument("--distill", action="store_true", help="add a HORA student's latent error per iteration")
    args = p.parse_args()
    print(json.dumps(plot(args.runs, args.out, args.title, args.labels, args.causes, args.distill), indent=2))
    print(args.out)


if __name__ == "__main__":
    main()
