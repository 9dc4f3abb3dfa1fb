"""Gymnasium entry points: make, make_vec, the module-prefixed id, and Gymnasium's own checker."""
from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

import unilab_envs
from unilab_envs.tasks.inhand_grasp import InhandGraspEnv
from unilab_envs.tasks.inhand_rotation import InhandRotationEnv


def test_make_vec_is_the_native_batched_env(make_vec):
    envs = make_vec(num_envs=8)
    assert isinstance(envs, InhandRotationEnv)  # not a SyncVectorEnv of single envs
    assert envs.num_envs == 8
    assert envs.observation_space.shape == (8, 96) and envs.action_space.shape == (8, 16)
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.NEXT_STEP  # Gymnasium's default


def test_registered_ids():
    assert set(unilab_envs.TASKS) <= set(gym.registry)
    spec = gym.spec("AllegroInhandRotation-v0")
    assert spec.max_episode_steps == 400 and spec.vector_entry_point is not None


def test_gym_make_passes_gymnasium_check_env(cache_dir):
    env = gym.make("AllegroInhandRotation-v0")
    try:
        check_env(env.unwrapped, skip_render_check=True)
        obs, _ = env.reset(seed=3)
        assert obs.shape == (96,) and env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(reward, float) and set(info["reward_terms"]) == {
            "rotate", "object_linvel", "pose_diff", "torque", "work", "fall", "object_pos"}
    finally:
        env.close()


def test_grasp_env_make_and_check_env(cache_dir):
    envs = gym.make_vec("AllegroInhandGrasp-v0", num_envs=4)
    assert isinstance(envs, InhandGraspEnv) and envs.observation_space.shape == (4, 23)
    envs.close()
    env = gym.make("AllegroInhandGrasp-v0")
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_module_prefixed_id_works_without_importing_the_package(cache_dir):
    code = ("import gymnasium as gym, sys; env = gym.make('unilab_envs:AllegroInhandRotation-v0'); "
            "obs, _ = env.reset(seed=0); assert 'unilab_envs' in sys.modules; print(obs.shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "UNILAB_CACHE_DIR": str(cache_dir)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(96,)"


def test_single_env_reports_the_finished_episode(cache_dir):
    env = gym.make("AllegroInhandRotation-v0", episode_length=3)
    env.reset(seed=0)
    for _ in range(2):
        assert env.step(np.zeros(16))[3] is False
    obs, _, terminated, truncated, info = env.step(np.zeros(16))
    assert truncated and not terminated
    assert info["episode_length"] == 3 and np.isfinite(info["rotation_speed"])
    env.close()
