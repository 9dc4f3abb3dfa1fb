"""APPO HORA teacher (Sample Factory, ``--profile hora``): train, load as a ``TeacherActor``, export."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("sample_factory")

from trainers import appo, cli, runs  # noqa: E402
from trainers.sf_hora import HoraEncoder, SFHoraTeacher, hora_encoder  # noqa: E402

BASE = ["--algo", "appo", "--task", "allegro_inhand", "--sim", "mujoco"]
TINY = ["--num-envs", "8", "algo.hparams.rollout=8", "algo.hparams.num_epochs=1",
        "algo.hparams.encoder_mlp_layers=[32,32]", "training.no_play=true", "training.export=false",
        "training.progress_bar=false", "env.num_threads=1", "env.episode_length=5"]


def _run(logdir, profile):
    extra = ["--profile", "hora"] if profile else []
    assert cli.main(["train", *BASE, *extra, *TINY, "--max-iterations", "2", f"training.logdir={logdir}"]) == 0
    (run,) = (logdir / "sf_appo").glob("*/*")  # the experiment folder is named after the env id (and profile)
    return run


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, cache_dir):
    logdir = tmp_path_factory.mktemp("logs")
    run = _run(logdir, profile=True)
    return logdir, run, appo.list_checkpoints(run)[-1]


def _obs(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return {"state": rng.uniform(-5, 5, (n, 96)).astype(np.float32),
            "privileged_state": rng.uniform(-5, 5, (n, 12)).astype(np.float32)}


def test_teacher_trains_and_loads_as_teacher_actor(teacher):
    _, run, ckpt = teacher
    summary = json.loads((run / "summary.json").read_text())
    assert summary["iterations"] == 2 and summary["checkpoint"] == str(ckpt)
    actor, info = appo.load_actor(run, ckpt)
    assert isinstance(actor, SFHoraTeacher) and actor.latent_dim == 8
    assert info["obs_dim"] == {"state": (96,), "privileged_state": (12,)}
    obs = _obs()
    state, priv = torch.from_numpy(obs["state"]), torch.from_numpy(obs["privileged_state"])
    before = (state.clone(), priv.clone())
    with torch.no_grad():
        action = actor(state, priv)
        z = actor.encode(priv)
        again = actor.act_latent(state, z)
    assert torch.equal(state, before[0]) and torch.equal(priv, before[1])  # inputs untouched
    assert action.shape == (64, 16) and action.abs().max() <= 1
    assert np.abs(action.numpy() - info["reference"](obs)).max() < 1e-5
    assert torch.equal(again, action)
    assert z.shape == (64, 8) and z.abs().max() < 1
    # the statistics stay as loaded: a second reference call gives the same actions
    assert np.abs(info["reference"](obs) - action.numpy()).max() < 1e-5


def test_export_parity(teacher):
    logdir, run, _ = teacher
    assert cli.main(["export", *BASE, "--profile", "hora", "--load-run", "-1", f"training.logdir={logdir}"]) == 0
    meta = json.loads((run / "exported" / "policy.json").read_text())
    assert meta["parity"]["ok"] and meta["inputs"] == {"state": [96], "privileged_state": [12]}
    scripted = torch.jit.load(str(run / "exported" / "policy.pt"))
    obs = _obs(4, seed=1)
    actor, _ = appo.load_actor(run, appo.list_checkpoints(run)[-1])
    with torch.no_grad():
        expected = actor(*(torch.from_numpy(obs[k]) for k in ("state", "privileged_state")))
        got = scripted(*(torch.from_numpy(obs[k]) for k in ("state", "privileged_state")))
    assert torch.allclose(got, expected, atol=1e-6)


def test_encoder_factory_is_restored_and_plain_runs_stay_plain(teacher, tmp_path):
    from sample_factory.algo.utils.context import global_model_factory
    from sample_factory.model.encoder import default_make_encoder_func

    assert global_model_factory().make_model_encoder_func is default_make_encoder_func
    with pytest.raises(RuntimeError), hora_encoder([16, 4], "elu"):
        assert global_model_factory().make_model_encoder_func is not default_make_encoder_func
        raise RuntimeError
    assert global_model_factory().make_model_encoder_func is default_make_encoder_func

    plain = _run(tmp_path / "plain", profile=False)  # after a hora run in this process: SF's default encoder
    actor, info = appo.load_actor(plain, appo.list_checkpoints(plain)[-1])
    assert not isinstance(actor, SFHoraTeacher) and info["obs_dim"] == 96
    assert not any(isinstance(m, HoraEncoder) for m in actor.modules())

    # weights of the other kind than the run folder's config.yaml: a clear CheckpointError
    _, run, ckpt = teacher
    swapped = tmp_path / "swapped"
    shutil.copytree(run, swapped)
    shutil.copy(plain / "config.yaml", swapped / "config.yaml")
    with pytest.raises(runs.CheckpointError, match="HORA teacher"):
        appo.load_actor(swapped, swapped / "checkpoint_p0" / ckpt.name)
    shutil.copy(run / "config.yaml", plain / "config.yaml")
    with pytest.raises(runs.CheckpointError, match="plain"):
        appo.load_actor(plain, appo.list_checkpoints(plain)[-1])


def test_student_distils_from_an_appo_teacher_and_exports(teacher, capsys):
    from trainers import hora_distill

    logdir, run, ckpt = teacher
    args = ["--algo", "hora_distill", "--task", "allegro_inhand", "--sim", "mujoco", "--num-envs", "8",
            "teacher.algo_family=appo", "algo.n_steps=8", "algo.batch_size=32", "distill.eval_interval=0",
            "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=5",
            f"training.logdir={logdir}"]
    assert cli.main(["train", *args, "--max-iterations", "2"]) == 0
    (student,) = (logdir / "hora_distill" / "AllegroInhandRotation-v0").iterdir()
    summary = json.loads((student / "summary.json").read_text())
    assert summary["teacher"]["algo_family"] == "appo" and summary["teacher"]["checkpoint"] == str(ckpt.resolve())
    assert summary["export"]["ok"] and summary["env_steps"] == 2 * 8 * 8
    snap = student / summary["teacher"]["snapshot"]  # the APPO teacher's copy: checkpoint and both configs
    assert snap.is_file() and snap.parent.name == ckpt.parent.name and (student / "teacher" / "config.json").is_file()
    actor, _ = hora_distill.load_actor(student, hora_distill.list_checkpoints(student)[-1])
    assert isinstance(actor.teacher, SFHoraTeacher)
    assert cli.main(["eval", *args[:6], "--load-run", "-1", f"training.logdir={logdir}", "eval.episodes=2",
                     "eval.num_envs=2", "training.progress_bar=false"]) == 0
    assert "latent error against the teacher" in capsys.readouterr().out


def test_sharpa_teacher_and_student_from_the_shell(tmp_path):
    """The Sharpa lines of the HORA path: an APPO teacher, then a student of it (tactile frames: 49 wide)."""
    from trainers import hora_distill

    common = ["--task", "sharpa_inhand", "--sim", "mujoco", "--num-envs", "8", "training.no_play=true",
              "training.progress_bar=false", "env.num_threads=1", "env.episode_length=5",
              "env.domain_rand.scale_list=[1.0]", f"training.logdir={tmp_path}"]
    assert cli.main(["train", "--algo", "appo", "--profile", "hora", *common, "--max-iterations", "1",
                     "algo.hparams.rollout=8", "algo.hparams.num_epochs=1", "algo.hparams.encoder_mlp_layers=[32]",
                     "training.export=false"]) == 0
    assert cli.main(["train", "--algo", "hora_distill", *common, "teacher.algo_family=appo", "--max-iterations", "1",
                     "algo.n_steps=8", "algo.batch_size=32", "distill.eval_interval=0"]) == 0
    (student,) = (tmp_path / "hora_distill" / "SharpaInhandRotation-v0").iterdir()
    actor, info = hora_distill.load_actor(student, hora_distill.list_checkpoints(student)[-1])
    assert info["obs_dim"] == {"state": (147,), "proprio_history": (30, 49)}
    assert json.loads((student / "summary.json").read_text())["export"]["ok"]
