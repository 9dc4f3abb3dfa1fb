"""Env configs for the benchmarks: override strings, named presets, and envs that bring their own cache.

    "physics.timestep=0.005,control_substeps=10"  ->  {"physics.timestep": 0.005, "control_substeps": 10}
"""
from __future__ import annotations

import ast
from pathlib import Path

import gymnasium as gym

from unilab_envs.grasp_cache import GraspCacheMissing

#: named override sets; "legacy" is the physics before HORA's timing and contact filtering
PRESETS = {
    "default": "",
    "legacy": "physics.timestep=0.005,control_substeps=10,physics.contact_filter=false",
    "motrix": "sim='motrix'",   # the MotrixSim backend, same model and task config
}


def parse_overrides(text: str) -> dict:
    """``"a.b=1,c=false"`` (or a preset name) -> ``{"a.b": 1, "c": False}``; values are Python literals."""
    text = PRESETS.get(text, text)
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"config item {item!r} is not key=value (or a preset: {sorted(PRESETS)})")
        value = value.strip()
        out[key.strip()] = {"true": True, "false": False}[value.lower()] if value.lower() in ("true", "false") \
            else ast.literal_eval(value)
    return out


def make_env(env_id: str, num_envs: int, overrides: dict, tmp: Path, grasps: int = 1000):
    """``gym.make`` (one env) or ``gym.make_vec``; a config whose model has no grasp cache gets a small one
    generated into ``tmp`` (a user's own cache folder is never written)."""
    def build(**extra):
        kw = {**overrides, **extra}
        return gym.make(env_id, **kw) if num_envs == 1 else gym.make_vec(env_id, num_envs=num_envs, **kw)
    try:
        return build()
    except GraspCacheMissing:
        return build(grasp_cache_dir=str(tmp), grasp_allow_generate=True, grasp_collection_target=grasps)
