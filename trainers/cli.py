"""The ``train``, ``eval`` and ``export`` commands.

    train --algo ppo --task allegro_inhand --sim mujoco [--profile P] [flags] [key=value ...]
    train --algo ppo --task allegro_inhand --sim mujoco --profile hora          # HORA teacher
    train --algo hora_distill --task allegro_inhand --sim mujoco teacher.load_run=-1   # HORA student
    eval  --algo ppo --task allegro_inhand --sim mujoco --load-run -1 [--checkpoint -1] [key=value ...]
    python -m trainers eval ...      # where the shell's builtin `eval` shadows the console script
    unilab-eval ...                  # the same, namespaced
"""
from __future__ import annotations

import argparse
import functools
import logging
import re
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from unilab_envs.backends import BACKENDS
from unilab_envs.grasp_cache import GraspCacheError
from unilab_envs.ray_cluster import RayUnavailable
from unilab_envs.ray_cluster import connect as connect_ray

from . import config as config_mod
from . import runs
from .algos import ALGOS, get_algo

log = logging.getLogger("trainers")

FLAGS = {  # flag dest -> config key
    "num_envs": "training.num_envs", "seed": "training.seed", "max_iterations": "training.max_iterations",
    "experiment_name": "training.experiment_name", "run_name": "training.run_name",
    "headless": "training.headless", "device": "training.device", "sim_device": "env.sim_device",
    "ray": "training.ray.address",
}


def parser(command: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=command, description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--algo", required=command != "eval", help=" | ".join(ALGOS))
    p.add_argument("--task", required=command != "eval", help="e.g. allegro_inhand, allegro_inhand_grasp")
    p.add_argument("--sim", default="mujoco", help=f"physics backend: {' | '.join(BACKENDS)} (default: mujoco)")
    p.add_argument("--profile", default=None, help="config variant: conf/<algo>/task/<task>/<sim>_<profile>.yaml")
    if command != "export":  # what only training and evaluating take (export reads a run's saved config)
        p.add_argument("--num-envs", type=int)
        p.add_argument("--seed", type=int)
        p.add_argument("--max-iterations", type=int, help="total iterations of the run (a resumed run continues to it)")
    p.add_argument("--experiment-name", help="folder under logs/<algo family>/ (default: the env id)")
    if command != "export":
        p.add_argument("--run-name", help="suffix of the run folder name")
    p.add_argument("--headless", action="store_true", default=None,
                   help="no window (rendering is always offscreen here; accepted for familiar command lines)")
    p.add_argument("--rl-device", "--rl_device", "--device", dest="device",
                   help="torch device of the policy and learning (legged_gym's --rl_device): auto | cpu | cuda[:N]")
    p.add_argument("--sim-device", "--sim_device", dest="sim_device",
                   help="physics device (legged_gym's --sim_device): cpu | cuda[:N]; mujoco runs on the CPU only")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: local (default), auto, or ray://host:10001; grasp tasks collect in chunks")
    p.add_argument("--load-run", default=None if command == "train" else "-1",
                   help="run folder name or -1 = newest (eval, export, train --resume)")
    p.add_argument("--checkpoint", default="-1", help="iteration number, file, or -1 = newest")
    if command == "train":
        p.add_argument("--resume", action="store_true", help="continue --load-run in place: steps, optimizer, logs")
        p.add_argument("--seeds", metavar="S,S,...", help="a sweep on Ray Tune: one run per seed (and per value of "
                       "any list-valued override, e.g. 'algo.learning_rate=[3e-4,1e-3]')")
    if command == "eval":
        p.add_argument("--record-failures", type=int, metavar="K",
                       help="save the K worst episodes (start state, seed, actions, pushes) and an mp4 of each")
        p.add_argument("--failure-key", default="time_to_fall", help="worst = lowest: time_to_fall | "
                                                                      "rotation_speed | return")
        p.add_argument("--failure-cause", default="dropped", help="episodes considered: dropped (any end but the "
                       "time limit) | any | names, e.g. fell,left_palm")
        p.add_argument("--replay", metavar="FILE", help="play a recorded failure_<n>.npz back and check it "
                                                        "reproduces (no --algo/--task needed)")
        p.add_argument("--video", metavar="MP4", help="with --replay: also write the replay's video here")
        p.add_argument("--checkpoints", metavar="all|N,M",
                       help="an eval sweep: every checkpoint of each --load-run run (all) or these iterations; "
                            "parallel with --ray. --load-run also takes several runs: a,b,-1")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="dotted config overrides, e.g. env.object_type=cube")
    return p


