"""Evaluating checkpoints: one (``eval``), or many at once (``eval --checkpoints all``, ``--load-run a,b``),
one task per checkpoint, in parallel on Ray with ``--ray`` or one after another without.

Each evaluation writes its usual ``<run>/eval/<checkpoint>_<time>.json``. A sweep also writes, under
``<experiment>/eval_sweeps/<time>/``, ``sweep.json`` (one row per checkpoint: run, checkpoint, env steps, the
overall metrics and end-cause shares) and ``sweep.png`` (rotation speed, time to fall and drop rate against
env steps, one line per run), and prints the combined table.
"""
from __future__ import annotations

import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import runs
from .algos import get_algo

ROW_METRICS = ("episodes", "return", "rotation_speed", "time_to_fall", "drop_rate")
PLOT = (("rotation_speed", "rotation speed (rad/s)"), ("time_to_fall", "time to fall (s)"), ("drop_rate", "drop rate"))


def evaluate_checkpoint(algo_name: str, run_dir: Path, ckpt: Path, cfg: DictConfig, recorder=None,
                        progress: bool = True) -> dict:
    """``eval`` of one checkpoint: the result dict, also written to ``<run>/eval/<checkpoint>_<time>.json``
    (its path under ``"json"``); with ``recorder``, its failures are saved too."""
    from .cli import env_factory
    from .evaluate import evaluate, record_video
    from .failures import save_failures

    algo = get_algo(algo_name)
    actor, info = algo.load_actor(run_dir, ckpt)
    ev = cfg.eval
    t0 = time.time()
    observer = info["eval_observer"]() if "eval_observer" in info else None  # a HORA student: its latent error
    result = evaluate(env_factory(cfg), actor, ev.episodes, ev.num_envs, ev.seed, list(cfg.env.domain_rand.scale_list),
                      progress=progress, observer=observer, recorder=recorder)
    result |= {"run": str(run_dir), "checkpoint": str(ckpt), "sim": cfg.env.sim,
               "trained_sim": OmegaConf.select(cfg, "run.trained_sim", default=cfg.env.sim),
               "wall_seconds": round(time.time() - t0, 1),
               "env_steps": env_steps_at(algo_name, cfg, ckpt), "config": OmegaConf.to_container(cfg.eval)}
    if ev.video:
        result["video"] = str(record_video(env_factory(cfg), actor, ev.video_seconds,
                                           run_dir / "videos" / f"eval_{ckpt.stem}.mp4", seed=ev.seed))
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    if recorder is not None:
        result["failures"] = save_failures(recorder, cfg, run_dir / "failures" / f"{ckpt.stem}_{stamp}",
                                           {"run": str(run_dir), "checkpoint": str(ckpt)})
    out = run_dir / "eval" / f"{ckpt.stem}_{stamp}.json"
    k = 1
    while out.exists():  # never overwrite a result (two evals in one second: a second file)
        k += 1
        out = run_dir / "eval" / f"{ckpt.stem}_{stamp}_{k}.json"
    runs.write_json(out, result)
    return result | {"json": str(out)}


def env_steps_at(algo_name: str, cfg: DictConfig, ckpt: Path) -> int | None:
    """Env steps the run had taken at ``ckpt`` (None where the file does not say)."""
    if algo_name == "appo":
        from .sf_appo import _progress

        return _progress(Path(ckpt))[1] or None
    try:
        iteration = get_algo(algo_name).checkpoint_iteration(ckpt)
    except Exception:
        return None
    per_env = cfg.algo.get("n_steps") or cfg.algo.get("num_steps_per_env")  # SB3's and rsl_rl's names
    return int(iteration) * int(per_env) * int(cfg.training.num_envs)


def targets(algo_name: str, run_dirs: list[Path], checkpoints: str) -> list[tuple[Path, Path]]:
    """(run, checkpoint) pairs: ``all`` checkpoints of each run, or the listed iterations (``-1``: newest)."""
    algo = get_algo(algo_name)
    out = []
    for run_dir in run_dirs:
        found = algo.list_checkpoints(run_dir)
        if checkpoints.strip().lower() == "all":
            if not found:
                raise runs.RunNotFound(f"run {run_dir} has no checkpoints to evaluate")
            out += [(run_dir, c) for c in found]
        else:
            out += [(run_dir, runs.pick_checkpoint(found, k.strip(), run_dir, algo.checkpoint_iteration))
                    for k in checkpoints.split(",") if k.strip()]
    return out


