"""Grasp-cache generation and how rotation envs find their caches."""
from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys

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


def test_acceptance_criteria_are_horas_in_seconds(cache_dir):
    """The physics may change (timestep, substeps); what a kept grasp must survive may not."""
    c = json.loads((cache_dir / CACHE).with_suffix(".json").read_text())["criteria"]
    assert c["control_dt"] == pytest.approx(0.05)
    assert c["settle_steps"] * c["control_dt"] == pytest.approx(0.5)   # settle 0.5 s, then snapshot
    assert c["hold_steps"] * c["control_dt"] == pytest.approx(2.0)     # the snapshot must hold 2 s
    assert (c["tip_distance_max"], c["min_tip_contacts"], c["min_object_height"], c["pose_noise"]) == \
        (0.1, 2, 0.12, 0.25)


def test_cached_grasps_pass_the_criteria_when_replayed_in_a_rotation_env(make_vec):
    """Independent of the collector: start a nominal rotation episode from every cached grasp, hold
    still for the hold time, and check HORA's criteria (height throughout, tip distance, contacts)."""
    envs = make_vec(num_envs=TEST_GRASPS, domain_rand={"enabled": False}, stagger_episodes=False)
    envs.reset(seed=0)
    grasps = envs.grasps[0].astype(np.float64)
    quat = grasps[:, 19:] / np.linalg.norm(grasps[:, 19:], axis=1, keepdims=True)
    envs.backend.set_state(np.arange(TEST_GRASPS), grasps[:, :16], grasps[:, 16:19], quat)
    envs.targets[:] = grasps[:, :16]
    low = np.zeros(TEST_GRASPS, bool)
    for _ in range(40):  # 2 s
        envs.step(np.zeros((TEST_GRASPS, 16)))
        low |= envs.backend.object_state().pos[:, 2] <= 0.12
    obj = envs.backend.object_state().pos
    tips = np.linalg.norm(envs.backend.fingertip_positions() - obj[:, None], axis=-1).max(-1)
    passed = ~low & (tips < 0.1) & (envs.backend.fingertip_contacts().sum(-1) >= 2)
    # float32 storage of the state makes a marginal grasp's replay differ slightly from its collection
    assert passed.mean() >= 0.97, passed.mean()


def test_cli_writes_prefix_and_scale(tmp_path, capsys):
    assert main(["--num-grasps", "8", "--num-envs", "32", "--out", str(tmp_path / "mine")]) == 0
    out = tmp_path / "mine_1.0.npy"
    assert out.is_file() and (tmp_path / "mine_1.0.json").is_file()
    assert str(out) in capsys.readouterr().out
    assert len(np.load(out)) == 8


@pytest.mark.parametrize("args, message", [(["--hand", "shadow"], "argument --hand: invalid choice: 'shadow'"),
                                           (["--sim", "physx"], "argument --sim: invalid choice: 'physx'"),
                                           (["--num-grasps", "0"], "argument --num-grasps: 0 is not > 0"),
                                           (["--scale", "-1"], "argument --scale: -1 is not > 0")])
def test_cli_bad_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_impossible_criteria_stop_with_a_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="only 0 of 5 grasps passed"):
        collect_grasps(tmp_path / "x_1.0.npy", num_grasps=5, num_envs=16, max_attempts=32, progress=False,
                       min_tip_contacts=5)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_missing_cache_names_the_command(tmp_path, cache_dir):
    with pytest.raises(GraspCacheMissing) as err:  # no cache ships for scale 0.9
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(tmp_path),
                     domain_rand={"scale_list": [0.9]})
    msg = str(err.value)
    assert "python -m unilab_envs.collect_grasps --hand allegro --object ball --scale 0.9" in msg
    assert "HF_HUB_OFFLINE" in msg and str(tmp_path) in msg


