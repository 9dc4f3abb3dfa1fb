"""PPO on Stable-Baselines3: build, train (with resume), checkpoint, load.

Stable-Baselines3 does the learning; this module wires our vector env, configs, run folder and
metrics into it. One iteration = one rollout of ``algo.n_steps`` steps of every env + one PPO update.
"""
from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure

from unilab_envs.wrappers.sb3 import SB3VecEnv

from . import config as config_mod
from . import curriculum, runs
from .device import resolve_device
from .ppo_model import AdaptivePPO, HoraFeatures, HoraPPOActor, LatentNoise, PPOActor, policy_kwargs
from .progress import TrainProgress

CHECKPOINT_DIR = "checkpoints"
_CKPT = re.compile(r"model_(\d+)\.zip$")
_PPO_KEYS = ("n_steps", "batch_size", "n_epochs", "gamma", "gae_lambda", "clip_range", "ent_coef", "vf_coef",
             "max_grad_norm")


def list_checkpoints(run_dir: Path) -> list[Path]:
    """``checkpoints/model_<iteration>.zip``, oldest first."""
    return runs.numbered_checkpoints(run_dir, _CKPT, CHECKPOINT_DIR)


def checkpoint_iteration(path: Path) -> int:
    return int(_CKPT.search(Path(path).name).group(1))


def save_checkpoint(model: AdaptivePPO, path: Path) -> Path:
    """Atomic: a crash mid-write leaves the previous checkpoint intact and no partial file."""
    buf = io.BytesIO()
    model.save(buf)
    runs.atomic_write_bytes(path, buf.getvalue())
    return path


def load_model(path: Path, env=None, device: str = "cpu") -> AdaptivePPO:
    try:
        return AdaptivePPO.load(path, env=env, device=device)
    except Exception as e:
        raise runs.CheckpointError(f"cannot load PPO checkpoint {path}: {type(e).__name__}: {e}. The file is "
                                   f"corrupt or not an SB3 PPO checkpoint of this project; pick another with "
                                   f"--checkpoint") from e


class RunCallback(BaseCallback):
    """Per iteration: TensorBoard metrics, progress bar, periodic checkpoints."""

    def __init__(self, cfg: DictConfig, run_dir: Path, steps_per_iter: int):
        super().__init__()
        self.cfg, self.run_dir, self.steps_per_iter = cfg, run_dir, steps_per_iter
        self.progress: TrainProgress | None = None
        self.last_ckpt: Path | None = None
        self.curriculum: dict[str, float] = {}

    @property
    def iteration(self) -> int:
        return self.model.num_timesteps // self.steps_per_iter

    def _on_training_start(self) -> None:
        self.progress = TrainProgress(self.cfg.training.max_iterations, self.iteration,
                                      enabled=self.cfg.training.progress_bar)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_start(self) -> None:
        self.curriculum = curriculum.drive(self.training_env.env, self.model.num_timesteps)

    def _on_rollout_end(self) -> None:
        # Called before the update of this rollout; the iteration counter counts finished rollouts.
        env: SB3VecEnv = self.training_env
        episodes, terms = env.drain()
        stats = self.progress.record(self.model.num_timesteps, episodes)
        for name, value in terms.items():
            self.logger.record(f"reward_terms/{name}", value)
        for name, value in (stats | self.curriculum).items():
            self.logger.record(name, value)

    def after_update(self) -> None:
        it = self.iteration
        self.progress.advance(it)
        every = self.cfg.training.checkpoint_interval
        if every > 0 and it % every == 0:
            self.save(it)

    def save(self, it: int) -> Path:
        self.last_ckpt = save_checkpoint(self.model, self.run_dir / CHECKPOINT_DIR / f"model_{it}.zip")
        runs.prune(list_checkpoints(self.run_dir)[:-1], self.cfg.training.keep_checkpoints - 1)
        return self.last_ckpt

    def _on_training_end(self) -> None:
        self.progress.close()


def init_checkpoint(source: str) -> Path:
    """``training.init_from``: a checkpoint file, or a run folder (its newest checkpoint)."""
    path = Path(source)
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise config_mod.ConfigError(f"training.init_from={source!r}: that run folder has no checkpoint; "
                                         f"pass a run that wrote one, or a checkpoint file (model_<iteration>.zip)")
        return found[-1]
    if not path.is_file():
        raise config_mod.ConfigError(f"training.init_from={source!r}: no such checkpoint file or run folder; pass "
                                     f"a PPO run folder or one of its checkpoints/model_<iteration>.zip")
    return path


def init_weights(model: AdaptivePPO, source: str) -> Path:
    """Start ``model`` from another run's policy: its weights, action std and observation statistics. Steps,
    optimizer state and learning rate start afresh (fine-tuning, not ``--resume``). The networks must match:
    the same profile and sizes (``model.priv_fields`` may differ, it is a mask, not a weight)."""
    path = init_checkpoint(source)
    state = load_model(path, device=model.device).policy.state_dict()
    try:
        model.policy.load_state_dict(state)
    except RuntimeError as e:
        raise config_mod.ConfigError(f"training.init_from={source!r}: its network does not fit this run's "
                                     f"(another --profile, algo.net_arch or model.priv_mlp?): {e}") from e
    return path


