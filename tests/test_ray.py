"""Ray (optional): clear errors before any work, and grasp collection in chunks on a local Ray instance, in the
format of a one-machine collection, surviving a worker killed midway without losing or repeating a grasp."""
from __future__ import annotations

import builtins
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from unilab_envs.collect_ray import Job, collect_chunk, collect_on_ray
from unilab_envs.grasp_cache.store import read_metadata
from unilab_envs.ray_cluster import RayUnavailable, connect

N = 40  # grasps per scale: two chunks of 20


def test_missing_ray_package_names_the_extra(monkeypatch):
    real = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(RayUnavailable, match=r"unilab-envs\[ray\]"):
        connect("local")
    assert connect("") is None  # no address: no Ray, nothing imported


def test_unreachable_address_fails_at_once_before_any_run_folder(tmp_path, capsys):
    pytest.importorskip("ray")
    with pytest.raises(RayUnavailable, match="cannot reach Ray at --ray 127.0.0.1:1"):
        connect("127.0.0.1:1")
    from trainers import cli

    args = ["--algo", "ppo", "--task", "allegro_inhand_grasp", "--sim", "mujoco", "--ray", "ray://127.0.0.1:1",
            f"training.logdir={tmp_path}"]
    assert cli._run(cli.train, args) == 2
    assert "cannot reach Ray" in capsys.readouterr().err and not any(tmp_path.iterdir())


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


OPTIONS = {"hand": "allegro", "object_type": "ball", "num_envs": 64}


def test_ray_collection_of_two_scales_matches_a_one_machine_collection(ray_local, tmp_path):
    from unilab_envs.collect_grasps import collect_grasps

    jobs = [Job(tmp_path / "ray" / f"allegro_ball_grasp_{s}.npy", s, N) for s in (0.9, 1.0)]
    paths = collect_on_ray(ray_local, jobs, seed=3, chunk_grasps=20, num_cpus_per_worker=1, progress=False, **OPTIONS)
    local = collect_grasps(tmp_path / "one" / "allegro_ball_grasp_1.0.npy", scale=1.0, num_grasps=N, seed=3,
                           progress=False, num_threads=1, **OPTIONS)
    for path in paths:
        grasps, meta = np.load(path), read_metadata(path)
        assert grasps.shape == (N, 23) and grasps.dtype == np.float32 and meta["num_grasps"] == N
        assert meta["extra"]["ray"]["chunks"] == 2 and len(np.unique(grasps, axis=0)) == N
    ray_meta, one_meta = read_metadata(paths[1]), read_metadata(local)
    assert set(ray_meta) == set(one_meta)
    for key in ("hand", "object_type", "scale", "columns", "model_hash", "criteria", "format_version"):
        assert ray_meta[key] == one_meta[key], key
    assert np.load(local).dtype == np.load(paths[1]).dtype
    # a rotation env takes the Ray-made cache like any other
    import gymnasium as gym

    env = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, grasp_cache_path=str(paths[1]))
    env.reset(seed=0)
    env.close()


def dies_once(scale, num_grasps, seed, options):
    """A chunk task whose first attempt (per marker file) kills its worker process midway through collecting."""
    marker = Path(options.pop("kill_marker"))
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        threading.Timer(0.3, lambda: os._exit(1)).start()  # the process dies while collect_grasps runs
    return collect_chunk(scale, num_grasps, seed, options)


