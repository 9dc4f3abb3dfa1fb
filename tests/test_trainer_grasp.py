"""``train --task allegro_inhand_grasp`` writes caches where rotation runs find them."""
from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("omegaconf")

from trainers import cli  # noqa: E402

BASE = ["--algo", "ppo", "--task", "allegro_inhand_grasp", "--sim", "mujoco", "--num-envs", "64",
        "env.grasp_collection_target=10", "training.progress_bar=false", "env.num_threads=1"]


def test_grasp_task_writes_to_the_given_prefix_and_rotation_finds_it(tmp_path, cache_dir):
    prefix = tmp_path / "caches" / "my_allegro_grasp.npy"
    rc = cli.train(BASE + [f"env.grasp_cache_path={prefix}", f"training.logdir={tmp_path / 'logs'}"])
    assert rc == 0
    out = tmp_path / "caches" / "my_allegro_grasp_1.0.npy"
    assert out.is_file() and np.load(out).shape == (10, 23)
    (run,) = (tmp_path / "logs" / "sb3_ppo" / "AllegroInhandGrasp-v0").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["caches"] == [{"scale": 1.0, "path": str(out), "grasps": 10}]
    # the same override points a rotation env at the result
    env = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_path=str(prefix), num_threads=1)
    try:
        assert len(env.unwrapped.grasps[0]) == 10
    finally:
        env.close()


def test_grasp_task_default_output_is_where_rotation_looks(tmp_path, cache_dir):
    folder = tmp_path / "cache_home"
    rc = cli.train(BASE + [f"env.grasp_cache_dir={folder}", f"training.logdir={tmp_path / 'logs'}",
                           "env.domain_rand.scale_list=[1.0,1.05]"])
    assert rc == 0
    assert sorted(p.name for p in folder.glob("*.npy")) == ["allegro_ball_grasp_1.0.npy", "allegro_ball_grasp_1.05.npy"]
    env = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(folder), num_threads=1,
                       domain_rand={"scale_list": (1.0, 1.05)})
    try:
        assert [len(g) for g in env.unwrapped.grasps] == [10, 10]
    finally:
        env.close()
