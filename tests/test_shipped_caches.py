"""The grasp caches that ship with the package: current for their scene, found with no prior command."""
from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from unilab_envs.grasp_cache import GraspCacheMissing, resolve_grasp_cache
from unilab_envs.grasp_cache.shipped import SHIPPED_GRASPS, check, shipped_caches
from unilab_envs.hands import ALLEGRO
from unilab_envs.objects import OBJECTS
from unilab_envs.scene import build_scene
from unilab_envs.tasks.start_states import cache_key

from .conftest import TEST_GRASPS


def test_every_registered_rotation_env_ships_a_current_cache_for_each_default_scale():
    caches = shipped_caches()
    assert {c.env_id for c in caches} >= {"AllegroInhandRotation-v0", "SharpaInhandRotation-v0"}
    assert sorted(c.scale for c in caches if c.hand == "sharpa") == [0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]
    for c in caches:
        # fails after any change to a hand, object or solver option until the caches are regenerated:
        #   python -m unilab_envs.grasp_cache.shipped
        assert check(c) is None, f"{c.env_id} scale {c.scale}: {check(c)}"
        assert len(np.load(c.path)) == SHIPPED_GRASPS


@pytest.mark.parametrize("env_id, scales", [("AllegroInhandRotation-v0", 1), ("SharpaInhandRotation-v0", 9)])
def test_gym_make_works_on_a_fresh_install_offline(tmp_path, env_id, scales):
    """No local cache, no Hub, no prior command: the shipped caches are used."""
    env = {k: v for k, v in os.environ.items() if k not in ("UNILAB_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(tmp_path), HF_HUB_OFFLINE="1")
    code = ("import gymnasium as gym, unilab_envs\n"
            f"env = gym.make('{env_id}'); env.reset(seed=0)\n"
            "vec = env.unwrapped.vector_env; print(len(vec.grasps), len(vec.grasps[0]))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == [str(scales), str(SHIPPED_GRASPS)]
    assert not (tmp_path / ".cache" / "unilab_envs").exists()  # nothing was generated or downloaded


def test_a_users_own_cache_wins_over_the_shipped_one(make_vec):
    envs = make_vec(num_envs=2)  # the session fixture's 200-grasp cache is in $UNILAB_CACHE_DIR
    assert len(envs.grasps[0]) == TEST_GRASPS


def test_a_stale_shipped_cache_is_skipped_not_used(tmp_path, caplog):
    key = cache_key(build_scene(ALLEGRO, OBJECTS["ball"]), 1.0)
    (tmp_path / key.filename).write_bytes(b"not an npy file")
    with pytest.raises(GraspCacheMissing, match="shipped: "):
        resolve_grasp_cache(key, cache_dir=tmp_path / "empty", shipped_dir=tmp_path, hub_repo_id="")
    assert "ignoring shipped grasp cache" in caplog.text


def test_objects_and_scales_without_a_shipped_cache_still_say_how_to_make_one(tmp_path):
    with pytest.raises(GraspCacheMissing, match="collect_grasps --hand allegro --object cube"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, object_type="cube", grasp_cache_dir=str(tmp_path))
