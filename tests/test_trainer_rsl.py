"""``--algo rsl_ppo``: rsl_rl's PPO behind train / eval / export, with our run folders and checkpoints."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("rsl_rl")

from trainers import cli, rsl_ppo  # noqa: E402

BASE = ["--algo", "rsl_ppo", "--task", "allegro_inhand"]
TINY = ["--num-envs", "8", "algo.num_steps_per_env=8", "algo.algorithm.num_mini_batches=2",
        "algo.actor.hidden_dims=[32,32]", "algo.critic.hidden_dims=[32,32]", "training.no_play=true",
        "training.progress_bar=false", "env.num_threads=1", "env.episode_length=10",
        "training.checkpoint_interval=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    assert cli.main(["train", *BASE, "--sim", "mujoco", *TINY, "--max-iterations", "3",
                     f"training.logdir={logdir}"]) == 0
    (run,) = (logdir / "rsl_ppo" / "AllegroInhandRotation-v0").iterdir()
    return logdir, run


def test_run_folder_checkpoints_and_summary(trained):
    _, run = trained
    assert [p.name for p in rsl_ppo.list_checkpoints(run)] == ["model_2.pt", "model_3.pt"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == 3 and summary["env_steps"] == 3 * 8 * 8 and summary["export"]["ok"]
    # finished episodes' statistics (episodes of 10 steps end in every rollout), the drop share included
    assert "time_to_fall_s" in summary and 0.0 <= summary["drop_rate"] <= 1.0


def test_tensorboard_has_the_shared_episode_scalars(trained):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = trained
    events = EventAccumulator(str(run)).Reload()
    tags = events.Tags()["scalars"]
    assert {"episode/rotation_speed_rad_s", "episode/time_to_fall_s", "perf/episodes_finished"} <= set(tags)
    assert any(t.startswith("Loss/") for t in tags)  # rsl_rl's own
    # the shared scalars at env steps, as the other trainers (8 envs x 8 steps per iteration); a category code
    # such as end_cause is not averaged
    assert [e.step for e in events.Scalars("perf/episodes_finished")] == [64, 128, 192]
    assert not any("end_cause" in t for t in tags if t.startswith("/episode/"))


def test_eval_and_resume(trained, capsys):
    logdir, run = trained
    common = [*BASE, "--sim", "mujoco", "--load-run", "-1", f"training.logdir={logdir}"]
    assert cli.main(["eval", *common, "eval.episodes=2", "eval.num_envs=2", "training.progress_bar=false"]) == 0
    assert "rotation_speed" in capsys.readouterr().out
    assert cli.main(["train", *common, "--resume", *TINY, "--max-iterations", "4"]) == 0
    assert rsl_ppo.checkpoint_iteration(rsl_ppo.list_checkpoints(run)[-1]) == 4
    assert json.loads((run / "summary.json").read_text())["iterations"] == 4
    # once more to the same total: nothing to do, said in one line; the run stays as it is
    assert cli._run(cli.train, [*common, "--resume", *TINY, "--max-iterations", "4"]) == 2
    assert f"run {run.name} already finished 4 of 4 iterations" in capsys.readouterr().err
    assert not (run / "failed.json").exists() and rsl_ppo.checkpoint_iteration(rsl_ppo.list_checkpoints(run)[-1]) == 4


def test_other_observation_modes_are_refused(tmp_path, capsys):
    rc = cli.main(["train", *BASE, "--sim", "mujoco", *TINY, "env.obs_mode=hora", f"training.logdir={tmp_path}"])
    assert rc != 0 and "obs_mode=state, or privileged" in capsys.readouterr().err


def test_asymmetric_critic_sees_the_privileged_facts_and_the_actor_does_not(tmp_path, cache_dir):
    args = [*BASE, "--sim", "mujoco", f"training.logdir={tmp_path}"]
    assert cli.main(["train", *args, *TINY, "env.obs_mode=privileged", "--max-iterations", "2"]) == 0
    (run,) = (tmp_path / "rsl_ppo" / "AllegroInhandRotation-v0").iterdir()
    state = __import__("torch").load(rsl_ppo.list_checkpoints(run)[-1], weights_only=False)
    first = lambda sd: next(v for k, v in sd.items() if k.endswith("weight") and v.ndim == 2)  # noqa: E731
    assert first(state["critic_state_dict"]).shape[1] == first(state["actor_state_dict"]).shape[1] + 12
    actor, info = rsl_ppo.load_actor(run, rsl_ppo.list_checkpoints(run)[-1])
    assert actor.input_keys == ("state",) and info["obs_dim"] == {"state": (96,)}
    assert json.loads((run / "summary.json").read_text())["export"]["ok"]
    assert cli.main(["eval", *args, "--load-run", "-1", "eval.episodes=2", "eval.num_envs=2",
                     "training.progress_bar=false"]) == 0


def test_rsl_ppo_on_mujoco_warp_keeps_tensors_on_the_device(tmp_path, cache_dir, monkeypatch):
    pytest.importorskip("mujoco_warp")
    import torch

    from unilab_envs.tasks.inhand_rotation import InhandRotationEnv

    seen = []
    step = InhandRotationEnv.step
    monkeypatch.setattr(InhandRotationEnv, "step", lambda self, a: seen.append(type(a)) or step(self, a))
    assert cli.main(["train", *BASE, "--sim", "mjwarp", "--sim-device", "cpu", *TINY, "--max-iterations", "2",
                     "training.export=false", f"training.logdir={tmp_path}"]) == 0
    (run,) = (tmp_path / "rsl_ppo" / "AllegroInhandRotation-v0").iterdir()
    assert run.name.endswith("_mjwarp") and rsl_ppo.list_checkpoints(run)
    assert seen and set(seen) == {torch.Tensor}  # rollouts: actions reach the env as tensors, never numpy
    summary = json.loads((run / "summary.json").read_text())  # episodes of 10 steps ended in 16 steps per env
    assert summary["env_steps"] == 2 * 8 * 8 and 0.0 <= summary["drop_rate"] <= 1.0