def parse(command: str, argv: list[str] | None) -> argparse.Namespace:
    """Flags and ``key=value`` overrides in any order."""
    p = parser(command)
    argv = list(sys.argv[1:] if argv is None else argv)
    for i, a in enumerate(argv[:-1]):  # `--load-run -1,-2`: argparse would read "-1,-2" as an option
        if a in ("--load-run", "--checkpoint", "--checkpoints") and re.fullmatch(r"-\d+,.*", argv[i + 1]):
            argv[i:i + 2] = [f"{a}={argv[i + 1]}", ""]
    args, rest = p.parse_known_args([a for a in argv if a != ""])
    bad = [a for a in rest if a.startswith("-") or "=" not in a]
    if bad:
        p.error(f"unrecognized arguments: {' '.join(bad)} (overrides are key=value, e.g. training.num_envs=64)")
    args.overrides = list(args.overrides) + rest
    if getattr(args, "ray", None) and "=" in args.ray:  # `--ray key=value`: a bare --ray, then an override
        args.overrides.insert(0, args.ray)
        args.ray = "local"
    if command == "eval" and not args.replay and (args.algo is None or args.task is None):
        p.error("eval needs --algo and --task (or --replay FILE)")
    return args


def flag_overrides(args: argparse.Namespace) -> list[tuple[str, object]]:
    return [(key, getattr(args, dest)) for dest, key in FLAGS.items() if getattr(args, dest, None) is not None]


def compose(args: argparse.Namespace) -> DictConfig:
    return config_mod.compose(args.algo, args.task, args.sim, args.profile,
                              flag_overrides(args) + list(args.overrides))


def saved_config(run_dir: Path, args: argparse.Namespace) -> DictConfig:
    """A run's own config with this command's flags and overrides on top. ``--sim`` is the backend this command
    runs on: eval and export of a run trained on another backend run on ``--sim`` (a cross-backend evaluation,
    said on screen and kept as ``run.trained_sim``); ``--resume`` keeps a run on its own backend."""
    cfg = config_mod.load(run_dir / runs.CONFIG_FILE)
    trained = OmegaConf.select(cfg, "env.sim", default="mujoco")
    if args.sim != trained:
        if getattr(args, "resume", False):
            raise config_mod.ConfigError(f"--resume: {run_dir.name} was trained on --sim {trained}; resume it with "
                                         f"--sim {trained} (a run keeps one physics backend)")
        print(f"note: {run_dir.name} was trained on --sim {trained}; it runs on --sim {args.sim} here "
              "(a cross-backend evaluation)")
        cfg.env.sim = cfg.training.sim_backend = args.sim
        OmegaConf.update(cfg, "run.sim", args.sim, force_add=True)
    OmegaConf.update(cfg, "run.trained_sim", trained, force_add=True)
    return config_mod.apply_overrides(cfg, flag_overrides(args) + list(args.overrides))


