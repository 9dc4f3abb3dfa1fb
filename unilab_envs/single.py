"""``gymnasium.make`` support: a one-env ``gymnasium.Env`` view of a native vector env.

This view returns a finished episode's last observation, with its statistics merged into ``info``
(as a plain ``Env`` should), whatever the vector env's autoreset mode; the next ``reset()`` starts anew. A
statistic that shares its name with a per-step entry (``rotation_speed``) is ``episode_<name>`` there, so that
``info["rotation_speed"]`` is always the step's.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def first_env(obs, reward, terminated, truncated, info):
    """The one-env view of a vector step's outputs (env 0's): a finished episode's last observation, with its
    statistics merged into ``info``."""
    if terminated[0] or truncated[0]:  # report the finished episode's last observation and statistics
        final = _first(info["final_info"])
        final.pop("episode", None)  # a one-env loop gets it from Gymnasium's RecordEpisodeStatistics
        obs = info["final_obs"][0] if "final_obs" in info else _first(obs)
        step = _first({k: v for k, v in info.items() if k not in ("final_obs", "final_info")})
        # a statistic named as a per-step entry (rotation_speed) keeps that name for the step's value, and is
        # episode_<name> for the episode's
        info = step | {f"episode_{k}" if k in step else k: v for k, v in final.items()}
    else:
        obs, info = _first(obs), _first(info)
    return obs, float(reward[0]), bool(terminated[0]), bool(truncated[0]), info


def _first(x):
    """Env 0's entry of a batched value (arrays, nested dicts of arrays; ``_`` masks dropped)."""
    if type(x) is not dict:  # noqa: E721  (exact type checks: this runs on every step of a one-env loop)
        return x[0] if type(x) is np.ndarray and x.ndim else x  # noqa: E721
    out = {}
    for k, v in x.items():
        if k[0] != "_":
            out[k] = v[0] if type(v) is np.ndarray and v.ndim else _first(v)  # noqa: E721
    return out


class SingleEnv(gym.Env):
    """Wraps a ``VectorEnv`` built with ``num_envs=1`` (episodes not staggered)."""

    def __init__(self, vector_env: gym.vector.VectorEnv):
        if getattr(vector_env, "xp", np) is not np:
            vector_env.close()
            raise ValueError("gymnasium.make gives a one-env numpy view: leave arrays='numpy' (its default); for "
                             "tensors on the device use gymnasium.make_vec(..., arrays='torch')")
        self.vector_env = vector_env
        self._step_one = getattr(vector_env, "step_one", None)
        self.observation_space = vector_env.single_observation_space
        self.action_space = vector_env.single_action_space
        self._action_shape = self.action_space.shape
        self.render_mode = vector_env.render_mode
        self.metadata = {k: v for k, v in vector_env.metadata.items() if k != "autoreset_mode"}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, info = self.vector_env.reset(seed=seed, options=options)
        return _first(obs), _first(info)

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        if action.shape != self._action_shape:
            raise ValueError(f"action has shape {action.shape}; expected {self.action_space.shape}")
        if self._step_one is not None:  # the env's own one-env step: the same outputs, built for one env
            return self._step_one(action)
        return first_env(*self.vector_env.step(action[None]))

    def render(self):
        return self.vector_env.render()

    def close(self):
        self.vector_env.close()
