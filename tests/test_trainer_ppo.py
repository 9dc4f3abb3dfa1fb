"""PPO end to end through the commands: a few iterations, then eval, export, --resume and --load-run -1."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from trainers import cli  # noqa: E402
from trainers.ppo import list_checkpoints, load_model  # noqa: E402

BASE = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco"]
TINY = ["--num-envs", "8", "algo.n_steps=8", "algo.batch_size=32", "algo.n_epochs=1", "algo.net_arch=[32,32]",
        "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=20"]


def runs_in(logdir: Path) -> list[Path]:
    return sorted((logdir / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
    """One 2-iteration run (checkpoints every iteration) in a fresh log folder."""
    logdir = tmp_path_factory.mktemp("logs")
    rc = cli.train(BASE + TINY + ["--max-iterations", "2", f"training.logdir={logdir}",
                                  "training.checkpoint_interval=1"])
    assert rc == 0
    (run,) = runs_in(logdir)
    return logdir, run


def test_train_writes_a_complete_run_folder(trained):
    logdir, run = trained
    assert run.name.endswith("_mujoco")
    assert [p.name for p in list_checkpoints(run)] == ["model_1.zip", "model_2.zip"]
    assert list(run.glob("events.out.tfevents.*")), "no TensorBoard events"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["env_steps"] == 2 * 8 * 8
    assert summary["env_steps_per_second"] > 0
    assert summary["export"]["ok"] and summary["export"]["torchscript_max_abs_diff"] <= 1e-5
    cfg = (run / "config.yaml").read_text()
    assert "sim_backend: mujoco" in cfg and "n_steps: 8" in cfg  # resolved config, overrides included
    assert not list(run.rglob("*.tmp"))  # atomic writes leave no temporaries


def test_tensorboard_has_physical_metrics_and_reward_terms(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = trained
    acc = EventAccumulator(str(run))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in ("reward_terms/rotate", "reward_terms/work", "episode/episode_length", "episode/rotation_speed_rad_s",
                "episode/time_to_fall_s", "perf/env_steps_per_s", "train/approx_kl"):
        assert tag in tags, f"{tag} missing from TensorBoard ({sorted(tags)})"


def test_checkpoint_keeps_observation_statistics(trained):
    _, run = trained
    model = load_model(list_checkpoints(run)[-1])
    norm = model.policy.features_extractor
    assert float(norm.count) > 2 * 8 * 8 - 1  # both rollouts went into the running statistics
    assert not np.allclose(norm.mean.numpy(), 0.0)


def test_eval_reports_physical_metrics_per_scale(trained, capsys):
    logdir, run = trained
    rc = cli.evaluate(BASE + ["--load-run", "-1", f"training.logdir={logdir}", "eval.episodes=4", "eval.num_envs=2",
                              "training.progress_bar=false"])
    assert rc == 0
    (out,) = (run / "eval").glob("model_2_*.json")
    result = json.loads(out.read_text())
    overall = result["overall"]
    assert overall["episodes"] == 4 and set(result["per_scale"]) == {"1"}
    assert 0.0 <= overall["drop_rate"] <= 1.0
    assert 0.0 < overall["time_to_fall"] <= 20 * 0.05 + 1e-9  # capped at the episode length (20 steps here)
    for key in ("return", "rotation_speed", "object_speed", "torque", "work"):
        assert np.isfinite(overall[key])
    assert "rotation_speed (rad/s)" in capsys.readouterr().out


def test_exported_actor_loads_without_this_package(trained):
    _, run = trained
    code = (
        "import sys, numpy as np, torch, onnxruntime as ort\n"
        f"d = {str(run / 'exported')!r}\n"
        "obs = np.random.default_rng(0).uniform(-1, 1, (5, 96)).astype(np.float32)\n"
        "a = torch.jit.load(d + '/policy.pt')(torch.from_numpy(obs)).detach().numpy()\n"
        "b = ort.InferenceSession(d + '/policy.onnx').run(None, {'obs': obs})[0]\n"
        "assert a.shape == (5, 16) and np.abs(a - b).max() < 1e-5 and np.abs(a).max() <= 1\n"
        "assert not any(m.split('.')[0] in ('unilab_envs', 'trainers', 'stable_baselines3') for m in sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_export_command_matches_the_in_package_policy(trained):
    logdir, run = trained
    (run / "exported" / "policy.pt").unlink()
    assert cli.export(BASE + ["--load-run", run.name, "--checkpoint", "1", f"training.logdir={logdir}"]) == 0
    meta = json.loads((run / "exported" / "policy.json").read_text())
    assert meta["checkpoint"].endswith("model_1.zip") and meta["parity"]["ok"]


def test_resume_continues_steps_and_optimizer(tmp_path, cache_dir):
    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false"]
    assert cli.train(args + ["--max-iterations", "1"]) == 0
    (run,) = runs_in(tmp_path)
    first = load_model(list_checkpoints(run)[-1])
    adam_steps = _adam_step(first)
    assert cli.train(args + ["--resume", "--load-run", "-1", "--max-iterations", "2"]) == 0
    assert runs_in(tmp_path) == [run]  # resumed in place, no new run folder
    second = load_model(list_checkpoints(run)[-1])
    assert second.num_timesteps == 2 * 64 and list_checkpoints(run)[-1].name == "model_2.zip"
    assert _adam_step(second) == 2 * adam_steps  # the optimizer went on from its saved state
    assert json.loads((run / "summary.json").read_text())["iterations"] == 2


def test_resumed_curves_do_not_double_back(tmp_path, cache_dir):
    """A run stopped after iteration 3 whose newest checkpoint is 2 redoes iteration 3 on --resume: TensorBoard shows
    each step once (the stale point is purged), so curves read left to right."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false", "training.checkpoint_interval=2"]
    assert cli.train(args + ["--max-iterations", "3"]) == 0
    (run,) = runs_in(tmp_path)
    list_checkpoints(run)[-1].unlink()  # stopped after logging iteration 3, before saving it
    assert list_checkpoints(run)[-1].name == "model_2.zip"
    assert cli.train(args + ["--resume", "--max-iterations", "4"]) == 0
    steps = [e.step for e in EventAccumulator(str(run)).Reload().Scalars("rollout/ep_len_mean")]
    assert steps == [64, 128, 192, 256]


