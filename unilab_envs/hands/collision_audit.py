"""Which of a hand's self-collision pairs can ever touch: the audit behind its MJCF ``<exclude>`` list.

MuJoCo tests every pair of collision geoms on bodies that are neither parent and child nor
excluded. Most pairs of a hand can never meet within its joint ranges (a ring-finger knuckle and
the thumb tip, say); testing them every substep only costs time. This module samples the joint
space (uniformly, with a quarter of the joints at a limit, where extreme poses live) and records
which body pairs come within ``margin`` of each other. Pairs that never do are safe to exclude:
no policy can make them touch. Pairs that can touch stay, so fingers never pass through each
other or the palm.

    python -m unilab_envs.hands.collision_audit allegro          # print the <exclude> lines
    python -m unilab_envs.hands.collision_audit allegro --check  # verify the shipped list

The exclusions are written into the hand's MJCF once (generated, then reviewed), not computed at
load time, so every backend loads the same plain MJCF.
"""
from __future__ import annotations

import argparse
import itertools
import sys

import mujoco
import numpy as np

from . import get_hand

#: Name prefix of the audited ``<exclude>`` elements in a hand's MJCF, which sets them apart from the
#: exclusions the hand's makers ship (geometry that overlaps at a joint by design).
AUDIT_PREFIX = "audit_"


def drop_audited_exclusions(spec: mujoco.MjSpec) -> mujoco.MjSpec:
    """Remove the audited ``<exclude>`` elements from ``spec`` (in place): every pair is tested again."""
    for ex in [e for e in spec.excludes if e.name.startswith(AUDIT_PREFIX)]:
        spec.delete(ex)
    return spec


def _body(m: mujoco.MjModel, geom: int) -> str:
    return m.body(int(m.geom_bodyid[geom])).name


def sample_poses(m: mujoco.MjModel, samples: int, seed: int = 0, at_limit: float = 0.25) -> np.ndarray:
    """(samples, nq) joint positions: uniform in range, each joint at a limit with prob. ``at_limit``."""
    rng = np.random.default_rng(seed)
    lo, hi = m.jnt_range[:, 0], m.jnt_range[:, 1]
    q = rng.uniform(lo, hi, (samples, m.nq))
    limit = np.where(rng.random((samples, m.nq)) < 0.5, lo, hi)
    return np.where(rng.random((samples, m.nq)) < at_limit, limit, q)


def tested_pairs(m: mujoco.MjModel) -> set[tuple[str, str]]:
    """Body pairs whose collision geoms MuJoCo would test: bitmasks allow it, not parent/child, not excluded."""
    excluded = {tuple(sorted((m.body(int(s >> 16)).name, m.body(int(s & 0xFFFF)).name)))
                for s in m.exclude_signature}
    geoms = [g for g in range(m.ngeom) if m.geom_contype[g] or m.geom_conaffinity[g]]
    pairs = set()
    for a, b in itertools.combinations(geoms, 2):
        ba, bb = int(m.geom_bodyid[a]), int(m.geom_bodyid[b])
        if ba == bb or m.body_parentid[ba] == bb or m.body_parentid[bb] == ba:
            continue
        if not (m.geom_contype[a] & m.geom_conaffinity[b] or m.geom_contype[b] & m.geom_conaffinity[a]):
            continue
        pair = tuple(sorted((_body(m, a), _body(m, b))))
        if pair not in excluded:
            pairs.add(pair)
    return pairs


def near_pairs(m: mujoco.MjModel, margin: float, samples: int, seed: int = 0) -> set[tuple[str, str]]:
    """Body pairs that come within ``margin`` (m) of each other in any of ``samples`` sampled poses."""
    saved = m.geom_margin.copy()
    m.geom_margin[:] = margin
    d = mujoco.MjData(m)
    seen: set[tuple[str, str]] = set()
    try:
        for q in sample_poses(m, samples, seed):
            d.qpos[:] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_collision(m, d)
            for c in d.contact[:d.ncon]:
                seen.add(tuple(sorted((_body(m, c.geom1), _body(m, c.geom2)))))
    finally:
        m.geom_margin[:] = saved
    return seen


def audit(hand_name: str, margin: float = 0.005, samples: int = 300_000, seed: int = 0) -> dict:
    """Pairs that can come within ``margin`` (kept) and pairs that never do (to exclude), audited
    exclusions set aside (they are what is being decided)."""
    m = drop_audited_exclusions(mujoco.MjSpec.from_file(str(get_hand(hand_name).xml_path))).compile()
    candidates = tested_pairs(m)
    near = near_pairs(m, margin, samples, seed) & candidates
    return {"candidates": candidates, "keep": near, "exclude": candidates - near}


def audited_exclusions(hand_name: str) -> set[tuple[str, str]]:
    """The body pairs the hand's MJCF excludes as audit output."""
    spec = mujoco.MjSpec.from_file(str(get_hand(hand_name).xml_path))
    return {tuple(sorted((e.bodyname1, e.bodyname2))) for e in spec.excludes if e.name.startswith(AUDIT_PREFIX)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("hand")
    p.add_argument("--margin", type=float, default=0.005, help="m; pairs never this close are excluded")
    p.add_argument("--samples", type=int, default=300_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="fail if a shipped exclusion can touch")
    args = p.parse_args(argv)
    result = audit(args.hand, args.margin, args.samples, args.seed)
    print(f"{len(result['candidates'])} body pairs tested by MuJoCo without audited exclusions; "
          f"{len(result['keep'])} come within {args.margin} m in {args.samples} poses; "
          f"{len(result['exclude'])} never do", file=sys.stderr)
    if args.check:
        bad = audited_exclusions(args.hand) & result["keep"]
        for a, b in sorted(bad):
            print(f"excluded pair can touch: {a} - {b}", file=sys.stderr)
        return 1 if bad else 0
    for a, b in sorted(result["exclude"]):
        print(f'    <exclude name="{AUDIT_PREFIX}{a}__{b}" body1="{a}" body2="{b}"/>')
    return 0


if __name__ == "__main__":
    sys.exit(main())
