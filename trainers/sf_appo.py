"""Sample Factory 2.1.1 APPO on a unilab batched env, seen by SF as one multi-agent env (``sf_env.py``).

SF writes everything under ``run_dir`` (``train_dir=run_dir.parent``, ``experiment=run_dir.name``):
``config.json`` (SF's full config), ``sf_log.txt``, TensorBoard events in ``.summary/0/``, and checkpoints
``checkpoint_p0/checkpoint_{train_step:09d}_{env_steps}.pth`` (the newest ``keep_checkpoints`` are kept;
``best_*.pth`` beside them once ``save_best_after`` env steps have passed). SF saves each checkpoint to
``checkpoint_p0/checkpoint_temp`` and then ``os.rename``s it (atomic on POSIX, though not fsync'ed).

Words: a *training iteration* consumes one training batch of ``batch_size * num_batches_per_epoch`` env
steps (one rollout of every env with the default ``batch_size``) and makes ``num_epochs *
num_batches_per_epoch`` SGD steps; SF's ``train_step`` (the *policy version*) counts SGD steps.
"""
from __future__ import annotations

import difflib
import json
import logging
import re
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from . import runs
from .sf_env import register_unilab_env
from .sf_hora import SFHoraTeacher, hora_encoder

log = logging.getLogger(__name__)

#: Defaults for a 2-core CPU machine; ``train(hparams=...)`` overrides them (keys are SF argument names).
DEFAULT_HPARAMS: dict = {
    # Execution: all in this process, one torch thread (train() sets it). 64 envs, 2 cores shared with other jobs,
    # env steps/s end to end, serial vs async_rl (parallel mode): 40 iterations under heavy load 973 vs 760;
    # 60 iterations on a quieter machine 1453 vs 1507 (steady ~1700 vs ~2050, but async adds policy lag and
    # starts slower). 2 torch threads in serial mode collapsed to 134/s under load.
    "serial_mode": True, "async_rl": False,
    # PPO batch (HORA: 4 minibatches x 5 epochs per rollout). batch_size is SF's minibatch size; None means
    # num_envs * rollout // num_batches_per_epoch, so that every training iteration uses exactly one rollout.
    "rollout": 16, "batch_size": None, "num_batches_per_epoch": 4, "num_epochs": 5,
    "learning_rate": 3e-4, "lr_schedule": "kl_adaptive_epoch", "lr_schedule_kl_threshold": 0.016,
    "gamma": 0.99, "gae_lambda": 0.95, "ppo_clip_ratio": 0.2, "value_loss_coeff": 2.0,
    "exploration_loss_coeff": 0.0, "max_grad_norm": 1.0,
    "value_bootstrap": True,  # bootstrap the value of truncated (time-limit) episodes
    "normalize_input": True, "normalize_returns": True,
    # Model: HORA's MLP; state-independent learned stddev, no RNN, actor and critic share the trunk.
    "encoder_mlp_layers": [512, 256, 128], "nonlinearity": "elu", "use_rnn": False,
    "adaptive_stddev": False, "initial_stddev": 1.0, "policy_initialization": "torch_default",
    # Bookkeeping.
    "save_every_sec": 120, "keep_checkpoints": 3, "experiment_summaries_interval": 10,
}

#: Set by ``train()`` itself (its arguments or the one-batched-env layout); hparams may not change them.
_FIXED = ("algo", "env", "experiment", "train_dir", "seed", "device", "restart_behavior", "train_for_env_steps",
          "batched_sampling", "num_workers", "num_envs_per_worker", "worker_num_splits", "env_frameskip",
          "env_gpu_observations", "with_wandb", "use_env_info_cache")
_SF_ARTEFACTS = ("checkpoint_p0", ".summary", "config.json", "sf_log.txt")
_CKPT = re.compile(r"checkpoint_(\d+)_(\d+)\.pth")


def _sf_arg_names() -> set[str]:
    from sample_factory.cfg.arguments import parse_sf_args

    return set(vars(parse_sf_args(argv=["--env=x", "--experiment=x"], evaluation=False)[1]))


