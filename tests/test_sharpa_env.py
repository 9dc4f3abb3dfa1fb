"""SharpaInhandRotation-v0 and SharpaInhandGrasp-v0: spaces, contract, rewards, tactile pads, per-env
randomisation, nine scales and their caches (the shipped ones)."""
from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from unilab_envs.grasp_cache import GraspCacheMissing
from unilab_envs.tasks.presets import SHARPA_SCALES
from unilab_envs.tasks.tactile import TactileFilter

ID = "SharpaInhandRotation-v0"
NOMINAL = {"domain_rand.enabled": False}


@pytest.fixture
def make(make_vec):
    """conftest's make_vec for the Sharpa env (its cache folder holds no Sharpa cache: the shipped ones are used)."""
    return functools.partial(make_vec, env_id=ID)


def test_gym_make_passes_check_env_with_the_issue_spaces(tmp_path, monkeypatch):
    monkeypatch.setenv("UNILAB_CACHE_DIR", str(tmp_path))
    env = gym.make(ID)
    assert env.observation_space.shape == (147,) and env.action_space.shape == (22,)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_vector_spaces_and_the_privileged_and_hora_modes(make):
    obs, _ = make(3).reset(seed=0)
    assert obs.shape == (3, 147) and obs.dtype == np.float32
    priv, _ = make(3, obs_mode="privileged").reset(seed=0)
    assert priv["state"].shape == (3, 147) and priv["privileged_state"].shape == (3, 12)
    hora = make(3, obs_mode="hora")
    obs, _ = hora.reset(seed=0)
    assert obs["proprio_history"].shape == (3, 30, 49)
    obs, *_ = hora.step(np.zeros((3, 22)))
    # the newest history frame is the newest frame of the state observation (joints, targets, tactile)
    np.testing.assert_array_equal(obs["proprio_history"][:, -1], obs["state"][:, -49:])


def test_reward_is_the_sum_of_its_weighted_terms_and_object_pos_is_bounded(make):
    env = make(8)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    dt = env.unwrapped.control_dt
    for _ in range(30):
        _, reward, _, _, info = env.step(rng.uniform(-1, 1, (8, 22)))
        terms = info["reward_terms"]
        np.testing.assert_allclose(reward, sum(terms.values()), rtol=1e-5, atol=1e-6)
        assert set(terms) == {"rotate", "object_linvel", "pose_diff", "torque", "work", "fall", "object_pos"}
        assert np.all(terms["object_pos"] >= 0) and np.all(terms["object_pos"] <= 0.25 * dt + 1e-12)
        assert np.all(np.abs(terms["rotate"]) <= 2.5 * 0.5 * dt + 1e-12)


@pytest.mark.parametrize("scale", [0.8, 1.6])
def test_cached_grasps_hold_for_two_seconds_with_zero_action(make, scale):
    env = make(64, stagger_episodes=False, **NOMINAL, **{"domain_rand.scale_list": [scale]})
    env.reset(seed=0)
    held = np.ones(64, bool)
    for _ in range(40):  # 2 s at 20 Hz
        _, _, terminated, _, _ = env.step(np.zeros((64, 22)))
        held &= ~terminated
    assert held.mean() >= 0.9, f"scale {scale}: only {held.mean():.0%} held the object for 2 s"


def test_tactile_is_zero_without_contact_and_positive_in_a_grasp(make):
    env = make(16, stagger_episodes=False, **NOMINAL)
    env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(np.zeros((16, 22)))
    backend = env.unwrapped.backend
    forces = backend.tactile_forces()
    # at rest from a cached grasp most objects lie on some pad (86% of 64 measured; others on a middle phalanx)
    assert forces.shape == (16, 5) and (forces > 0.05).any(axis=1).mean() >= 0.75
    tactile_obs = obs[:, -5:]
    assert (tactile_obs > 0).any() and tactile_obs.max() <= 4.0
    # the object moved away from the hand: no pad touches it any more
    ids = np.arange(16)
    q, _ = backend.joint_state()
    backend.set_state(ids, q.copy(), np.tile([0.3, 0.3, 0.9], (16, 1)), np.tile([1.0, 0, 0, 0], (16, 1)))
    backend.step(q.copy(), 2)
    np.testing.assert_array_equal(backend.tactile_forces(), 0.0)