def latent_noise(cfg: DictConfig) -> float:
    """``model.latent_noise`` of a HORA teacher (0 for a plain run)."""
    return float(cfg.model.get("latent_noise", 0.0)) if config_mod.is_hora(cfg) else 0.0


def validate(cfg: DictConfig) -> None:
    """What this trainer cannot take, found before a run folder is made."""
    algo, tr = cfg.algo, cfg.training
    config_mod.require_obs_mode(cfg, "ppo")
    if tr.get("init_from"):
        init_checkpoint(str(tr.init_from))
    if latent_noise(cfg) < 0:
        raise config_mod.ConfigError(f"model.latent_noise={latent_noise(cfg)}: it is the std of the noise on z; "
                                     f"use 0 (none, HORA's) or a positive value such as 0.3")
    steps_per_iter = algo.n_steps * tr.num_envs
    if algo.batch_size > steps_per_iter:
        raise config_mod.ConfigError(
            f"algo.batch_size={algo.batch_size} exceeds one rollout ({algo.n_steps} x {tr.num_envs} envs = "
            f"{steps_per_iter} steps); lower it or raise algo.n_steps / training.num_envs")


def train(cfg: DictConfig, run_dir: Path, resume: bool) -> dict:
    algo, tr = cfg.algo, cfg.training
    validate(cfg)
    device = resolve_device(tr.device)
    hora, noise = config_mod.is_hora(cfg), latent_noise(cfg)
    venv = SB3VecEnv(config_mod.make_env(cfg, tr.num_envs))
    if noise > 0:
        venv = LatentNoise(venv, int(cfg.model.priv_mlp[-1]), noise, seed=tr.seed)
    steps_per_iter = algo.n_steps * tr.num_envs
    if resume:
        found = list_checkpoints(run_dir)
        if not found:
            raise runs.RunNotFound(f"--resume: run {run_dir} has no checkpoint to resume from")
        model = load_model(found[-1], env=venv, device=device)
        model.set_random_seed(tr.seed + model.num_timesteps)
        runs.purge_logs_after(run_dir, model.num_timesteps)
    else:
        model = AdaptivePPO("MultiInputPolicy" if hora else "MlpPolicy", venv, learning_rate=float(algo.learning_rate),
                            seed=tr.seed, device=device, adaptive_lr=bool(algo.adaptive_lr),
                            desired_kl=float(algo.desired_kl),
                            policy_kwargs=policy_kwargs(algo, cfg.model if hora else None), verbose=0,
                            **{k: algo[k] for k in _PPO_KEYS})
        if tr.get("init_from"):
            print(f"initial weights: {init_weights(model, str(tr.init_from))}")
    model.set_logger(configure(str(run_dir), ["tensorboard", "csv"]))
    callback = RunCallback(cfg, run_dir, steps_per_iter)
    callback.init_callback(model)  # SB3 does it in learn(), which a run with nothing left to learn never calls
    model.post_update = callback.after_update  # checkpoint right after each update
    target = tr.max_iterations * steps_per_iter
    start_steps, t0 = model.num_timesteps, time.time()
    try:
        if target > model.num_timesteps:
            model.learn(total_timesteps=target - model.num_timesteps, callback=callback,
                        reset_num_timesteps=False, log_interval=1, progress_bar=False)
        if callback.last_ckpt is None or checkpoint_iteration(callback.last_ckpt) != callback.iteration:
            callback.save(callback.iteration)  # the final state, unless the last periodic save was it
        last = callback.last_ckpt
    finally:
        venv.close()
    seconds = time.time() - t0
    summary = {"iterations": callback.iteration, "env_steps": model.num_timesteps,
               "wall_seconds": round(seconds, 1),
               "env_steps_per_second": round((model.num_timesteps - start_steps) / max(seconds, 1e-9), 1),
               "checkpoint": str(last), "learning_rate": float(model.learning_rate)}
    if callback.progress is not None:
        summary |= callback.progress.latest
    return summary


def load_actor(run_dir: Path, checkpoint: Path) -> tuple[torch.nn.Module, dict]:
    """The deterministic actor of a checkpoint (``HoraPPOActor`` for a HORA teacher), and a reference
    ``predict`` for the export parity check."""
    model = load_model(checkpoint, device="cpu")
    hora = isinstance(model.policy.features_extractor, HoraFeatures)
    runs.check_checkpoint_kind(run_dir, checkpoint, hora)
    if hora:
        actor = HoraPPOActor(model.policy).eval()
        space = model.observation_space
        obs_dim = {k: tuple(space[k].shape) for k in actor.input_keys}
    else:
        actor = PPOActor(model.policy).eval()
        obs_dim = int(np.prod(model.observation_space.shape))

    def reference(obs) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    return actor, {"reference": reference, "obs_dim": obs_dim,
                   "iteration": checkpoint_iteration(checkpoint) if _CKPT.search(Path(checkpoint).name) else None}
