"""Deterministic evaluation in physical units, and playback videos.

Every env runs the same number of whole episodes (``ceil(episodes / num_envs)``), so short (dropped)
episodes are not over-counted the way "the first N episodes to finish" would count them. Episodes start
unstaggered and run to ``episode_length`` unless the object falls.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from unilab_envs.tasks import end_causes

#: reported metric -> (final_info key, unit)
METRICS = {
    "return": ("episode_return", ""),
    "rotation_speed": ("rotation_speed", "rad/s"),
    "time_to_fall": ("episode_seconds", "s"),
    "drop_rate": ("dropped", ""),
    "object_speed": ("object_speed", "m/s"),
    "torque": ("torque", "N m"),
    "work": ("work", "J"),
}


def act(actor: torch.nn.Module) -> Callable:
    """The actor as a numpy policy. An actor with ``input_keys`` (a HORA teacher or student) takes those
    entries of the env's Dict observation, in that order; others take the observation itself."""
    keys = getattr(actor, "input_keys", None)

    def policy(obs) -> np.ndarray:
        inputs = [obs[k] for k in keys] if keys else [obs]
        with torch.no_grad():
            return actor(*(torch.as_tensor(x, dtype=torch.float32) for x in inputs)).numpy()
    return policy


def run_episodes(env: gym.vector.VectorEnv, policy: Callable, per_env: int, seed: int, progress: bool = True,
                 observer: Callable | None = None, recorder=None) -> dict[str, np.ndarray]:
    """``per_env`` finished episodes of every env: their ``final_info`` stats as arrays. ``observer(obs)``,
    if given, sees every observation the policy acts on; ``recorder`` (a ``failures.FailureRecorder``)
    every step."""
    from tqdm.auto import tqdm

    n = env.num_envs
    done_count = np.zeros(n, np.int64)
    collected: dict[str, list[np.ndarray]] = {}
    obs, _ = env.reset(seed=seed)
    if recorder is not None:
        recorder.start(env)
    with tqdm(total=n * per_env, desc="eval", unit="ep", disable=not progress, mininterval=1.0) as bar:
        while (done_count < per_env).any():
            if observer is not None:
                observer(obs)
            actions = policy(obs)
            obs, reward, _, _, info = env.step(actions)
            keep = info["_final_info"] & (done_count < per_env) if "final_info" in info else None
            if recorder is not None:
                recorder.step(actions, reward, info, keep)
            if keep is None:
                continue
            done_count += info["_final_info"]
            for key, value in info["final_info"].items():
                if not key.startswith("_") and not isinstance(value, dict):  # "episode" repeats return/length
                    collected.setdefault(key, []).append(np.asarray(value)[keep])
            bar.update(int(keep.sum()))
    return {k: np.concatenate(v) for k, v in collected.items()}


def summarize(stats: dict[str, np.ndarray], scale_list: list[float]) -> dict:
    """Per listed object scale (each episode goes to its nearest one) and overall: mean of each metric."""
    def block(mask: np.ndarray) -> dict:
        row = {"episodes": int(mask.sum())}
        for name, (key, _) in METRICS.items():
            row[name] = float(np.mean(stats[key][mask])) if mask.any() else float("nan")
        row["return_std"] = float(np.std(stats["episode_return"][mask])) if mask.any() else float("nan")
        if "end_cause" in stats:  # share of each way an episode ended (unilab_envs/tasks/end_causes.py)
            row["end_causes"] = end_causes.shares(stats["end_cause"][mask])
        return row

    scales = np.asarray(scale_list, float)
    nearest = scales[np.abs(stats["object_scale"][:, None] - scales[None]).argmin(1)]
    result = {"overall": block(np.ones(len(nearest), bool)),
              "per_scale": {f"{s:g}": block(nearest == s) for s in scales}}
    return result


