"""Run folders: naming, finding the latest, checkpoints, and atomic file writes.

A run lives in ``<logdir>/<algo family>/<experiment>/<YYYY-mm-dd_HH-MM-SS>_<sim>[_<run name>]/`` and holds
``config.yaml`` (resolved), checkpoints, TensorBoard events, ``summary.json`` and eval results.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from unilab_envs.grasp_cache.store import atomic_write

CONFIG_FILE = "config.yaml"
SUMMARY_FILE = "summary.json"
FAILED_FILE = "failed.json"   # a run that stopped before its first checkpoint: skipped by --load-run -1


class RunNotFound(FileNotFoundError):
    """No run or checkpoint matches what was asked for."""


class CheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be loaded."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(data))  # the grasp caches' writer: fsynced, the umask's mode (not 0600)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    return str(x)


def experiment_dir(cfg: DictConfig) -> Path:
    """``<logdir>/<algo family>/<experiment>``: the folder whose runs ``--load-run`` picks from. The default
    experiment is the env id, with ``-<profile>`` for a ``--profile`` run (a HORA teacher's runs live apart
    from the plain runs of the same algo and task)."""
    profile = OmegaConf.select(cfg, "run.profile")
    name = cfg.training.experiment_name or cfg.task.env_id + (f"-{profile}" if profile else "")
    return Path(cfg.training.logdir) / cfg.algo.family / name


def run_profile(run_dir: Path) -> str | None:
    """The ``--profile`` a run folder was trained with (its saved ``config.yaml``)."""
    path = Path(run_dir) / CONFIG_FILE
    return OmegaConf.select(OmegaConf.load(path), "run.profile") if path.is_file() else None


def check_profile(run_dir: Path, profile: str | None) -> None:
    """A run is used with the ``--profile`` it was trained with: a HORA teacher's checkpoint does not fit a
    plain policy, nor the reverse."""
    trained = run_profile(run_dir)
    if (trained or None) != (profile or None):
        have = f"--profile {trained}" if trained else "no --profile"
        want = f"--profile {profile}" if profile else "no --profile"
        fix = f"add --profile {trained}" if trained else "drop --profile"
        raise CheckpointError(f"run {run_dir} was trained with {have}, but this command has {want}: "
                              f"{fix}, or pick a run of the other kind with --load-run")


def check_checkpoint_kind(run_dir: Path, checkpoint: Path, hora: bool) -> None:
    """The checkpoint's network fits its run folder (a HORA teacher's weights in a ``--profile hora`` run)."""
    trained = run_profile(run_dir)
    if (trained == "hora") != hora:
        raise CheckpointError(f"{checkpoint} holds a {'HORA teacher' if hora else 'plain'} network, but run "
                              f"{run_dir} was trained with {('--profile ' + trained) if trained else 'no --profile'}; "
                              f"pass a checkpoint of that run (--checkpoint) or the matching --profile")


def new_run_dir(cfg: DictConfig, now: datetime | None = None) -> Path:
    """A fresh, empty run folder (a second run in the same second gets a numbered suffix)."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d_%H-%M-%S")
    name = f"{stamp}_{cfg.training.sim_backend}" + (f"_{cfg.training.run_name}" if cfg.training.run_name else "")
    base = experiment_dir(cfg)
    base.mkdir(parents=True, exist_ok=True)
    for i in range(1000):
        path = base / (name if i == 0 else f"{name}.{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run folder under {base}")


def purge_logs_after(run_dir: Path, env_steps: int) -> None:
    """TensorBoard: hide the points a resumed run logged after its newest checkpoint (steps above ``env_steps``)
    before it stopped; the resumed run logs those steps again. A writer's ``purge_step`` marks it, which TensorBoard
    and ``EventAccumulator`` honour, so the curves do not double back."""
    from torch.utils.tensorboard import SummaryWriter

    SummaryWriter(str(run_dir), purge_step=int(env_steps) + 1).close()


