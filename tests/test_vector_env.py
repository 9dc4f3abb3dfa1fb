"""The vector-env contract a trainer relies on: spaces, seeding, autoreset, rewards, errors."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from unilab_envs.tasks.rewards import TERMS


def rollout(envs, seed, steps=15):
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    trace = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = envs.step(rng.uniform(-1, 1, envs.action_space.shape))
        trace += [obs, reward, terminated, truncated]
    return trace


def test_spaces_and_observations_in_bounds(make_vec):
    envs = make_vec(num_envs=6)
    obs, info = envs.reset(seed=0)
    assert obs.dtype == np.float32 and envs.observation_space.contains(obs)
    assert isinstance(info, dict)
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert reward.shape == (6,) and terminated.dtype == bool and truncated.dtype == bool


def test_same_seed_same_rollout_other_seed_differs(make_vec):
    a, b = make_vec(num_envs=5), make_vec(num_envs=5)
    ta, tb = rollout(a, seed=7), rollout(b, seed=7)
    for x, y in zip(ta, tb, strict=True):
        np.testing.assert_array_equal(x, y)
    tc = rollout(b, seed=8)
    assert not np.array_equal(ta[0], tc[0])


def test_reward_is_the_sum_of_its_info_terms(make_vec):
    envs = make_vec(num_envs=8)
    envs.reset(seed=1)
    for _ in range(5):
        _, reward, _, _, info = envs.step(envs.action_space.sample())
        terms = info["reward_terms"]
        assert set(terms) == set(TERMS)
        np.testing.assert_allclose(reward, sum(terms.values()), rtol=1e-5, atol=1e-7)
    assert np.all(terms["torque"] <= 0) and np.all(terms["work"] <= 0) and np.all(terms["pose_diff"] <= 0)


def test_reward_weights_come_from_config(make_vec):
    envs = make_vec(num_envs=4, rewards={"rotate": 0.0, "torque": -1.0, "work": 0.0,
                                         "object_linvel": 0.0, "pose_diff": 0.0})
    envs.reset(seed=2)
    _, reward, _, _, info = envs.step(envs.action_space.sample())
    assert np.all(info["reward_terms"]["rotate"] == 0)
    np.testing.assert_allclose(reward, info["reward_terms"]["torque"], rtol=1e-5, atol=1e-8)


def test_truncation_autoresets_in_the_same_step(make_vec):
    envs = make_vec(num_envs=3, episode_length=4, stagger_episodes=False, domain_rand={"enabled": False},
                    autoreset_mode="same_step")
    envs.reset(seed=0)
    for _ in range(3):
        _, _, terminated, truncated, info = envs.step(np.zeros((3, 16)))
        assert not truncated.any() and "final_obs" not in info
    obs, _, terminated, truncated, info = envs.step(np.zeros((3, 16)))
    assert truncated.all() and not terminated.any()
    assert info["_final_obs"].all() and info["final_obs"].dtype == object
    final = np.stack(info["final_obs"])
    assert final.shape == (3, 96) and not np.allclose(final, obs)  # obs is already the next episode's
    fin = info["final_info"]
    np.testing.assert_array_equal(fin["episode_length"], 4)
    np.testing.assert_allclose(fin["episode_seconds"], 0.2)
    assert not fin["dropped"].any() and np.all(np.isfinite(fin["rotation_speed"]))
    _, _, _, truncated, info = envs.step(np.zeros((3, 16)))
    assert not truncated.any() and "final_obs" not in info


def test_termination_when_the_object_is_below_the_threshold(make_vec):
    envs = make_vec(num_envs=4, termination_height=1.0)  # every grasp is "dropped" at once
    envs.reset(seed=0)
    _, _, terminated, truncated, info = envs.step(np.zeros((4, 16)))
    assert terminated.all() and not truncated.any()
    assert info["final_info"]["dropped"].all()
    np.testing.assert_array_equal(info["final_info"]["episode_length"], 1)


def test_episodes_do_not_run_in_lockstep(make_vec):
    envs = make_vec(num_envs=64, episode_length=20, domain_rand={"enabled": False})
    envs.reset(seed=0)
    end_steps = []
    for t in range(20):
        _, _, terminated, truncated, _ = envs.step(np.zeros((64, 16)))
        end_steps += [t] * int((terminated | truncated).sum())
    assert len(set(end_steps)) > 10  # first episodes end spread over the whole episode length


def test_observation_modes(make_vec):
    priv = make_vec(num_envs=3, obs_mode="privileged")
    obs, _ = priv.reset(seed=0)
    assert set(obs) == {"state", "privileged_state"} and obs["privileged_state"].shape == (3, 12)
    np.testing.assert_allclose(obs["privileged_state"][:, :3], 0.0, atol=1e-6)  # relative to the start position
    obs, *_ = priv.step(np.zeros((3, 16)))
    moved = priv.backend.object_state().pos - priv.start_pos
    np.testing.assert_allclose(obs["privileged_state"][:, :3], moved, atol=1e-6)
    assert np.all(np.abs(obs["privileged_state"][:, 3:]) <= 1.0 + 1e-6)  # scaled by the DR ranges
    np.testing.assert_allclose(obs["privileged_state"][:, 9:], [[0, 0, -1]] * 3, atol=1e-6)  # no tilt on Allegro

    hora = make_vec(num_envs=3, obs_mode="hora")
    obs, _ = hora.reset(seed=0)
    assert obs["proprio_history"].shape == (3, 30, 32)
    for _ in range(3):
        obs, *_ = hora.step(np.zeros((3, 16)))
    # the state vector is the newest 3 frames of the same history
    np.testing.assert_allclose(obs["state"], obs["proprio_history"][:, -3:].reshape(3, -1))
    assert hora.observation_space.contains(obs)


def test_privileged_delay_hides_the_object_facts_early_in_each_episode(make_vec):
    plain, late = (make_vec(num_envs=3, obs_mode="privileged", privileged_delay=d, stagger_episodes=False)
                   for d in (0.0, 0.25))  # 5 control steps at 20 Hz
    (a, _), (b, _) = plain.reset(seed=2), late.reset(seed=2)
    assert np.abs(a["privileged_state"][:, 3:9]).max() > 0.05  # the drawn facts are not all mid-range
    for step in range(7):
        facts_known = step >= 5
        np.testing.assert_array_equal(b["privileged_state"][:, 3:9], a["privileged_state"][:, 3:9] * facts_known)
        np.testing.assert_array_equal(b["privileged_state"][:, :3], a["privileged_state"][:, :3])  # offset
        np.testing.assert_array_equal(b["privileged_state"][:, 9:], a["privileged_state"][:, 9:])  # gravity
        a, *_ = plain.step(np.zeros((3, 16)))
        b, *_ = late.step(np.zeros((3, 16)))
    with pytest.raises(ValueError, match="privileged_delay"):
        make_vec(num_envs=2, privileged_delay=-1.0)


def test_history_touch_adds_fingertip_contacts_to_the_history_only(make_vec):
    plain, touch = (make_vec(num_envs=4, obs_mode="hora", history_touch=flag) for flag in (False, True))
    (a, _), (b, _) = plain.reset(seed=3), touch.reset(seed=3)
    assert b["proprio_history"].shape == (4, 30, 36) and touch.observation_space.contains(b)
    np.testing.assert_array_equal(b["proprio_history"][..., 32:], 0.0)  # no contact read before the first step
    seen = []
    for _ in range(5):
        a, *_ = plain.step(np.zeros((4, 16)))
        b, *_ = touch.step(np.zeros((4, 16)))
        np.testing.assert_array_equal(a["state"], b["state"])  # the policy's state is unchanged
        np.testing.assert_array_equal(a["proprio_history"], b["proprio_history"][..., :32])
        np.testing.assert_array_equal(b["proprio_history"][:, -1, 32:], touch.backend.fingertip_contacts())
        seen.append(b["proprio_history"][:, -1, 32:])
    assert np.isin(seen, (0.0, 1.0)).all() and np.mean(seen) > 0.3  # cached grasps hold the ball with the tips
    with pytest.raises(ValueError, match="history_touch=True .* obs_mode='state'"):
        make_vec(num_envs=2, history_touch=True)


@pytest.mark.parametrize("bad, match", [(np.zeros((4, 15)), r"shape \(4, 15\)"),
                                        (np.zeros(16), r"shape \(16,\)"),
                                        (np.full((4, 16), np.nan), "NaN")])
def test_bad_actions_raise_clear_errors(make_vec, bad, match):
    envs = make_vec(num_envs=4)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        envs.step(bad)


def test_reset_mask_resets_only_its_envs_and_is_checked(make_vec):
    envs = make_vec(num_envs=4)
    envs.reset(seed=0)
    for _ in range(3):
        envs.step(np.zeros((4, 16), np.float32))
    before = envs.progress.copy()
    envs.reset(options={"reset_mask": np.array([True, False, True, False])})
    np.testing.assert_array_equal(envs.progress, np.where([True, False, True, False], 0, before))
    for options, match in [({"reset_mask": np.array([0, 2])}, r"dtype int64 and shape \(2,\); expected a bool array"),
                           ({"reset_mask": [True, False]}, r"shape \(2,\); expected a bool array of shape \(4,\)"),
                           ({"reset_maks": np.ones(4, bool)}, r"\['reset_maks'\] are not known .*'reset_mask'")]:
        with pytest.raises(ValueError, match=match):
            envs.reset(options=options)


def test_unknown_config_key_suggests_the_nearest(make_vec):
    with pytest.raises(KeyError, match="did you mean 'episode_length'"):
        make_vec(num_envs=2, episode_lenght=10)
    with pytest.raises(KeyError, match="domain_rand.mass_range"):
        make_vec(num_envs=2, domain_rand={"mass_rang": (0.1, 0.2)})
    with pytest.raises(ValueError, match="obs_mode='pixels'"):
        make_vec(num_envs=2, obs_mode="pixels")


def test_actions_move_targets_by_one_24th_within_limits(make_vec):
    envs = make_vec(num_envs=2, domain_rand={"enabled": False})
    envs.reset(seed=0)
    before = envs.targets.copy()
    envs.step(np.full((2, 16), 0.5))
    lo, hi = envs.joint_ranges.T
    np.testing.assert_allclose(envs.targets, np.clip(before + 0.5 / 24, lo, hi))
    for _ in range(60):
        envs.step(np.ones((2, 16)))
    assert np.all(envs.targets <= hi + 1e-12)


def test_final_info_reward_terms_add_up_to_the_return(make_vec):
    env = make_vec(8, episode_length=10, stagger_episodes=False)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(10):
        _, _, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if "final_info" not in info:
            continue
        m = info["_final_info"]
        fin = {k: v[m] for k, v in info["final_info"].items() if not k.startswith("_") and not isinstance(v, dict)}
        ended += int(m.sum())
        terms = sum(fin[f"reward_{t}"] for t in TERMS)
        np.testing.assert_allclose(terms, fin["episode_return"], rtol=1e-5, atol=1e-6)
        assert (fin["object_speed"] >= 0).all() and (fin["torque"] > 0).all() and (fin["work"] >= 0).all()
        np.testing.assert_allclose(fin["work"], fin["power"] * fin["episode_seconds"], rtol=1e-9)
    assert ended >= 8


def test_fall_term_is_paid_once_at_termination(make_vec):
    env = make_vec(16, rewards={"fall": -10.0}, domain_rand={"enabled": False}, stagger_episodes=False)
    env.reset(seed=4)
    opened = np.full(env.action_space.shape, -1.0)  # open the hand: every object falls within a second
    seen = 0
    for _ in range(40):
        _, reward, terminated, _, info = env.step(opened)
        fall = info["reward_terms"]["fall"]
        np.testing.assert_array_equal(fall, np.where(terminated, -10.0, 0.0))
        seen += int(terminated.sum())
    assert seen >= 16


@pytest.mark.parametrize("kwargs, error, match", [
    ({"episode_length": "400"}, TypeError, "'episode_length' expects an integer, got '400'"),
    ({"control_substeps": 2.5}, TypeError, "'control_substeps' expects an integer"),
    ({"action_scale": "fast"}, TypeError, "'action_scale' expects a number"),
    ({"stagger_episodes": "yes"}, TypeError, "'stagger_episodes' expects true/false"),
    ({"domain_rand": {"mass_range": (0.1,)}}, TypeError, "'domain_rand.mass_range' expects 2 values"),
    ({"domain_rand": {"scale_list": 1.0}}, TypeError, "'domain_rand.scale_list' expects a list"),
    ({"domain_rand": {"mass_range": (0.2, 0.1)}}, ValueError, r"backwards; give it as \(0.1, 0.2\)"),
    ({"domain_rand": {"mass_range": (-0.1, 0.1)}}, ValueError, "'domain_rand.mass_range'.*lower end must be > 0"),
    ({"domain_rand": {"friction_range": (3.0, 0.3)}}, ValueError, "'domain_rand.friction_range'.*backwards"),
    ({"domain_rand": {"scale_list": [0.0]}}, ValueError, "object scales must be > 0"),
    ({"domain_rand": {"force_prob": 2}}, ValueError, r"'domain_rand.force_prob'.*in \[0, 1\]"),
    ({"episode_length": 0}, ValueError, "'episode_length' = 0: must be >= 1"),
    ({"grasp_collection_target": -5}, ValueError, "'grasp_collection_target' = -5"),
    ({"angvel_clip": (0.5, -0.5)}, ValueError, "'angvel_clip'.*backwards"),
    ({"physics": {"timestep": 0.0}}, ValueError, "'physics.timestep' = 0.0: must be > 0"),
])
def test_bad_config_values_are_clear_errors_naming_the_key(make_vec, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_vec(num_envs=2, **kwargs)


def test_bad_grasp_config_values_are_clear_errors(cache_dir):
    with pytest.raises(ValueError, match="'min_tip_contacts' = -1"):
        gym.make_vec("AllegroInhandGrasp-v0", num_envs=2, min_tip_contacts=-1)
    with pytest.raises(TypeError, match="'hold_steps' expects an integer"):
        gym.make_vec("AllegroInhandGrasp-v0", num_envs=2, hold_steps=2.5)


def test_numpy_scalars_are_accepted_for_numeric_keys(make_vec):
    envs = make_vec(num_envs=2, episode_length=np.int64(30), action_scale=np.float32(0.04),
                    stagger_episodes=np.bool_(False))
    assert envs.cfg.episode_length == 30 and type(envs.cfg.episode_length) is int
    assert envs.cfg.action_scale == pytest.approx(0.04) and envs.cfg.stagger_episodes is False
