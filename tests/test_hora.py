"""HORA end to end: a few-iteration PPO teacher (--profile hora), a student distilled from it (--algo
hora_distill) with teacher mixing, eval, export, resume; the mixing schedule and the regression itself."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from omegaconf import OmegaConf  # noqa: E402

from trainers import cli, hora_distill  # noqa: E402
from trainers.config import ConfigError, compose  # noqa: E402
from trainers.hora_model import AdaptationModule, StudentActor, TeacherActor  # noqa: E402

TASK = ["--task", "allegro_inhand", "--sim", "mujoco"]
ENV = ["--num-envs", "8", "training.no_play=true", "training.progress_bar=false", "env.num_threads=1",
       "env.episode_length=20"]
TEACHER = ["--algo", "ppo", *TASK, "--profile", "hora", *ENV, "algo.n_steps=8", "algo.batch_size=32",
           "algo.n_epochs=1", "algo.net_arch=[32,32]", "--max-iterations", "2"]
# mixing: the teacher drives every env for the first 128 env steps (two iterations of 8 envs x 8 steps)
STUDENT = ["--algo", "hora_distill", *TASK, *ENV, "algo.n_steps=8", "algo.batch_size=32",
           "distill.mix_milestones=[0,128]", "distill.teacher_share=[1.0,0.0]", "distill.eval_interval=2",
           "distill.eval_episodes=4", "eval.num_envs=4", "training.checkpoint_interval=1"]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, cache_dir):
    """A 2-iteration PPO teacher, then a 4-iteration student from it, in one log folder."""
    logdir = tmp_path_factory.mktemp("logs")
    assert cli.train(TEACHER + [f"training.logdir={logdir}"]) == 0
    assert cli.train(STUDENT + ["--max-iterations", "4", f"training.logdir={logdir}"]) == 0
    (teacher,) = (logdir / "sb3_ppo" / "AllegroInhandRotation-v0-hora").iterdir()
    (student,) = (logdir / "hora_distill" / "AllegroInhandRotation-v0").iterdir()
    return logdir, teacher, student


def test_teacher_actor_sees_state_and_a_bounded_privileged_latent(pipeline):
    from trainers import ppo

    _, teacher, _ = pipeline
    actor, info = ppo.load_actor(teacher, ppo.list_checkpoints(teacher)[-1])
    assert isinstance(actor, TeacherActor) and actor.latent_dim == 8
    assert info["obs_dim"] == {"state": (96,), "privileged_state": (12,)}
    rng = np.random.default_rng(0)
    obs = {k: rng.uniform(-5, 5, (16, *shape)).astype(np.float32) for k, shape in info["obs_dim"].items()}
    state, priv = (torch.as_tensor(obs[k]) for k in actor.input_keys)
    z = actor.encode(priv)
    assert z.shape == (16, 8) and bool((z.abs() < 1).all())
    assert torch.equal(actor(state, priv), actor.act_latent(state, z))
    np.testing.assert_allclose(actor(state, priv).detach().numpy(), info["reference"](obs), atol=1e-5)
    # the latent matters: another z, another action
    assert not torch.allclose(actor.act_latent(state, z), actor.act_latent(state, -z))


def test_student_run_folder_export_and_mixing_share(pipeline):
    _, _, student = pipeline
    summary = json.loads((student / "summary.json").read_text())
    assert summary["iterations"] == 4 and summary["env_steps"] == 4 * 8 * 8
    assert summary["export"]["ok"]
    assert Path(summary["best_checkpoint"]).name == "best.pt"
    history = json.loads((student / "distill_history.json").read_text())
    assert [h["teacher_share"] for h in history] == [1.0, 1.0, 0.0, 0.0]
    assert summary["teacher_steps"] == 2 * 8 * 8
    assert [p.name for p in hora_distill.list_checkpoints(student)] == [f"model_{i}.pt" for i in range(1, 5)][-5:]
    assert list(student.glob("events.out.tfevents.*"))
    assert not list(student.rglob("*.tmp"))
    meta = json.loads((student / "exported" / "policy.json").read_text())
    assert meta["inputs"] == {"state": [96], "proprio_history": [30, 32]}


def test_exported_student_takes_observation_and_history(pipeline):
    import onnxruntime as ort

    _, _, student = pipeline
    ts = torch.jit.load(str(student / "exported" / "policy.pt"))
    actor, _ = hora_distill.load_actor(student, hora_distill.list_checkpoints(student)[-1])
    rng = np.random.default_rng(1)
    state, hist = rng.uniform(-1, 1, (5, 96)).astype(np.float32), rng.uniform(-1, 1, (5, 30, 32)).astype(np.float32)
    expected = actor(torch.as_tensor(state), torch.as_tensor(hist)).detach().numpy()
    np.testing.assert_allclose(ts(torch.as_tensor(state), torch.as_tensor(hist)).numpy(), expected, atol=1e-5)
    sess = ort.InferenceSession(str(student / "exported" / "policy.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"state": state, "proprio_history": hist})[0], expected, atol=1e-5)


def test_student_run_carries_its_teacher(pipeline, tmp_path):
    """The student's run folder holds a copy of its teacher's checkpoint and config: a student moved without its
    teacher run (or after the teacher run is gone) loads and acts as before."""
    import shutil

    from trainers import hora_teacher

    _, teacher, student = pipeline
    state = hora_distill.load_checkpoint(hora_distill.list_checkpoints(student)[-1])
    snap = student / state["teacher"]["snapshot"]
    assert snap.is_file() and (student / "teacher" / "config.yaml").is_file()
    assert Path(state["teacher"]["checkpoint"]).parent.parent == teacher.resolve()  # provenance kept
    moved = Path(shutil.copytree(student, tmp_path / "student"))
    state["teacher"]["run"] = state["teacher"]["checkpoint"] = str(tmp_path / "deleted_teacher")  # as if gone
    run, ckpt = hora_teacher.located(state["teacher"], moved)
    assert run == moved / "teacher" and ckpt.is_relative_to(moved)
    actor_moved, _ = hora_distill.load_actor(moved, hora_distill.list_checkpoints(moved)[-1])
    actor, _ = hora_distill.load_actor(student, hora_distill.list_checkpoints(student)[-1])
    rng = np.random.default_rng(2)
    state_in = torch.as_tensor(rng.uniform(-1, 1, (3, 96)), dtype=torch.float32)
    hist = torch.as_tensor(rng.uniform(-1, 1, (3, 30, 32)), dtype=torch.float32)
    assert torch.equal(actor_moved(state_in, hist), actor(state_in, hist))


def test_student_eval_reports_the_table_and_its_latent_error(pipeline, capsys):
    logdir, _, student = pipeline
    rc = cli.evaluate(["--algo", "hora_distill", *TASK, "--load-run", "-1", f"training.logdir={logdir}",
                       "eval.episodes=4", "eval.num_envs=4", "training.progress_bar=false"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "rotation_speed" in out and "latent error against the teacher" in out
    (result,) = (student / "eval").glob("model_4_*.json")
    data = json.loads(result.read_text())
    assert data["overall"]["episodes"] == 4 and 0 <= data["overall"]["drop_rate"] <= 1
    assert len(data["latent_mse_per_dim"]) == 8 and data["latent_mse"] >= 0


def test_teacher_eval_with_profile_and_mismatch_is_a_clear_error(pipeline, capsys):
    logdir, teacher, _ = pipeline
    args = [*TASK, f"training.logdir={logdir}", "eval.episodes=2", "eval.num_envs=2", "training.progress_bar=false"]
    assert cli.main(["eval", "--algo", "ppo", "--profile", "hora", "--load-run", "-1", *args]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--algo", "ppo", "--load-run", str(teacher), *args]) == 2
    err = capsys.readouterr().err
    assert "trained with --profile hora" in err and "no --profile" in err


def test_student_resume_continues_its_counters(pipeline):
    logdir, _, student = pipeline
    before = hora_distill.load_checkpoint(hora_distill.list_checkpoints(student)[-1])
    # no eval in the resumed part: the summary still names the best checkpoint of the first part
    assert cli.train(STUDENT + ["--resume", "--max-iterations", "6", f"training.logdir={logdir}",
                                "distill.eval_interval=0"]) == 0
    assert Path(json.loads((student / "summary.json").read_text())["best_checkpoint"]).name == "best.pt"
    after = hora_distill.load_checkpoint(hora_distill.list_checkpoints(student)[-1])
    assert (before["iteration"], after["iteration"]) == (4, 6)
    assert after["env_steps"] == 6 * 64 and after["teacher"] == before["teacher"]
    assert after["optimizer"]["state"], "the optimizer state travels with the checkpoint"
    history = json.loads((student / "distill_history.json").read_text())
    assert [h["iteration"] for h in history] == [1, 2, 3, 4, 5, 6]  # the resumed part appended


def test_teacher_resume_keeps_its_encoder_and_statistics(pipeline):
    from trainers import ppo

    logdir, teacher, _ = pipeline
    before = ppo.load_model(ppo.list_checkpoints(teacher)[-1])
    assert cli.train(TEACHER[:-1] + ["3", "--resume", f"training.logdir={logdir}"]) == 0
    after = ppo.load_model(ppo.list_checkpoints(teacher)[-1])
    assert (before.num_timesteps, after.num_timesteps) == (2 * 64, 3 * 64)
    fe_before, fe_after = before.policy.features_extractor, after.policy.features_extractor
    assert fe_after.priv_norm.count > fe_before.priv_norm.count  # statistics carried on, not restarted


def test_teacher_fine_tuned_without_a_privileged_field(pipeline, tmp_path):
    """``training.init_from`` with other ``model.priv_fields``: the encoder keeps its weights and now sees
    zeros where the dropped fact was (a mask of the config, not a weight)."""
    from trainers import ppo
    from unilab_envs.tasks.inhand_rotation import PRIV_FIELDS

    _, teacher, _ = pipeline
    fields = [f for f in PRIV_FIELDS if f != "offset"]
    assert cli.train(TEACHER[:-1] + ["1", f"training.logdir={tmp_path}", f"training.init_from={teacher}",
                                     "training.export=false", "algo.learning_rate=0.0", "algo.adaptive_lr=false",
                                     f"model.priv_fields=[{','.join(fields)}]"]) == 0
    (run,) = (tmp_path / "sb3_ppo" / "AllegroInhandRotation-v0-hora").iterdir()
    src = ppo.load_model(ppo.list_checkpoints(teacher)[-1]).policy.features_extractor.trunk.encoder
    new = ppo.load_model(ppo.list_checkpoints(run)[-1]).policy.features_extractor.trunk.encoder
    for a, b in zip(src.net.parameters(), new.net.parameters(), strict=True):
        assert torch.equal(a, b)
    start, stop = PRIV_FIELDS["offset"]
    assert src.mask[start:stop].all() and not new.mask[start:stop].any()
    assert new.mask.sum() == src.mask.sum() - (stop - start)


def test_latent_noise_is_part_of_the_teachers_training_observation(tmp_path, capsys, cache_dir):
    """``model.latent_noise`` draws noise into the training observations (so the rollout buffer keeps the draw and
    PPO's ratio compares like with like); the trunk adds it to z. A loaded teacher (eval, export, a student's
    head) gets no such key and acts on the clean z, so the export parity check still holds exactly."""
    from trainers import ppo
    from trainers.hora_model import TeacherTrunk
    from trainers.ppo_model import LatentNoise
    from unilab_envs.wrappers.sb3 import SB3VecEnv

    trunk = TeacherTrunk(4, 12, [16, 8])
    state, priv, noise = torch.zeros(3, 4), torch.rand(3, 12), torch.full((3, 8), 0.5)
    clean, noisy = trunk(state, priv), trunk(state, priv, noise)
    assert torch.equal(noisy[:, :4], state) and noisy[:, 4:].abs().max() <= 1.0
    assert torch.allclose(noisy[:, 4:], torch.clamp(clean[:, 4:] + 0.5, -1, 1))

    cfg = compose("ppo", "allegro_inhand", "mujoco", "hora", ["training.num_envs=4", "env.num_threads=1"])
    venv = LatentNoise(SB3VecEnv(ppo.config_mod.make_env(cfg, 4)), 8, 0.3, seed=0)
    try:
        first, second = venv.reset()["latent_noise"], venv.reset()["latent_noise"]
        assert first.shape == (4, 8) and first.dtype == np.float32 and not np.array_equal(first, second)
        assert 0.1 < first.std() < 0.6 and venv.observation_space["latent_noise"].shape == (8,)
    finally:
        venv.close()

    assert cli.train(TEACHER[:-1] + ["1", f"training.logdir={tmp_path}", "model.latent_noise=0.3"]) == 0
    (run,) = (tmp_path / "sb3_ppo" / "AllegroInhandRotation-v0-hora").iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["export"]["ok"] and summary["export"]["torchscript_max_abs_diff"] <= 1e-6
    assert "latent_noise" in ppo.load_model(ppo.list_checkpoints(run)[-1]).observation_space.spaces
    assert cli.train(TEACHER[:-1] + ["2", "--resume", f"training.logdir={tmp_path}"]) == 0  # wrapped again
    capsys.readouterr()
    rc = cli._run(cli.train, TEACHER + [f"training.logdir={tmp_path / 'neg'}", "model.latent_noise=-0.1"])
    assert rc == 2 and "model.latent_noise=-0.1" in capsys.readouterr().err and not (tmp_path / "neg").exists()
    rc = cli._run(cli.train, ["--algo", "appo", *TASK, "--profile", "hora", f"training.logdir={tmp_path}",
                              "model.latent_noise=0.3"])
    assert rc == 2 and "model.latent_noise=0.3" in capsys.readouterr().err


def test_rollout_mixing_really_switches_who_drives(pipeline, make_vec):
    """Measured from the actions: teacher-driven envs act on the teacher's latent, the others on the student's."""
    import gymnasium as gym

    from trainers import ppo

    _, teacher_run, _ = pipeline
    teacher, _ = ppo.load_actor(teacher_run, ppo.list_checkpoints(teacher_run)[-1])
    adapt = AdaptationModule(30, 32, 8)
    env = make_vec(6, obs_mode="hora", autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, episode_length=20)
    seen = []
    step = env.step

    def spy(action):
        seen.append((obs_now[0], np.asarray(action)))
        out = step(action)
        obs_now[0] = out[0]
        return out

    obs_now = [env.reset(seed=0)[0]]
    env.step = spy
    driven = np.array([True, False, True, False, False, True])
    hora_distill._rollout(env, obs_now[0], teacher, adapt, driven, 5, "cpu")
    by_teacher = []
    for obs, action in seen:
        state, priv = torch.as_tensor(obs["state"]), torch.as_tensor(obs["privileged_state"])
        own = teacher(state, priv).detach().numpy()
        by_teacher.append(np.all(np.abs(action - own) < 1e-6, axis=1))
    np.testing.assert_array_equal(np.mean(by_teacher, axis=0), driven.astype(float))


def test_mixing_schedule_step_and_linear():
    m, s = np.array([0.0, 2e6, 5e6]), np.array([1.0, 0.5, 0.0])
    assert [hora_distill.teacher_share(x, m, s) for x in (0, 1.9e6, 2e6, 4e6, 9e6)] == [1.0, 1.0, 0.5, 0.5, 0.0]
    assert hora_distill.teacher_share(1e6, m, s, "linear") == pytest.approx(0.75)
    assert hora_distill.teacher_share(9e6, m, s, "linear") == 0.0


@pytest.mark.parametrize("milestones, shares, fragment", [
    ("[0,2e6]", "[1.0]", "same, non-zero length"),
    ("[1e6]", "[1.0]", "must start at 0"),
    ("[0,1]", "[1.0,1.5]", "lies in [0, 1]"),
])
def test_bad_mixing_schedule_is_refused(milestones, shares, fragment):
    cfg = compose("hora_distill", "allegro_inhand", "mujoco", overrides=[
        f"distill.mix_milestones={milestones}", f"distill.teacher_share={shares}"])
    with pytest.raises(ConfigError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        hora_distill.validate(cfg)


def test_learning_rate_schedules():
    al = OmegaConf.create({"learning_rate": 3e-4, "lr_schedule": "linear"})
    assert [hora_distill.learning_rate(al, i, 4) for i in (1, 3, 4)] == pytest.approx([3e-4, 1.5e-4, 0.75e-4])
    al.lr_schedule = "constant"
    assert hora_distill.learning_rate(al, 4, 4) == 3e-4


def test_latent_regression_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    hist = rng.uniform(-1, 1, (256, 30, 32)).astype(np.float32)
    target = np.tanh(hist[:, :, :8].mean(1) * 4).astype(np.float32)  # a function of the history
    adapt = AdaptationModule(30, 32, 8)
    opt = torch.optim.Adam(adapt.parameters(), lr=1e-3)
    al = OmegaConf.create({"n_epochs": 1, "batch_size": 64, "max_grad_norm": 1.0})
    rollout = {"history": hist, "target": target}
    losses = [hora_distill._regress(adapt, opt, rollout, al, rng, "cpu") for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0]


def test_teacher_sees_only_its_privileged_fields():
    from trainers.hora_model import PrivilegedEncoder

    enc = PrivilegedEncoder(12, (16, 8), fields=["scale", "mass", "friction", "com", "gravity"])
    priv = torch.randn(4, 12)
    moved = priv.clone()
    moved[:, 0:3] += 1.0  # the object's offset: hidden from this teacher
    assert torch.equal(enc(priv), enc(moved))
    moved[:, 4] += 1.0    # its mass: seen
    assert not torch.allclose(enc(priv), enc(moved))
    with pytest.raises(ValueError, match="offst"):
        PrivilegedEncoder(12, (16, 8), fields=["offst"])


def test_adaptation_module_sizes_and_a_too_short_history():
    adapt = AdaptationModule(30, 49, 8)  # Sharpa frames: 22 joints, 22 targets, 5 pads
    z = adapt(torch.zeros(3, 30, 49))
    assert z.shape == (3, 8) and adapt.project.in_features == 32 * 3  # 30 -> 11 -> 7 -> 3 steps of 32 channels
    with pytest.raises(ValueError, match="too short"):
        AdaptationModule(10, 32, 8)


def test_student_needs_a_teacher_and_the_history(tmp_path, capsys, cache_dir):
    assert cli.main(["train", "--algo", "hora_distill", *TASK, f"training.logdir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "teacher" in err and "--profile hora" in err
    assert cli.main(["train", "--algo", "hora_distill", *TASK, "env.obs_mode=state"]) == 2
    assert "env.obs_mode=hora" in capsys.readouterr().err


@pytest.mark.parametrize("extra, family, what", [
    (["teacher.algo_family=appo"], "appo", "no appo --profile hora run with a checkpoint under"),
    (["teacher.load_run=nonexistent"], "ppo", "teacher.load_run='nonexistent': no run folder"),
])
def test_a_missing_teacher_is_refused_before_the_students_run_folder(tmp_path, capsys, cache_dir, extra, family,
                                                                     what):
    """No teacher where the student looks (README's "No dead runs"): exit 2 before any student run folder, the
    exact command that trains the teacher this student expects, and the teacher's own keys to point elsewhere."""
    logdir = tmp_path / "logs"
    rc = cli._run(cli.train, ["--algo", "hora_distill", *TASK, "--num-envs", "16", "--max-iterations", "1",
                              "algo.batch_size=256", f"training.logdir={logdir}", *extra])
    out, err = capsys.readouterr()
    assert rc == 2 and what in err and "Traceback" not in err and "run folder:" not in out
    assert err.lower().count("train one first") == 1
    assert (f"train --algo {family} --task allegro_inhand --sim mujoco --profile hora training.logdir={logdir}"
            in err)
    assert all(key in err for key in ("teacher.logdir", "teacher.experiment_name", "teacher.load_run"))
    assert "--experiment-name" not in err and "--load-run" not in err  # the student's flags name no teacher
    assert not (logdir / "hora_distill").exists()  # no student run folder, not even its experiment folder


def test_resuming_a_student_checks_its_own_teacher_before_anything_is_written(pipeline, tmp_path, capsys):
    """--resume keeps the teacher the student was given (not what teacher.* finds today): its snapshot suffices
    when the teacher's run is gone; with the snapshot gone too, exit 2 and the run is left as it was."""
    import shutil

    from trainers import runs

    _, _, student = pipeline
    run = Path(shutil.copytree(student, tmp_path / "hora_distill" / "AllegroInhandRotation-v0" / student.name))
    newest = hora_distill.list_checkpoints(run)[-1]
    state = hora_distill.load_checkpoint(newest)
    state["teacher"]["run"] = state["teacher"]["checkpoint"] = str(tmp_path / "deleted_teacher")  # as if gone
    hora_distill.save_checkpoint(newest, state)
    cfg = compose("hora_distill", "allegro_inhand", "mujoco", overrides=[f"training.logdir={tmp_path}"])
    hora_distill.validate_resume(cfg, run)  # the snapshot is there: fine, though teacher.* finds no teacher now
    with pytest.raises(runs.RunNotFound, match="no ppo --profile hora run"):
        hora_distill.validate(cfg)
    shutil.rmtree(run / "teacher")
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    rc = cli._run(cli.train, STUDENT + ["--resume", "--max-iterations", "99", f"training.logdir={tmp_path}"])
    out, err = capsys.readouterr()
    assert rc == 2 and "the teacher checkpoint" in err and "is gone" in err and "run folder:" not in out
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before  # config.yaml not rewritten, not marked failed


def test_plain_run_refuses_privileged_observations_and_teacher_the_reverse(capsys):
    assert cli.main(["train", "--algo", "ppo", *TASK, "env.obs_mode=privileged"]) == 2
    assert "--profile hora" in capsys.readouterr().err
    assert cli.main(["train", "--algo", "ppo", *TASK, "--profile", "hora", "env.obs_mode=state"]) == 2
    assert "env.obs_mode=privileged" in capsys.readouterr().err


def test_student_actor_composes_adaptation_and_teacher_head(pipeline):
    from trainers import ppo

    _, teacher_run, _ = pipeline
    teacher, _ = ppo.load_actor(teacher_run, ppo.list_checkpoints(teacher_run)[-1])
    adapt = AdaptationModule(30, 32, 8)
    student = StudentActor(adapt, teacher)
    state, hist = torch.zeros(2, 96), torch.zeros(2, 30, 32)
    assert torch.equal(student(state, hist), teacher.act_latent(state, adapt(hist)))


def test_student_drives_the_curriculum_by_its_env_steps(pipeline):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir, _, _ = pipeline
    args = STUDENT + ["--max-iterations", "2", f"training.logdir={logdir}", "training.run_name=curriculum",
                      "env.curriculum.enabled=true", "env.curriculum.milestones=[0,256]", "distill.eval_interval=0"]
    assert cli.train(args) == 0
    (run,) = (logdir / "hora_distill" / "AllegroInhandRotation-v0").glob("*curriculum")
    acc = EventAccumulator(str(run))
    acc.Reload()
    assert [e.value for e in acc.Scalars("curriculum/progress")] == [0.0, 0.25]  # set before each rollout


def test_student_with_fingertip_contacts_in_its_history(pipeline, capsys):
    """env.history_touch=true: the adaptation module reads (30, 36) frames (joints, targets, 4 tip contacts)
    while the teacher's head keeps its 96-float state; eval and export take the wider history."""
    logdir, _, _ = pipeline
    args = STUDENT + ["--max-iterations", "1", f"training.logdir={logdir}", "training.run_name=touch",
                      "env.history_touch=true", "distill.eval_interval=0"]
    assert cli.train(args) == 0
    (run,) = (logdir / "hora_distill" / "AllegroInhandRotation-v0").glob("*touch")
    meta = json.loads((run / "exported" / "policy.json").read_text())
    assert meta["inputs"] == {"state": [96], "proprio_history": [30, 36]}
    state = hora_distill.load_checkpoint(hora_distill.list_checkpoints(run)[-1])
    assert state["history_shape"] == [30, 36]
    capsys.readouterr()
    rc = cli.evaluate(["--algo", "hora_distill", *TASK, "--load-run", run.name, f"training.logdir={logdir}",
                       "eval.episodes=4", "eval.num_envs=4", "env.episode_length=20"])
    assert rc == 0 and "latent" in capsys.readouterr().out


def test_student_must_hide_the_facts_as_its_teacher_did(pipeline, capsys):
    """A teacher trained with env.privileged_delay=0 gives wrong latents early in an episode to a student env
    that hides the facts (and the reverse): a clear error that names the key and the teacher's value."""
    logdir, _, _ = pipeline
    capsys.readouterr()
    rc = cli.main(["train", *STUDENT, "--max-iterations", "1", f"training.logdir={logdir}",
                   "env.privileged_delay=5.0", "training.run_name=delayed"])
    err = capsys.readouterr().err
    assert rc == 2 and "env.privileged_delay=5.0" in err and "trained with" in err
