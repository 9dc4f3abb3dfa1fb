"""HORA's student (``--algo hora_distill``): distill a frozen teacher's privileged latent into the
proprioceptive adaptation module, DAgger-style.

Every iteration rolls out ``algo.n_steps`` steps of every env. Actions are always the teacher's actor head
(deterministic) acting on a latent ``z``: the teacher's own ``z`` (from the privileged facts) in the envs it
drives, the student's ``z`` (from the 30-frame joint history) in the others. Which envs the teacher drives is
redrawn every rollout, a share set by ``distill.mix_milestones`` / ``distill.teacher_share`` (``[0.0]``:
HORA's pure student rollouts). Then the adaptation module regresses the teacher's ``z`` on every history of
the rollout (MSE, ``algo.n_epochs`` passes, Adam). Episode metrics are logged for student-driven envs only.

Run folder: ``checkpoints/model_<iteration>.pt`` (atomic; adaptation module, optimizer, counters, the
teacher's run and checkpoint), ``teacher/`` (a copy of that checkpoint and the teacher run's config, which
the student loads: it does not depend on the teacher's run folder), ``checkpoints/best.pt`` (best
deterministic eval return, every ``distill.eval_interval`` iterations), TensorBoard events, ``summary.json``.
"""
from __future__ import annotations

import io
import math
import re
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from . import config as config_mod
from . import curriculum, hora_teacher, runs
from .hora_model import AdaptationModule, StudentActor, TeacherActor
from .progress import TrainProgress, finished_episodes

CHECKPOINT_DIR = "checkpoints"
BEST_FILE = "best.pt"
HISTORY_FILE = "distill_history.json"  # per iteration: env steps, teacher share, loss, latent error
_CKPT = re.compile(r"model_(\d+)\.pt$")
MIX_MODES = ("step", "linear")
LR_SCHEDULES = ("constant", "linear")


def list_checkpoints(run_dir: Path) -> list[Path]:
    """``checkpoints/model_<iteration>.pt``, oldest first (``best.pt`` is picked by its path)."""
    return runs.numbered_checkpoints(run_dir, _CKPT, CHECKPOINT_DIR)


def checkpoint_iteration(path: Path) -> int:
    m = _CKPT.search(Path(path).name)
    return int(m.group(1)) if m else int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])