def list_runs(exp_dir: Path) -> list[Path]:
    """Run folders of an experiment, oldest first (names start with their time stamp); runs marked failed
    (``failed.json``: they stopped before their first checkpoint) are left out."""
    if not exp_dir.is_dir():
        return []
    return sorted(p for p in exp_dir.iterdir()
                  if p.is_dir() and (p / CONFIG_FILE).is_file() and not (p / FAILED_FILE).exists())


def mark_failed(run_dir: Path, error: BaseException) -> Path:
    """Record why a run stopped before its first checkpoint; ``--load-run -1`` and ``--resume`` skip it."""
    path = run_dir / FAILED_FILE
    write_json(path, {"error": f"{type(error).__name__}: {error}"})
    return path


_ADVICE = "train one first (train --algo ... --task ...) or pass --experiment-name / training.logdir of an existing one"


def find_run(exp_dir: Path, load_run: str | int, checkpoints: Callable[[Path], list] | None = None,
             flag: str = "--load-run ", kind: str = "runs", advice: str | None = _ADVICE) -> Path:
    """``-1`` = newest run, ``-2`` the one before...; else a run folder name or path. With ``checkpoints`` (an
    algorithm's ``list_checkpoints``) ``-k`` counts only the runs that have one: a run stopped before its first
    checkpoint by Ctrl-C or a kill (which leave no ``failed.json``) is not picked. Errors name ``flag`` (with its
    joiner) and ``kind`` and end with ``advice`` (a caller with its own, such as a student's teacher lookup: None)."""
    runs = list_runs(exp_dir)
    text = str(load_run)
    if re.fullmatch(r"-\d+", text):
        k = int(text)
        skipped = [p for p in runs if checkpoints is not None and not checkpoints(p)]
        runs = [p for p in runs if p not in skipped]
        if not runs:
            names = ", ".join(p.name for p in skipped[-3:])
            also = f" ({len(skipped)} without a checkpoint: {names})" if skipped else ""
            raise RunNotFound(f"no {kind} with a checkpoint under {exp_dir}{also}" + (f"; {advice}" if advice else ""))
        if -k > len(runs):
            raise RunNotFound(f"{flag}{k}: only {len(runs)} run(s) with a checkpoint under {exp_dir}")
        return runs[k]
    for candidate in (Path(text), exp_dir / text):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    names = ", ".join(p.name for p in runs[-5:]) or "none"
    raise RunNotFound(f"{flag}{text!r}: no run folder {exp_dir / text} (latest runs: {names}; -1 = newest)")


def pick_checkpoint(checkpoints: list[Path], checkpoint: str | int, run_dir: Path,
                    number: Callable[[Path], int]) -> Path:
    """``-1`` = newest checkpoint; else an iteration number or a file path."""
    text = str(checkpoint)
    if Path(text).suffix and Path(text).is_file():
        return Path(text)
    if not checkpoints:
        raise RunNotFound(f"run {run_dir} has no checkpoints (was it stopped before the first one was written?)")
    if re.fullmatch(r"-\d+", text):
        k = int(text)
        if -k > len(checkpoints):
            raise RunNotFound(f"--checkpoint {k}: run {run_dir} has only {len(checkpoints)} checkpoint(s)")
        return checkpoints[k]
    if text.isdigit():
        for path in checkpoints:
            if number(path) == int(text):
                return path
    names = ", ".join(p.name for p in checkpoints[-5:])
    raise RunNotFound(f"--checkpoint {text!r} not found in {run_dir} (available: {names}; -1 = newest)")


def numbered_checkpoints(run_dir: Path, name: re.Pattern, folder: str = "checkpoints") -> list[Path]:
    """The files of ``<run_dir>/<folder>`` whose name ``name`` matches, oldest first by the number it captures
    (``model_<iteration>.zip`` / ``.pt``)."""
    found = [(int(m.group(1)), p) for p in (Path(run_dir) / folder).glob("*") if (m := name.search(p.name))]
    return [p for _, p in sorted(found)]


def prune(checkpoints: list[Path], keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (``keep <= 0`` keeps all)."""
    if keep > 0:
        for path in checkpoints[:-keep]:
            path.unlink(missing_ok=True)
