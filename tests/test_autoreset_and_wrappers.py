"""Both Gymnasium autoreset modes on the native vector envs, and Gymnasium's own vector wrappers on them."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import vector as vw

MODES = [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP]
SHORT = {"episode_length": 6, "stagger_episodes": False, "domain_rand": {"enabled": False}}  # nominal: no early drops


@pytest.mark.parametrize("mode", MODES)
def test_mode_is_declared_and_strings_are_accepted(make_vec, mode):
    assert make_vec(num_envs=2, autoreset_mode=mode).metadata["autoreset_mode"] == mode
    assert make_vec(num_envs=2, autoreset_mode=mode.name.lower()).metadata["autoreset_mode"] == mode


def test_unsupported_mode_is_a_clear_error(make_vec):
    with pytest.raises(ValueError, match="autoreset_mode=.*NEXT_STEP.*SAME_STEP"):
        make_vec(num_envs=2, autoreset_mode=AutoresetMode.DISABLED)


def test_next_step_returns_the_final_observation_then_resets_on_the_next_step(make_vec):
    envs = make_vec(num_envs=3, **SHORT)
    obs, _ = envs.reset(seed=0)
    start = obs.copy()
    for _ in range(5):
        obs, *_ = envs.step(np.zeros((3, 16)))
    obs, reward, terminated, truncated, info = envs.step(np.ones((3, 16)))  # step 6: truncated
    assert truncated.all() and not terminated.any()
    assert not np.allclose(obs, start)  # the final observation, not a reset one
    assert info["_final_info"].all() and (info["final_info"]["episode_length"] == 6).all()
    assert "final_obs" not in info
    obs, reward, terminated, truncated, info = envs.step(np.ones((3, 16)))  # the reset step
    assert (reward == 0).all() and not (terminated | truncated).any()
    assert all((v == 0).all() for v in info["reward_terms"].values())
    np.testing.assert_array_equal(obs[:, -32:-16], obs[:, :16])  # a fresh history: every frame the start one
    assert "final_info" not in info


def test_same_step_resets_at_once_and_reports_the_final_observation(make_vec):
    envs = make_vec(num_envs=3, autoreset_mode=AutoresetMode.SAME_STEP, **SHORT)
    envs.reset(seed=0)
    for _ in range(5):
        envs.step(np.zeros((3, 16)))
    obs, _, _, truncated, info = envs.step(np.ones((3, 16)))
    assert truncated.all() and info["_final_obs"].all()
    assert not np.allclose(np.stack(info["final_obs"]), obs)  # obs is already the next episode's first


@pytest.mark.parametrize("num_envs", [1, 5])
def test_first_episodes_agree_between_the_modes(make_vec, num_envs):
    """Same seed, same actions: each env's first episode has the same return and length in both modes."""
    first = {}
    for mode in MODES:
        envs = make_vec(num_envs=num_envs, autoreset_mode=mode, episode_length=40)
        envs.reset(seed=11)
        rng = np.random.default_rng(0)
        ret, length = np.full(num_envs, np.nan), np.zeros(num_envs, int)
        for _ in range(45):
            _, _, _, _, info = envs.step(rng.uniform(-1, 1, (num_envs, 16)))
            if "final_info" in info:
                new = info["_final_info"] & np.isnan(ret)
                ret[new] = info["final_info"]["episode_return"][new]
                length[new] = info["final_info"]["episode_length"][new]
        first[mode] = (ret, length)
    assert not np.isnan(first[MODES[0]][0]).any()
    np.testing.assert_array_equal(first[MODES[0]][1], first[MODES[1]][1])
    np.testing.assert_allclose(first[MODES[0]][0], first[MODES[1]][0], rtol=1e-12)


