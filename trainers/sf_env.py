"""A native Gymnasium vector env seen by Sample Factory 2.1.1 as ONE multi-agent env (one agent per sub-env).

This is the layout of SF's IsaacGym example (``sf_examples/isaacgym_examples``) and is meant for
``batched_sampling=True`` with one worker holding one env. SF's conventions and how they are met here:

* ``num_agents = num_envs``, ``is_multiagent = True``; ``action_space`` is one agent's space, and
  ``observation_space`` is a ``Dict`` (a ``Box`` env becomes ``Dict(obs=...)``, SF's default key).
* Multi-agent envs reset finished agents themselves and return the next episode's first observation with
  ``done=True``: exactly Gymnasium's ``AutoresetMode.SAME_STEP``, so the step result passes straight through.
  SF bootstraps truncated episodes from the value of the last kept observation (``value_bootstrap``), so
  ``final_obs`` is not needed.
* The batched sampler converts numpy to torch itself, but here observations, rewards (float32) and
  ``terminated``/``truncated`` (bool) are returned as CPU torch tensors directly (zero-copy ``from_numpy``).
* Episode statistics: the batched sampler does NOT read per-agent ``infos[i]["episode_extra_stats"]`` (only
  the non-batched sampler does). It reads a dict of tensors shaped ``(num_agents,)``, takes the entries of
  the agents that are done and writes ``'/'.join(path)`` as a TensorBoard tag. So at a step where episodes
  end, ``infos = {"episode_extra_stats": {name: tensor(num_agents)}}`` holding every numeric ``final_info``
  stat, a 0/1 indicator per end cause (``end_cause/<name>``, so SF's average is each cause's share) and the
  per-step means over the episode of each reward term (``reward_terms/<name>``); TensorBoard
  shows them as ``episode_extra_stats/<name>`` (averaged over the last ``stats_avg`` episodes). Nothing
  else may go into ``infos``: any ``(num_agents,)`` tensor there would be logged as an episode statistic.
"""
from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from unilab_envs.tasks import end_causes

from . import curriculum


def _patch_sample_factory_for_gymnasium_1() -> None:
    """SF 2.1.1 targets gymnasium<1.0, whose ``Wrapper`` forwarded unknown attributes to the wrapped env.

    gymnasium 1.x dropped that forwarding, so SF's ``BatchedListToDictWrapper`` (put around every multi-agent
    env in batched mode) hides ``num_agents``/``is_multiagent`` and SF then sees a single agent. Give the
    wrapper properties that read them from the wrapped env. Runs on import of this module, which also
    happens in SF's spawned processes (they unpickle the env factory defined here).
    """
    from sample_factory.algo.utils import make_env as sf_make_env

    cls = sf_make_env.BatchedListToDictWrapper
    for name in ("num_agents", "is_multiagent"):
        if name not in vars(cls):
            setattr(cls, name, property(lambda self, _name=name: getattr(self.env, _name)))


_patch_sample_factory_for_gymnasium_1()


