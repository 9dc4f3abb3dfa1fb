"""Shared fixtures: a small grasp cache generated once per session, offline Hub."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the suite never reaches the network
import unilab_envs  # noqa: E402,F401  (first: it picks MuJoCo's headless GL before mujoco is imported)

TEST_GRASPS = 200
#: the device the MuJoCo Warp tests run on: Warp's CPU device here and in CI; on a GPU machine
#: ``UNILAB_TEST_WARP_DEVICE=cuda`` runs the same tests there (docs/gpu_task_layer.md, step 5)
WARP_DEVICE = os.environ.get("UNILAB_TEST_WARP_DEVICE", "cpu")


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory):
    """A cache folder holding a fresh 200-grasp Allegro/ball cache at scale 1.0 (UNILAB_CACHE_DIR)."""
    from unilab_envs.collect_grasps import collect_grasps
    from unilab_envs.grasp_cache import cache_filename

    folder = tmp_path_factory.mktemp("grasps")
    collect_grasps(folder / cache_filename("allegro_ball_grasp", 1.0), num_grasps=TEST_GRASPS,
                   num_envs=128, seed=0, progress=False)
    old = os.environ.get("UNILAB_CACHE_DIR")
    os.environ["UNILAB_CACHE_DIR"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("UNILAB_CACHE_DIR", None)
    else:
        os.environ["UNILAB_CACHE_DIR"] = old


@pytest.fixture
def make_vec(cache_dir):
    """``gymnasium.make_vec`` for the rotation task, closing what it made."""
    import gymnasium as gym

    made = []

    def make(num_envs=4, env_id="AllegroInhandRotation-v0", **kwargs):
        env = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.close()
