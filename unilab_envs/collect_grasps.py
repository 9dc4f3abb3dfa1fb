"""Generate a grasp cache: run the grasp task in a batch and keep the stable grasps.

    python -m unilab_envs.collect_grasps --hand allegro --object ball --scale 1.0 --num-grasps 5000
    python -m unilab_envs.collect_grasps --hand sharpa --scale 0.8 1.0 1.2   # the hand's own object
    python -m unilab_envs.collect_grasps --hand sharpa --scale 0.8 1.0 1.2 --ray local   # chunks on Ray
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

import numpy as np
from gymnasium.vector import AutoresetMode
from tqdm.auto import tqdm

from .backends import BACKENDS
from .grasp_cache import cache_filename, default_cache_dir, format_scale, save_grasps
from .grasp_cache.partial import PartialCollection
from .hands import HANDS
from .objects import OBJECTS
from .scene import PhysicsOptions
from .tasks.inhand_grasp import InhandGraspEnv
from .tasks.presets import grasp_config
from .tasks.start_states import cache_key

log = logging.getLogger(__name__)


def collect_grasps(path: str | Path, *, hand: str = "allegro", object_type: str | None = None, scale: float = 1.0,
                   num_grasps: int = 5000, num_envs: int = 256, seed: int = 0, sim: str = "mujoco",
                   physics: PhysicsOptions | None = None, num_threads: int = 0, max_attempts: int | None = None,
                   progress: bool = True, resume: bool = True, chunk_grasps: int = 500, **overrides) -> Path:
    """Collect ``num_grasps`` stable grasps and write them atomically to ``path`` (+ JSON metadata).

    Progress is kept in atomic chunks of ``chunk_grasps`` in ``<path>.partial/``: an interrupted
    collection of the same thing continues from them (``resume``; ``False`` starts anew), drawing new
    candidates, and the final file is the same format as an uninterrupted one. Raises ``RuntimeError``
    if fewer than ``num_grasps`` pass within ``max_attempts`` tries (default: 200 per wanted grasp, at least
    10 rounds of the batch), so a broken model cannot loop forever. ``object_type`` and ``physics``
    default to the hand's grasp config (``tasks/presets.py``).
    """
    if num_grasps < 1 or chunk_grasps < 1:
        raise ValueError(f"num_grasps={num_grasps} and chunk_grasps={chunk_grasps} must be >= 1")
    base = grasp_config(hand)
    object_type = object_type or base.object_type
    cfg = dataclasses.replace(base, object_type=object_type, scale=scale, sim=sim, physics=physics or base.physics,
                              num_threads=num_threads)
    # SAME_STEP: a finished candidate's env starts the next one at once (no step spent on the reset)
    env = InhandGraspEnv(num_envs=num_envs, config=cfg, autoreset_mode=AutoresetMode.SAME_STEP, **overrides)
    # 200 tries per wanted grasp (a 0.5% yield; Sharpa's largest scales yield ~1-2%); early drops and weak grasps
    # end before any hold, so a broken model still fails within minutes
    max_attempts = max_attempts or max(200 * num_grasps, 10 * num_envs)
    key = cache_key(env.layout, scale)
    partial = PartialCollection(path, {"hand": hand, "object_type": object_type, "scale": float(scale),
                                       "model_hash": key.model_hash, "criteria": env.criteria(), "seed": seed})
    if not (resume and partial.load()):
        partial.discard()
    new, attempts = [], partial.attempts
    kept_total = partial.count
    try:
        # a resumed collection draws candidates the interrupted one never did
        env.reset(seed=seed if partial.resumes == 0 else int(np.random.SeedSequence([seed, partial.resumes])
                                                              .generate_state(1)[0]))
        zeros = np.zeros(env.action_space.shape, np.float32)
        with tqdm(total=num_grasps, initial=min(kept_total, num_grasps), unit="grasp", mininterval=1.0,
                  desc=f"grasps {hand}/{object_type} scale {format_scale(scale)}", disable=not progress) as bar:
            while kept_total < num_grasps:
                _, _, _, _, info = env.step(zeros)
                if "final_info" not in info:
                    continue
                ended, fin = info["_final_info"], info["final_info"]
                attempts += int(ended.sum())
                kept = fin["grasp"][ended & fin["is_success"]]
                new.append(kept)
                kept_total += len(kept)
                if sum(len(k) for k in new) >= chunk_grasps and kept_total < num_grasps:
                    partial.add(np.concatenate(new), attempts)
                    new = []
                bar.update(min(len(kept), bar.total - bar.n))
                bar.set_postfix(yield_=f"{kept_total / max(attempts, 1):.0%}", refresh=False)
                if kept_total < num_grasps and attempts >= max_attempts:
                    raise RuntimeError(
                        f"only {kept_total} of {num_grasps} grasps passed in {attempts} attempts "
                        f"for hand={hand} object={object_type} scale={scale}; the object may not fit the hand "
                        f"at this scale (criteria: {env.criteria()})")
        grasps = np.concatenate(partial.chunks + new)[:num_grasps]
        out = save_grasps(path, grasps, key, criteria=env.criteria(),
                          extra={"attempts": attempts, "seed": seed, "resumed": partial.resumes,
                                 "yield": num_grasps / max(attempts, 1)}, backend=sim)
        partial.discard()
    finally:
        env.close()
    log.info("wrote %d grasps to %s (yield %.0f%%)", num_grasps, out, 100 * num_grasps / max(attempts, 1))
    return Path(out)


def default_prefix(hand: str, object_type: str, cache_dir: str | Path | None = None) -> Path:
    """``<cache_dir or the local cache folder>/<hand>_<object>_grasp``: where rotation envs look by default."""
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return folder / f"{hand}_{object_type}_grasp"


def output_path(prefix: str | Path, scale: float) -> Path:
    """``<prefix>_<scale>.npy`` (a trailing ``.npy`` on the prefix is dropped), as the resolver reads prefixes."""
    prefix = Path(prefix).expanduser()
    return prefix.parent / cache_filename(prefix.name.removesuffix(".npy"), scale)


def _positive(kind):
    """An argparse type: a number of ``kind`` above 0 (argparse reports anything else as a one-line error)."""
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text} is not > 0")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its message ("invalid int value")
    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hand", default="allegro", choices=sorted(HANDS))
    parser.add_argument("--object", dest="object_type", default=None, choices=sorted(OBJECTS),
                        help="default: the hand's own (allegro: ball, sharpa: small_cylinder)")
    parser.add_argument("--scale", type=_positive(float), nargs="+", default=[1.0], help="one cache per scale")
    parser.add_argument("--num-grasps", type=_positive(int), default=5000)
    parser.add_argument("--num-envs", type=_positive(int), default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sim", default="mujoco", choices=sorted(BACKENDS))
    parser.add_argument("--out", type=Path, default=None,
                        help="output prefix (file: <prefix>_<scale>.npy); default: the local cache folder")
    parser.add_argument("--no-resume", dest="resume", action="store_false",
                        help="start anew instead of continuing an interrupted collection (its <file>.partial/ chunks)")
    parser.add_argument("--chunk-grasps", type=_positive(int), default=None,
                        help="grasps per progress chunk written to disk (500); with --ray: per Ray task (default: "
                             "one chunk per task slot of the cluster)")
    parser.add_argument("--ray", nargs="?", const="local", default="", metavar="ADDRESS",
                        help="collect on Ray: local (default), auto, or ray://host:10001 (unilab_envs/collect_ray.py)")
    parser.add_argument("--cpus-per-worker", type=float, default=2, help="with --ray: CPUs (and threads) per task")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.object_type = args.object_type or grasp_config(args.hand).object_type
    prefix = args.out if args.out is not None else default_prefix(args.hand, args.object_type)
    if args.ray:
        from .collect_ray import Job, collect_on_ray
        from .ray_cluster import RayUnavailable, connect

        try:
            ray = connect(args.ray)
        except RayUnavailable as e:
            parser.exit(2, f"error: {e}\n")
        jobs = [Job(output_path(prefix, s), s, args.num_grasps) for s in args.scale]
        for path in collect_on_ray(ray, jobs, seed=args.seed, chunk_grasps=args.chunk_grasps,
                                   num_cpus_per_worker=args.cpus_per_worker, hand=args.hand,
                                   object_type=args.object_type, num_envs=args.num_envs, sim=args.sim):
            print(path)
        return 0
    for scale in args.scale:
        path = collect_grasps(output_path(prefix, scale), hand=args.hand, object_type=args.object_type, scale=scale,
                              num_grasps=args.num_grasps, num_envs=args.num_envs, seed=args.seed, sim=args.sim,
                              resume=args.resume, chunk_grasps=args.chunk_grasps or 500)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
