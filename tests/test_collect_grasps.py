"""Grasp-cache generation and how rotation envs find their caches."""
from __future__ import annotations

import json
import shutil
import stat

import gymnasium as gym
import numpy as np
import pytest

from unilab_envs.collect_grasps import collect_grasps, main
from unilab_envs.grasp_cache import GraspCacheMissing, GraspCacheStale, load_grasps
from unilab_envs.hands import ALLEGRO
from unilab_envs.objects import OBJECTS
from unilab_envs.scene import build_scene
from unilab_envs.tasks.start_states import cache_key, grasp_columns

from .conftest import TEST_GRASPS

CACHE = "allegro_ball_grasp_1.0.npy"


def test_generated_cache_content_and_metadata(cache_dir):
    path = cache_dir / CACHE
    key = cache_key(build_scene(ALLEGRO, OBJECTS["ball"]), 1.0)
    grasps = load_grasps(path, key)
    assert grasps.shape == (TEST_GRASPS, 16 + 3 + 4) and grasps.dtype == np.float32
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["columns"] == list(grasp_columns(ALLEGRO)) and meta["model_hash"] == key.model_hash
    assert meta["criteria"]["min_tip_contacts"] == 2 and meta["criteria"]["hold_steps"] == 40
    assert 0.0 < meta["extra"]["yield"] <= 1.0
    lo, hi = np.array([[-0.47, -0.196, -0.174, -0.227]] * 3 + [[0.263, -0.105, -0.189, -0.162]]).ravel(), \
        np.array([[0.47, 1.61, 1.709, 1.618]] * 3 + [[1.396, 1.163, 1.644, 1.719]]).ravel()
    # within the joint ranges, up to the millirad that MuJoCo's soft limits let a loaded joint pass
    assert np.all(grasps[:, :16] >= lo - 1e-3) and np.all(grasps[:, :16] <= hi + 1e-3)
    assert np.all(grasps[:, 18] > meta["criteria"]["min_object_height"])
    np.testing.assert_allclose(np.linalg.norm(grasps[:, 19:], axis=1), 1.0, atol=1e-5)
    assert len(np.unique(grasps[:, :16], axis=0)) == TEST_GRASPS  # distinct grasps, not one pose
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH  # readable by others, like any written file


def test_cli_writes_prefix_and_scale(tmp_path, capsys):
    assert main(["--num-grasps", "8", "--num-envs", "32", "--out", str(tmp_path / "mine")]) == 0
    out = tmp_path / "mine_1.0.npy"
    assert out.is_file() and (tmp_path / "mine_1.0.json").is_file()
    assert str(out) in capsys.readouterr().out
    assert len(np.load(out)) == 8


def test_impossible_criteria_stop_with_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="only 0 of 5 grasps passed"):
        collect_grasps(tmp_path / "x_1.0.npy", num_grasps=5, num_envs=16, max_attempts=32, progress=False,
                       min_tip_contacts=5)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_missing_cache_names_the_command(tmp_path, cache_dir):
    with pytest.raises(GraspCacheMissing) as err:
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(tmp_path))
    msg = str(err.value)
    assert "python -m unilab_envs.collect_grasps --hand allegro --object ball --scale 1.0" in msg
    assert "HF_HUB_OFFLINE" in msg and str(tmp_path) in msg


def test_offline_hub_falls_back_to_generation(tmp_path, cache_dir):
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(tmp_path),
                        grasp_allow_generate=True, grasp_collection_target=12)
    try:
        assert (tmp_path / CACHE).is_file() and len(envs.grasps[0]) == 12
        envs.reset(seed=0)
        envs.step(np.zeros((2, 16)))
    finally:
        envs.close()


def test_explicit_prefix_path_is_used(tmp_path, cache_dir):
    for suffix in (".npy", ".json"):
        shutil.copy(cache_dir / CACHE.replace(".npy", suffix), tmp_path / f"my_allegro_grasp_1.0{suffix}")
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2,
                        grasp_cache_path=str(tmp_path / "my_allegro_grasp.npy"))
    assert len(envs.grasps[0]) == TEST_GRASPS
    envs.close()


def test_cache_of_another_model_is_refused(cache_dir):
    with pytest.raises(GraspCacheStale, match="model_hash"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, physics={"timestep": 0.004},
                     grasp_cache_path=str(cache_dir / CACHE))
    with pytest.raises(GraspCacheMissing, match="allegro_cube_grasp_1.0.npy"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, object_type="cube")


def test_every_listed_scale_needs_its_cache(cache_dir):
    with pytest.raises(GraspCacheMissing, match="--scale 0.9"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, domain_rand={"scale_list": [1.0, 0.9]})
