"""Eval sweeps: every checkpoint of a run, or the newest of several runs, each evaluated (its own JSON), then one
combined table, sweep.json and a PNG of the metrics against env steps; the same on a local Ray instance."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from trainers import cli  # noqa: E402

BASE = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco"]
TINY = ["--num-envs", "8", "algo.n_steps=8", "algo.batch_size=32", "algo.n_epochs=1", "algo.net_arch=[32,32]",
        "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=10",
        "training.export=false", "training.checkpoint_interval=1"]
EVAL = ["eval.episodes=4", "eval.num_envs=4", "training.progress_bar=false"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    for name in ("a", "b"):
        assert cli.train(BASE + TINY + ["--max-iterations", "2", f"training.logdir={logdir}",
                                        f"training.run_name={name}"]) == 0
    exp = logdir / "sb3_ppo" / "AllegroInhandRotation-v0"
    return logdir, sorted(exp.iterdir())


def _sweep(exp: Path) -> dict:
    (folder,) = sorted((exp / "eval_sweeps").iterdir())[-1:]
    assert (folder / "sweep.png").stat().st_size > 1000
    return json.loads((folder / "sweep.json").read_text())


def test_every_checkpoint_of_a_run_in_turn(two_runs, capsys):
    logdir, (run_a, _) = two_runs
    assert cli.evaluate(BASE + ["--load-run", run_a.name, "--checkpoints", "all", f"training.logdir={logdir}",
                                *EVAL]) == 0
    rows = _sweep(run_a.parent)["rows"]
    assert [r["checkpoint"] for r in rows] == ["model_1.zip", "model_2.zip"]
    assert [r["env_steps"] for r in rows] == [64, 128]
    assert all(r["episodes"] == 4 and Path(r["json"]).is_file() for r in rows)  # each eval's own JSON too
    assert all(sum(r["end_causes"].values()) == pytest.approx(1.0) for r in rows)
    assert "one after another" in capsys.readouterr().out


def test_several_runs_on_a_local_ray_instance(two_runs, capsys):
    ray = pytest.importorskip("ray")
    logdir, (run_a, run_b) = two_runs
    try:
        assert cli.evaluate(BASE + ["--load-run", f"{run_a.name},{run_b.name}", "--checkpoints", "-1", "--ray",
                                    "local", f"training.logdir={logdir}", "training.ray.num_cpus_per_worker=1",
                                    *EVAL]) == 0
    finally:
        ray.shutdown()
    rows = _sweep(run_a.parent)["rows"]
    assert [(r["run"], r["checkpoint"]) for r in rows] == [(run_a.name, "model_2.zip"), (run_b.name, "model_2.zip")]
    assert "on Ray (local)" in capsys.readouterr().out
