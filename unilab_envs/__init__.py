"""unilab_envs: Gymnasium vector environments for dexterous in-hand manipulation.

    import gymnasium as gym, unilab_envs
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=256)
    env = gym.make("AllegroInhandRotation-v0")
"""
from __future__ import annotations

from .registration import TASKS, register_all

__version__ = "0.1.0"
register_all()

__all__ = ["TASKS", "__version__"]
