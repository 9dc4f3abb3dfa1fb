"""APPO (Sample Factory) end to end through the commands: train, TensorBoard stats, eval, export, --resume."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sample_factory")

from trainers import cli  # noqa: E402
from trainers.appo import list_checkpoints, steps_per_iteration  # noqa: E402
from trainers.config import compose  # noqa: E402

BASE = ["--algo", "appo", "--task", "allegro_inhand", "--sim", "mujoco"]
TINY = ["--num-envs", "16", "algo.hparams.rollout=8", "algo.hparams.num_epochs=1",
        "algo.hparams.encoder_mlp_layers=[32,32]", "algo.hparams.stats_avg=10",
        "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=5"]


def run_dirs(logdir: Path) -> list[Path]:
    return sorted((logdir / "sf_appo" / "AllegroInhandRotation-v0").iterdir())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    assert cli.train(BASE + TINY + ["--max-iterations", "3", f"training.logdir={logdir}"]) == 0
    (run,) = run_dirs(logdir)
    return logdir, run


def test_iteration_is_one_rollout_of_every_env():
    cfg = compose("appo", "allegro_inhand", "mujoco", overrides=["training.num_envs=16", "algo.hparams.rollout=8"])
    assert steps_per_iteration(cfg) == 16 * 8


def test_train_writes_checkpoint_summary_and_episode_stats(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = trained
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == 3 and summary["env_steps"] == 3 * 16 * 8
    assert Path(summary["checkpoint"]) == list_checkpoints(run)[-1]
    assert summary["export"]["ok"] and (run / "config.yaml").is_file()
    acc = EventAccumulator(str(run / ".summary" / "0"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("episode_extra_stats/rotation_speed", "episode_extra_stats/episode_seconds",
                "episode_extra_stats/reward_terms/rotate", "episode_extra_stats/episode_length"):
        assert tag in tags, f"{tag} missing ({sorted(tags)})"


def test_eval_and_resume(trained):
    logdir, run = trained
    assert cli.evaluate(BASE + ["--load-run", "-1", f"training.logdir={logdir}", "eval.episodes=4",
                                "eval.num_envs=4", "training.progress_bar=false"]) == 0
    (out,) = (run / "eval").glob(f"{list_checkpoints(run)[-1].stem}_*.json")
    result = json.loads(out.read_text())
    assert result["overall"]["episodes"] == 4 and 0 < result["overall"]["time_to_fall"] <= 5 * 0.05 + 1e-9
    assert cli.train(BASE + TINY + ["--resume", "--max-iterations", "5", f"training.logdir={logdir}",
                                    "training.export=false"]) == 0
    assert run_dirs(logdir) == [run]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["start_env_steps"] == 3 * 128 and summary["env_steps"] == 5 * 128


def test_unknown_hparam_is_a_config_error(tmp_path, capsys):
    rc = cli._run(cli.train, BASE + TINY + ["algo.hparams.learning_rat=0.1", f"training.logdir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and "learning_rat" in err and "learning_rate" in err


def test_checkpoint_with_a_best_performance_loads(trained, tmp_path):
    """Once Sample Factory has saved a best policy, its checkpoints carry a numpy scalar (``best_performance``);
    they still load with ``weights_only=True`` (a long run's last checkpoint failed to load before)."""
    import shutil

    import numpy as np
    import torch

    from trainers import appo

    _, run = trained
    copy = tmp_path / run.name
    shutil.copytree(run, copy)
    ckpt = list_checkpoints(copy)[-1]
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    state["best_performance"] = np.float32(-5.97)
    torch.save(state, ckpt)
    actor, info = appo.load_actor(copy, ckpt)
    obs = np.zeros((2, info["obs_dim"]), np.float32)
    assert np.abs(actor(torch.as_tensor(obs)).numpy() - info["reference"](obs)).max() < 1e-5
