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
