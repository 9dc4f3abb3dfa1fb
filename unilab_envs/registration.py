"""Gymnasium registration: each task is a native vector env (``vector_entry_point``) and,
for ``gymnasium.make``, a one-env view of it."""
from __future__ import annotations

import functools
import importlib
import numbers

import gymnasium as gym

from .single import SingleEnv

_ROTATION = "unilab_envs.tasks.inhand_rotation:InhandRotationEnv"
_GRASP = "unilab_envs.tasks.inhand_grasp:InhandGraspEnv"

#: env id -> vector env class, the spec's kwargs and defaults of the one-env view (a plain ``Env`` answers in
#: numpy on every backend). The specs set no ``max_episode_steps``: each env ends its episodes itself, at its
#: config's ``episode_length`` (rotation) or ``settle_steps + hold_steps`` (grasp), and reports their statistics
#: then; a ``TimeLimit`` on top of ``gymnasium.make`` would cut them without. ``make_vec(..., max_episode_steps=N)``
#: reaches the env and sets that length; ``make(..., episode_length=N)`` does it for the one-env view.
TASKS = {
    "AllegroInhandRotation-v0": dict(cls=_ROTATION, kwargs={"hand": "allegro"},
                                     single={"stagger_episodes": False, "arrays": "numpy"}),
    "AllegroInhandGrasp-v0": dict(cls=_GRASP, kwargs={"hand": "allegro"}, single={}),
    "SharpaInhandRotation-v0": dict(cls=_ROTATION, kwargs={"hand": "sharpa"},
                                    single={"stagger_episodes": False, "arrays": "numpy"}),
    "SharpaInhandGrasp-v0": dict(cls=_GRASP, kwargs={"hand": "sharpa"}, single={}),
}


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def make_vector(env_id: str, num_envs: int = 1, **kwargs) -> gym.vector.VectorEnv:
    """The native vector env of ``env_id`` (what ``gymnasium.make_vec`` calls)."""
    hand = TASKS[env_id]["kwargs"]["hand"]
    if kwargs.get("hand", hand) != hand:  # the id names the hand
        same_task = {t["kwargs"]["hand"]: i for i, t in TASKS.items() if t["cls"] == TASKS[env_id]["cls"]}
        fix = (f"drop hand= and use {same_task[kwargs['hand']]!r}" if kwargs["hand"] in same_task
               else f"drop hand= (hands: {sorted(same_task)})")
        raise ValueError(f"hand={kwargs['hand']!r} contradicts {env_id!r}, which is the {hand!r} hand: {fix}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, numbers.Integral) or num_envs < 1:
        raise ValueError(f"num_envs={num_envs!r}; expected an int >= 1")
    return _load(TASKS[env_id]["cls"])(num_envs=int(num_envs), **kwargs)


def make_single(env_id: str, **kwargs) -> SingleEnv:
    """A one-env ``gymnasium.Env`` (what ``gymnasium.make`` calls)."""
    return SingleEnv(make_vector(env_id, num_envs=1, **(TASKS[env_id]["single"] | kwargs)))


def register_all() -> None:
    for env_id, task in TASKS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=functools.partial(make_single, env_id),
                         vector_entry_point=functools.partial(make_vector, env_id),
                         kwargs=dict(task["kwargs"]))
