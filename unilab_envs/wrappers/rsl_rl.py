"""A native Gymnasium vector env seen as an rsl_rl ``VecEnv`` (``rsl-rl-lib`` 5.x).

    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=64, autoreset_mode="same_step")
    runner = rsl_rl.runners.OnPolicyRunner(RslRlVecEnv(envs), train_cfg, log_dir="logs/rsl_rl")
    runner.learn(num_learning_iterations=100)

rsl_rl's contract (``rsl_rl/env/vec_env.py``): ``get_observations()`` and ``step(actions)`` return a
``TensorDict`` of observation groups; ``step`` also returns rewards, ``dones`` and ``extras`` with
``time_outs`` (truncations, so PPO bootstraps them) and ``log`` (scalars for its logger). Finished envs
must already be reset when ``step`` returns, so the env must use ``AutoresetMode.SAME_STEP``.

Observation groups: ``policy`` (the ``state`` observation) for ``obs_mode="state"``; for the Dict modes
every key is a group (``state``, ``privileged_state``, ``proprio_history`` flattened), so an
asymmetric actor-critic is a matter of ``obs_groups={"actor": ["state"], "critic": ["state",
"privileged_state"]}``. ``extras["log"]`` carries the finished episodes' means of the env's
``final_info`` statistics (``/episode/rotation_speed`` in rad/s, ``/episode/episode_seconds``, ...).

An env whose arrays are already torch tensors (MuJoCo Warp, ``arrays="auto"``) is passed through: actions go
to it as tensors and its observations, rewards and flags come back without a trip through host numpy (moved
only if ``device`` differs from the physics device).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from .common import require_same_step_vector_env


class RslRlVecEnv(VecEnv):
    """rsl_rl's ``VecEnv`` over a native vector env made with ``autoreset_mode="same_step"``."""

    def __init__(self, env: gym.vector.VectorEnv, device: str | torch.device = "cpu", seed: int | None = None):
        require_same_step_vector_env(env, "RslRlVecEnv", "rsl_rl")
        if not isinstance(env.single_action_space, gym.spaces.Box):
            raise TypeError(f"rsl_rl's PPO takes continuous (Box) actions; this env has {env.single_action_space}")
        self.env = env
        self._on_device = getattr(env, "xp", np) is not np  # the env takes and gives tensors (MuJoCo Warp)
        self.num_envs = env.num_envs
        self.num_actions = int(np.prod(env.single_action_space.shape))
        cfg = getattr(env, "cfg", None)
        self.max_episode_length = int(getattr(cfg, "episode_length", 0) or (env.spec.max_episode_steps if env.spec
                                                                               else 0))
        self.episode_length_buf = torch.zeros(self.num_envs, dtype=torch.long, device=device)
        self.device = torch.device(device)
        self.cfg = cfg if cfg is not None else {}
        obs, _ = env.reset(seed=seed)
        self._obs = self._tensordict(obs)

    def _tensor(self, x, dtype=torch.float32) -> torch.Tensor:
        """An env output (a numpy array, or a tensor on any device) as a tensor on ``device``."""
        return torch.as_tensor(x, dtype=dtype, device=self.device)

    def _tensordict(self, obs) -> TensorDict:
        groups = {"policy": obs} if not isinstance(obs, dict) else obs
        return TensorDict({k: self._tensor(v).reshape(self.num_envs, -1) for k, v in groups.items()},
                          batch_size=[self.num_envs], device=self.device)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        actions = actions.detach()
        obs, reward, terminated, truncated, info = self.env.step(actions if self._on_device else actions.cpu().numpy())
        dones = self._tensor(terminated, torch.bool) | self._tensor(truncated, torch.bool)
        self.episode_length_buf += 1
        self.episode_length_buf[dones] = 0
        self._obs = self._tensordict(obs)
        extras = {"time_outs": self._tensor(truncated, torch.bool), "log": {}}
        if "final_info" in info:  # the finished episodes' physical statistics, averaged (tensors: no sync here)
            ended = self._tensor(info["_final_info"], torch.bool)
            for key, value in info["final_info"].items():
                if key.startswith("_") or isinstance(value, dict) or key == "end_cause":
                    continue  # end_cause is a category code, whose mean means nothing (dropped is the drop share)
                value = torch.as_tensor(value, device=self.device)  # numbers, and bools (whose mean is a share)
                extras["log"][f"/episode/{key}"] = value[ended].float().mean()
        return self._obs, self._tensor(reward), dones.long(), extras

    def close(self) -> None:
        self.env.close()
