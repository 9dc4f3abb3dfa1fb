"""The grasp caches that ship inside the package: one per registered rotation env and default scale.

They let ``gymnasium.make("AllegroInhandRotation-v0")`` work on a fresh install, offline, with no
prior command. They are valid only for the scene they were collected on (the model hash in each
sidecar): a change to a hand, an object or a solver option makes ``tests/test_shipped_caches.py``
fail until they are regenerated with

    python -m unilab_envs.grasp_cache.shipped            # all of them (5,000 grasps each)
    python -m unilab_envs.grasp_cache.shipped --only SharpaInhandRotation-v0   # one env's
    python -m unilab_envs.grasp_cache.shipped --missing  # only the absent or stale ones
    python -m unilab_envs.grasp_cache.shipped --check    # list them and whether each is current
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import GraspCacheError
from .resolver import SHIPPED_DIR
from .store import load_grasps

#: grasps per shipped cache: plenty for start-state diversity, ~0.5 MB per file
SHIPPED_GRASPS = 5000


@dataclass(frozen=True)
class ShippedCache:
    env_id: str
    hand: str
    object_type: str
    scale: float
    path: Path


def shipped_caches() -> list[ShippedCache]:
    """Every cache the package should carry: each registered rotation env, each default scale."""
    from ..registration import TASKS
    from ..tasks.presets import rotation_config
    from .store import cache_filename

    out = []
    for env_id, task in TASKS.items():
        if not task["cls"].endswith(":InhandRotationEnv"):
            continue
        cfg = rotation_config(task["kwargs"]["hand"])
        for scale in cfg.domain_rand.scale_list:
            name = cache_filename(f"{cfg.hand}_{cfg.object_type}_grasp", scale)
            out.append(ShippedCache(env_id, cfg.hand, cfg.object_type, scale, SHIPPED_DIR / name))
    return out


def check(cache: ShippedCache) -> str | None:
    """None if ``cache`` exists and matches its scene's model hash, else why not."""
    from ..hands import get_hand
    from ..objects import get_object
    from ..scene import build_scene
    from ..tasks.presets import rotation_config
    from ..tasks.start_states import cache_key

    layout = build_scene(get_hand(cache.hand), get_object(cache.object_type), rotation_config(cache.hand).physics)
    if not cache.path.is_file():
        return f"missing: {cache.path}"
    try:
        load_grasps(cache.path, cache_key(layout, cache.scale))
    except GraspCacheError as e:
        return str(e).splitlines()[0]
    return None


def regenerate(num_grasps: int = SHIPPED_GRASPS, seed: int = 0, only: list[str] | None = None,
               missing: bool = False) -> list[Path]:
    """Collect the shipped caches (of the env ids in ``only``, default all; with ``missing`` only those that are
    absent or stale) anew with each hand's default physics (atomic writes; an interrupted one resumes)."""
    from ..collect_grasps import collect_grasps

    SHIPPED_DIR.mkdir(parents=True, exist_ok=True)
    todo = [c for c in shipped_caches() if (not only or c.env_id in only) and not (missing and check(c) is None)]
    return [collect_grasps(c.path, hand=c.hand, object_type=c.object_type, scale=c.scale, num_grasps=num_grasps,
                           seed=seed) for c in todo]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only report whether each shipped cache is current")
    p.add_argument("--num-grasps", type=int, default=SHIPPED_GRASPS)
    p.add_argument("--only", nargs="+", metavar="ENV_ID", help="regenerate only these envs' caches")
    p.add_argument("--missing", action="store_true", help="regenerate only the absent or stale caches")
    args = p.parse_args(argv)
    if not args.check:
        for path in regenerate(args.num_grasps, only=args.only, missing=args.missing):
            print(path)
    bad = 0
    for c in shipped_caches():
        problem = check(c)
        bad += problem is not None
        print(f"{c.env_id} scale {c.scale}: {c.path.name}: {problem or 'current'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
