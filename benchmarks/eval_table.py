"""Gather runs' newest `eval` results (and their training summaries) into one JSON and a markdown table.

    python benchmarks/eval_table.py RUN_A RUN_B --labels "no curriculum, s42" "curriculum, s42" \
        --baseline benchmarks/results/baseline_zero_action.json --out benchmarks/results/x.json

Each row: the run's label, seed, env steps, training wall time (and CPU time / wall time from the
`/usr/bin/time -v` output in `--time-logs`, one file per run), the overall eval metrics and the share of each
end cause.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import yaml

METRICS = ("episodes", "return", "rotation_speed", "time_to_fall", "drop_rate")


def cpu_over_wall(text: str) -> float | None:
    """CPU time / wall time from ``/usr/bin/time -v`` output."""
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if not (user and system and wall):
        return None
    seconds = 0.0
    for part in wall.group(1).split(":"):
        seconds = seconds * 60 + float(part)
    return round((float(user.group(1)) + float(system.group(1))) / seconds, 2) if seconds else None


def row(run: Path, label: str, time_log: Path | None = None) -> dict:
    evals = sorted((run / "eval").glob("*.json"))
    if not evals:
        raise SystemExit(f"{run} has no eval/*.json: run `python -m trainers eval ... --load-run {run.name}` first")
    result = json.loads(evals[-1].read_text())
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").is_file() else {}
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    out = {"policy": label, "run": str(run), "checkpoint": Path(result["checkpoint"]).name,
           "seed": cfg["training"]["seed"], "env_steps": summary.get("env_steps"),
           "train_wall_s": summary.get("wall_seconds"),
           "train_cpu_over_wall": cpu_over_wall(time_log.read_text()) if time_log else None,
           "curriculum": cfg["env"].get("curriculum", {}).get("enabled", False)}
    out |= {k: result["overall"][k] for k in METRICS}
    out["end_causes"] = result["overall"].get("end_causes", {})
    return out


def markdown(rows: list[dict]) -> str:
    causes = list(rows[0]["end_causes"]) if rows and rows[0]["end_causes"] else []
    head = ["policy", "seed", "rotation speed (rad/s)", "time to fall (s)", "drop rate", "return", *causes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["policy"], str(r.get("seed", "")), f"{r['rotation_speed']:.3f}", f"{r['time_to_fall']:.1f}",
                 f"{r['drop_rate']:.1%}", f"{r['return']:.2f}", *(f"{r['end_causes'].get(c, 0):.1%}" for c in causes)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--labels", nargs="+", help="one per run (default: the run folder names)")
    p.add_argument("--time-logs", type=Path, nargs="+", help="one /usr/bin/time -v output per run")
    p.add_argument("--baseline", type=Path, help="a benchmarks/baseline_eval.py JSON to add as the first row")
    p.add_argument("--protocol", default="", help="how the numbers were taken, stored with them")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    labels = args.labels or [r.name for r in args.runs]
    if len(labels) != len(args.runs):
        p.error(f"--labels gives {len(labels)} label(s) for {len(args.runs)} run(s): give one per run, in order")
    rows = []
    if args.baseline:
        base = json.loads(args.baseline.read_text())["overall"]
        rows.append({"policy": "zero action", **{k: base[k] for k in METRICS},
                     "end_causes": base.get("end_causes", {})})
    times = args.time_logs or [None] * len(args.runs)
    rows += [row(run, label, t) for run, label, t in zip(args.runs, labels, times, strict=True)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"protocol": args.protocol, "rows": rows}, indent=1) + "\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
