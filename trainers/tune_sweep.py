"""Seed and hyper-parameter sweeps on Ray Tune: one trial per combination, each a normal run.

    train --algo ppo --task allegro_inhand --sim mujoco --seeds 0,1,2
    train --algo ppo --task allegro_inhand --sim mujoco --seeds 0,1 'algo.learning_rate=[3e-4,1e-3]' --ray auto
    train ... --seeds 0,1,2 --resume --load-run -1          # continue the newest sweep's unfinished trials

Axes: ``--seeds``; an override whose value is a list for a key that is not a list (``algo.learning_rate=
[3e-4,1e-3]``); and a config's ``sweep:`` section (``{dotted key: [values]}``, also for list-valued keys).
The grid is their product. Ray Tune runs the trials (``--ray ADDRESS``, default a local Ray instance), each
with ``training.ray.num_cpus_per_worker`` CPUs / ``num_gpus_per_worker`` GPUs; a trial trains like ``train``
would, into ``<sweep>/<algo family>/<experiment>/<time>_<sim>_<trial>``, then evaluates its final checkpoint
(``eval.*``) and reports those metrics to Tune. The sweep folder is ``<training.logdir>/sweeps/<time>_<sim>``:
``sweep.json`` (the grid), Tune's own state in ``tune/``, and ``summary.json`` (per combination: the mean
and spread over seeds of the final eval metrics). A resumed sweep restores Tune's state: finished trials
stay, unfinished ones run again and continue their run folder from its last checkpoint.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import runs

SUMMARY_METRICS = ("rotation_speed", "time_to_fall", "drop_rate", "return")
SWEEP_FILE = "sweep.json"


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def grid(seeds: list[int], axes: dict[str, list]) -> list[dict[str, object]]:
    """Every combination: a dict of dotted key -> value (``training.seed`` first)."""
    names = (["training.seed"] if seeds else []) + list(axes)
    values = ([seeds] if seeds else []) + [list(v) for v in axes.values()]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]


def trial_name(combo: dict) -> str:
    parts = []
    for key, value in combo.items():
        short = "seed" if key == "training.seed" else key.rsplit(".", 1)[-1]
        parts.append(f"{short}{_text(value).replace(' ', '')}")
    return "_".join(parts).replace("/", "-")[:100]


def run_trial(config: dict) -> None:
    """One Tune trial: ``train`` with the combination's overrides (resuming its run folder if it has a
    checkpoint), then ``eval`` of the final checkpoint; reports the eval's overall metrics."""
    from ray import tune

    from . import cli
    from .algos import get_algo
    from .eval_sweep import evaluate_checkpoint

    config = config["trial"]  # Tune's param space: {"trial": one of the grid's trials}
    logdir, name = Path(config["logdir"]), config["name"]
    argv = config["argv"] + [f"{k}={_text(v)}" for k, v in config["combo"].items()]
    argv += [f"training.logdir={logdir}", f"training.run_name={name}", "training.progress_bar=false"]
    existing = sorted(logdir.glob(f"*/*/*_{name}"))
    algo = get_algo(config["algo"])
    if existing and algo.list_checkpoints(existing[-1]):
        argv += ["--resume", "--load-run", str(existing[-1])]
    try:
        if cli.train(argv, sweep=False) != 0:
            raise RuntimeError(f"trial {name}: train exited with an error")
    except config_mod.RunFinished:  # a restarted trial whose training had finished: evaluate it again
        pass
    (run_dir,) = sorted(logdir.glob(f"*/*/*_{name}"))[-1:]
    ckpt = algo.list_checkpoints(run_dir)[-1]
    cfg = cli.config_mod.load(run_dir / runs.CONFIG_FILE)
    result = evaluate_checkpoint(config["algo"], run_dir, ckpt, cfg, progress=False)
    metrics = {k: float(result["overall"][k]) for k in SUMMARY_METRICS}
    tune.report(metrics | {"run": str(run_dir), "checkpoint": str(ckpt)})


