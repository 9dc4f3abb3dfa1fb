"""PPO on rsl_rl (``rsl-rl-lib``, the PPO of legged_gym and Isaac Lab): ``--algo rsl_ppo``.

rsl_rl does the learning; its rollout storage, networks and update run on the torch device
(``training.device``), so on a GPU the rollouts stay there. This module wires our vector env (through
``unilab_envs.wrappers.rsl_rl``), configs, run folder, atomic checkpoints, resume, progress bar and
eval/export into its ``OnPolicyRunner``. One iteration = ``algo.num_steps_per_env`` steps of every env +
one PPO update. TensorBoard: rsl_rl's own scalars (``Loss/*``, ``Train/*``, ``Perf/*``, and the adapter's
per-step means ``/episode/<name>``) beside the other trainers' ``episode/*`` and ``perf/*`` scalars.
"""
from __future__ import annotations

import contextlib
import io
import re
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import runs
from .device import resolve_device
from .progress import TrainProgress

CHECKPOINT_DIR = "checkpoints"
_CKPT = re.compile(r"model_(\d+)\.pt$")


def list_checkpoints(run_dir: Path) -> list[Path]:
    """``checkpoints/model_<iterations done>.pt``, oldest first."""
    return runs.numbered_checkpoints(run_dir, _CKPT, CHECKPOINT_DIR)


def checkpoint_iteration(path: Path) -> int:
    return int(_CKPT.search(Path(path).name).group(1))


def runner_config(cfg: DictConfig) -> dict:
    """rsl_rl's ``train_cfg`` from ``algo``: its own key names, so rsl_rl's documentation applies."""
    algo = OmegaConf.to_container(cfg.algo, resolve=True)
    groups = {"actor": ["policy"], "critic": ["policy"]} if cfg.env.obs_mode == "state" else \
        {"actor": ["state"], "critic": ["state", "privileged_state"]}  # asymmetric: only the critic sees the facts
    return {"num_steps_per_env": algo["num_steps_per_env"], "save_interval": max(1, cfg.training.checkpoint_interval),
            "obs_groups": groups, "algorithm": {"class_name": "PPO", **algo["algorithm"]},
            "actor": {"class_name": "MLPModel", **algo["actor"]},
            "critic": {"class_name": "MLPModel", **algo["critic"]},
            "logger": "tensorboard", "check_for_nan": True}


def validate(cfg: DictConfig) -> None:
    try:
        import rsl_rl  # noqa: F401
    except ImportError as e:
        raise config_mod.ConfigError(f"--algo rsl_ppo needs rsl-rl-lib ({e}); install it with "
                                     "pip install -e '.[rsl_rl]'") from e
    if cfg.env.obs_mode not in ("state", "privileged"):
        raise config_mod.ConfigError(f"--algo rsl_ppo takes env.obs_mode=state, or privileged for a critic that also "
                                     f"sees the privileged facts; not {cfg.env.obs_mode!r} (a HORA teacher is "
                                     "--algo ppo --profile hora)")
    per_iter = cfg.algo.num_steps_per_env * cfg.training.num_envs
    if cfg.algo.algorithm.num_mini_batches > per_iter:
        raise config_mod.ConfigError(f"algo.algorithm.num_mini_batches={cfg.algo.algorithm.num_mini_batches} exceeds "
                                     f"one rollout ({per_iter} steps)")


def _runner_class():
    from rsl_rl.runners import OnPolicyRunner

    class Runner(OnPolicyRunner):
        """rsl_rl's runner with this project's checkpoints: atomic, named by iterations done, pruned."""

        run_dir: Path
        keep: int
        last: Path | None = None

        def save(self, path: str, infos: dict | None = None) -> None:
            state = self.alg.save() | {"iter": self.current_learning_iteration, "infos": infos}
            buf = io.BytesIO()
            torch.save(state, buf)
            self.last = self.run_dir / CHECKPOINT_DIR / f"model_{self.current_learning_iteration}.pt"
            runs.atomic_write_bytes(self.last, buf.getvalue())
            runs.prune(list_checkpoints(self.run_dir)[:-1], self.keep - 1)

    return Runner


class _QuietLogger:
    """Wraps rsl_rl's logger: its per-iteration console report goes to the progress bar's postfix instead."""

    def __init__(self, logger, progress: TrainProgress, steps_per_iter: int):
        self._logger, self._progress, self._steps = logger, progress, steps_per_iter

    def __getattr__(self, name):
        return getattr(self._logger, name)

    def log(self, *, it: int, **kwargs) -> None:
        episodes = [{k.rsplit("/", 1)[-1]: float(v) for k, v in ep.items() if k.startswith("/episode/")}
                    for ep in self._logger.ep_extras]
        with contextlib.redirect_stdout(io.StringIO()):
            self._logger.log(it=it, **kwargs)
        # the same episode/* and perf/* scalars as the other trainers (benchmarks/learning_curve.py reads them)
        stats = self._progress.record(it * self._steps, [e for e in episodes if e])
        for name, value in stats.items():  # at env steps, as the other trainers write them (rsl_rl's own: iterations)
            if not name.startswith("end_cause/"):  # rsl_rl's extras hold per-step means, not single episodes
                self._logger.writer.add_scalar(name, value, it * self._steps)
        self._progress.advance(it)


