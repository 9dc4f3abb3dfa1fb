"""The compiled step (tasks/compiled_step.py) against the array-API step it replaces on numpy arrays: the same
observations, rewards, terms, flags, infos and random draws, step by step, through drops, resets and pushes."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from unilab_envs.backends.base import pack_readings
from unilab_envs.backends.mujoco_batch import free_joint_state
from unilab_envs.rotations import quat_rotate, random_quat


def _pair(make_vec, num_envs, env_id, **kwargs):
    return (make_vec(num_envs, env_id=env_id, compiled_step=True, **kwargs),
            make_vec(num_envs, env_id=env_id, compiled_step=False, **kwargs))


def _assert_close(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            if not (k == "t" and where.endswith("episode")):  # wall-clock seconds of the episode
                _assert_close(a[k], b[k], f"{where}/{k}")
        return
    if isinstance(a, np.ndarray) and a.dtype == object:  # SAME_STEP's final_obs: one entry per env, or None
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            assert (x is None) == (y is None), where
            if x is not None:
                _assert_close(x, y, f"{where}[{k}]")
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (where, a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype.kind in "fc":
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=where)
    else:
        np.testing.assert_array_equal(a, b, err_msg=where)


CASES = [  # (env id, num_envs, overrides): pushes and noise are on in every case (the default randomisation)
    ("AllegroInhandRotation-v0", 6, {}),
    ("AllegroInhandRotation-v0", 4, {"obs_mode": "hora", "history_touch": True, "privileged_delay": 0.5,
                                     "autoreset_mode": "SameStep"}),
    ("SharpaInhandRotation-v0", 4, {"height_band": 0.01, "obs_mode": "privileged"}),  # tactile with latency
    ("AllegroInhandRotation-v0", 4, {"sim": "motrix"}),  # another backend's array layouts
]


@pytest.mark.parametrize("env_id,num_envs,overrides", CASES,
                         ids=["allegro", "allegro-hora-samestep", "sharpa", "allegro-motrix"])
def test_compiled_step_matches_the_array_api_step(make_vec, env_id, num_envs, overrides):
    if overrides.get("sim") == "motrix":
        pytest.importorskip("motrixsim")
    fast, ref = _pair(make_vec, num_envs, env_id, episode_length=30, **overrides)
    assert fast.unwrapped._compiled is not None and ref.unwrapped._compiled is None
    _assert_close(fast.reset(seed=3)[0], ref.reset(seed=3)[0], "reset")
    rng = np.random.default_rng(0)
    ended = 0
    for t in range(90):
        action = rng.uniform(-1.5, 1.5, fast.action_space.shape)  # clipped to [-1, 1] by both
        if t % 2:
            action = action.astype(np.float32)  # taken as it is by the compiled step, as float64 by the other
        a, b = fast.step(action), ref.step(action)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), a, b, strict=True):
            _assert_close(x, y, f"step {t} {name}")
        ended += int(np.count_nonzero(a[2] | a[3]))
    assert ended >= num_envs, "the rollout ran through episode ends and resets"
    u, v = fast.unwrapped, ref.unwrapped
    np.testing.assert_array_equal(u.pushes.force, v.pushes.force)
    np.testing.assert_array_equal(u._step_rng.random(3), v._step_rng.random(3))  # the same draws were taken


def test_compiled_step_takes_a_nonfinite_state_to_the_array_api_path(make_vec):
    fast, ref = _pair(make_vec, 2, "AllegroInhandRotation-v0")
    for env in (fast, ref):
        env.reset(seed=0)
        env.unwrapped.backend._qvel[0] = np.nan  # env 0's simulation is lost
    a, b = fast.step(np.zeros((2, 16))), ref.step(np.zeros((2, 16)))
    _assert_close(a[4], b[4], "info")
    assert a[2][0] and a[4]["final_info"]["end_cause"][0] == 4 and fast.unwrapped.nonfinite_episodes == 1
    np.testing.assert_array_equal(a[0], b[0])


def test_compiled_step_rejects_nonfinite_actions_and_changes_nothing(make_vec):
    env = make_vec(2, compiled_step=True)
    env.reset(seed=0)
    u = env.unwrapped
    env.step(np.zeros((2, 16)))
    before, force, draws = u.targets.copy(), u.pushes.force.copy(), u._draws.next()
    u._draws.give_back()
    action = np.zeros((2, 16))
    action[1, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(action)
    np.testing.assert_array_equal(u.targets, before)
    np.testing.assert_array_equal(u.pushes.force, force)
    np.testing.assert_array_equal(u._draws.next().uniform, draws.uniform)  # the step's draws are still to take


def test_gym_make_uses_the_compiled_step(cache_dir):
    env = gym.make("AllegroInhandRotation-v0")
    assert env.unwrapped.vector_env._compiled is not None
    env.close()


@pytest.mark.parametrize("overrides", [{}, {"obs_mode": "hora"}, {"compiled_step": False}],
                         ids=["state", "hora", "array-api"])
def test_gym_make_one_env_step_matches_the_batch_steps_view(cache_dir, overrides):
    """SingleEnv's step through the env's step_one (outputs built from the packed values) against the generic
    view of the vector step (first_env), through drops, truncations and resets."""
    fast, ref = (gym.make("AllegroInhandRotation-v0", episode_length=25, **overrides) for _ in range(2))
    ref.unwrapped._step_one = None
    assert fast.unwrapped._step_one is not None
    def same_reset(seed, where):
        for x, y in zip(fast.reset(seed=seed), ref.reset(seed=seed), strict=True):
            _assert_close(x, y, where)

    same_reset(5, "reset")
    rng = np.random.default_rng(1)
    ends = 0
    for t in range(80):
        action = rng.uniform(-1, 1, 16).astype(np.float32)
        a, b = fast.step(action), ref.step(action)
        for name, x, y in zip(("obs", "reward", "terminated", "truncated", "info"), a, b, strict=True):
            _assert_close(x, y, f"step {t} {name}")
        assert type(a[1]) is float and type(a[2]) is bool and type(a[3]) is bool
        if a[2] or a[3]:
            ends += 1
            same_reset(None, f"reset after step {t}")
    assert ends >= 2, "the rollout ran through episode ends"
    fast.close()
    ref.close()


@pytest.mark.parametrize("env_id", ["AllegroInhandRotation-v0", "SharpaInhandRotation-v0"])
def test_mujoco_readings_are_the_getters_packed(make_vec, env_id):
    env = make_vec(3, env_id=env_id)
    env.reset(seed=0)
    for _ in range(5):
        env.step(np.random.default_rng(0).uniform(-1, 1, env.action_space.shape))
    b = env.unwrapped.backend
    got = b.readings()
    assert got[:, -len(b.layout.tactile_sensors) or None].any() or not b.layout.tactile_sensors
    np.testing.assert_allclose(got, pack_readings(b, np.zeros_like(got)), rtol=1e-12, atol=1e-12)


def test_free_joint_state_rotates_the_body_frame_angular_velocity():
    rng = np.random.default_rng(1)
    qpos, qvel = rng.normal(size=(5, 9)), rng.normal(size=(5, 8))
    qpos[:, 5:9] = random_quat(rng, 5)
    s = free_joint_state(qpos, qvel, 2, 1)  # the free joint at qpos[:, 2:9], qvel[:, 1:7]
    np.testing.assert_array_equal(s[:, :3], qpos[:, 2:5])
    np.testing.assert_array_equal(s[:, 3:7], qpos[:, 5:9])
    np.testing.assert_array_equal(s[:, 7:10], qvel[:, 1:4])
    np.testing.assert_allclose(s[:, 10:], quat_rotate(s[:, 3:7], qvel[:, 4:7]), rtol=1e-12, atol=1e-12)
