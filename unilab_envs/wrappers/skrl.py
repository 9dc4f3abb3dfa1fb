"""The native vector envs in skrl (2.x), through skrl's own Gymnasium wrapper.

    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=64, autoreset_mode="same_step")
    env = skrl_env(envs)            # = skrl.envs.wrappers.torch.wrap_env(envs, wrapper="gymnasium")

skrl's wrapper treats a Gymnasium ``VectorEnv`` as one that resets finished envs itself and never
calls ``reset()`` for them: the env must reset within the step (``AutoresetMode.SAME_STEP``), or every
episode boundary would add a transition from the last observation to the reset step. This helper
checks that and hands the env to skrl's wrapper unchanged.
"""
from __future__ import annotations

import gymnasium as gym

from .common import require_numpy_arrays, require_same_step_vector_env


def skrl_env(env: gym.vector.VectorEnv):
    """skrl's wrapped env of a native vector env made with ``autoreset_mode="same_step"`` (on skrl's default
    device, ``skrl.config.torch.device``)."""
    from skrl.envs.wrappers.torch import wrap_env

    require_same_step_vector_env(env, "skrl_env", "skrl")
    require_numpy_arrays(env, "skrl_env", "skrl")
    return wrap_env(env, wrapper="gymnasium")