def train(cfg: DictConfig, run_dir: Path, resume: bool) -> dict:
    from unilab_envs.wrappers.rsl_rl import RslRlVecEnv

    validate(cfg)
    tr = cfg.training
    device = resolve_device(tr.device)
    # MuJoCo Warp's tensors stay on their device through the env and the adapter (env.arrays: auto)
    env = RslRlVecEnv(config_mod.make_env(cfg, tr.num_envs, device_arrays=True), device=device, seed=int(tr.seed))
    torch.manual_seed(int(tr.seed))
    Runner = _runner_class()
    with contextlib.redirect_stdout(io.StringIO()):  # rsl_rl prints its networks
        runner = Runner(env, runner_config(cfg), log_dir=str(run_dir), device=device)
    runner.run_dir, runner.keep = run_dir, int(tr.keep_checkpoints)
    done = 0
    if resume:
        found = list_checkpoints(run_dir)
        if not found:
            raise runs.RunNotFound(f"--resume: run {run_dir} has no checkpoint to resume from")
        runner.load(str(found[-1]), map_location=device)
        done = checkpoint_iteration(found[-1])
    steps_per_iter = int(cfg.algo.num_steps_per_env) * int(tr.num_envs)
    progress = TrainProgress(int(tr.max_iterations), done, enabled=bool(tr.progress_bar))
    runner.logger = _QuietLogger(runner.logger, progress, steps_per_iter)
    # Iterations are numbered from 1: rsl_rl's loop index is then the count of iterations done after each one,
    # which names the checkpoints and places the TensorBoard points, and a resumed run continues the count.
    runner.current_learning_iteration = done + 1
    t0 = time.time()
    try:
        if tr.max_iterations > done:
            runner.learn(num_learning_iterations=int(tr.max_iterations) - done)
        else:
            runner.current_learning_iteration = done
    finally:
        progress.close()
        env.close()
    seconds = time.time() - t0
    iterations = max(done, runner.current_learning_iteration)
    return {"iterations": iterations, "env_steps": iterations * steps_per_iter, "wall_seconds": round(seconds, 1),
            "env_steps_per_second": round((iterations - done) * steps_per_iter / max(seconds, 1e-9), 1),
            "checkpoint": str(runner.last or list_checkpoints(run_dir)[-1])} | progress.latest


def load_actor(run_dir: Path, checkpoint: Path) -> tuple[torch.nn.Module, dict]:
    """The deterministic actor of a checkpoint (observation normaliser included) and a reference for export."""
    from tensordict import TensorDict

    cfg = config_mod.load(Path(run_dir) / runs.CONFIG_FILE)
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        actor_state = state["actor_state_dict"]
    except Exception as e:
        raise runs.CheckpointError(f"cannot load rsl_rl checkpoint {checkpoint}: {type(e).__name__}: {e}; pick "
                                   "another with --checkpoint") from e
    train_cfg = runner_config(cfg)
    # the actor's input width is its first layer's; the critic's extra groups never reach the actor
    width = int(actor_state["mlp.0.weight"].shape[1])
    group = train_cfg["obs_groups"]["actor"][0]
    obs = TensorDict({group: torch.zeros(1, width)}, batch_size=[1])
    from rsl_rl.models import MLPModel

    actor_cfg = {k: v for k, v in train_cfg["actor"].items() if k != "class_name"}
    model = MLPModel(obs, {"actor": [group]}, "actor", _num_actions(cfg), **actor_cfg)
    model.load_state_dict(actor_state)
    policy = model.as_jit().eval()
    if group == "policy":
        actor, obs_dim = policy, width
    else:  # a Dict observation: the actor takes its "state" entry (the critic's privileged facts stay behind)
        actor, obs_dim = StateActor(policy), {"state": (width,)}

    def reference(o):
        import numpy as np

        x = o["state"] if isinstance(o, dict) else o
        with torch.no_grad():
            return policy(torch.as_tensor(np.asarray(x, np.float32))).numpy()

    return actor, {"reference": reference, "obs_dim": obs_dim, "iteration": checkpoint_iteration(checkpoint)}


class StateActor(torch.nn.Module):
    """The actor of an asymmetric run, taking the ``state`` entry of the env's Dict observation."""

    input_keys = ("state",)

    def __init__(self, policy: torch.nn.Module):
        super().__init__()
        self.policy = policy

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.policy(state)


def _num_actions(cfg: DictConfig) -> int:
    from unilab_envs.hands import get_hand

    return get_hand(cfg.env.hand).num_joints
