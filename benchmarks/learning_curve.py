"""Plot learning curves from runs' TensorBoard events: rotation speed, time to fall, return.

    python benchmarks/learning_curve.py logs/sb3_ppo/AllegroInhandRotation-v0/<run> --out benchmarks/results/x.png
    python benchmarks/learning_curve.py RUN_A RUN_B --labels "new, seed 42" "new, seed 43" --out cmp.png
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

#: (SB3 run tag, Sample Factory run tag, label)
PANELS = (("episode/rotation_speed_rad_s", "episode_extra_stats/rotation_speed", "rotation speed (rad/s)"),
          ("episode/time_to_fall_s", "episode_extra_stats/episode_seconds", "time to fall (s)"),
          ("episode/episode_return", "episode_extra_stats/episode_return", "episode return"))


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


def plot(runs: list[Path], out: Path, title: str | None = None, labels: list[str] | None = None) -> dict:
    """One panel per metric, one line per run; returns each run's last value of each metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or [run.name for run in runs]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 3.6))
    last: dict[str, dict] = {}
    for run, label in zip(runs, labels, strict=True):
        data = scalars(run)
        for ax, (sb3_tag, sf_tag, name) in zip(axes, PANELS, strict=True):
            tag = sb3_tag if sb3_tag in data else sf_tag
            if tag in data:
                steps, values = data[tag]
                order = sorted(range(len(steps)), key=steps.__getitem__)
                ax.plot([steps[i] / 1e6 for i in order], [values[i] for i in order], label=label)
                last.setdefault(label, {})[name] = values[order[-1]]
    for ax, (_, _, name) in zip(axes, PANELS, strict=True):
        ax.set_xlabel("env steps (millions)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        axes[0].legend(fontsize=8)
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
    args = p.parse_args()
    print(json.dumps(plot(args.runs, args.out, args.title, args.labels), indent=2))
    print(args.out)


if __name__ == "__main__":
    main()