def train(argv: list[str] | None = None, sweep: bool = True) -> int:
    """Train (or collect grasps); every config is validated before a run folder is made, and a run that
    fails before its first checkpoint is marked failed, so ``--load-run -1`` never picks a dead run."""
    args = parse("train", argv)
    if args.load_run is None:
        args.load_run = "-1"  # the newest run, for --resume
    elif not args.resume:
        raise config_mod.ConfigError(f"--load-run {args.load_run} selects the run to resume; add --resume (or use "
                                     f"eval to evaluate it)")
    from .tune_sweep import plan, start

    planned = plan(args) if sweep else None  # a sweep's own trials (sweep=False) are single runs
    if planned is not None:
        return start(args, *planned)
    cfg = compose(args)
    config_mod.validate_env(cfg)
    config_mod.validate_training(cfg)
    if cfg.training.ray.address:
        if cfg.task.kind != "grasp" and sweep:  # one run on the cluster: a sweep of one trial
            return start(args, list(args.overrides), {}, [int(cfg.training.seed)], cfg)
        connect_ray(cfg.training.ray.address)  # before any run folder: no package or a bad address fails now
    if cfg.task.kind == "grasp":
        from .grasp import collect

        run_dir = runs.new_run_dir(cfg)
        config_mod.save(cfg, run_dir / runs.CONFIG_FILE)
        t0 = time.time()
        summary = _marking_failures(run_dir, lambda: [], lambda: collect(cfg))
        summary["wall_seconds"] = round(time.time() - t0, 1)
        runs.write_json(run_dir / runs.SUMMARY_FILE, summary)
        for c in summary["caches"]:
            print(f"grasp cache (scale {c['scale']:g}): {c['path']}")
        return 0
    algo = get_algo(args.algo)
    if cfg.training.get("init_from") and not hasattr(algo, "init_weights"):
        raise config_mod.ConfigError(f"training.init_from={cfg.training.init_from!r}: --algo {args.algo} cannot start "
                                     f"from another run's weights (only --algo ppo can); drop the override")
    if args.resume:
        run_dir = runs.find_run(runs.experiment_dir(cfg), args.load_run, algo.list_checkpoints)
        runs.check_profile(run_dir, args.profile)
        cfg = saved_config(run_dir, args)
        config_mod.validate_env(cfg)
        config_mod.validate_training(cfg)
        if hasattr(algo, "validate_resume"):  # what resuming this run needs (a student: the teacher it was given)
            algo.validate_resume(cfg, run_dir)
        else:
            algo.validate(cfg)
        check_unfinished(algo, run_dir, cfg)
        config_mod.check_grasp_cache(cfg)
        log.info("resuming %s", run_dir)
    else:
        algo.validate(cfg)
        config_mod.check_grasp_cache(cfg)  # the env's start states exist (nothing is generated here)
        run_dir = runs.new_run_dir(cfg)
    config_mod.save(cfg, run_dir / runs.CONFIG_FILE)
    print(f"run folder: {run_dir}")
    summary = _marking_failures(run_dir, lambda: algo.list_checkpoints(run_dir),
                                lambda: algo.train(cfg, run_dir, resume=args.resume))
    if cfg.training.export:
        summary["export"] = export_run(algo, run_dir, summary["checkpoint"])
    if not cfg.training.no_play:
        from .evaluate import record_video

        actor, _ = algo.load_actor(run_dir, Path(summary["checkpoint"]))
        video = record_video(env_factory(cfg), actor, cfg.training.play_seconds, run_dir / "videos" / "play.mp4")
        summary["video"] = str(video)
    runs.write_json(run_dir / runs.SUMMARY_FILE, summary)
    print(f"done: {summary['iterations']} iterations, {summary['env_steps']} env steps, "
          f"{summary.get('env_steps_per_second') or 0:.0f} steps/s; checkpoint {summary['checkpoint']}")
    return 0


def check_unfinished(algo, run_dir: Path, cfg: DictConfig) -> None:
    """``--resume`` of a run that already reached ``training.max_iterations`` has nothing to do: say so before
    anything is written (the run stays as it is, not marked failed). A run without its ``summary.json`` (stopped
    during the final export or video) goes on: the trainer learns nothing more and the export and summary follow."""
    found = algo.list_checkpoints(run_dir)
    if not found:
        return  # the trainer says there is nothing to resume from
    try:
        done = int(algo.checkpoint_iteration(found[-1]))
    except Exception:  # an unreadable checkpoint: loading it says what is wrong
        return
    total = int(cfg.training.max_iterations)
    if done >= total and (run_dir / runs.SUMMARY_FILE).is_file():
        raise config_mod.RunFinished(f"run {run_dir.name} already finished {done} of {total} iterations; raise "
                                     f"training.max_iterations (e.g. --max-iterations {done + total}) to continue it")


