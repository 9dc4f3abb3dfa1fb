"""The native envs from the RL libraries of the field, through unilab_envs.wrappers: a short real training each."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

SAME_STEP = {"autoreset_mode": "same_step", "episode_length": 30, "num_threads": 1}


def _params(module) -> np.ndarray:
    return np.concatenate([p.detach().cpu().numpy().ravel() for p in module.parameters()])


def test_stable_baselines3_ppo_learns_on_the_native_env(make_vec):
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from unilab_envs.wrappers.sb3 import SB3VecEnv

    venv = SB3VecEnv(make_vec(num_envs=8, **SAME_STEP))
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=64, n_epochs=1, policy_kwargs={"net_arch": [32, 32]},
                seed=0, device="cpu")
    before = _params(model.policy)
    model.learn(total_timesteps=256)  # 2 rollouts and updates
    assert model.num_timesteps == 256 and not np.allclose(before, _params(model.policy))
    with pytest.raises(ValueError, match="autoreset_mode='same_step'"):
        SB3VecEnv(make_vec(num_envs=2))
    with pytest.raises(TypeError, match="gym.make_vec"):
        SB3VecEnv(gym.make("AllegroInhandRotation-v0"))


RSL_RL_CFG = {
    "num_steps_per_env": 8, "save_interval": 100, "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
    "algorithm": {"class_name": "PPO", "num_learning_epochs": 1, "num_mini_batches": 2, "learning_rate": 1e-3,
                  "schedule": "adaptive", "desired_kl": 0.01, "entropy_coef": 0.0},
    "actor": {"class_name": "MLPModel", "hidden_dims": [32, 32], "activation": "elu", "obs_normalization": True,
              "distribution_cfg": {"class_name": "GaussianDistribution", "init_std": 0.5}},
    "critic": {"class_name": "MLPModel", "hidden_dims": [32, 32], "activation": "elu", "obs_normalization": True},
}


@pytest.mark.parametrize("obs_mode", ["state", "privileged"])
def test_rsl_rl_on_policy_runner_learns_on_the_native_env(make_vec, tmp_path, obs_mode):
    pytest.importorskip("rsl_rl")
    import copy

    from rsl_rl.runners import OnPolicyRunner

    from unilab_envs.wrappers.rsl_rl import RslRlVecEnv

    env = RslRlVecEnv(make_vec(num_envs=8, obs_mode=obs_mode, **SAME_STEP), seed=0)
    cfg = copy.deepcopy(RSL_RL_CFG)
    if obs_mode == "privileged":  # asymmetric actor-critic: the critic also sees the privileged facts
        cfg["obs_groups"] = {"actor": ["state"], "critic": ["state", "privileged_state"]}
    assert set(env.get_observations().keys()) == ({"policy"} if obs_mode == "state" else
                                                   {"state", "privileged_state"})
    runner = OnPolicyRunner(env, cfg, log_dir=str(tmp_path), device="cpu")
    before = _params(runner.alg.actor)
    runner.learn(num_learning_iterations=5)  # 5 x 8 steps x 8 envs: episodes of 30 steps end and reset
    assert runner.current_learning_iteration == 4 and not np.allclose(before, _params(runner.alg.actor))
    obs, reward, dones, extras = env.step(__import__("torch").zeros(8, 16))
    assert reward.shape == (8,) and dones.shape == (8,) and extras["time_outs"].shape == (8,)
    with pytest.raises(ValueError, match="autoreset_mode='same_step'"):
        RslRlVecEnv(make_vec(num_envs=2))


def test_rsl_rl_adapter_logs_the_finished_episodes(make_vec):
    pytest.importorskip("rsl_rl")
    import torch

    from unilab_envs.wrappers.rsl_rl import RslRlVecEnv

    env = RslRlVecEnv(make_vec(num_envs=4, stagger_episodes=False, domain_rand={"enabled": False}, **SAME_STEP),
                      seed=0)
    for _ in range(29):
        env.step(torch.zeros(4, 16))
    _, _, dones, extras = env.step(torch.zeros(4, 16))
    assert dones.all() and extras["time_outs"].all() and (env.episode_length_buf == 0).all()
    assert extras["log"]["/episode/episode_length"] == 30 and np.isfinite(extras["log"]["/episode/rotation_speed"])


def test_skrl_ppo_learns_on_the_native_env(make_vec):
    pytest.importorskip("skrl")
    import torch
    from skrl.agents.torch.ppo import PPO, PPO_CFG
    from skrl.memories.torch import RandomMemory
    from skrl.models.torch import DeterministicMixin, GaussianMixin, Model
    from skrl.trainers.torch import SequentialTrainer

    from unilab_envs.wrappers.skrl import skrl_env

    class Policy(GaussianMixin, Model):
        def __init__(self, observation_space, action_space, device):
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            GaussianMixin.__init__(self, clip_actions=True)
            self.net = torch.nn.Sequential(torch.nn.Linear(self.num_observations, 32), torch.nn.ELU(),
                                           torch.nn.Linear(32, self.num_actions))
            self.log_std = torch.nn.Parameter(torch.full((self.num_actions,), -1.0))

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {"log_std": self.log_std}

    class Value(DeterministicMixin, Model):
        def __init__(self, observation_space, action_space, device):
            Model.__init__(self, observation_space=observation_space, action_space=action_space, device=device)
            DeterministicMixin.__init__(self)
            self.net = torch.nn.Sequential(torch.nn.Linear(self.num_observations, 32), torch.nn.ELU(),
                                           torch.nn.Linear(32, 1))

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {}

    env = skrl_env(make_vec(num_envs=8, **SAME_STEP))
    models = {"policy": Policy(env.observation_space, env.action_space, "cpu"),
              "value": Value(env.observation_space, env.action_space, "cpu")}
    cfg = PPO_CFG(rollouts=8, learning_epochs=1, mini_batches=2)
    agent = PPO(models=models, memory=RandomMemory(memory_size=8, num_envs=env.num_envs, device="cpu"),
                observation_space=env.observation_space, action_space=env.action_space, device="cpu", cfg=cfg)
    before = _params(models["policy"])
    SequentialTrainer(env=env, agents=agent, cfg={"timesteps": 40, "headless": True,
                                                  "disable_progressbar": True}).train()
    assert not np.allclose(before, _params(models["policy"]))
    with pytest.raises(ValueError, match="autoreset_mode='same_step'"):
        skrl_env(make_vec(num_envs=2))
    import logging

    from skrl import logger
    logger.setLevel(logging.WARNING)  # its "Environment closed" at teardown would write to pytest's closed capture


def _cleanrl_episodes(infos) -> list[tuple[float, int]]:
    """What CleanRL's gymnasium-1.x ``ppo_continuous_action.py`` reads from a step's infos, as it reads it."""
    if "final_info" not in infos:
        return []
    over = np.nonzero(infos["final_info"]["_episode"])[0]
    return list(zip(infos["final_info"]["episode"]["r"][over], infos["final_info"]["episode"]["l"][over],
                    strict=True))


def test_cleanrl_style_loop_on_the_native_env_logs_every_episode(make_vec):
    """CleanRL's env setup replaced by the native batched env (its one-line change): episodes are logged."""
    envs = make_vec(num_envs=4, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, episode_length=10,
                    stagger_episodes=False)
    envs.reset(seed=1)
    logged = []
    for _ in range(20):
        _, _, _, _, infos = envs.step(envs.action_space.sample())
        logged += _cleanrl_episodes(infos)
        if "final_info" in infos:  # the same numbers as the env's own statistics
            m = infos["_final_info"]
            np.testing.assert_allclose(infos["final_info"]["episode"]["r"][m], infos["final_info"]["episode_return"][m])
    assert len(logged) >= 8 and all(np.isfinite(r) and 1 <= n <= 10 for r, n in logged)


def test_cleanrl_unmodified_setup_with_the_module_prefixed_id(cache_dir):
    """CleanRL's own env setup (per-env Gymnasium wrappers in a SyncVectorEnv, SAME_STEP) with
    --env-id unilab_envs:AllegroInhandRotation-v0: it runs and logs episodes through RecordEpisodeStatistics."""
    def make_env():
        env = gym.make("unilab_envs:AllegroInhandRotation-v0", episode_length=8)
        env = gym.wrappers.FlattenObservation(env)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        env = gym.wrappers.ClipAction(env)
        env = gym.wrappers.NormalizeObservation(env)
        env = gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), env.observation_space)
        env = gym.wrappers.NormalizeReward(env, gamma=0.99)
        return gym.wrappers.TransformReward(env, lambda reward: np.clip(reward, -10, 10))

    envs = gym.vector.SyncVectorEnv([make_env for _ in range(2)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    envs.reset(seed=1)
    logged = []
    for _ in range(10):
        _, _, _, _, infos = envs.step(envs.action_space.sample())
        logged += _cleanrl_episodes(infos)
    envs.close()
    assert len(logged) >= 2 and all(n <= 8 for _, n in logged)