def summarize(rows: list[dict]) -> list[dict]:
    """Per combination of the non-seed axes: mean and standard deviation over seeds of each metric."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        key = json.dumps({k: v for k, v in r["combo"].items() if k != "training.seed"}, sort_keys=True)
        groups.setdefault(key, []).append(r)
    out = []
    for key, members in groups.items():
        entry = {"overrides": json.loads(key), "seeds": [m["combo"].get("training.seed") for m in members],
                 "trials": len(members)}
        for m in SUMMARY_METRICS:
            values = np.array([x["metrics"][m] for x in members if m in x["metrics"]], float)
            entry[m] = {"mean": float(values.mean()) if len(values) else None,
                        "std": float(values.std()) if len(values) else None}
        out.append(entry)
    return out


def run(ray, argv: list[str], algo: str, combos: list[dict], logdir: Path, *, resume_dir: Path | None,
        num_cpus_per_worker: float, num_gpus_per_worker: float, sim: str) -> dict:
    """Start (or, with ``resume_dir``, continue) the sweep; returns the summary it writes."""
    from ray import tune

    if resume_dir is None:
        folder = Path(logdir).resolve() / "sweeps" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{sim}"
        trials = [{"argv": argv, "algo": algo, "combo": c, "name": trial_name(c), "logdir": str(folder)}
                  for c in combos]
        runs.write_json(folder / SWEEP_FILE, {"argv": argv, "algo": algo, "trials": trials})
    else:
        folder = Path(resume_dir).resolve()
        trials = json.loads((folder / SWEEP_FILE).read_text())["trials"]
    trainable = tune.with_resources(run_trial, {"cpu": num_cpus_per_worker, "gpu": num_gpus_per_worker})
    storage = folder / "tune"
    if resume_dir is not None and tune.Tuner.can_restore(str(storage / "trials")):
        tuner = tune.Tuner.restore(str(storage / "trials"), trainable, resume_unfinished=True, restart_errored=True)
    else:
        tuner = tune.Tuner(trainable, param_space={"trial": tune.grid_search(trials)},
                           run_config=tune.RunConfig(name="trials", storage_path=str(storage), verbose=1))
    results = tuner.fit()
    rows = []
    for res in results:
        trial = res.config["trial"]
        metrics = {k: res.metrics[k] for k in SUMMARY_METRICS if res.metrics and k in res.metrics}
        rows.append({"name": trial["name"], "combo": trial["combo"], "metrics": metrics,
                     "run": (res.metrics or {}).get("run"), "error": str(res.error) if res.error else None})
    rows.sort(key=lambda r: [t["name"] for t in trials].index(r["name"]))
    summary = {"sweep": str(folder), "trials": rows, "summary": summarize([r for r in rows if r["metrics"]])}
    runs.write_json(folder / "summary.json", summary)
    plot(summary, folder / "summary.png")
    return summary


def plot(summary: dict, path: Path) -> None:
    """Mean and standard deviation over seeds of each metric, one bar per combination (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        print("no summary.png: plotting needs matplotlib (pip install 'unilab-envs[bench]')")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = summary["summary"]
    labels = [", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in e["overrides"].items()) or "seeds" for e in entries]
    fig, axes = plt.subplots(1, len(SUMMARY_METRICS), figsize=(4 * len(SUMMARY_METRICS), 3.4))
    for ax, m in zip(axes, SUMMARY_METRICS, strict=True):
        ax.bar(range(len(entries)), [e[m]["mean"] for e in entries], yerr=[e[m]["std"] for e in entries], capsize=4)
        ax.set_xticks(range(len(entries)), labels, rotation=20, fontsize=7)
        ax.set_title(f"{m} (final eval, mean +- std over seeds)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def find_sweep(logdir: Path, load_run: str) -> Path:
    """``--load-run`` of a sweep: ``-1`` = newest under ``<logdir>/sweeps``, or a folder name or path."""
    root = Path(logdir) / "sweeps"
    found = sorted(p for p in root.glob("*") if (p / SWEEP_FILE).is_file()) if root.is_dir() else []
    text = str(load_run)
    if text.startswith("-") and text[1:].isdigit():
        if not found or -int(text) > len(found):
            raise runs.RunNotFound(f"--resume of a sweep: no sweep {text} under {root}")
        return found[int(text)]
    for candidate in (Path(text), root / text):
        if (candidate / SWEEP_FILE).is_file():
            return candidate
    raise runs.RunNotFound(f"--resume of a sweep: {text!r} is not a sweep folder under {root}")


def format_summary(summary: dict) -> str:
    lines = [f"sweep {summary['sweep']}: {len(summary['trials'])} trial(s)"]
    for entry in summary["summary"]:
        what = ", ".join(f"{k}={v}" for k, v in entry["overrides"].items()) or "(seeds only)"
        stats = "  ".join(f"{m} {entry[m]['mean']:.3f} +- {entry[m]['std']:.3f}" for m in SUMMARY_METRICS
                          if entry[m]["mean"] is not None)
        lines.append(f"  {what} [seeds {entry['seeds']}]: {stats}")
    for r in summary["trials"]:
        if r["error"]:
            lines.append(f"  trial {r['name']} failed: {r['error'][:200]}")
    return "\n".join(lines)


# --- the train command's side -----------------------------------------------------------------------
def plan(args: argparse.Namespace):
    """``(regular overrides, axes, seeds, base config)`` when ``train`` was asked for a sweep, else None."""
    from omegaconf import ListConfig

    from . import cli

    seeds = []
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError as e:
            raise config_mod.ConfigError(f"--seeds {args.seeds!r}: give integers separated by commas, e.g. "
                                         f"0,1,2") from e
    parsed = [(text, *config_mod.parse_override(text)) for text in args.overrides]
    listed = [(text, key, value) for text, key, value in parsed if isinstance(value, list)]
    if not seeds and not listed:
        return None
    base = argparse.Namespace(**{**vars(args), "overrides": [t for t, _, v in parsed if not isinstance(v, list)]})
    cfg0 = cli.compose(base)
    regular, axes = list(base.overrides), {}
    valid = config_mod.flat_keys(cfg0)
    for text, key, value in listed:
        current = OmegaConf.select(cfg0, key, default=None)
        if key not in valid or isinstance(current, (ListConfig, config_mod.TupleConfig, list, tuple)):
            # a list-valued key given a list, or a key of an open section (algo.hparams.*, whose library
            # checks it): an ordinary override; sweep those through the config's `sweep:` section
            regular.append(text)
        else:  # each value as a single override would read it ("1e-3" is a number, as YAML 1.1 does not say)
            axes[key] = [config_mod.parse_override(f"{key}={v}")[1] if isinstance(v, str) else v for v in value]
    section = cfg0.get("sweep") if "sweep" in cfg0 else None
    for key, values in (OmegaConf.to_container(section) if section else {}).items():
        axes[key] = list(values)
    if not seeds and not axes:
        return None
    for key in axes:
        if key not in valid:
            raise config_mod.ConfigError(f"sweep over unknown config key {key!r}{config_mod.suggest(key, valid)}")
    return regular, axes, seeds, cfg0


def start(args: argparse.Namespace, regular: list[str], axes: dict, seeds: list[int], cfg0: DictConfig) -> int:
    """``train --seeds ...`` / list-valued overrides: every combination checked here, then run on Ray Tune."""
    from unilab_envs.ray_cluster import connect

    from .algos import get_algo
    from .cli import flag_overrides

    combos = grid(seeds, axes)
    algo = get_algo(args.algo)
    for combo in combos:  # every trial's config is valid before anything starts
        cfg = config_mod.apply_overrides(cfg0.copy(), list(combo.items()))
        config_mod.validate_env(cfg)
        config_mod.validate_training(cfg)
        algo.validate(cfg)
    argv = ["--algo", args.algo, "--task", args.task, "--sim", args.sim] + (["--profile", args.profile] if
                                                                            args.profile else [])
    argv += [f"{k}={_text(v)}" for k, v in flag_overrides(args)
             if k not in ("training.ray.address", "training.seed")] + regular
    tr = cfg0.training
    ray = connect(tr.ray.address or "local")  # a sweep always runs on Ray Tune: a local instance by default
    resume_dir = find_sweep(Path(tr.logdir), args.load_run) if args.resume else None
    print(f"sweep: {len(combos)} trial(s) on Ray Tune ({tr.ray.address or 'local'})"
          + (f", resuming {resume_dir}" if resume_dir else ""))
    summary = run(ray, argv, args.algo, combos, Path(tr.logdir), resume_dir=resume_dir,
                  num_cpus_per_worker=float(tr.ray.num_cpus_per_worker),
                  num_gpus_per_worker=float(tr.ray.num_gpus_per_worker), sim=args.sim)
    print(format_summary(summary))
    return 0 if all(r["metrics"] for r in summary["trials"]) else 1
