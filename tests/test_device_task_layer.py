"""The task layer on the physics device (issue 13, docs/gpu_task_layer.md): on MuJoCo Warp the rotation env
takes and gives torch tensors (``arrays="auto"``), and computes what the numpy path computes.

Run on Warp's CPU device, whose tensors are CPU tensors: the same code runs on ``cuda`` where a GPU exists.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco_warp", reason="the mjwarp extra is not installed")
torch = pytest.importorskip("torch")

import gymnasium as gym  # noqa: E402

import unilab_envs  # noqa: E402,F401
from unilab_envs.backends import host  # noqa: E402

from .conftest import WARP_DEVICE  # noqa: E402


def make(n=4, env_id="AllegroInhandRotation-v0", **kw):
    return gym.make_vec(env_id, num_envs=n, sim="mjwarp", sim_device=WARP_DEVICE, **kw)


def leaves(x):
    """The arrays of an observation (array or dict), in key order."""
    return [x[k] for k in sorted(x)] if isinstance(x, dict) else [x]


def test_torch_and_numpy_task_layers_agree_from_the_same_starts():
    """Same physics (Warp's CPU device), same starts, same actions: the float32 torch layer matches the float64
    numpy one in observations, reward terms, flags and rotation speed."""
    kw = dict(obs_mode="hora", stagger_episodes=False, domain_rand={"enabled": False})
    envs = {a: make(4, arrays=a, **kw) for a in ("numpy", "torch")}
    try:
        envs["numpy"].reset(seed=3)
        starts = envs["numpy"].episode_starts()
        envs["torch"].reset(seed=3, options={"episode_starts": starts})
        rng = np.random.default_rng(0)
        for _ in range(10):  # 0.5 s of small random moves: no episode ends (a reset would draw differently)
            action = rng.uniform(-0.3, 0.3, (4, 16)).astype(np.float32)
            out = {a: env.step(action if a == "numpy" else torch.as_tensor(action)) for a, env in envs.items()}
            (o_np, r_np, te_np, tr_np, i_np), (o_t, r_t, te_t, tr_t, i_t) = out["numpy"], out["torch"]
            for a, b in zip(leaves(o_np), leaves(o_t), strict=True):
                assert isinstance(b, torch.Tensor) and b.dtype == torch.float32
                np.testing.assert_allclose(host(b), a, atol=2e-5)
            np.testing.assert_allclose(host(r_t), r_np, rtol=1e-4, atol=1e-6)
            for name, term in i_np["reward_terms"].items():
                np.testing.assert_allclose(host(i_t["reward_terms"][name]), term, rtol=1e-4, atol=1e-6, err_msg=name)
            np.testing.assert_allclose(host(i_t["rotation_speed"]), i_np["rotation_speed"], atol=1e-4)
            assert (host(te_t) == te_np).all() and (host(tr_t) == tr_np).all() and not te_np.any()
    finally:
        for env in envs.values():
            env.close()


@pytest.mark.parametrize("mode", ["same_step", "next_step"])
def test_device_episodes_reset_and_report_in_tensors(mode):
    """Full randomisation and pushes, short episodes: every output is a tensor on the physics device, the reward
    is the sum of its terms, and finished episodes come back in ``final_info`` (and ``final_obs``) tensors."""
    env = make(4, env_id="SharpaInhandRotation-v0", autoreset_mode=mode, episode_length=4, obs_mode="privileged",
               domain_rand={"external_force": True, "force_prob": 0.5, "tactile_latency": 0.2})
    try:
        obs, _ = env.reset(seed=1)
        device = env.backend.torch_device
        ended, final_seen = 0, False
        for _ in range(10):
            action = 2 * torch.rand(4, env.single_action_space.shape[0]) - 1
            obs, reward, terminated, truncated, info = env.step(action)
            for x in (*leaves(obs), reward, terminated, truncated, info["rotation_speed"]):
                assert isinstance(x, torch.Tensor) and x.device == device
            torch.testing.assert_close(reward, sum(info["reward_terms"].values()).float())
            if "final_info" in info:
                mask = info["_final_info"]
                assert isinstance(mask, torch.Tensor) and mask.dtype == torch.bool
                lengths = info["final_info"]["episode_length"][mask]
                assert ((lengths >= 1) & (lengths <= 4)).all()
                ended += int(mask.sum())
                if mode == "same_step":
                    final_seen = True
                    assert (info["_final_obs"] == mask).all()
                    assert isinstance(info["final_obs"]["state"], torch.Tensor)
        assert ended >= 4 and (final_seen or mode == "next_step")
    finally:
        env.close()


def test_device_runs_are_reproducible_per_seed():
    runs = []
    for _ in range(2):
        env = make(3, domain_rand={"joint_noise": True, "external_force": True})
        try:
            obs, _ = env.reset(seed=11)
            trace = [obs]
            for _ in range(4):
                trace.append(env.step(torch.full((3, 16), 0.3, device=env.backend.torch_device))[0])
            runs.append(torch.stack(trace))
        finally:
            env.close()
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_arrays_choice_is_checked():
    with pytest.raises(ValueError, match="arrays='torch' on sim='mujoco'.*NumpyToTorch"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, arrays="torch")
    with pytest.raises(ValueError, match="arrays='cuda'; choose 'auto'"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, arrays="cuda")
    single = gym.make("AllegroInhandRotation-v0", sim="mjwarp", sim_device=WARP_DEVICE)  # a plain Env: numpy
    try:
        obs, _ = single.reset(seed=0)
        assert isinstance(obs, np.ndarray) and single.observation_space.contains(obs)
    finally:
        single.close()
    with pytest.raises(ValueError, match="one-env numpy view"):
        gym.make("AllegroInhandRotation-v0", sim="mjwarp", sim_device=WARP_DEVICE, arrays="torch")


def test_rsl_rl_adapter_passes_device_tensors_through():
    pytest.importorskip("rsl_rl")
    from unilab_envs.wrappers.rsl_rl import RslRlVecEnv

    env = make(4, autoreset_mode="same_step", episode_length=3, stagger_episodes=False)
    venv = RslRlVecEnv(env, device=str(env.backend.torch_device), seed=0)
    try:
        calls = []
        step = env.step
        env.step = lambda a: calls.append(a) or step(a)  # what reaches the env
        logged = {}
        for _ in range(4):
            obs, reward, dones, extras = venv.step(torch.zeros(4, 16, device=env.backend.torch_device))
            logged |= extras["log"]
        assert all(isinstance(a, torch.Tensor) for a in calls)  # no trip through numpy
        assert obs["policy"].shape == (4, env.single_observation_space.shape[0]) and reward.dtype == torch.float32
        assert "/episode/rotation_speed" in logged and isinstance(logged["/episode/rotation_speed"], torch.Tensor)
    finally:
        venv.close()


def test_a_lost_world_ends_its_episode_on_the_device():
    from unilab_envs.tasks.end_causes import NAMES

    env = make(3, autoreset_mode="same_step", domain_rand={"enabled": False})
    try:
        env.reset(seed=0)
        env.pushes.force[0] = 1e38  # held (pushes are off): world 0's state goes non-finite
        obs, reward, terminated, _, info = env.step(torch.zeros(3, 16, device=env.backend.torch_device))
        assert terminated.tolist() == [True, False, False] and env.nonfinite_episodes == 1
        assert NAMES[int(info["final_info"]["end_cause"][0])] == "nonfinite"
        assert torch.isfinite(obs).all() and torch.isfinite(reward).all()
        assert torch.isfinite(info["final_obs"]).all()
    finally:
        env.close()


def test_numpy_adapters_refuse_device_tensors_with_the_fix():
    from unilab_envs.wrappers.sb3 import SB3VecEnv

    env = make(2, autoreset_mode="same_step")
    try:
        with pytest.raises(ValueError, match="SB3 takes host numpy arrays.*arrays='numpy'"):
            SB3VecEnv(env)
    finally:
        env.close()