def _marking_failures(run_dir: Path, checkpoints, work):
    """``work()``; if it raises before any checkpoint exists, mark the run failed (then re-raise). A run
    stopped later keeps its checkpoints and stays resumable; Ctrl-C is not a failure."""
    try:
        return work()
    except Exception as e:
        if not checkpoints():
            runs.mark_failed(run_dir, e)
            log.error("run %s failed before its first checkpoint; marked %s", run_dir, runs.FAILED_FILE)
        raise


def env_factory(cfg: DictConfig):
    """``make(num_envs, **extra)`` for the run's env, as evaluation and playback take it (the full configured
    randomisation: a curriculum's start ranges are for training only)."""
    return functools.partial(config_mod.make_eval_env, cfg)


def export_run(algo, run_dir: Path, checkpoint: str | Path) -> dict:
    from .export import export_actor

    actor, info = algo.load_actor(run_dir, Path(checkpoint))
    out = run_dir / "exported"
    report = export_actor(actor, info["obs_dim"], out, reference=info["reference"],
                          meta={"checkpoint": str(checkpoint)})
    onnx = "unchecked" if report["onnx_max_abs_diff"] is None else f"{report['onnx_max_abs_diff']:.1e}"
    print(f"exported {out / 'policy.pt'} and {out / 'policy.onnx'} (max |action diff| vs the in-package policy: "
          f"torchscript {report['torchscript_max_abs_diff']:.1e}, onnx {onnx})")
    return report


def _locate(args: argparse.Namespace) -> tuple[object, Path, Path, DictConfig]:
    cfg = compose(args)
    if cfg.task.kind == "grasp":
        raise SystemExit(f"--task {args.task} collects grasps and has no policy to evaluate or export")
    algo = get_algo(args.algo)
    run_dir = runs.find_run(runs.experiment_dir(cfg), args.load_run, algo.list_checkpoints)
    runs.check_profile(run_dir, args.profile)
    ckpt = runs.pick_checkpoint(algo.list_checkpoints(run_dir), args.checkpoint, run_dir, algo.checkpoint_iteration)
    cfg = saved_config(run_dir, args)
    _require_mean_actions(cfg)
    return algo, run_dir, ckpt, cfg


def _require_mean_actions(cfg: DictConfig) -> None:
    """Evaluation acts with the policy's mean action (HORA's and rsl_rl's eval); ``eval.deterministic`` says so and
    cannot be turned off."""
    if not cfg.eval.get("deterministic", True):
        raise config_mod.ConfigError("eval.deterministic=false: evaluation acts with the policy's mean action only "
                                     "(sampled actions are not implemented); drop the override")


def evaluate(argv: list[str] | None = None) -> int:
    from .eval_sweep import evaluate_checkpoint
    from .evaluate import format_table

    args = parse("eval", argv)
    if args.replay:
        return replay(args)
    if args.video:
        raise config_mod.ConfigError(f"--video {args.video} writes a --replay's video; to record an evaluation add "
                                     "eval.video=true (it writes <run>/videos/eval_<checkpoint>.mp4)")
    if args.checkpoints or "," in str(args.load_run):
        return eval_sweep(args)
    recorder = None
    if args.record_failures is not None:
        from .failures import FailureRecorder

        try:
            recorder = FailureRecorder(args.record_failures, args.failure_key, args.failure_cause)
        except ValueError as e:
            raise config_mod.ConfigError(str(e)) from e
    _, run_dir, ckpt, cfg = _locate(args)
    result = evaluate_checkpoint(args.algo, run_dir, ckpt, cfg, recorder, progress=cfg.training.progress_bar)
    out = result.pop("json")
    print(format_table(result, title=f"{cfg.task.env_id} | {run_dir.name} | {ckpt.name}"))
    if "latent_mse" in result:
        dims = " ".join(f"{x:.4f}" for x in result["latent_mse_per_dim"])
        print(f"latent error against the teacher (MSE of z, in (-1, 1)): {result['latent_mse']:.4f}; per dim: {dims}")
    print(f"results: {out}")
    return 0


