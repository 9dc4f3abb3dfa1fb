"""What every adapter checks first: a native vector env that resets finished envs within the step."""
from __future__ import annotations

import gymnasium as gym
import numpy as np


def require_same_step_vector_env(env, adapter: str, library: str) -> None:
    """Raise a clear error unless ``env`` is a Gymnasium ``VectorEnv`` with ``AutoresetMode.SAME_STEP``."""
    if not isinstance(env, gym.vector.VectorEnv):
        raise TypeError(f"{adapter} wraps a gymnasium.vector.VectorEnv (gym.make_vec(...)); got {type(env).__name__}")
    mode = env.metadata.get("autoreset_mode")
    if mode != gym.vector.AutoresetMode.SAME_STEP:
        raise ValueError(f"{library} expects finished envs to be reset within the step (AutoresetMode.SAME_STEP); "
                         f"this env resets in mode {mode}. Make it with gym.make_vec(..., autoreset_mode='same_step')")


def require_numpy_arrays(env, adapter: str, library: str) -> None:
    """Raise a clear error if ``env`` answers in device tensors (MuJoCo Warp's default, ``arrays="auto"``)."""
    if getattr(env, "xp", np) is not np:
        raise ValueError(f"{adapter}: {library} takes host numpy arrays, and this env answers in torch tensors on its "
                         "device; make it with gym.make_vec(..., arrays='numpy'), or use rsl_rl (RslRlVecEnv), "
                         "which keeps them there")


def episode_stats(final_info: dict, i: int) -> dict[str, float]:
    """Env ``i``'s per-episode statistics from a step's ``info["final_info"]`` (its 1-D entries)."""
    return {k: float(v[i]) for k, v in final_info.items() if not k.startswith("_") and np.ndim(v) == 1}