def evaluate(make_env: Callable[..., gym.vector.VectorEnv], actor: torch.nn.Module, episodes: int, num_envs: int,
             seed: int, scale_list: list[float], progress: bool = True, observer=None, recorder=None) -> dict:
    """The table's metrics over ``episodes`` deterministic episodes. ``observer`` (optional) is called with
    every observation and its ``result()`` dict joins the result (a HORA student's latent error)."""
    if episodes < 1 or num_envs < 1:
        raise ValueError(f"eval.episodes={episodes} and eval.num_envs={num_envs} must be >= 1")
    num_envs = min(num_envs, episodes)
    per_env = math.ceil(episodes / num_envs)
    env = make_env(num_envs, stagger_episodes=False)
    try:
        stats = run_episodes(env, act(actor), per_env, seed, progress, observer, recorder)
        result = summarize(stats, scale_list)
        if observer is not None:
            result |= observer.result()
        result["episode_length_s"] = float(env.unwrapped.cfg.episode_length * env.unwrapped.control_dt) \
            if hasattr(env.unwrapped, "cfg") else None
    finally:
        env.close()
    return result


def format_table(result: dict, title: str = "") -> str:
    """The result as fixed-width tables (rich renders them when available): the metrics per scale, then the
    share of each end cause per scale."""
    cols = ["episodes", *METRICS]
    units = {name: unit for name, (_, unit) in METRICS.items()}
    header = ["scale"] + [f"{c} ({units[c]})" if units.get(c) else c for c in cols]
    blocks = [*result["per_scale"].items(), ("all", result["overall"])]
    rows = [[s] + [_fmt(r[c]) for c in cols] for s, r in blocks]
    text = _table(header, rows, title)
    if "end_causes" in result["overall"]:
        names = list(end_causes.NAMES.values())
        causes = [[s, str(r["episodes"])] + [f"{r['end_causes'].get(n, 0.0):.1%}" if r["episodes"] else "-"
                                             for n in names] for s, r in blocks]
        text += "\n" + _table(["scale", "episodes", *names], causes, "how episodes ended (share)")
    return text


def _table(header: list[str], rows: list[list[str]], title: str = "") -> str:
    try:
        import io

        from rich.console import Console
        from rich.table import Table

        table = Table(title=title or None)
        for h in header:
            table.add_column(h, justify="right")
        for r in rows:
            table.add_row(*r)
        buf = io.StringIO()
        Console(file=buf, width=160).print(table)
        return buf.getvalue()
    except ImportError:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines = [title] if title else []
        lines += ["  ".join(x.rjust(w) for x, w in zip(line, widths, strict=True)) for line in [header, *rows]]
        return "\n".join(lines)


def _fmt(x) -> str:
    return str(x) if isinstance(x, int) else f"{x:.3f}"


def record_video(make_env: Callable[..., gym.vector.VectorEnv], actor: torch.nn.Module, seconds: float,
                 path: Path, seed: int = 0) -> Path:
    """``seconds`` of env 0 under ``actor``, rendered offscreen, written as mp4 (needs the ``render`` extra)."""
    hint = "recording video needs imageio: pip install 'unilab-envs[render]' (or set training.no_play=true / " \
           "eval.video=false)"
    _imageio(hint)  # before any rendering
    env = make_env(1, render_mode="rgb_array", stagger_episodes=False)
    policy = act(actor)
    try:
        obs, _ = env.reset(seed=seed)
        fps = int(env.metadata.get("render_fps", 20))
        frames = [env.render()]
        for _ in range(int(seconds * fps)):
            obs, *_ = env.step(policy(obs))
            frames.append(env.render())
    finally:
        env.close()
    return write_mp4(frames, path, fps, hint)


def _imageio(hint: str):
    try:
        import imageio.v2 as imageio
    except ImportError as e:
        raise RuntimeError(hint) from e
    return imageio


def write_mp4(frames: list, path: Path, fps: int, hint: str = "writing video needs imageio: pip install "
              "'unilab-envs[render]'") -> Path:
    """``frames`` as an mp4 at ``path``, written atomically (a temporary file, then a rename)."""
    imageio = _imageio(hint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    imageio.mimwrite(tmp, [np.asarray(f) for f in frames], fps=fps, macro_block_size=1)
    tmp.replace(path)
    return path