def eval_sweep(args: argparse.Namespace) -> int:
    """``eval --checkpoints all|N,M`` and/or ``--load-run a,b``: one evaluation per checkpoint, on Ray with --ray."""
    from . import eval_sweep as es

    if args.record_failures is not None:
        raise config_mod.ConfigError("--record-failures takes one checkpoint; drop --checkpoints / the run list")
    cfg = compose(args)
    if cfg.task.kind == "grasp":
        raise SystemExit(f"--task {args.task} collects grasps and has no policy to evaluate")
    exp = runs.experiment_dir(cfg)
    found = get_algo(args.algo).list_checkpoints
    run_dirs = list(dict.fromkeys(runs.find_run(exp, r.strip(), found) for r in str(args.load_run).split(",")
                                  if r.strip()))
    for run_dir in run_dirs:
        runs.check_profile(run_dir, args.profile)
    pairs = es.targets(args.algo, run_dirs, args.checkpoints or "-1")
    configs = {run_dir: saved_config(run_dir, args) for run_dir in run_dirs}
    for c in configs.values():
        _require_mean_actions(c)
    ray = connect_ray(cfg.training.ray.address) if cfg.training.ray.address else None
    print(f"eval sweep: {len(pairs)} checkpoint(s) of {len(run_dirs)} run(s)"
          + (f" on Ray ({cfg.training.ray.address})" if ray else ", one after another"))
    rows = es.sweep(args.algo, pairs, configs, ray, float(cfg.training.ray.num_cpus_per_worker),
                    float(cfg.training.ray.num_gpus_per_worker), progress=bool(cfg.training.progress_bar))
    folder = exp / "eval_sweeps" / time.strftime("%Y-%m-%d_%H-%M-%S")
    written = es.write(rows, folder, title=f"{cfg.task.env_id}: eval of {len(pairs)} checkpoint(s)")
    print(es.format_rows(rows))
    print(f"sweep: {written['json']}" + (f", {written['png']}" if written.get("png") else ""))
    return 0


def replay(args: argparse.Namespace) -> int:
    from .failures import replay as play

    result = play(Path(args.replay), video=Path(args.video) if args.video else None)
    exact = all(v == 0.0 for v in result["max_abs_diff"].values())
    print(f"replayed {args.replay}: {result['steps']} steps (recorded {result['recorded_steps']}), ended "
          f"{result['end_cause']} (recorded {result['recorded_end_cause']}); "
          + ("reproduced exactly" if exact else f"max |difference| from the recording: {result['max_abs_diff']}"))
    if "video" in result:
        print(f"video: {result['video']}")
    return 0 if exact else 1


def export(argv: list[str] | None = None) -> int:
    args = parse("export", argv)
    algo, run_dir, ckpt, _ = _locate(args)
    export_run(algo, run_dir, ckpt)
    return 0


COMMANDS = {"train": train, "eval": evaluate, "export": export}


def _run(fn, argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return fn(argv)
    except (config_mod.ConfigError, runs.RunNotFound, runs.CheckpointError, GraspCacheError, RayUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def train_main() -> int:
    return _run(train)


def eval_main() -> int:
    return _run(evaluate)


def export_main() -> int:
    return _run(export)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m trainers {{{','.join(COMMANDS)}}} --algo ... --task ... [key=value ...]",
              file=sys.stderr)
        return 2
    return _run(COMMANDS[argv[0]], argv[1:])