def row(result: dict) -> dict:
    overall = result["overall"]
    return {"run": Path(result["run"]).name, "checkpoint": Path(result["checkpoint"]).name,
            "env_steps": result.get("env_steps"), **{k: overall[k] for k in ROW_METRICS},
            "end_causes": overall.get("end_causes", {}), "json": result["json"]}


def sweep(algo_name: str, pairs: list[tuple[Path, Path]], configs: dict[Path, DictConfig], ray=None,
          num_cpus_per_worker: float = 2, num_gpus_per_worker: float = 0, progress: bool = True) -> list[dict]:
    """Evaluate every (run, checkpoint): as Ray tasks when ``ray`` is given, else in turn. Rows in input order."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(pairs), unit="checkpoint", desc="eval sweep", disable=not progress)
    results: list[dict | None] = [None] * len(pairs)
    try:
        if ray is None:
            for k, (run_dir, ckpt) in enumerate(pairs):
                results[k] = row(evaluate_checkpoint(algo_name, run_dir, ckpt, configs[run_dir], progress=False))
                bar.update()
        else:
            task = ray.remote(_remote_eval).options(num_cpus=num_cpus_per_worker, num_gpus=num_gpus_per_worker)
            threads = max(int(num_cpus_per_worker), 1)
            pending = {}
            for k, (run_dir, ckpt) in enumerate(pairs):
                cfg = config_mod.apply_overrides(configs[run_dir].copy(), [("env.num_threads", threads)])
                pending[task.remote(algo_name, str(run_dir), str(ckpt), OmegaConf.to_container(cfg))] = k
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                results[pending.pop(done[0])] = ray.get(done[0])
                bar.update()
    finally:
        bar.close()
    return results


def _remote_eval(algo_name: str, run_dir: str, ckpt: str, cfg: dict) -> dict:
    import unilab_envs  # noqa: F401  (registers the env ids in the worker)

    return row(evaluate_checkpoint(algo_name, Path(run_dir), Path(ckpt), OmegaConf.create(cfg), progress=False))


def write(rows: list[dict], folder: Path, title: str = "") -> dict:
    """``sweep.json`` and (with matplotlib) ``sweep.png`` in ``folder``; returns their paths."""
    out = {"json": str(folder / "sweep.json")}
    runs.write_json(folder / "sweep.json", {"rows": rows})
    try:
        import matplotlib
    except ImportError:
        out["png"] = None
        print("no sweep.png: plotting needs matplotlib (pip install 'unilab-envs[bench]')")
        return out
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(PLOT), figsize=(5 * len(PLOT), 3.6))
    for name in dict.fromkeys(r["run"] for r in rows):
        mine = sorted((r for r in rows if r["run"] == name and r["env_steps"] is not None),
                      key=lambda r: r["env_steps"])
        for ax, (key, _) in zip(axes, PLOT, strict=True):
            ax.plot([r["env_steps"] / 1e6 for r in mine], [r[key] for r in mine], marker="o", label=name)
    for ax, (_, label) in zip(axes, PLOT, strict=True):
        ax.set_xlabel("env steps (millions)")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title or "eval sweep")
    fig.tight_layout()
    fig.savefig(folder / "sweep.png", dpi=110)
    plt.close(fig)
    out["png"] = str(folder / "sweep.png")
    return out


def format_rows(rows: list[dict]) -> str:
    head = ["run", "checkpoint", "env steps", "rotation speed (rad/s)", "time to fall (s)", "drop rate", "return"]
    lines = ["  ".join(head)]
    for r in rows:
        lines.append("  ".join([r["run"], r["checkpoint"], str(r["env_steps"]), f"{r['rotation_speed']:.3f}",
                                f"{r['time_to_fall']:.2f}", f"{r['drop_rate']:.1%}", f"{r['return']:.2f}"]))
    return "\n".join(lines)