def test_init_from_starts_a_new_run_from_another_runs_weights(trained, tmp_path, cache_dir):
    """Fine-tuning: the weights, action std and observation statistics come from the source run; steps and the
    optimizer start afresh, in a new run folder (learning rate 0 keeps the weights as they were loaded)."""
    _, source = trained
    src = load_model(list_checkpoints(source)[-1])
    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false", "--max-iterations", "1",
                          "algo.learning_rate=0.0", "algo.adaptive_lr=false", f"training.init_from={source}"]
    assert cli.train(args) == 0
    (run,) = runs_in(tmp_path)
    new = load_model(list_checkpoints(run)[-1])
    assert new.num_timesteps == 64 and _adam_step(new) == _adam_step(src) / 2  # its own counters (1 of 2 iterations)
    src_state, new_state = src.policy.state_dict(), new.policy.state_dict()
    for name, value in src_state.items():
        if "features_extractor." in name:  # running statistics (shared by actor and critic): loaded, then updated
            continue
        assert np.array_equal(value.numpy(), new_state[name].numpy()), name
    fe_src, fe_new = src.policy.features_extractor, new.policy.features_extractor
    assert fe_new.count > fe_src.count > 1  # carried on from the source's statistics, not restarted


def test_init_from_refuses_a_missing_source_or_another_network(trained, tmp_path, cache_dir, capsys):
    _, source = trained
    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false", "--max-iterations", "1"]
    rc = cli._run(cli.train, args + [f"training.init_from={tmp_path / 'nowhere'}"])
    err = capsys.readouterr().err
    assert rc == 2 and "nowhere" in err and "training.init_from" in err
    assert not (tmp_path / "sb3_ppo").exists()  # refused before a run folder was made
    rc = cli._run(cli.train, args + [f"training.init_from={source}", "algo.net_arch=[16]"])
    err = capsys.readouterr().err
    assert rc == 2 and "does not fit" in err and "algo.net_arch" in err
    rc = cli._run(cli.train, ["--algo", "appo", "--task", "allegro_inhand", f"training.logdir={tmp_path}",
                              f"training.init_from={source}"])
    assert rc == 2 and "only --algo ppo" in capsys.readouterr().err


def _adam_step(model) -> float:
    state = model.policy.optimizer.state_dict()["state"]
    return float(next(iter(state.values()))["step"])


def test_load_run_minus_one_picks_the_newest_run(tmp_path, cache_dir):
    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false", "--max-iterations", "1"]
    assert cli.train(args + ["--run-name", "first"]) == 0
    assert cli.train(args + ["--run-name", "second"]) == 0
    first, second = runs_in(tmp_path)
    assert first.name.endswith("_first") and second.name.endswith("_second")
    assert cli.evaluate(BASE + ["--load-run", "-1", f"training.logdir={tmp_path}", "eval.episodes=2",
                                "eval.num_envs=2", "env.episode_length=5", "training.progress_bar=false"]) == 0
    assert len(list((second / "eval").glob("model_1_*.json"))) == 1 and not (first / "eval").exists()


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, cache_dir, capsys):
    args = BASE + TINY + [f"training.logdir={tmp_path}", "training.export=false", "--max-iterations", "1"]
    assert cli.train(args) == 0
    (run,) = runs_in(tmp_path)
    ckpt = list_checkpoints(run)[-1]
    ckpt.write_bytes(b"not a zip")
    rc = cli._run(cli.evaluate, BASE + ["--load-run", "-1", f"training.logdir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and str(ckpt) in err and "--checkpoint" in err
    assert not zipfile.is_zipfile(ckpt)


def test_eval_without_runs_says_how_to_make_one(tmp_path, capsys):
    rc = cli._run(cli.evaluate, BASE + ["--load-run", "-1", f"training.logdir={tmp_path}"])
    assert rc == 2 and "train one first" in capsys.readouterr().err


def test_playback_video_unless_no_play(tmp_path, cache_dir):
    imageio = pytest.importorskip("imageio.v2")
    args = [a for a in BASE + TINY if a != "training.no_play=true"]
    assert cli.train(args + [f"training.logdir={tmp_path}", "training.export=false", "--max-iterations", "1",
                             "training.play_seconds=0.5", "env.render_width=64", "env.render_height=48"]) == 0
    (run,) = runs_in(tmp_path)
    frames = imageio.mimread(run / "videos" / "play.mp4")
    assert len(frames) == 11 and frames[0].shape == (48, 64, 3)  # 0.5 s at 20 Hz, plus the first frame
    assert json.loads((run / "summary.json").read_text())["video"].endswith("play.mp4")