# --- the mixing schedule -------------------------------------------------------------------------
def mix_schedule(cfg: DictConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """``(milestones, shares, mode)`` of ``distill``, checked."""
    ds = cfg.distill
    try:
        milestones = np.array([float(x) for x in ds.mix_milestones])
        shares = np.array([float(x) for x in ds.teacher_share])
    except (TypeError, ValueError) as e:
        raise config_mod.ConfigError(f"distill.mix_milestones / distill.teacher_share must be lists of numbers: "
                                     f"{e}") from e
    if len(milestones) == 0 or len(milestones) != len(shares):
        raise config_mod.ConfigError(f"distill.mix_milestones {list(ds.mix_milestones)} and distill.teacher_share "
                                     f"{list(ds.teacher_share)} need the same, non-zero length (one share per "
                                     f"milestone), e.g. mix_milestones=[0,2e6] teacher_share=[1.0,0.0]")
    if milestones[0] != 0 or np.any(np.diff(milestones) <= 0):
        raise config_mod.ConfigError(f"distill.mix_milestones={list(ds.mix_milestones)} must start at 0 and increase")
    if np.any((shares < 0) | (shares > 1)):
        raise config_mod.ConfigError(f"distill.teacher_share={list(ds.teacher_share)}: each share lies in [0, 1]")
    if ds.mix_interpolation not in MIX_MODES:
        raise config_mod.ConfigError(f"distill.mix_interpolation={ds.mix_interpolation!r}; choose one of {MIX_MODES}")
    return milestones, shares, str(ds.mix_interpolation)


def teacher_share(env_steps: float, milestones: np.ndarray, shares: np.ndarray, mode: str = "step") -> float:
    """Share of envs the teacher drives after ``env_steps``: the last milestone's share (``step``), or
    interpolated between milestones (``linear``); the last share holds after the last milestone."""
    if mode == "linear":
        return float(np.interp(env_steps, milestones, shares))
    return float(shares[np.searchsorted(milestones, env_steps, side="right") - 1])


# --- model and checkpoints -----------------------------------------------------------------------
def build_adapt(spec, history_shape: tuple[int, int], latent_dim: int) -> AdaptationModule:
    spec = OmegaConf.to_container(spec, resolve=True) if isinstance(spec, DictConfig) else dict(spec)
    return AdaptationModule(history_shape[0], history_shape[1], latent_dim, channel_mlp=spec["channel_mlp"],
                            conv_channels=spec["conv_channels"], kernels=spec["kernels"], strides=spec["strides"],
                            act=spec["activation"])


def save_checkpoint(path: Path, state: dict) -> Path:
    """Atomic: a crash mid-write leaves the previous file intact."""
    buf = io.BytesIO()
    torch.save(state, buf)
    runs.atomic_write_bytes(path, buf.getvalue())
    return path


def load_checkpoint(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state["adapt"], state["teacher"]  # noqa: B018  (a student checkpoint has both)
        return state
    except Exception as e:
        raise runs.CheckpointError(f"cannot load HORA student checkpoint {path}: {type(e).__name__}: {e}. The file "
                                   f"is corrupt or not written by --algo hora_distill; pick another with "
                                   f"--checkpoint") from e


class LatentError:
    """Eval observer: the student's latent against the teacher's, mean squared error per dimension."""

    def __init__(self, teacher: TeacherActor, adapt: AdaptationModule):
        self.teacher, self.adapt = teacher, adapt
        self.sq, self.count = None, 0

    def __call__(self, obs: dict) -> None:
        with torch.no_grad():
            zt = self.teacher.encode(torch.as_tensor(obs["privileged_state"], dtype=torch.float32))
            zs = self.adapt(torch.as_tensor(obs["proprio_history"], dtype=torch.float32))
        sq = ((zs - zt) ** 2).sum(0).double()
        self.sq = sq if self.sq is None else self.sq + sq
        self.count += len(zt)

    def result(self) -> dict:
        per_dim = (self.sq / max(self.count, 1)).tolist() if self.sq is not None else []
        return {"latent_mse": float(np.mean(per_dim)) if per_dim else float("nan"), "latent_mse_per_dim": per_dim}


def load_actor(run_dir: Path, checkpoint: Path) -> tuple[torch.nn.Module, dict]:
    """The student, ``(state, proprio_history) -> action``, with its frozen teacher's head inside."""
    state = load_checkpoint(checkpoint)
    t = state["teacher"]
    teacher = hora_teacher.load(t["algo_family"], *hora_teacher.located(t, run_dir))
    adapt = build_adapt(state["adapt_spec"], tuple(state["history_shape"]), teacher.latent_dim)
    adapt.load_state_dict(state["adapt"])
    adapt.eval().requires_grad_(False)
    actor = StudentActor(adapt, teacher).eval()
    shapes = {"state": (int(state["state_dim"]),), "proprio_history": tuple(state["history_shape"])}

    def reference(obs: dict) -> np.ndarray:
        with torch.no_grad():
            return actor(*(torch.as_tensor(obs[k]) for k in actor.input_keys)).numpy()

    return actor, {"reference": reference, "obs_dim": shapes, "iteration": int(state["iteration"]),
                   "eval_observer": lambda: LatentError(teacher, adapt)}


# --- training ------------------------------------------------------------------------------------
def validate(cfg: DictConfig) -> None:
    """What this trainer cannot take, found before a run folder is made: the config, and the teacher it names
    (there, with a checkpoint, of the student's observation), located as :func:`train` will load it."""
    _check_config(cfg)
    hora_teacher.locate(cfg)


def validate_resume(cfg: DictConfig, run_dir: Path) -> None:
    """:func:`validate` for ``--resume`` of ``run_dir``: a resumed student keeps the teacher it was distilled from
    (its newest checkpoint names it; a snapshot in its run folder), whatever ``teacher.*`` would find today."""
    _check_config(cfg)
    found = list_checkpoints(run_dir)
    if not found:
        return  # train says there is nothing to resume from
    try:
        tinfo = load_checkpoint(found[-1])["teacher"]
    except runs.CheckpointError:
        return  # an unreadable checkpoint: loading it says what is wrong
    hora_teacher.check_resumable(run_dir, tinfo)


def _check_config(cfg: DictConfig) -> None:
    al, tr = cfg.algo, cfg.training
    if cfg.env.obs_mode != "hora":
        raise config_mod.ConfigError(f"--algo hora_distill needs env.obs_mode=hora (state, privileged facts and the "
                                     f"joint history); got env.obs_mode={cfg.env.obs_mode}")
    mix_schedule(cfg)
    if al.lr_schedule not in LR_SCHEDULES:
        raise config_mod.ConfigError(f"algo.lr_schedule={al.lr_schedule!r}; choose one of {LR_SCHEDULES}")
    if al.batch_size > al.n_steps * tr.num_envs:
        raise config_mod.ConfigError(f"algo.batch_size={al.batch_size} exceeds one rollout ({al.n_steps} x "
                                     f"{tr.num_envs} envs); lower it or raise algo.n_steps / training.num_envs")
    try:
        build_adapt(al.adapt, (int(cfg.env.proprio_history), 1), 1)
    except (KeyError, TypeError, ValueError) as e:
        raise config_mod.ConfigError(f"algo.adapt: {e}") from e
    hora_teacher.teacher_config(cfg)


def train(cfg: DictConfig, run_dir: Path, resume: bool) -> dict:
    from torch.utils.tensorboard import SummaryWriter

    from .device import resolve_device

    _check_config(cfg)  # the teacher: located below (a new student) or named by the checkpoint (a resumed one)
    tr, al, ds = cfg.training, cfg.algo, cfg.distill
    device = resolve_device(tr.device)
    state = None
    if resume:
        found = list_checkpoints(run_dir)
        if not found:
            raise runs.RunNotFound(f"--resume: run {run_dir} has no checkpoint to resume from")
        state = load_checkpoint(found[-1])
        tinfo = state["teacher"]
    else:
        algo, trun, tckpt = hora_teacher.locate(cfg)
        tinfo = {"algo_family": algo, "run": str(trun.resolve()), "checkpoint": str(tckpt.resolve()),
                 "snapshot": hora_teacher.snapshot(trun, tckpt, run_dir)}
    teacher = hora_teacher.load(tinfo["algo_family"], *hora_teacher.located(tinfo, run_dir)).to(device)
    milestones, shares, mode = mix_schedule(cfg)
    n, T = int(tr.num_envs), int(al.n_steps)
    env = config_mod.make_env(cfg, n)
    hist_shape = tuple(env.single_observation_space["proprio_history"].shape)
    state_dim = int(env.single_observation_space["state"].shape[0])
    adapt = build_adapt(al.adapt, hist_shape, teacher.latent_dim).to(device)
    opt = torch.optim.Adam(adapt.parameters(), lr=float(al.learning_rate))
    it, env_steps, teacher_steps, best = 0, 0, 0, -math.inf
    if state is not None:
        adapt.load_state_dict(state["adapt"])
        opt.load_state_dict(state["optimizer"])
        it, env_steps, teacher_steps = int(state["iteration"]), int(state["env_steps"]), int(state["teacher_steps"])
        best = float(state.get("best_eval_return", -math.inf))
        runs.purge_logs_after(run_dir, env_steps)
    writer = SummaryWriter(str(run_dir))
    progress = TrainProgress(tr.max_iterations, it, enabled=tr.progress_bar)
    rng = np.random.default_rng(tr.seed + it)
    torch.manual_seed(tr.seed + it)
    history_file = run_dir / HISTORY_FILE
    history: list[dict] = [h for h in _read_json(history_file) if h["iteration"] <= it] if resume else []
    best_file = run_dir / CHECKPOINT_DIR / BEST_FILE
    # A resumed run keeps its earlier best until this part beats it.
    last_ckpt, best_ckpt = None, best_file if resume and best_file.exists() else None
    start_steps, t0 = env_steps, time.time()

    def checkpoint(path: Path, extra: dict | None = None) -> Path:
        return save_checkpoint(path, {
            "adapt": adapt.state_dict(), "optimizer": opt.state_dict(), "iteration": it, "env_steps": env_steps,
            "teacher_steps": teacher_steps, "best_eval_return": best, "teacher": tinfo,
            "adapt_spec": OmegaConf.to_container(al.adapt, resolve=True), "history_shape": list(hist_shape),
            "state_dim": state_dim, **(extra or {})})

    try:
        obs, _ = env.reset(seed=int(tr.seed) + it)
        while it < tr.max_iterations:
            stage = curriculum.drive(env, env_steps)
            share = teacher_share(env_steps, milestones, shares, mode)
            driven = np.zeros(n, bool)
            driven[rng.choice(n, int(round(share * n)), replace=False)] = True
            rollout = _rollout(env, obs, teacher, adapt, driven, T, device)
            obs = rollout["obs"]
            it, env_steps, teacher_steps = it + 1, env_steps + T * n, teacher_steps + T * int(driven.sum())
            lr = learning_rate(al, it, int(tr.max_iterations))
            for group in opt.param_groups:
                group["lr"] = lr
            loss = _regress(adapt, opt, rollout, al, rng, device, teacher)
            stats = progress.record(env_steps, rollout["episodes"])
            scalars = {"distill/loss": loss, "distill/latent_mse": float(rollout["latent_mse"].mean()),
                       "distill/learning_rate": lr,
                       "distill/teacher_share": float(driven.mean()), **stats, **stage}
            scalars |= {f"distill/latent_mse_dim{k}": float(v) for k, v in enumerate(rollout["latent_mse"])}
            for name, value in scalars.items():
                writer.add_scalar(name, value, env_steps)
            history.append({"iteration": it, "env_steps": env_steps, "teacher_share": float(driven.mean()),
                            "loss": loss, "latent_mse": float(rollout["latent_mse"].mean())})
            progress.advance(it)
            last_eval = None
            if ds.eval_interval > 0 and (it % ds.eval_interval == 0 or it == tr.max_iterations):
                last_eval = _eval(cfg, teacher, adapt)
                writer.add_scalar("eval/return", last_eval["overall"]["return"], env_steps)
                writer.add_scalar("eval/rotation_speed_rad_s", last_eval["overall"]["rotation_speed"], env_steps)
                writer.add_scalar("eval/time_to_fall_s", last_eval["overall"]["time_to_fall"], env_steps)
                writer.add_scalar("eval/latent_mse", last_eval["latent_mse"], env_steps)
                if last_eval["overall"]["return"] > best:
                    best = last_eval["overall"]["return"]
                    best_ckpt = checkpoint(best_file, {"eval": _plain(last_eval)})
            every = tr.checkpoint_interval
            if (every > 0 and it % every == 0) or it == tr.max_iterations:
                last_ckpt = checkpoint(run_dir / CHECKPOINT_DIR / f"model_{it}.pt")
                runs.prune(list_checkpoints(run_dir)[:-1], tr.keep_checkpoints - 1)
                runs.write_json(history_file, history)
        if last_ckpt is None:  # nothing to do (a resumed run already at max_iterations)
            last_ckpt = list_checkpoints(run_dir)[-1]
    finally:
        env.close()
        writer.close()
        progress.close()
    seconds = time.time() - t0
    runs.write_json(history_file, history)
    return {"iterations": it, "env_steps": env_steps, "teacher_steps": teacher_steps,
            "teacher_step_share": teacher_steps / max(env_steps, 1), "wall_seconds": round(seconds, 1),
            "env_steps_per_second": round((env_steps - start_steps) / max(seconds, 1e-9), 1),
            "checkpoint": str(last_ckpt), "best_checkpoint": str(best_ckpt) if best_ckpt else None,
            "best_eval_return": best if math.isfinite(best) else None, "teacher": tinfo, **progress.latest}


def _rollout(env, obs, teacher: TeacherActor, adapt: AdaptationModule, driven: np.ndarray, steps: int,
             device) -> dict:
    """``steps`` steps of every env; the teacher's latent drives the ``driven`` envs, the student's the rest."""
    n = env.num_envs
    hist = np.empty((steps, *obs["proprio_history"].shape), np.float32)
    target = np.empty((steps, n, teacher.latent_dim), np.float32)
    states = np.empty((steps, *obs["state"].shape), np.float32)
    sq = torch.zeros(teacher.latent_dim, dtype=torch.float64)
    mask = torch.as_tensor(driven, device=device)[:, None]
    episodes: list[dict] = []
    for t in range(steps):
        hist[t], states[t] = obs["proprio_history"], obs["state"]
        with torch.no_grad():
            zt = teacher.encode(torch.as_tensor(obs["privileged_state"], dtype=torch.float32, device=device))
            zs = adapt(torch.as_tensor(hist[t], device=device))
            action = teacher.act_latent(torch.as_tensor(states[t], device=device), torch.where(mask, zt, zs))
        target[t] = zt.cpu().numpy()
        sq += ((zs - zt) ** 2).sum(0).double().cpu()
        obs, _, _, _, info = env.step(action.cpu().numpy())
        episodes += finished_episodes(info, ~driven)
    return {"obs": obs, "history": hist.reshape(-1, *hist.shape[2:]), "target": target.reshape(-1, target.shape[-1]),
            "state": states.reshape(-1, states.shape[-1]), "episodes": episodes,
            "latent_mse": (sq / (steps * n)).numpy()}


def learning_rate(al, iteration: int, max_iterations: int) -> float:
    """``algo.learning_rate``, constant or (``algo.lr_schedule: linear``) falling linearly to 0 at the last
    iteration (the regression target is noisy; a falling rate settles the module the run ends with)."""
    if al.lr_schedule == "constant":
        return float(al.learning_rate)
    return float(al.learning_rate) * max(1.0 - (iteration - 1) / max(max_iterations, 1), 0.0)


def _regress(adapt: AdaptationModule, opt, rollout: dict, al, rng, device,
             teacher: TeacherActor | None = None) -> float:
    """``algo.n_epochs`` passes of minibatch MSE regression of the teacher's latent on the histories of
    ``rollout``; with ``algo.action_loss_weight`` > 0, plus that weight times the MSE between the teacher's
    actions on the student's latent and on its own. Returns the mean loss of the last pass."""
    adapt.train()
    mse = torch.nn.functional.mse_loss
    hist_t, target_t = (torch.as_tensor(rollout[k], device=device) for k in ("history", "target"))
    weight = float(al.get("action_loss_weight", 0.0))
    if weight > 0:
        state_t = torch.as_tensor(rollout["state"], device=device)
        with torch.no_grad():
            action_t = teacher.act_latent(state_t, target_t)
    losses = []
    for _ in range(int(al.n_epochs)):
        losses = []
        perm = torch.as_tensor(rng.permutation(len(hist_t)), device=device)
        for start in range(0, len(hist_t), int(al.batch_size)):
            idx = perm[start:start + int(al.batch_size)]
            z = adapt(hist_t[idx])
            loss = mse(z, target_t[idx])
            if weight > 0:
                loss = loss + weight * mse(teacher.act_latent(state_t[idx], z), action_t[idx])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(adapt.parameters(), float(al.max_grad_norm))
            opt.step()
            losses.append(loss.item())
    adapt.eval()
    return float(np.mean(losses))


def _eval(cfg: DictConfig, teacher: TeacherActor, adapt: AdaptationModule) -> dict:
    """The student's deterministic eval (``distill.eval_episodes``), for the best checkpoint."""
    import copy

    from .evaluate import evaluate

    frozen = copy.deepcopy(adapt).cpu().eval()
    teacher_cpu = copy.deepcopy(teacher).cpu()
    return evaluate(lambda k, **kw: config_mod.make_eval_env(cfg, k, **kw), StudentActor(frozen, teacher_cpu),
                    int(cfg.distill.eval_episodes), int(cfg.eval.num_envs), int(cfg.eval.seed),
                    list(cfg.env.domain_rand.scale_list), progress=False, observer=LatentError(teacher_cpu, frozen))


def _read_json(path: Path) -> list:
    import json

    return json.loads(path.read_text()) if path.is_file() else []


def _plain(result: dict) -> dict:
    """An eval result with plain Python values only (``torch.load(weights_only=True)`` reads it back)."""
    import json

    return json.loads(json.dumps(result, default=float))
