"""APPO on Sample Factory behind the trainers' interface (``train``, ``list_checkpoints``,
``checkpoint_iteration``, ``load_actor``); the Sample Factory specifics live in ``sf_appo.py`` / ``sf_env.py``.

Config: ``algo.hparams`` holds Sample Factory argument names (checked against SF's parser; defaults in
``sf_appo.DEFAULT_HPARAMS``); ``training.max_iterations`` counts training batches of
``batch_size * num_batches_per_epoch`` env steps (one rollout of every env by default).
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import runs
from .sf_appo import (
    checkpoint_iteration,
    list_checkpoints,
    load_sf_actor,
    resolve_hparams,
    run_sample_factory,
)
from .sf_hora import SFHoraTeacher, hora_encoder

__all__ = ["train", "list_checkpoints", "checkpoint_iteration", "load_actor", "steps_per_iteration"]


def _hparams(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg.algo.hparams, resolve=True) if cfg.algo.get("hparams") else {}


def steps_per_iteration(cfg: DictConfig) -> int:
    hp = resolve_hparams(_hparams(cfg), cfg.training.num_envs)
    return hp["batch_size"] * hp["num_batches_per_epoch"]


def validate(cfg: DictConfig) -> dict:
    """What this trainer cannot take, found before a run folder is made; returns the resolved hparams."""
    config_mod.require_obs_mode(cfg, "appo")
    noise = OmegaConf.select(cfg, "model.latent_noise", default=0.0)
    if noise:
        raise config_mod.ConfigError(f"model.latent_noise={noise}: the APPO teacher has no latent noise (only "
                                     f"--algo ppo does); set model.latent_noise=0")
    try:
        return resolve_hparams(_hparams(cfg), cfg.training.num_envs)  # Sample Factory's names and types
    except (KeyError, TypeError, ValueError) as e:
        raise config_mod.ConfigError(f"algo.hparams: {e.args[0]}") from e


def train(cfg: DictConfig, run_dir: Path, resume: bool) -> dict:
    tr = cfg.training
    if resume and not list_checkpoints(run_dir):
        raise runs.RunNotFound(f"--resume: run {run_dir} has no checkpoint to resume from")
    hparams = validate(cfg)
    device = "cpu" if tr.device in ("cpu", "auto") and not torch.cuda.is_available() else tr.device
    # A HORA teacher: SF builds its encoder from the privileged encoder's sizes (and the default one after).
    hora = config_mod.is_hora(cfg)
    model = hora_encoder(cfg.model.priv_mlp, cfg.model.priv_activation, cfg.model.get("priv_fields")) if hora \
        else nullcontext()
    with model:
        summary = run_sample_factory(cfg.task.env_id, config_mod.env_kwargs(cfg), run_dir, num_envs=tr.num_envs,
                                     seed=tr.seed, max_iterations=tr.max_iterations, total_env_steps=None,
                                     device=device, resume=resume, hparams={k: hparams[k] for k in _hparams(cfg)},
                                     progress=bool(tr.progress_bar))
    summary["checkpoint"] = summary.pop("last_checkpoint")
    if summary["checkpoint"] is None:
        raise RuntimeError(f"Sample Factory wrote no checkpoint in {run_dir}; see {run_dir / 'sf_log.txt'}")
    return summary


def load_actor(run_dir: Path, checkpoint: Path) -> tuple[torch.nn.Module, dict]:
    """The deterministic actor of a checkpoint, and SF's own forward pass as the export reference.

    A HORA teacher run (``run.profile: hora`` in its config.yaml) gives an ``SFHoraTeacher``
    (``forward(state, privileged_state)``) with ``obs_dim = {"state": (d,), "privileged_state": (p,)}``, and a
    reference taking a dict of arrays by those names; a plain run gives one ``obs`` vector (``obs_dim`` an int).
    """
    try:
        actor, actor_critic = load_sf_actor(run_dir, checkpoint)
    except runs.CheckpointError:
        raise  # weights of the other kind than the run (runs.check_checkpoint_kind): already says the fix
    except Exception as e:
        raise runs.CheckpointError(f"cannot load APPO checkpoint {checkpoint}: {type(e).__name__}: {e}. The file is "
                                   f"corrupt or not a Sample Factory checkpoint; pick another with --checkpoint") from e
    if isinstance(actor, SFHoraTeacher):
        return actor, {"reference": _hora_reference(actor_critic),
                       "obs_dim": {"state": (actor.state_dim,), "privileged_state": (actor.priv_dim,)}}
    if len(actor.obs_keys) != 1:
        raise NotImplementedError(f"APPO eval/export take one observation vector; this policy has {actor.obs_keys}")
    key = actor.obs_keys[0]

    def reference(obs: np.ndarray) -> np.ndarray:
        """Sample Factory's path: normalize, full actor-critic forward, the distribution's mean."""
        with torch.no_grad():
            x = torch.as_tensor(obs, dtype=torch.float32)
            normalized = actor_critic.normalize_obs({key: x.clone()})
            actor_critic(normalized, torch.zeros(len(x), 1))
            return actor_critic.action_distribution().means.clamp(-1, 1).numpy()

    return actor, {"reference": reference, "obs_dim": int(actor.actor_critic.obs_normalizer.running_mean_std
                                                          .running_mean_std[key].running_mean.numel())}


def _hora_reference(actor_critic: torch.nn.Module):
    """SF's full path for a HORA teacher: ``{"state", "privileged_state"}`` arrays -> the clipped mean."""
    rms = actor_critic.obs_normalizer.running_mean_std
    extra = {k: tuple(m.input_shape) for k, m in (rms.running_mean_std.items() if rms is not None else ())
             if k not in ("state", "privileged_state")}  # proprio_history (obs_mode=hora): unused, but normalized

    def reference(obs: dict) -> np.ndarray:
        with torch.no_grad():
            x = {k: torch.as_tensor(obs[k], dtype=torch.float32) for k in ("state", "privileged_state")}
            n = len(x["state"])
            x |= {k: torch.zeros(n, *shape) for k, shape in extra.items()}
            actor_critic(actor_critic.normalize_obs(x), torch.zeros(n, 1))
            return actor_critic.action_distribution().means.clamp(-1, 1).numpy()

    return reference