def resolve_hparams(hparams: dict, num_envs: int) -> dict:
    """``DEFAULT_HPARAMS`` updated by ``hparams``; unknown or train()-owned keys raise, naming the key."""
    known = _sf_arg_names()
    for key in hparams:
        if key in _FIXED:
            raise ValueError(f"hparam {key!r} is set by trainers.appo.train itself (its arguments or the "
                             f"batched-env layout); remove it from hparams")
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=3)
            raise KeyError(f"unknown Sample Factory hparam {key!r}" + (f"; did you mean {close}?" if close else ""))
    hp = {**DEFAULT_HPARAMS, **hparams}
    if hp["batch_size"] is None:
        hp["batch_size"] = max(1, num_envs * hp["rollout"] // hp["num_batches_per_epoch"])
    return hp


def _to_argv(args: dict) -> list[str]:
    argv = []
    for key, value in args.items():
        if value is None:
            continue  # keep SF's default
        if isinstance(value, (list, tuple)):
            argv += [f"--{key}", *map(str, value)]
        else:
            argv.append(f"--{key}={value}")
    return argv


def _progress(checkpoint: Path | None) -> tuple[int, int]:
    """(train_step, env_steps) from a checkpoint's name; (0, 0) for none."""
    m = _CKPT.fullmatch(checkpoint.name) if checkpoint is not None else None
    return (int(m[1]), int(m[2])) if m else (0, 0)


def list_checkpoints(run_dir: Path) -> list[Path]:
    """SF's regular checkpoints of policy 0 in ``run_dir``, oldest -> newest (not ``best_*``/milestones)."""
    found = [(_progress(p), p) for p in (Path(run_dir) / "checkpoint_p0").glob("checkpoint_*.pth")
             if _CKPT.fullmatch(p.name)]
    return [p for _, p in sorted(found)]


def checkpoint_iteration(checkpoint: Path) -> int:
    """Training iterations done at ``checkpoint``: its env steps / the run's env steps per iteration."""
    cfg = json.loads((Path(checkpoint).parent.parent / "config.json").read_text())
    return _progress(Path(checkpoint))[1] // (cfg["batch_size"] * cfg["num_batches_per_epoch"])


def run_sample_factory(env_id: str, env_kwargs: dict, run_dir: Path, *, num_envs: int, seed: int,
                       max_iterations: int | None, total_env_steps: int | None, device: str, resume: bool,
                       hparams: dict, progress: bool = True) -> dict:
    """Train APPO; SF writes everything under run_dir (train_dir=run_dir.parent, experiment=run_dir.name):
    checkpoints, config.json, TensorBoard events. resume=True continues env steps and optimizer state from the
    latest checkpoint in run_dir. Returns a summary dict (env_steps, iterations/policy versions, wall seconds,
    env steps per second, last checkpoint path).

    ``max_iterations`` and ``total_env_steps`` are totals over the run, resumed parts included (the smaller
    bound wins when both are given; env steps are rounded up to whole iterations). Without ``resume``, SF's own
    files in run_dir (checkpoints, events, config.json, sf_log.txt) are deleted first and other files are left
    alone (SF's ``overwrite`` would delete the whole folder, so SF always runs with ``restart_behavior=resume``).
    """
    from sample_factory.algo.utils.misc import ExperimentStatus
    from sample_factory.cfg.arguments import parse_full_cfg, parse_sf_args
    from sample_factory.train import make_runner

    if "num_envs" in env_kwargs and env_kwargs["num_envs"] != num_envs:
        raise ValueError(f"env_kwargs['num_envs']={env_kwargs['num_envs']} differs from num_envs={num_envs}")
    hp = resolve_hparams(hparams, num_envs)
    per_iteration = hp["batch_size"] * hp["num_batches_per_epoch"]
    bounds = [] if total_env_steps is None else [total_env_steps]
    if max_iterations is not None:
        bounds.append(max_iterations * per_iteration)
    if not bounds:
        raise ValueError("give max_iterations or total_env_steps")
    target = min(bounds)

    run_dir = Path(run_dir).resolve()
    if not resume:
        for name in _SF_ARTEFACTS:
            path = run_dir / name
            if path.exists():
                log.warning("resume=False: deleting %s", path)
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
    for stale in (run_dir / "checkpoint_p0").glob("*_temp"):  # a save cut short; SF would load it as the newest
        log.warning("deleting the unfinished checkpoint %s", stale)
        stale.unlink()
    _, start_env_steps = _progress((list_checkpoints(run_dir) or [None])[-1])
    summary = dict(env_steps_per_iteration=per_iteration, target_env_steps=target, start_env_steps=start_env_steps)
    if start_env_steps >= target:
        log.warning("run_dir already holds %d env steps >= the target %d; nothing to train", start_env_steps, target)
        return _summary(run_dir, summary, 0.0, "already_done")

    run_dir.mkdir(parents=True, exist_ok=True)
    sf_env = register_unilab_env(env_id, {**env_kwargs, "num_envs": num_envs}, start_env_steps=start_env_steps)
    fixed = dict(algo="APPO", env=sf_env, experiment=run_dir.name, train_dir=str(run_dir.parent), seed=seed,
                 device="cpu" if device == "cpu" else "gpu", restart_behavior="resume",
                 # SF stops once env_steps > train_for_env_steps, checked after each iteration against the env
                 # steps of the iteration before (the learner reports them after it signals the iteration's end).
                 train_for_env_steps=target - per_iteration - 1,
                 batched_sampling=True, num_workers=1, num_envs_per_worker=1, worker_num_splits=1,
                 env_frameskip=1, env_gpu_observations=False, with_wandb=False, use_env_info_cache=False)
    argv = _to_argv({**hp, **fixed})
    parser, _ = parse_sf_args(argv=argv, evaluation=False)
    cfg = parse_full_cfg(parser, argv)
    threads = torch.get_num_threads()
    if cfg.serial_mode:  # one intra-op thread, as SF's own learner/inference processes use in parallel mode
        torch.set_num_threads(1)
    t0 = time.time()
    cfg, runner = make_runner(cfg)
    bar = _ProgressBar(target, start_env_steps, per_iteration, progress)
    runner.register_observer(bar)
    try:
        status = runner.init()
        if status == ExperimentStatus.SUCCESS:
            status = runner.run()
            bar.on_training_step(runner, 0)  # the last iteration ends after the runner's last observer call
    finally:
        torch.set_num_threads(threads)
        bar.close()
    wall = time.time() - t0
    if status not in (ExperimentStatus.SUCCESS, ExperimentStatus.INTERRUPTED):
        raise RuntimeError(f"Sample Factory finished with status {status}; see {run_dir / 'sf_log.txt'}")
    return _summary(run_dir, summary, wall, "success" if status == ExperimentStatus.SUCCESS else "interrupted")


def _summary(run_dir: Path, summary: dict, wall: float, status: str) -> dict:
    last = (list_checkpoints(run_dir) or [None])[-1]
    train_step, env_steps = _progress(last)
    new_steps = env_steps - summary["start_env_steps"]
    return dict(summary, status=status, env_steps=env_steps, env_steps_this_run=new_steps,
                iterations=env_steps // summary["env_steps_per_iteration"], policy_version=train_step,
                wall_seconds=round(wall, 3), env_steps_per_second=round(new_steps / wall, 1) if wall > 0 else None,
                last_checkpoint=str(last) if last else None)


class DeterministicActor(nn.Module):
    """Raw float32 observations -> the action distribution's mean clipped to [-1, 1], with SF's observation
    normalization inside. ``forward(*obs)`` takes one tensor per observation key in ``obs_keys`` order
    (one ``[B, obs_dim]`` tensor for ``obs_mode="state"``)."""

    def __init__(self, actor_critic: nn.Module, obs_keys: list[str], action_dim: int, cfg):
        super().__init__()
        self.actor_critic = actor_critic
        self.obs_keys = obs_keys
        self.action_dim = action_dim
        self.shared = bool(cfg.actor_critic_share_weights)
        self.tanh_scale = float(cfg.continuous_tanh_scale) if not cfg.adaptive_stddev else 0.0

    def forward(self, *obs: torch.Tensor) -> torch.Tensor:
        ac = self.actor_critic
        x = ac.normalize_obs(dict(zip(self.obs_keys, obs, strict=True)))
        x = ac.decoder(ac.encoder(x)) if self.shared else ac.actor_decoder(ac.actor_encoder(x))  # no RNN core
        mean = ac.action_parameterization.distribution_linear(x)[:, :self.action_dim]  # (means, log-stds) if adaptive
        if self.tanh_scale > 0:
            mean = torch.tanh(mean / self.tanh_scale) * self.tanh_scale
        return mean.clamp(-1.0, 1.0)


def load_sf_actor(run_dir: Path, checkpoint: Path | None = None) -> tuple[torch.nn.Module, nn.Module]:
    """A torch.nn.Module mapping raw float32 observations [B, obs_dim] to the deterministic action (the
    distribution mean, clipped to [-1,1]) with SF's observation normalization inside it, on CPU, in eval mode,
    that works with torch.jit.trace / torch.onnx.export (so no dicts-of-tensors in forward; wrap as needed).
    For a HORA teacher run (``run.profile: hora`` in the run's config.yaml) it is an ``SFHoraTeacher``
    (``forward(state, privileged_state)``); weights of the other kind raise ``runs.CheckpointError``."""
    from gymnasium import spaces
    from sample_factory.model.actor_critic import create_actor_critic
    from sample_factory.utils.attr_dict import AttrDict

    run_dir = Path(run_dir)
    cfg = AttrDict(json.loads((run_dir / "config.json").read_text()))
    if cfg.use_rnn:
        raise NotImplementedError("load_actor supports feed-forward policies only (use_rnn=False)")
    if checkpoint is None:
        found = list_checkpoints(run_dir)
        if not found:
            raise FileNotFoundError(f"no checkpoint_*.pth in {run_dir / 'checkpoint_p0'}")
        checkpoint = found[-1]
    state = load_checkpoint_file(checkpoint)["model"]
    hora = _hora_model_cfg(run_dir)  # the run's config.yaml `model` section for a HORA teacher, else None
    runs.check_checkpoint_kind(run_dir, checkpoint, any(".trunk." in key for key in state))  # before building

    # The spaces follow from the weights: input widths of the per-key encoders and normalizers, output width.
    obs_shapes: dict[str, tuple[int, ...]] = {}
    for key, value in state.items():
        if m := re.fullmatch(r"(?:actor_)?encoder\.encoders\.(\w+)\.mlp_head\.0\.weight", key):
            obs_shapes[m[1]] = (value.shape[1],)
        elif m := re.fullmatch(r"obs_normalizer\.running_mean_std\.running_mean_std\.(\w+)\.running_mean", key):
            obs_shapes.setdefault(m[1], tuple(value.shape))
    flat = ("state", "privileged_state") if hora is not None else obs_shapes  # the HORA encoder ignores the rest
    if not obs_shapes or any(len(obs_shapes.get(k, ())) != 1 for k in flat):
        raise NotImplementedError(f"cannot rebuild the observation space from {checkpoint} (flat vectors only"
                                  f"{'; a HORA teacher needs normalize_input=True' if hora is not None else ''})")
    out = state["action_parameterization.distribution_linear.weight"].shape[0]
    action_dim = out // 2 if cfg.adaptive_stddev else out
    obs_space = spaces.Dict({k: spaces.Box(-float("inf"), float("inf"), s) for k, s in obs_shapes.items()})
    action_space = spaces.Box(-1.0, 1.0, (action_dim,))

    # SF wraps its MLPs in torch.jit.script as it builds them; build plain modules (same state-dict keys) instead,
    # so that the actor traces and exports like any nn.Module.
    with mock.patch.object(torch.jit, "script", lambda obj, *args, **kwargs: obj), \
            (hora_encoder(hora.priv_mlp, hora.priv_activation, hora.get("priv_fields")) if hora is not None
             else nullcontext()):
        actor_critic = create_actor_critic(cfg, obs_space, action_space)
    actor_critic.load_state_dict(state)
    if hora is not None:
        actor = SFHoraTeacher(actor_critic, cfg)
    else:
        actor = DeterministicActor(actor_critic, sorted(obs_shapes), action_dim, cfg)
    return actor.eval().requires_grad_(False), actor_critic.eval()


def load_checkpoint_file(checkpoint: Path) -> dict:
    """A Sample Factory checkpoint, read with ``weights_only=True`` (no code runs); SF stores
    ``best_performance`` as a numpy scalar once it has saved a best policy, so numpy's scalar type is
    allowed."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core  # numpy 2 / numpy 1
    safe = [core.multiarray.scalar, np.dtype, *(type(np.dtype(t)) for t in (np.float32, np.float64, np.int64))]
    with torch.serialization.safe_globals(safe):
        return torch.load(checkpoint, map_location="cpu", weights_only=True)


def _hora_model_cfg(run_dir: Path):
    """The ``model`` section of a HORA teacher run's ``config.yaml``; None for a plain run (or no config.yaml)."""
    from . import config as config_mod

    path = Path(run_dir) / runs.CONFIG_FILE
    if not path.is_file():
        return None
    cfg = config_mod.load(path)
    return cfg.model if config_mod.is_hora(cfg) else None


class _ProgressBar:
    """An observer of SF's runner (duck-typed ``AlgoObserver``): a tqdm bar over env steps with ETA."""

    def __init__(self, target: int, start: int, per_iteration: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=target, initial=start, unit="step", unit_scale=True, desc="train",
                        disable=not enabled, mininterval=2.0, dynamic_ncols=True)
        self.per_iteration = per_iteration

    def on_training_step(self, runner, training_iteration_since_resume: int) -> None:
        steps = sum(runner.env_steps.values())
        self.bar.update(max(min(steps, self.bar.total) - self.bar.n, 0))
        self.bar.set_postfix(it=steps // self.per_iteration, refresh=False)

    def on_init(self, runner) -> None: ...
    def on_connect_components(self, runner) -> None: ...
    def on_start(self, runner) -> None: ...
    def extra_summaries(self, runner, policy_id, env_steps, writer) -> None: ...

    def on_stop(self, runner) -> None:
        """SF writes summaries on a timer only; write the final ones too, so short runs have episode stats."""
        try:
            runner._report_experiment_summaries()
            for writer in runner.writers.values():
                writer.flush()
        except Exception as e:  # never fail a finished run over its last summary
            log.warning("could not write the final summaries: %s", e)

    def close(self) -> None:
        self.bar.close()