WRAPPERS = {
    "NormalizeObservation": lambda e: vw.NormalizeObservation(e),
    "NormalizeReward": lambda e: vw.NormalizeReward(e),
    "RecordEpisodeStatistics": lambda e: vw.RecordEpisodeStatistics(e),
    "ClipAction": lambda e: vw.ClipAction(e),
    "RescaleAction": lambda e: vw.RescaleAction(e, min_action=0.0, max_action=2.0),
    "TransformObservation": lambda e: vw.TransformObservation(e, lambda o: o * 2.0, e.observation_space),
    "DictInfoToList": lambda e: vw.DictInfoToList(e),
}
#: Gymnasium's own restriction: its vector observation wrappers accept NEXT_STEP (or DISABLED) envs only
NEXT_STEP_ONLY = {"NormalizeObservation", "TransformObservation"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(WRAPPERS))
def test_gymnasiums_vector_wrappers_step_the_native_env(make_vec, name, mode):
    envs = make_vec(num_envs=4, autoreset_mode=mode, **SHORT)
    if name in NEXT_STEP_ONLY and mode == AutoresetMode.SAME_STEP:
        with pytest.raises(ValueError, match="NEXT_STEP"):
            WRAPPERS[name](envs)
        return
    wrapped = WRAPPERS[name](envs)
    obs, _ = wrapped.reset(seed=0)
    wrapped.action_space.seed(0)
    episodes = 0
    for _ in range(14):  # two whole episodes of (at most) 6 steps and their resets
        obs, reward, terminated, truncated, info = wrapped.step(wrapped.action_space.sample())
        assert np.isfinite(reward).all() and np.isfinite(obs).all()
        done = terminated | truncated
        episodes += int(done.sum())
        if name == "RecordEpisodeStatistics" and done.any():  # its statistics agree with the env's own
            np.testing.assert_array_equal(info["episode"]["l"][done], info["final_info"]["episode_length"][done])
            np.testing.assert_allclose(info["episode"]["r"][done], info["final_info"]["episode_return"][done],
                                       rtol=1e-5, atol=1e-6)
    assert episodes >= 4
    if name == "RecordEpisodeStatistics":
        assert len(wrapped.length_queue) == episodes and max(wrapped.length_queue) <= 6
    if name == "DictInfoToList":
        assert isinstance(info, list) and len(info) == 4


def test_the_issue_example_normalize_observation_on_make_vec(cache_dir):
    envs = vw.NormalizeObservation(gym.make_vec("AllegroInhandRotation-v0", num_envs=8))
    envs.reset(seed=0)
    obs, *_ = envs.step(np.zeros((8, 16)))
    assert obs.shape == (8, 96)
    envs.close()


def test_step_before_reset_is_a_clear_error(make_vec):
    envs = make_vec(num_envs=2)
    with pytest.raises(gym.error.ResetNeeded, match="before reset"):
        envs.step(np.zeros((2, 16)))
    grasp = gym.make_vec("AllegroInhandGrasp-v0", num_envs=2)
    with pytest.raises(gym.error.ResetNeeded):
        grasp.step(np.zeros((2, 16)))
    grasp.close()


@pytest.mark.parametrize("mode", MODES)
def test_grasp_env_autoreset_modes(cache_dir, mode):
    """Every ended candidate (a drop, or the end of settle + hold): NEXT_STEP restarts it in the next step
    with reward 0, SAME_STEP at once with its final observation in the info."""
    envs = gym.make_vec("AllegroInhandGrasp-v0", num_envs=8, autoreset_mode=mode, settle_steps=2, hold_steps=3)
    envs.reset(seed=0)
    done_before = np.zeros(8, bool)
    ended = 0
    for _ in range(16):
        _, reward, terminated, truncated, info = envs.step(np.zeros((8, 16)))
        done = terminated | truncated
        if mode == AutoresetMode.NEXT_STEP:
            assert not done[done_before].any() and (reward[done_before] == 0).all()
        if done.any():
            np.testing.assert_array_equal(info["_final_info"], done)
            assert ("final_obs" in info) == (mode == AutoresetMode.SAME_STEP)
        ended += int(done.sum())
        done_before = done
    assert ended >= 8  # every candidate ended at least once (5 steps each)
    envs.close()
