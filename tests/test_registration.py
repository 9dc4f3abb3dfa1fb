"""Gymnasium entry points: make, make_vec, the module-prefixed id, and Gymnasium's own checker."""
from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
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
    # the env ends its episodes itself (with their statistics); no TimeLimit of Gymnasium's cuts them first
    assert spec.max_episode_steps is None and spec.vector_entry_point is not None


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
    assert info["episode_length"] == 3 and np.isfinite(info["episode_rotation_speed"])
    # rotation_speed stays the step's (as on every other step), the episode's mean is episode_rotation_speed
    assert info["rotation_speed"] != info["episode_rotation_speed"]
    assert info["episode_rotation_speed"] == pytest.approx(info["rotation_angle"] / (3 * 0.05))
    env.close()


def test_episode_length_is_the_envs_own_in_make_and_make_vec(cache_dir):
    """A length past the default reaches the one-env view (no TimeLimit at 400 cuts it without its statistics),
    and make_vec's max_episode_steps sets it."""
    env = gym.make("AllegroInhandRotation-v0", episode_length=402, domain_rand={"enabled": False})
    env.reset(seed=0)
    ends = [env.step(np.zeros(16, np.float32))[3] for _ in range(402)]
    assert not any(ends[:-1]) and ends[-1]
    env.close()
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, max_episode_steps=7)
    assert envs.cfg.episode_length == 7
    envs.close()


def test_keywords_that_contradict_the_id_or_are_not_counts_are_refused(cache_dir):
    with pytest.raises(ValueError, match=r"hand='sharpa' contradicts 'AllegroInhandRotation-v0'.*'SharpaInhandRot"):
        gym.make("AllegroInhandRotation-v0", hand="sharpa")
    with pytest.raises(ValueError, match=r"num_envs=2.0; expected an int >= 1"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2.0)
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=np.int64(2), hand="allegro")  # numpy ints are counts
    assert envs.num_envs == 2
    envs.close()
