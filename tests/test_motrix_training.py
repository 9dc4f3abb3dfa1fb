"""Every training path on ``--sim motrix`` (tiny runs): grasp collection, PPO, APPO, the HORA teacher and student,
eval across backends, and the errors that keep a run on one backend."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("motrixsim", reason="the motrix extra is not installed")

from trainers import cli  # noqa: E402
from trainers.config import ConfigError  # noqa: E402

QUIET = ["training.no_play=true", "training.progress_bar=false", "env.num_threads=1"]
PPO_TINY = ["--num-envs", "8", "algo.n_steps=8", "algo.batch_size=32", "env.episode_length=10", *QUIET]


def _runs(logdir, family, env_id):
    return sorted((logdir / family / env_id).iterdir())


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    assert cli.main(["train", "--algo", "ppo", "--task", "allegro_inhand", "--sim", "motrix", *PPO_TINY,
                     "--max-iterations", "2", f"training.logdir={logdir}"]) == 0
    return logdir


def test_ppo_trains_on_motrix_and_evaluates_on_both_backends(ppo_run, capsys):
    (run,) = _runs(ppo_run, "sb3_ppo", "AllegroInhandRotation-v0")
    assert run.name.endswith("_motrix") and json.loads((run / "summary.json").read_text())["iterations"] == 2
    common = ["eval", "--algo", "ppo", "--task", "allegro_inhand", "--load-run", "-1", f"training.logdir={ppo_run}",
              "eval.episodes=2", "eval.num_envs=2", "training.progress_bar=false"]
    for sim in ("motrix", "mujoco"):
        assert cli.main([*common, "--sim", sim]) == 0
    out = capsys.readouterr().out
    assert "trained on --sim motrix; it runs on --sim mujoco here" in out
    results = [json.loads(p.read_text()) for p in sorted((run / "eval").glob("*.json"))]
    assert {(r["trained_sim"], r["sim"]) for r in results} == {("motrix", "motrix"), ("motrix", "mujoco")}


def test_resume_on_another_backend_is_refused(ppo_run, capsys):
    rc = cli.main(["train", "--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco", "--resume",
                   "--load-run", "-1", *PPO_TINY, "--max-iterations", "3", f"training.logdir={ppo_run}"])
    assert rc != 0 and "resume it with --sim motrix" in capsys.readouterr().err


def test_grasp_collection_from_the_shell_on_motrix(tmp_path):
    from unilab_envs.grasp_cache import read_metadata

    assert cli.main(["train", "--algo", "ppo", "--task", "sharpa_inhand_grasp", "--sim", "motrix",
                     "env.domain_rand.scale_list=[1.0]", "env.grasp_collection_target=10", "--num-envs", "64",
                     f"env.grasp_cache_dir={tmp_path / 'grasps'}", f"training.logdir={tmp_path}", *QUIET]) == 0
    (cache,) = (tmp_path / "grasps").glob("*.npy")
    assert read_metadata(cache)["backend"] == "motrix" and read_metadata(cache)["num_grasps"] == 10


def test_appo_on_motrix(tmp_path, cache_dir):
    pytest.importorskip("sample_factory")
    assert cli.main(["train", "--algo", "appo", "--task", "allegro_inhand", "--sim", "motrix", "--num-envs", "8",
                     "algo.hparams.rollout=8", "algo.hparams.num_epochs=1", "algo.hparams.encoder_mlp_layers=[32]",
                     "training.export=false", "env.episode_length=10", "--max-iterations", "2",
                     f"training.logdir={tmp_path}", *QUIET]) == 0
    (run,) = _runs(tmp_path, "sf_appo", "AllegroInhandRotation-v0")
    assert json.loads((run / "summary.json").read_text())["iterations"] == 2


def test_hora_teacher_and_student_on_motrix(tmp_path, cache_dir, capsys):
    common = ["--task", "allegro_inhand", "--sim", "motrix", f"training.logdir={tmp_path}"]
    assert cli.main(["train", "--algo", "ppo", "--profile", "hora", *common, *PPO_TINY, "--max-iterations", "1",
                     "training.export=false"]) == 0
    assert cli.main(["train", "--algo", "hora_distill", *common, *PPO_TINY, "--max-iterations", "1",
                     "distill.eval_interval=0"]) == 0
    assert cli.main(["eval", "--algo", "hora_distill", *common, "--load-run", "-1", "eval.episodes=2",
                     "eval.num_envs=2", "training.progress_bar=false"]) == 0
    assert "latent error against the teacher" in capsys.readouterr().out


def test_a_motrix_config_exists_for_every_mujoco_one():
    from trainers.config import configured

    combos = set(configured())
    for algo, task, sim, profile in combos:
        if sim == "mujoco":
            for other in ("motrix", "mjwarp"):
                assert (algo, task, other, profile) in combos, (algo, task, other, profile)
    with pytest.raises(ConfigError, match="set by --sim"):
        from trainers.config import compose
        compose("ppo", "allegro_inhand", "motrix", overrides=["env.sim=mujoco"])