def test_offline_hub_falls_back_to_generation(tmp_path, cache_dir):
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(tmp_path),
                        grasp_allow_generate=True, grasp_collection_target=12, domain_rand={"scale_list": [0.9]})
    try:
        assert (tmp_path / "allegro_ball_grasp_0.9.npy").is_file() and len(envs.grasps[0]) == 12
        envs.reset(seed=0)
        envs.step(np.zeros((2, 16)))
    finally:
        envs.close()


def test_in_process_generation_uses_the_envs_control_rate(tmp_path, cache_dir):
    envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_dir=str(tmp_path),
                        grasp_allow_generate=True, grasp_collection_target=8, control_substeps=5,
                        domain_rand={"scale_list": [0.9]})
    envs.close()
    criteria = json.loads((tmp_path / "allegro_ball_grasp_0.9.json").read_text())["criteria"]
    assert criteria["control_dt"] == pytest.approx(envs.control_dt) == pytest.approx(5 / 120)


def test_explicit_prefix_path_is_used(tmp_path, cache_dir):
    for suffix in (".npy", ".json"):
        shutil.copy(cache_dir / CACHE.replace(".npy", suffix), tmp_path / f"my_allegro_grasp_1.0{suffix}")
    for path in (str(tmp_path / "my_allegro_grasp.npy"), tmp_path / "my_allegro_grasp"):  # a str or a Path
        envs = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_path=path)
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


def test_a_killed_collection_resumes_where_it_stopped(tmp_path, cache_dir):
    """SIGKILL a collecting process after it wrote progress chunks; the same command then finishes the job,
    keeping what was found, and writes a cache of exactly the format of an uninterrupted one."""
    import os
    import signal
    import time

    prefix = tmp_path / "killed"
    target, partial = tmp_path / "killed_1.0.npy", tmp_path / "killed_1.0.npy.partial"
    argv = ["--num-grasps", "1200", "--num-envs", "64", "--chunk-grasps", "100", "--out", str(prefix)]
    child = subprocess.Popen([sys.executable, "-m", "unilab_envs.collect_grasps", *argv],
                             env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(partial.glob("chunk_*.npy"))) < 2:
        assert child.poll() is None, "the collection ended before it could be killed"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # no chance to clean up
    child.wait()
    assert child.returncode == -signal.SIGKILL and not target.exists()
    progress = json.loads((partial / "progress.json").read_text())
    kept_before = np.concatenate([np.load(partial / c) for c in progress["chunks"]])
    assert 200 <= len(kept_before) < 1200

    assert main(argv) == 0  # the same command, run again
    grasps = np.load(target)
    assert grasps.shape == (1200, 23) and grasps.dtype == np.float32
    np.testing.assert_array_equal(grasps[:len(kept_before)], kept_before)  # nothing found before is lost
    assert len(np.unique(grasps, axis=0)) == 1200  # the resumed part drew new candidates
    meta, fresh = (json.loads(p.with_suffix(".json").read_text()) for p in (target, cache_dir / CACHE))
    assert set(meta) == set(fresh) and set(meta["extra"]) == set(fresh["extra"])  # the same format
    assert meta["extra"]["resumed"] == 1 and meta["extra"]["attempts"] > progress["attempts"]
    assert not partial.exists()
    key = cache_key(build_scene(ALLEGRO, OBJECTS["ball"]), 1.0)
    assert len(load_grasps(target, key)) == 1200  # validates: hash, columns, checksum


def test_no_resume_starts_anew_and_another_collection_never_takes_up_the_chunks(tmp_path):
    from unilab_envs.grasp_cache.partial import PartialCollection

    target = tmp_path / "x_1.0.npy"
    old = PartialCollection(target, {"seed": 0, "other": "collection"})
    old.add(np.zeros((5, 23), np.float32), attempts=50)
    collect_grasps(target, num_grasps=8, num_envs=32, progress=False)  # another fingerprint: not taken up
    meta = json.loads(target.with_suffix(".json").read_text())
    assert meta["extra"]["resumed"] == 0 and not (tmp_path / "x_1.0.npy.partial").exists()