def test_tactile_filter_clips_smooths_and_goes_stale():
    rng = np.random.default_rng(0)
    f = TactileFilter(2, 5, max_force=4.0, smoothing=0.5, latency=0.0)
    assert not f.drawn  # no latency: nothing drawn
    np.testing.assert_allclose(f.update(np.full((2, 5), 10.0)), 2.0)   # EMA of the clipped 4 N
    np.testing.assert_allclose(f.update(np.full((2, 5), 10.0)), 3.0)
    stale = TactileFilter(1000, 5, 4.0, 0.0, latency=0.2)
    stale.update(np.ones((1000, 5)), stale.stale(rng.random((1000, 5))))
    kept_zero = (stale.value == 0).mean()
    assert 0.15 < kept_zero < 0.25, "about a fifth of the readings stay stale"


def test_randomisation_changes_gravity_friction_gains_and_mass_per_env(make):
    env = make(16)
    env.reset(seed=3)
    batch, dr = env.unwrapped.backend.batch, env.unwrapped.cfg.domain_rand
    gravity = batch.expanded("opt.gravity")
    assert gravity is not None and len(np.unique(gravity.round(6), axis=0)) == 16
    tilt = np.arccos(-gravity[:, 2] / np.linalg.norm(gravity, axis=1))
    assert np.all(tilt <= dr.gravity_tilt_max + 1e-9) and tilt.max() > 0
    np.testing.assert_allclose(np.linalg.norm(gravity, axis=1), 9.81, rtol=1e-6)
    backend = env.unwrapped.backend
    friction = batch.expanded("geom_friction")[:, backend._friction_geoms, 0] / backend._friction0
    assert np.allclose(friction, friction[:, :1]), "one factor per env on every pad, metal and object geom"
    assert np.all((friction >= 0.75) & (friction <= 1.25)) and friction[:, 0].std() > 0
    kp = batch.expanded("actuator_gainprm")[:, :, 0] / backend.nominal_params()["kp"]
    assert np.all((kp >= 0.5) & (kp <= 2.0)) and kp.std() > 0
    priv, _ = make(16, obs_mode="privileged").reset(seed=3)
    g_dir = priv["privileged_state"][:, 9:12]
    np.testing.assert_allclose(np.linalg.norm(g_dir, axis=1), 1.0, atol=1e-5)


def test_nine_scales_split_evenly_and_kept_for_life(make):
    env = make(18)
    env.reset(seed=0)
    unwrapped = env.unwrapped
    assert unwrapped.cfg.domain_rand.scale_list == SHARPA_SCALES
    scales = unwrapped.scale.copy()
    assert sorted(scales) == sorted(SHARPA_SCALES * 2)
    seen = {}
    rng = np.random.default_rng(0)
    for _ in range(120):  # random actions drop objects: envs reset and keep their scale
        _, _, _, _, info = env.step(rng.uniform(-1, 1, (18, 22)))
        if "final_info" in info:
            done = info["_final_info"]
            for i in np.flatnonzero(done):
                seen[i] = info["final_info"]["object_scale"][i]
    assert seen, "some episodes ended"
    for i, s in seen.items():
        assert s == pytest.approx(scales[i])
    np.testing.assert_allclose(unwrapped.scale, scales)


def test_a_missing_scale_names_the_scale_and_the_command(make):
    with pytest.raises(GraspCacheMissing, match=r"scale 0\.85.*|0\.85") as err:
        make(2, **{"domain_rand.scale_list": [0.85]})
    assert "--hand sharpa" in str(err.value) and "0.85" in str(err.value)


def test_grasp_env_keeps_only_pressing_grasps_that_stay(make):
    env = make(64, env_id="SharpaInhandGrasp-v0", autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    env.reset(seed=0)
    kept, ended = [], 0
    for _ in range(50):
        _, _, _, _, info = env.step(np.zeros((64, 22)))
        if "final_info" in info:
            mask = info["_final_info"]
            ended += int(mask.sum())
            kept.append(info["final_info"]["grasp"][mask & info["final_info"]["is_success"]])
    grasps = np.concatenate(kept)
    assert ended >= 64 and len(grasps) > 0 and grasps.shape[1] == 22 + 3 + 4
    # every kept grasp starts the rotation task inside its height band and upright
    assert np.all(np.abs(grasps[:, 24] - 0.619) < 0.03)
