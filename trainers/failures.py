"""Failure replay: keep the K worst episodes of an evaluation, and play one back exactly.

``eval --record-failures K`` watches every evaluated episode and keeps the K worst by a key (time to fall by
default; lowest first) among those that ended by the chosen causes (by default any drop). Each is saved as
``failure_<rank>.npz``: how the episode began (``env.episode_starts``: grasp and every physical parameter),
the eval seed, the policy's actions and the random pushes the object got, per step, and what the eval saw
(reward, object height, rotation speed); plus an mp4 made by replaying it. ``eval --replay FILE`` rebuilds
the env from the file, begins the same episode (``reset(options={"episode_starts": ...})``), applies the
same actions and pushes, and checks that the trajectory is the recorded one. MuJoCo's batch stepping is
bit-identical per simulation whatever the batch or thread count, so a replay reproduces it exactly.
"""
from __future__ import annotations

import heapq
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

from unilab_envs.tasks import end_causes

from . import runs

#: ``--failure-key`` -> (final_info key, description); the lowest value is the worst episode
KEYS = {"time_to_fall": "episode_seconds", "rotation_speed": "rotation_speed", "return": "episode_return"}
TRACE = ("reward", "object_height", "rotation_speed")  # per step, what a replay must reproduce
DROPPED = "dropped"   # every cause but time_limit
ANY = "any"


def parse_causes(text: str | None) -> set[int]:
    """``--failure-cause``: ``dropped`` (default), ``any``, or cause names separated by commas."""
    text = (text or DROPPED).strip().lower()
    if text == ANY:
        return set(end_causes.NAMES)
    if text == DROPPED:
        return set(end_causes.NAMES) - {end_causes.EndCause.TIME_LIMIT}
    try:
        return end_causes.parse(t for t in text.split(",") if t.strip())
    except ValueError as e:
        raise ValueError(f"--failure-cause {text!r}: {e}; or use {DROPPED!r} / {ANY!r}") from None


class PushLog:
    """Stands in for the env's push source during eval and keeps a copy of the forces applied in each step."""

    def __init__(self, inner):
        self.inner, self.last = inner, None

    def step(self, mass, rng):
        force = self.inner.step(mass, rng)
        self.last = np.array(force, copy=True)
        return force

    def reset(self, ids):
        self.inner.reset(ids)

    def __getattr__(self, name):  # cfg, active, force: the wrapped source's
        return getattr(self.inner, name)


class ScriptedPushes:
    """A push source that applies recorded forces, one row per step (a one-env replay)."""

    def __init__(self, forces: np.ndarray):
        self.forces, self.t = np.asarray(forces, float), 0
        self.force = np.zeros((1, 3))

    def step(self, mass, rng):
        self.force = self.forces[min(self.t, len(self.forces) - 1)][None].copy()
        self.t += 1
        return self.force

    def reset(self, ids):
        pass


class FailureRecorder:
    """Watches ``evaluate.run_episodes`` (``start``/``step``) and keeps the ``k`` worst episodes."""

    def __init__(self, k: int, key: str = "time_to_fall", causes: str | None = None):
        if k < 1:
            raise ValueError(f"--record-failures {k}: give a number of episodes >= 1")
        if key not in KEYS:
            raise ValueError(f"--failure-key {key!r}; choose one of {sorted(KEYS)}")
        self.k, self.key, self.causes = int(k), key, parse_causes(causes)
        self.kept: list[tuple] = []  # heap of (-value, order, episode): its top is the best of the k worst
        self._order = 0

    def start(self, env: gym.vector.VectorEnv) -> None:
        """After ``env.reset``: log pushes and every env's start."""
        if env.metadata.get("autoreset_mode") != gym.vector.AutoresetMode.SAME_STEP:
            raise ValueError("the failure recorder follows episodes of an env made with autoreset_mode='same_step' "
                             "(as trainers.config.make_env makes them)")
        self.env = env.unwrapped
        if not isinstance(self.env.pushes, PushLog):
            self.env.pushes = PushLog(self.env.pushes)
        n = self.env.num_envs
        self.begin = [self.env.episode_starts([i]) for i in range(n)]
        self.begin_step = np.zeros(n, np.int64)
        self.log: dict[str, list[np.ndarray]] = {"actions": [], "forces": [], **{k: [] for k in TRACE}}
        self.t = self.base = 0  # steps so far; the step the log's first entry holds

    def step(self, actions, reward, info: dict, keep: np.ndarray | None) -> None:
        """After each ``env.step`` (``keep``: the finished episodes that count toward the evaluation)."""
        log = self.log
        log["actions"].append(np.asarray(actions, np.float32).copy())
        log["forces"].append(self.env.pushes.last)
        log["reward"].append(np.asarray(reward, np.float32).copy())
        log["object_height"].append(info["object_height"].copy())
        log["rotation_speed"].append(np.asarray(info["rotation_speed"], float).copy())
        if "final_info" in info:
            fin = info["final_info"]
            done = np.flatnonzero(info["_final_info"])
            for i in done:
                if keep is None or keep[i]:
                    self._consider(int(i), fin)
            for i in done:  # SAME_STEP: the next episode has begun already
                self.begin[i] = self.env.episode_starts([i])
                self.begin_step[i] = self.t + 1
        self.t += 1
        oldest = int(self.begin_step.min())
        if oldest - self.base >= 256:  # no running episode needs these steps any more
            for entries in log.values():
                del entries[:oldest - self.base]
            self.base = oldest

    def _consider(self, i: int, fin: dict) -> None:
        cause = int(fin["end_cause"][i])
        if cause not in self.causes:
            return
        value = float(fin[KEYS[self.key]][i])
        if len(self.kept) == self.k and -self.kept[0][0] <= value:
            return  # not worse than the best of those kept
        s, e = self.begin_step[i] - self.base, self.t + 1 - self.base
        episode = {name: np.stack([x[i] for x in self.log[name][s:e]]) for name in self.log}
        episode |= {"starts": self.begin[i], "env_index": i, "end_cause": cause, "value": value,
                    "stats": {k: float(v[i]) for k, v in fin.items() if not k.startswith("_") and np.ndim(v) == 1}}
        self._order += 1
        item = (-value, self._order, episode)
        if len(self.kept) < self.k:
            heapq.heappush(self.kept, item)
        else:
            heapq.heapreplace(self.kept, item)

    def worst(self) -> list[dict]:
        """The kept episodes, worst first."""
        return [e for _, _, e in sorted(self.kept, key=lambda x: (-x[0], x[1]))]


