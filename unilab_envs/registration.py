"""Gymnasium registration: each task is a native vector env (``vector_entry_point``) and,
for ``gymnasium.make``, a one-env view of it."""
from __future__ import annotations

import functools
import importlib

import gymnasium as gym

from .single import SingleEnv

_ROTATION = "unilab_envs.tasks.inhand_rotation:InhandRotationEnv"
_GRASP = "unilab_envs.tasks.inhand_grasp:InhandGraspEnv"

#: env id -> vector env class, the spec's kwargs, its step limit, and defaults of the one-env view (a plain
#: ``Env`` answers in numpy on every backend)
TASKS = {
    "AllegroInhandRotation-v0": dict(cls=_ROTATION, kwargs={"hand": "allegro"}, max_episode_steps=400,
                                     single={"stagger_episodes": False, "arrays": "numpy"}),
    "AllegroInhandGrasp-v0": dict(cls=_GRASP, kwargs={"hand": "allegro"}, max_episode_steps=50, single={}),
    "SharpaInhandRotation-v0": dict(cls=_ROTATION, kwargs={"hand": "sharpa"}, max_episode_steps=400,
                                    single={"stagger_episodes": False, "arrays": "numpy"}),
    "SharpaInhandGrasp-v0": dict(cls=_GRASP, kwargs={"hand": "sharpa"}, max_episode_steps=50, single={}),
}


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def make_vector(env_id: str, num_envs: int = 1, **kwargs) -> gym.vector.VectorEnv:
    """The native vector env of ``env_id`` (what ``gymnasium.make_vec`` calls)."""
    return _load(TASKS[env_id]["cls"])(num_envs=num_envs, **kwargs)


def make_single(env_id: str, **kwargs) -> SingleEnv:
    """A one-env ``gymnasium.Env`` (what ``gymnasium.make`` calls)."""
    return SingleEnv(make_vector(env_id, num_envs=1, **(TASKS[env_id]["single"] | kwargs)))


def register_all() -> None:
    for env_id, task in TASKS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=functools.partial(make_single, env_id),
                         vector_entry_point=functools.partial(make_vector, env_id),
                         max_episode_steps=task["max_episode_steps"], kwargs=dict(task["kwargs"]))
