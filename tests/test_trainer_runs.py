"""No dead runs: bad configs fail before a run folder exists; a run that dies early is never --load-run -1."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("stable_baselines3")

from trainers import cli, runs  # noqa: E402

from .test_trainer_ppo import BASE, TINY  # noqa: E402

EXP = Path("sb3_ppo") / "AllegroInhandRotation-v0"


def folders(logdir: Path) -> list[Path]:
    exp = logdir / EXP
    return sorted(exp.iterdir()) if exp.is_dir() else []


@pytest.mark.parametrize("bad, message", [
    (["env.obs_mode=privileged"], "env.obs_mode=state"),
    (["env.domain_rand.mass_range=[0.2,0.1]"], "backwards"),
    (["env.episode_length=0"], "'episode_length' = 0"),
    (["algo.batch_size=100000"], "algo.batch_size=100000 exceeds one rollout"),
])
def test_bad_configs_fail_before_any_run_folder_is_made(tmp_path, cache_dir, capsys, bad, message):
    rc = cli._run(cli.train, BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}"] + bad)
    assert rc == 2 and message in capsys.readouterr().err
    assert folders(tmp_path) == []


@pytest.mark.skipif(importlib.util.find_spec("sample_factory") is None, reason="needs Sample Factory")
def test_a_misspelt_sample_factory_hparam_fails_before_any_run_folder(tmp_path, cache_dir, capsys):
    argv = ["--algo", "appo", "--task", "allegro_inhand", "--sim", "mujoco", f"training.logdir={tmp_path}",
            "algo.hparams.rolout=8"]
    assert cli._run(cli.train, argv) == 2
    assert "rollout" in capsys.readouterr().err  # the suggestion
    assert not (tmp_path / "sf_appo").exists()


def test_a_run_that_dies_before_its_first_checkpoint_is_never_load_run_minus_1(tmp_path, cache_dir, monkeypatch):
    common = BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}", "training.export=false"]
    assert cli.train(common) == 0
    (good,) = folders(tmp_path)

    import trainers.ppo

    def crash(cfg, run_dir, resume):  # a failure inside training, after the folder was made
        raise RuntimeError("simulated crash in the first iteration")

    monkeypatch.setattr(trainers.ppo, "train", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        cli.train(common + ["training.run_name=crashes"])
    dead = [p for p in folders(tmp_path) if p != good]
    assert len(dead) == 1 and "simulated crash" in json.loads((dead[0] / runs.FAILED_FILE).read_text())["error"]
    monkeypatch.undo()
    assert runs.find_run(tmp_path / EXP, -1) == good
    assert cli.evaluate(BASE + ["--load-run", "-1", f"training.logdir={tmp_path}", "eval.episodes=2",
                                "eval.num_envs=2", "env.episode_length=5"]) == 0


def test_a_run_interrupted_before_its_first_checkpoint_is_never_load_run_minus_1(tmp_path, cache_dir, monkeypatch):
    """Ctrl-C (or a kill) leaves no failed.json: eval and --resume of -1 still pass over the checkpoint-less run."""
    import os
    import stat

    common = BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}", "training.export=false"]
    assert cli.train(common) == 0
    (good,) = folders(tmp_path)
    import trainers.ppo

    def interrupted(cfg, run_dir, resume):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainers.ppo, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.train(common + ["training.run_name=interrupted"])
    monkeypatch.undo()
    (stopped,) = [p for p in folders(tmp_path) if p != good]
    assert not (stopped / runs.FAILED_FILE).exists()  # an interrupt is not a failure
    assert cli.evaluate(BASE + ["--load-run", "-1", f"training.logdir={tmp_path}", "eval.episodes=2",
                                "eval.num_envs=2", "env.episode_length=5"]) == 0
    assert list((good / "eval").glob("*.json")) and not (stopped / "eval").exists()
    rc = cli._run(cli.train, common + ["--resume", "--max-iterations", "2"])
    assert rc == 0 and not (stopped / runs.FAILED_FILE).exists()  # the good run was resumed, not the stopped one
    # run files get the umask's mode (readable by a TensorBoard server or a colleague), not mkstemp's 0600
    mask = os.umask(0)
    os.umask(mask)
    for path in [good / runs.CONFIG_FILE, *trainers.ppo.list_checkpoints(good)]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


def _no_cuda(monkeypatch):
    import trainers.device

    monkeypatch.setattr(trainers.device.torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("bad, message", [
    (["--num-envs", "0"], "--num-envs must be >= 1, got 0"),
    (["--num-envs", "-4"], "--num-envs must be >= 1, got -4"),
    (["training.max_iterations=0"], "--max-iterations must be >= 1, got 0"),
    (["--max-iterations", "-2"], "--max-iterations must be >= 1, got -2"),
    (["--device", "cuda"], "--device 'cuda' (training.device) but torch sees no CUDA device"),
    (["--device", "cuda:1"], "--device 'cuda:1' (training.device) but torch sees no CUDA device"),
    (["--device", "gpu0"], "--device 'gpu0' (training.device) is not a device to train on"),
    (["--load-run", "-1"], "--load-run -1 selects the run to resume; add --resume (or use eval"),
    (["--sim", "physx"], "unknown --sim 'physx'; choose mujoco | motrix | mjwarp"),
    (["--task", "allegro_inhnd"], "unknown --task 'allegro_inhnd'; choose allegro_inhand |"),
])
def test_bad_flags_fail_with_one_line_before_any_run_folder(tmp_path, capsys, monkeypatch, bad, message):
    _no_cuda(monkeypatch)  # the same answer on a machine with a GPU
    rc = cli._run(cli.train, BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}"] + bad)
    err = capsys.readouterr().err
    assert rc == 2 and message in err and "Traceback" not in err
    assert err.count("\n") == 1, err  # one line: no list of every configured combination
    assert not any(tmp_path.iterdir())  # no run folder, not even the experiment folder


@pytest.mark.parametrize("algo", ["rsl_ppo", "appo", "hora_distill"])
def test_every_algo_refuses_zero_envs_and_iterations_by_their_flag(tmp_path, capsys, algo):
    argv = ["--algo", algo, "--task", "allegro_inhand", f"training.logdir={tmp_path}"]
    assert cli._run(cli.train, argv + ["--num-envs", "0"]) == 2
    err = capsys.readouterr().err
    assert "--num-envs must be >= 1, got 0" in err and "exceeds one rollout" not in err
    assert cli._run(cli.train, argv + ["--max-iterations", "0"]) == 2
    assert "--max-iterations must be >= 1, got 0" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_unknown_algo_names_the_registered_ones(tmp_path, capsys):
    from trainers.algos import ALGOS

    rc = cli._run(cli.train, ["--algo", "ppo2", "--task", "allegro_inhand", f"training.logdir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown --algo 'ppo2'; choose " + " | ".join(ALGOS) in err and "rsl_ppo" in err
    assert not any(tmp_path.iterdir())


def test_help_lists_every_registered_algo_and_backend():
    from trainers.algos import ALGOS
    from unilab_envs.backends import BACKENDS

    for command in ("train", "eval"):
        text = " ".join(cli.parser(command).format_help().split())
        assert " | ".join(ALGOS) in text and "rsl_ppo" in text
        assert " | ".join(BACKENDS) in text
    export = cli.parser("export").format_help()  # it reads a run's saved config: no training flags
    assert "--load-run" in export and not any(f in export for f in ("--max-iterations", "--num-envs", "--seed"))


def test_a_missing_grasp_cache_fails_before_any_run_folder_in_the_trainers_spelling(tmp_path, capsys):
    """No cache of the cube anywhere (an empty cache folder, none shipped, the Hub offline): refused up front,
    the fix written as a trainer override."""
    rc = cli._run(cli.train, BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path / 'logs'}",
                                            "env.object_type=cube", f"env.grasp_cache_dir={tmp_path / 'empty'}"])
    err = capsys.readouterr().err
    assert rc == 2 and "object='cube'" in err and "env.grasp_allow_generate=true" in err and "Traceback" not in err
    assert not (tmp_path / "logs").exists() and not (tmp_path / "empty").exists()  # nothing made, nothing generated


def test_resuming_a_finished_run_says_so_and_leaves_it_as_it_was(tmp_path, cache_dir, capsys):
    common = BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}", "training.export=false"]
    assert cli.train(common) == 0
    (run,) = folders(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in run.rglob("*")}
    rc = cli._run(cli.train, common + ["--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and f"run {run.name} already finished 1 of 1 iterations" in err
    assert "raise training.max_iterations" in err and "Traceback" not in err
    assert folders(tmp_path) == [run] and not (run / runs.FAILED_FILE).exists()
    assert {p.name: p.stat().st_mtime_ns for p in run.rglob("*")} == before  # nothing written
    # the trainer itself, asked to resume with nothing left to learn, returns the run as it is (no AttributeError)
    import trainers.ppo
    from trainers import config as config_mod

    summary = trainers.ppo.train(config_mod.load(run / runs.CONFIG_FILE), run, resume=True)
    assert summary["iterations"] == 1 and summary["checkpoint"].endswith("model_1.zip")


def _fake_finished_run(logdir: Path, algo: str, done: int) -> Path:
    """A finished run folder of ``algo``: its newest checkpoint at iteration ``done`` (names only: never loaded) and
    its summary."""
    from trainers import config as config_mod

    cfg = config_mod.compose(algo, "allegro_inhand", "mujoco", overrides=[f"training.logdir={logdir}",
                                                                         f"training.max_iterations={done}"])
    run = runs.new_run_dir(cfg)
    config_mod.save(cfg, run / runs.CONFIG_FILE)
    if algo == "appo":
        (run / "checkpoint_p0").mkdir()
        (run / "checkpoint_p0" / f"checkpoint_{done:09d}_{done * 64}.pth").write_bytes(b"x")
        (run / "config.json").write_text(json.dumps({"batch_size": 64, "num_batches_per_epoch": 1}))
    else:
        (run / "checkpoints").mkdir()
        (run / "checkpoints" / f"model_{done}.pt").write_bytes(b"x")
    runs.write_json(run / runs.SUMMARY_FILE, {"iterations": done})
    return run


@pytest.mark.parametrize("algo", ["rsl_ppo", "appo", "hora_distill"])
def test_every_algo_refuses_to_resume_a_finished_run(tmp_path, capsys, algo):
    needs = {"rsl_ppo": "rsl_rl", "appo": "sample_factory"}.get(algo)
    if needs:
        pytest.importorskip(needs)
    run = _fake_finished_run(tmp_path, algo, 3)
    rc = cli._run(cli.train, ["--algo", algo, "--task", "allegro_inhand", "--resume", f"training.logdir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and f"run {run.name} already finished 3 of 3 iterations" in err
    assert not (run / runs.FAILED_FILE).exists() and len(list(run.parent.iterdir())) == 1


def test_eval_video_without_a_replay_points_to_eval_video(tmp_path, capsys):
    rc = cli._run(cli.evaluate, BASE + ["--video", str(tmp_path / "e.mp4"), f"training.logdir={tmp_path}"])
    err = capsys.readouterr().err
    assert rc == 2 and "writes a --replay's video; to record an evaluation add eval.video=true" in err
    assert not any(tmp_path.iterdir())


def test_eval_with_sampled_actions_is_refused_not_ignored(tmp_path, cache_dir, capsys):
    common = BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}", "training.export=false"]
    assert cli.train(common) == 0
    rc = cli._run(cli.evaluate, BASE + ["--load-run", "-1", f"training.logdir={tmp_path}", "eval.deterministic=false"])
    err = capsys.readouterr().err
    assert rc == 2 and "eval.deterministic=false: evaluation acts with the policy's mean action" in err


def test_a_run_stopped_during_its_final_export_is_finished_by_resume(tmp_path, cache_dir):
    """Interrupted after its last checkpoint, during the export (no summary.json yet): --resume learns nothing more
    and writes the export and the summary."""
    import trainers.ppo

    common = BASE + TINY + ["--max-iterations", "1", f"training.logdir={tmp_path}"]
    assert cli.train(common) == 0
    (run,) = folders(tmp_path)
    (run / runs.SUMMARY_FILE).unlink()
    for f in (run / "exported").iterdir():
        f.unlink()
    checkpoints = [p.name for p in trainers.ppo.list_checkpoints(run)]
    assert cli.train(common + ["--resume"]) == 0
    summary = json.loads((run / runs.SUMMARY_FILE).read_text())
    assert summary["iterations"] == 1 and summary["export"]["ok"] and (run / "exported" / "policy.onnx").is_file()
    assert [p.name for p in trainers.ppo.list_checkpoints(run)] == checkpoints  # nothing trained again