def save(episode: dict, path: Path, meta: dict) -> Path:
    """One failure as ``.npz`` (written atomically): arrays plus a JSON ``meta`` entry."""
    import io

    arrays = {name: episode[name] for name in ("actions", "forces", *TRACE)}
    arrays |= {f"start/{k}": v for k, v in episode["starts"].items()}
    info = meta | {k: episode[k] for k in ("env_index", "end_cause", "value", "stats")}
    info["end_cause_name"] = end_causes.NAMES[episode["end_cause"]]
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(info)), **arrays)
    runs.atomic_write_bytes(path, buf.getvalue())
    return path


def load(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a failure file, with a clear error for anything else."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
        meta["env_id"], arrays["actions"]  # noqa: B018  (what every failure file has)
    except Exception as e:
        raise runs.CheckpointError(f"cannot read failure file {path}: {type(e).__name__}: {e}. Pass a "
                                   f"failure_<n>.npz written by `eval --record-failures`") from e
    return meta, arrays


def replay(path: Path, video: Path | None = None) -> dict:
    """Play a recorded failure back; returns its trajectory, how far it is from the recorded one (max
    absolute difference per traced quantity; 0.0 = exactly), and the video path if one was asked for."""
    import unilab_envs  # noqa: F401  (registers the env ids)

    meta, arrays = load(Path(path))
    starts = {k.removeprefix("start/"): v for k, v in arrays.items() if k.startswith("start/")}
    env = gym.make_vec(meta["env_id"], num_envs=1, render_mode="rgb_array" if video else None,
                       **(meta["env_kwargs"] | {"stagger_episodes": False}))
    u = env.unwrapped
    trace: dict[str, list] = {k: [] for k in TRACE}
    frames = []
    try:
        env.reset(seed=int(meta["seed"]), options={"episode_starts": starts})
        u.pushes = ScriptedPushes(arrays["forces"])
        if video:
            frames.append(env.render())
        for action in arrays["actions"]:
            _, reward, term, trunc, info = env.step(action[None])
            trace["reward"].append(float(reward[0]))
            trace["object_height"].append(float(info["object_height"][0]))
            trace["rotation_speed"].append(float(info["rotation_speed"][0]))
            if video:
                frames.append(env.render())
            if term[0] or trunc[0]:
                break
        cause = int(info["final_info"]["end_cause"][0]) if "final_info" in info else None
    finally:
        env.close()
    result = {"steps": len(trace["reward"]), "recorded_steps": len(arrays["actions"]),
              "end_cause": end_causes.NAMES.get(cause), "recorded_end_cause": meta["end_cause_name"],
              "max_abs_diff": {k: _max_diff(trace[k], arrays[k]) for k in TRACE}, "trace": trace}
    if video:
        from .evaluate import write_mp4

        result["video"] = str(write_mp4(frames, Path(video), int(env.metadata.get("render_fps", 20)),
                                        "a failure's video needs imageio: pip install 'unilab-envs[render]'"))
    return result


def _max_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max()) if len(a) == len(b) and len(a) else float("inf")


def save_failures(recorder: FailureRecorder, cfg, folder: Path, meta: dict) -> dict:
    """The recorder's worst episodes as ``failure_<rank>.npz`` (+ an mp4 made by replaying each, which also
    checks that it reproduces) and ``index.json``."""
    from . import config as config_mod
    from .curriculum import EVAL_ENV

    meta = meta | {"env_id": cfg.task.env_id, "env_kwargs": config_mod.env_kwargs(cfg) | EVAL_ENV,
                   "seed": int(cfg.eval.seed), "key": recorder.key}
    worst = recorder.worst()
    index = []
    for rank, episode in enumerate(worst):
        path = save(episode, folder / f"failure_{rank}.npz", meta)
        row = {"file": str(path), "end_cause": episode["end_cause"], recorder.key: episode["value"],
               "steps": len(episode["actions"]), "scale": episode["stats"].get("object_scale")}
        try:
            check = replay(path, video=path.with_suffix(".mp4"))
            row |= {"video": check["video"], "replay_max_abs_diff": check["max_abs_diff"]}
        except RuntimeError as e:  # no imageio / no GL context: keep the recording, say why there is no video
            row["video_error"] = str(e)
            print(f"failure {rank}: no video ({e})", file=sys.stderr)
        index.append(row)
    if worst:
        runs.write_json(folder / "index.json", index)
    print(f"recorded {len(worst)} failure(s) (worst by {recorder.key}) in {folder}" if worst else
          "no episode matched --failure-cause; nothing recorded")
    return {"folder": str(folder) if worst else None, "episodes": index}