class UnilabSFEnv(gym.Env):
    """Sample Factory's view of a batched ``VectorEnv``: one multi-agent env with ``num_envs`` agents."""

    def __init__(self, env: gym.vector.VectorEnv, seed_offset: int = 0, env_steps: int = 0):
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"{type(env).__name__} resets in mode {mode}; the SF adapter needs SAME_STEP")
        self.env = env
        self.num_agents: int = env.num_envs
        self.is_multiagent = True
        space = env.single_observation_space
        self._dict_obs = isinstance(space, gym.spaces.Dict)
        self.observation_space = space if self._dict_obs else gym.spaces.Dict({"obs": space})
        self.action_space = env.single_action_space
        self.render_mode = getattr(env, "render_mode", None)
        self.seed_offset = seed_offset
        # SF runs one env of num_agents agents (sf_appo.py), so its own steps are the run's env steps; a resumed
        # run starts from its checkpoint's count. They set the env's curriculum stage at every step.
        self.env_steps = int(env_steps)
        self._stage = curriculum.drive(env, self.env_steps)

    # --- conversions ------------------------------------------------------------------------
    @staticmethod
    def _tensor(x: np.ndarray, dtype=None) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))

    def _obs(self, obs) -> dict[str, torch.Tensor]:
        if self._dict_obs:
            return {k: self._tensor(v, np.float32) for k, v in obs.items()}
        return {"obs": self._tensor(obs, np.float32)}

    # --- Gymnasium API as SF calls it ---------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, _ = self.env.reset(seed=None if seed is None else seed + self.seed_offset, options=options)
        return self._obs(obs), {}

    def step(self, actions):
        if isinstance(actions, torch.Tensor):
            actions = actions.detach().cpu().numpy()
        obs, reward, terminated, truncated, info = self.env.step(np.asarray(actions, dtype=np.float32))
        self.env_steps += self.num_agents
        if self._stage:
            self._stage = curriculum.drive(self.env, self.env_steps)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        infos: dict[str, Any] = {}
        if (terminated | truncated).any():
            infos["episode_extra_stats"] = self._episode_stats(info)
        return (self._obs(obs), self._tensor(reward, np.float32), self._tensor(terminated),
                self._tensor(truncated), infos)

    def _episode_stats(self, info: dict) -> dict[str, torch.Tensor]:
        """Float32 ``(num_agents,)`` tensors; SF keeps only the entries of the agents that are done."""
        stats = {}
        fin = info.get("final_info", {})
        for key, value in fin.items():
            value = np.asarray(value)
            numeric = value.dtype == bool or np.issubdtype(value.dtype, np.number)
            if not key.startswith("_") and numeric and value.shape == (self.num_agents,):
                stats[key] = self._tensor(value, np.float32)
        if "end_cause" in stats:  # a code; SF averages each stat over episodes: log one 0/1 indicator per cause
            codes = np.asarray(fin["end_cause"])
            del stats["end_cause"]
            for code, name in end_causes.NAMES.items():
                stats[f"end_cause/{name}"] = self._tensor(codes == code, np.float32)
        for name, value in self._stage.items():  # the curriculum's stage when the episode ended
            stats[name] = torch.full((self.num_agents,), float(value))
        steps = np.maximum(np.asarray(fin.get("episode_length", 1)), 1)
        for key in [k for k in fin if k.startswith("reward_")]:  # episode sums -> mean per step, like SB3's log
            stats[f"reward_terms/{key.removeprefix('reward_')}"] = self._tensor(fin[key] / steps, np.float32)
        return stats

    def render(self):
        return self.env.render()

    def close(self):
        self.env.close()


def make_unilab_env(full_env_name: str, cfg=None, env_config=None, render_mode: str | None = None, *,
                    env_id: str, env_kwargs: dict, start_env_steps: int = 0) -> UnilabSFEnv:
    """SF's env factory (``register_env`` calls it as ``f(full_env_name, cfg, env_config, render_mode)``).

    Builds ``gymnasium.make_vec(env_id, **env_kwargs)``. Env seeds: SF resets env ``k`` of worker ``w`` with
    seed ``w * num_envs_per_worker + k``; ``cfg.seed`` (when set) is added so that runs differ by seed.
    ``start_env_steps``: the env steps a resumed run has already taken (the curriculum continues from there).
    """
    import unilab_envs  # noqa: F401  (registers the Gymnasium ids, also in SF's spawned processes)

    # Sample Factory's batched sampling expects finished agents to be reset within the same step
    kwargs = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP} | dict(env_kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = gym.make_vec(env_id, **kwargs)
    seed = getattr(cfg, "seed", None) if cfg is not None else None
    return UnilabSFEnv(env, seed_offset=0 if seed is None else int(seed), env_steps=start_env_steps)


def register_unilab_env(env_id: str, env_kwargs: dict, *, sf_name: str | None = None,
                        start_env_steps: int = 0) -> str:
    """Register ``env_id`` (with ``env_kwargs``, ``num_envs`` among them) with Sample Factory; returns the SF
    env name (``sf_name``, by default ``env_id``) to pass as ``--env``. The factory is a picklable
    ``functools.partial`` so that SF's spawned processes (env-info probe, rollout workers) can rebuild it."""
    from sample_factory.envs.env_utils import register_env

    name = sf_name or env_id
    register_env(name, functools.partial(make_unilab_env, env_id=env_id, env_kwargs=dict(env_kwargs),
                                         start_env_steps=int(start_env_steps)))
    return name
