"""A native Gymnasium vector env seen as a Stable-Baselines3 ``VecEnv``.

    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=64, autoreset_mode="same_step")
    model = stable_baselines3.PPO("MlpPolicy", SB3VecEnv(envs))

SB3 takes a ``gymnasium.Env`` or its own ``VecEnv``; a Gymnasium ``VectorEnv`` handed to it directly
fails with SB3's "not a Gymnasium environment" error: wrap it with this adapter.

SB3's conventions: ``reset()`` returns only observations, ``step`` returns ``dones = terminated | truncated``,
and each finished env's info carries ``terminal_observation`` (its last observation; the returned one is
already the next episode's first), ``TimeLimit.truncated`` (so PPO bootstraps the value of truncated
episodes) and ``episode`` (``r``, ``l``, ``t`` as ``Monitor`` writes them). The env's per-episode statistics
(``final_info``) and the per-step reward terms are collected here for the training callback to log.
"""
from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from .common import episode_stats, require_numpy_arrays, require_same_step_vector_env


class SB3VecEnv(VecEnv):
    """SB3's ``VecEnv`` over a native vector env made with ``autoreset_mode="same_step"``: ``Box``
    observations (SB3's ``MlpPolicy``) or a ``Dict`` of them (``MultiInputPolicy``: ``obs_mode="privileged"``)."""

    def __init__(self, env: gym.vector.VectorEnv):
        require_same_step_vector_env(env, "SB3VecEnv", "SB3")
        require_numpy_arrays(env, "SB3VecEnv", "SB3")
        space = env.single_observation_space
        if not (isinstance(space, gym.spaces.Box) or (isinstance(space, gym.spaces.Dict) and all(
                isinstance(s, gym.spaces.Box) for s in space.spaces.values()))):
            raise TypeError(f"the SB3 adapter takes Box observations or a Dict of Boxes; this env has {space}")
        self.env = env  # before super().__init__, which reads render_mode through get_attr
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None
        self._t0 = time.time()
        self.episodes: list[dict[str, float]] = []       # finished episodes since the last drain
        self.term_sums: dict[str, float] = {}             # per-step reward terms, summed over envs and steps
        self.term_steps = 0

    # --- VecEnv API -------------------------------------------------------------------------
    def reset(self) -> np.ndarray:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for name, value in info.get("reward_terms", {}).items():
            self.term_sums[name] = self.term_sums.get(name, 0.0) + float(value.sum())
        self.term_steps += self.num_envs
        if dones.any():
            fin, final_obs = info["final_info"], info["final_obs"]
            now = round(time.time() - self._t0, 6)
            for i in np.flatnonzero(dones):
                stats = episode_stats(fin, i)
                infos[i] = {"terminal_observation": final_obs[i],  # a dict for Dict observations
                            "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                            "episode": {"r": stats.get("episode_return", 0.0),
                                        "l": int(stats.get("episode_length", 0)), "t": now}}
                self.episodes.append(stats)
        return obs, reward, dones, infos

    def drain(self) -> tuple[list[dict[str, float]], dict[str, float]]:
        """Episodes finished and mean per-step reward terms since the last call."""
        episodes, self.episodes = self.episodes, []
        terms = {k: v / max(self.term_steps, 1) for k, v in self.term_sums.items()}
        self.term_sums, self.term_steps = {}, 0
        return episodes, terms

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self.env, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        return [getattr(self.env, method_name)(*args, **kwargs)] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def get_images(self):
        return [self.env.render()]
