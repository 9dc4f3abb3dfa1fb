"""The randomisation curriculum: its schedule, the simulated ranges it sets (read from the backend), that eval
always uses the full ranges, and that PPO, APPO and the HORA student drive it and keep its stage on --resume."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from unilab_envs.tasks.config import CurriculumConfig, DomainRandConfig
from unilab_envs.tasks.curriculum import Curriculum

ON = {"curriculum.enabled": True, "curriculum.milestones": [0, 1000, 2000]}


def test_stage_is_linear_or_stepwise_between_milestones():
    dr = DomainRandConfig()
    lin = Curriculum(CurriculumConfig(enabled=True, milestones=(100, 1100, 2100)), dr)
    assert [lin.stage(s) for s in (0, 100, 600, 1100, 1600, 2100, 9999)] == [0, 0, 0.25, 0.5, 0.75, 1, 1]
    step = Curriculum(CurriculumConfig(enabled=True, milestones=(100, 1100, 2100), interpolation="step"), dr)
    assert [step.stage(s) for s in (0, 100, 600, 1100, 1600, 2100, 9999)] == [0, 0, 0, 0.5, 0.5, 1, 1]
    half = lin.ranges(0.5)
    assert half.mass_range == pytest.approx((0.01, 0.15)) and half.friction_range == pytest.approx((0.65, 3.0))
    assert half.force_scale == 1.0
    assert lin.ranges(1.0) == dr  # the end of the schedule is the configured randomisation


@pytest.mark.parametrize("override, fragment", [
    ({"curriculum.milestones": [0]}, "at least two increasing"),
    ({"curriculum.milestones": [5, 1]}, "at least two increasing"),
    ({"curriculum.interpolation": "cosine"}, "one of ('linear', 'step')"),
    ({"curriculum.start.mass_max": 0.5}, "mass_range"),
    ({"curriculum.start.force_scale": -1.0}, "curriculum.start.force_scale"),
])
def test_bad_curriculum_is_refused_naming_the_key(make_vec, override, fragment):
    with pytest.raises(ValueError, match="curriculum") as e:
        make_vec(1, **(ON | override))
    assert fragment in str(e.value)


def _mass_and_friction(env):
    b = env.unwrapped.backend
    return b.batch.expanded("body_mass")[:, b._obody], b.batch.expanded("geom_friction")[:, b._ogeom, 0]


def test_curriculum_sets_the_simulated_ranges_on_its_schedule(make_vec):
    env = make_vec(64, **ON)
    u = env.unwrapped
    env.reset(seed=0)
    mass, friction = _mass_and_friction(env)
    assert mass.max() <= 0.05 and friction.min() >= 1.0  # the start values
    assert not u.pushes.step(u.mass, u._draws.next()).any()  # no pushes yet (force scale 0)
    obs_a, *_ = env.step(np.zeros((64, 16)))
    u.set_training_progress(1000)  # half way
    assert u.curriculum_state() == pytest.approx({"progress": 0.5, "mass_max": 0.15, "friction_min": 0.65,
                                                  "force_scale": 1.0, "joint_noise_scale": 0.01})
    env.reset(seed=0)
    mass, friction = _mass_and_friction(env)
    assert 0.05 < mass.max() <= 0.15 and 0.65 <= friction.min() < 1.0
    u.set_training_progress(5000)  # past the last milestone: the configured ranges
    env.reset(seed=0)
    mass, friction = _mass_and_friction(env)
    assert mass.max() > 0.15 and friction.min() < 0.65


def test_observation_noise_starts_at_zero(make_vec):
    env = make_vec(4, **ON, stagger_episodes=False)
    env.reset(seed=0)
    obs, *_ = env.step(np.zeros((4, 16)))
    newest = obs[:, -32:-16]  # the newest frame's joints, exactly as simulated (no noise at the start)
    u = env.unwrapped
    q = u.backend.joint_state()[0]
    from unilab_envs.tasks.observations import normalize_joints

    np.testing.assert_allclose(newest, normalize_joints(q, u.joint_ranges), atol=1e-6)
    u.set_training_progress(2000)  # full noise: the observed joints differ from the simulated ones
    obs, *_ = env.step(np.zeros((4, 16)))
    assert np.abs(obs[:, -32:-16] - normalize_joints(u.backend.joint_state()[0], u.joint_ranges)).max() > 1e-3


def test_sharpa_gravity_tilt_widens_from_upright(make_vec):
    env = make_vec(16, env_id="SharpaInhandRotation-v0", **ON)
    env.reset(seed=0)
    gravity = env.unwrapped.backend.batch.expanded("opt.gravity")
    tilt = lambda g: np.arccos(-g[:, 2] / np.linalg.norm(g, axis=1))  # noqa: E731
    assert gravity is None or np.allclose(tilt(gravity), 0.0, atol=1e-9)
    env.unwrapped.set_training_progress(2000)
    env.reset(seed=0)
    assert tilt(env.unwrapped.backend.batch.expanded("opt.gravity")).max() > 0.01


def test_a_disabled_curriculum_changes_nothing(make_vec):
    env = make_vec(64)
    env.unwrapped.set_training_progress(0)
    assert env.unwrapped.curriculum_state() == {} and env.unwrapped.dr == env.unwrapped.cfg.domain_rand
    env.reset(seed=0)
    assert _mass_and_friction(env)[0].max() > 0.05


def test_eval_envs_use_the_full_randomisation(cache_dir):
    from trainers.config import compose, make_eval_env

    cfg = compose("ppo", "allegro_inhand", "mujoco", overrides=["env.curriculum.enabled=true"])
    env = make_eval_env(cfg, 2)
    assert not env.unwrapped.curriculum.enabled and env.unwrapped.dr == env.unwrapped.cfg.domain_rand
    env.close()


# --- the trainers drive it and resume it --------------------------------------------------------------------
PPO = ["--algo", "ppo", "--task", "allegro_inhand", "--sim", "mujoco", "--num-envs", "8", "algo.n_steps=8",
       "algo.batch_size=32", "algo.n_epochs=1", "algo.net_arch=[32,32]", "training.no_play=true",
       "training.progress_bar=false", "env.num_threads=1", "env.episode_length=20", "training.export=false",
       "env.curriculum.enabled=true", "env.curriculum.milestones=[0,256]"]  # 4 iterations of 64 env steps


def _csv_column(path: Path, key: str) -> list[float]:
    with open(path) as f:
        return [float(row[key]) for row in csv.DictReader(f) if row.get(key)]


def test_ppo_logs_the_stage_and_resume_continues_it(tmp_path, cache_dir):
    from trainers import cli

    assert cli.train(PPO + ["--max-iterations", "2", f"training.logdir={tmp_path}"]) == 0
    (run,) = (tmp_path / "sb3_ppo" / "AllegroInhandRotation-v0").iterdir()
    assert _csv_column(run / "progress.csv", "curriculum/progress") == [0.0, 0.25]
    assert cli.train(PPO + ["--resume", "--max-iterations", "4", f"training.logdir={tmp_path}"]) == 0
    # SB3 rewrites progress.csv on resume: the resumed iterations start at the stage the run stopped at
    assert _csv_column(run / "progress.csv", "curriculum/progress") == [0.5, 0.75]
    assert _csv_column(run / "progress.csv", "curriculum/mass_max") == pytest.approx([0.15, 0.2])


def test_sample_factory_adapter_continues_from_its_start_steps(make_vec):
    pytest.importorskip("sample_factory")
    from trainers.sf_env import UnilabSFEnv

    sf = UnilabSFEnv(make_vec(8, autoreset_mode="same_step", **ON), env_steps=1000)
    assert sf.env.unwrapped.curriculum.progress == 0.5
    sf.reset(seed=0)
    for _ in range(125):
        sf.step(np.zeros((8, 16), np.float32))
    assert sf.env_steps == 2000 and sf.env.unwrapped.curriculum.progress == 1.0


def test_appo_resume_passes_its_env_steps_to_the_env(tmp_path, cache_dir, monkeypatch):
    pytest.importorskip("sample_factory")
    from trainers import cli, sf_env

    made = []
    real = sf_env.UnilabSFEnv

    class Spy(real):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self.env_steps)

    monkeypatch.setattr(sf_env, "UnilabSFEnv", Spy)
    appo = ["--algo", "appo", "--task", "allegro_inhand", "--sim", "mujoco", "--num-envs", "16",
            "algo.hparams.rollout=8", "algo.hparams.num_epochs=1", "algo.hparams.encoder_mlp_layers=[32,32]",
            "training.no_play=true", "training.progress_bar=false", "env.num_threads=1", "env.episode_length=5",
            "training.export=false", "env.curriculum.enabled=true", f"training.logdir={tmp_path}"]
    assert cli.train(appo + ["--max-iterations", "2"]) == 0
    assert cli.train(appo + ["--resume", "--max-iterations", "3"]) == 0
    assert made and made[0] == 0 and made[-1] == 2 * 128  # the resumed run's env starts at its checkpoint's steps


def test_start_values_are_only_checked_when_the_curriculum_is_on(make_vec):
    """A narrower mass range than the default start value is fine while the curriculum is off."""
    env = make_vec(1, **{"domain_rand.mass_range": [0.1, 0.2]})
    assert not env.unwrapped.curriculum.enabled
