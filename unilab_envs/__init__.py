"""unilab_envs: Gymnasium vector environments for dexterous in-hand manipulation.

    import gymnasium as gym, unilab_envs
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=256)
    env = gym.make("AllegroInhandRotation-v0")
"""
from __future__ import annotations

import os
import sys

# MuJoCo picks its OpenGL platform when it is first imported: choose headless EGL on a Linux
# machine without a display unless the user chose (set MUJOCO_GL=osmesa or glfw to override).
if sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and "mujoco" not in sys.modules:
    os.environ.setdefault("MUJOCO_GL", "egl")

from .registration import TASKS, register_all

__version__ = "0.1.0"
register_all()

__all__ = ["TASKS", "__version__"]