def test_a_killed_worker_is_retried_and_no_grasp_is_lost_or_repeated(ray_local, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(__import__(__name__))  # ship dies_once to the workers by value
    marker = tmp_path / "killed"
    (path,) = collect_on_ray(ray_local, [Job(tmp_path / "allegro_ball_grasp_1.0.npy", 1.0, N)], seed=5,
                             chunk_grasps=20, num_cpus_per_worker=1, progress=False, collect=dies_once,
                             kill_marker=str(marker), **OPTIONS)
    assert marker.exists()  # a worker did die
    grasps = np.load(path)
    assert grasps.shape == (N, 23) and len(np.unique(grasps, axis=0)) == N
    # the retried chunk is the chunk it would have been: same seed, same grasps, in its place
    again = collect_on_ray(ray_local, [Job(tmp_path / "again" / "allegro_ball_grasp_1.0.npy", 1.0, N)], seed=5,
                           chunk_grasps=20, num_cpus_per_worker=1, progress=False, **OPTIONS)[0]
    np.testing.assert_array_equal(np.load(again), grasps)
    assert read_metadata(path)["extra"]["ray"]["chunks"] == 2


SWEEP = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco", "--num-envs", "8", "algo.n_steps=8",
         "algo.batch_size=32", "algo.n_epochs=1", "algo.net_arch=[32,32]", "training.no_play=true",
         "training.progress_bar=false", "env.num_threads=1", "env.episode_length=10", "training.export=false",
         "--max-iterations", "1", "eval.episodes=4", "eval.num_envs=4", "training.ray.num_cpus_per_worker=1"]


def test_two_seed_sweep_on_ray_tune_and_its_resume(ray_local, tmp_path, capsys):
    from trainers import cli

    assert cli.train(SWEEP + ["--seeds", "0,1", f"training.logdir={tmp_path}"]) == 0
    (sweep,) = (tmp_path / "sweeps").iterdir()
    summary = json_load(sweep / "summary.json")
    assert [t["combo"] for t in summary["trials"]] == [{"training.seed": 0}, {"training.seed": 1}]
    runs = sorted((sweep / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir())
    # normal run folders under the sweep (the trials run in parallel: either may start first)
    assert sorted(r.name.rsplit("_", 1)[-1] for r in runs) == ["seed0", "seed1"]
    assert all((r / "checkpoints" / "model_1.zip").is_file() for r in runs)
    (entry,) = summary["summary"]
    assert entry["seeds"] == [0, 1] and entry["rotation_speed"]["std"] >= 0 and entry["drop_rate"]["mean"] is not None
    assert "rotation_speed" in capsys.readouterr().out and (sweep / "summary.png").stat().st_size > 1000
    # resuming a finished sweep restores Tune's state: no trial runs again, no new run folder
    assert cli.train(SWEEP + ["--seeds", "0,1", "--resume", "--load-run", "-1", f"training.logdir={tmp_path}"]) == 0
    assert sorted((sweep / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir()) == runs


def test_list_override_for_a_scalar_key_is_a_sweep_axis_and_a_bad_key_is_refused(tmp_path, capsys):
    from trainers import cli
    from trainers.tune_sweep import plan

    args = cli.parse("train", SWEEP + ["algo.learning_rate=[3e-4,1e-3]", "env.domain_rand.scale_list=[1.0]"])
    regular, axes, seeds, _ = plan(args)
    assert axes == {"algo.learning_rate": [3e-4, 1e-3]} and "env.domain_rand.scale_list=[1.0]" in regular
    assert seeds == []
    assert plan(cli.parse("train", SWEEP)) is None  # no list, no seeds: an ordinary run
    assert cli._run(cli.train, SWEEP + ["algo.learnin_rate=[1e-4,1e-3]", f"training.logdir={tmp_path}"]) == 2
    assert "did you mean algo.learning_rate" in capsys.readouterr().err


def json_load(path):
    import json

    return json.loads(Path(path).read_text())


def test_train_with_ray_runs_the_one_run_as_a_one_trial_sweep(ray_local, tmp_path):
    from trainers import cli

    assert cli.train(SWEEP + ["--ray", "local", "--seed", "7", f"training.logdir={tmp_path}"]) == 0
    (sweep,) = (tmp_path / "sweeps").iterdir()
    (run,) = (sweep / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir()
    assert run.name.endswith("_seed7") and (run / "checkpoints" / "model_1.zip").is_file()
    assert json_load(sweep / "summary.json")["trials"][0]["metrics"]["drop_rate"] >= 0
