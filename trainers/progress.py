"""Training progress shared by the trainers: episode metrics in physical units, throughput, a progress bar."""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from tqdm.auto import tqdm

from unilab_envs.tasks import end_causes
from unilab_envs.wrappers.common import episode_stats

#: final_info entries logged as episode means under ``episode/<name>``
EPISODE_KEYS = ("episode_return", "episode_length", "episode_seconds", "rotation_speed", "dropped",
                "object_speed", "torque", "work")


class TrainProgress:
    """Turns finished episodes into TensorBoard scalars and drives a tqdm bar with ETA over iterations.

    ``episode/<name>``: means over the last ``window`` episodes; ``end_cause/<name>``: the share of each
    end cause among the episodes that finished in this iteration."""

    def __init__(self, total_iterations: int, start_iteration: int, enabled: bool = True, window: int = 200):
        self.bar = tqdm(total=total_iterations, initial=start_iteration, unit="it", desc="train",
                        disable=not enabled, mininterval=1.0, dynamic_ncols=True)
        self.recent: deque[dict[str, float]] = deque(maxlen=window)
        self._t, self._steps = time.time(), None
        self.latest: dict[str, float] = {}

    def record(self, num_timesteps: int, episodes: list[dict[str, float]]) -> dict[str, float]:
        """Scalars for this iteration: means over the last ``window`` episodes, and env steps per second
        between consecutive calls (so it includes the learning update)."""
        self.recent.extend(episodes)
        out: dict[str, float] = {}
        if self.recent:
            for key in EPISODE_KEYS + tuple(k for k in self.recent[-1] if k.startswith("reward_")):
                values = [e[key] for e in self.recent if key in e]
                if values:
                    name = {"dropped": "drop_rate", "episode_seconds": "time_to_fall_s",
                            "rotation_speed": "rotation_speed_rad_s"}.get(key, key)
                    out[f"episode/{name}"] = float(np.mean(values))
        codes = [e["end_cause"] for e in episodes if "end_cause" in e]
        for name, share in end_causes.shares(np.asarray(codes)).items():  # this iteration's episodes only
            out[f"end_cause/{name}"] = share
        now = time.time()
        if self._steps is not None and now > self._t:
            out["perf/env_steps_per_s"] = (num_timesteps - self._steps) / (now - self._t)
        self._t, self._steps = now, num_timesteps
        out["perf/episodes_finished"] = float(len(episodes))
        self.latest = {k.split("/", 1)[1]: v for k, v in out.items() if k.startswith("episode/")} | (
            {"env_steps_per_s": out["perf/env_steps_per_s"]} if "perf/env_steps_per_s" in out else {})
        return out

    def advance(self, iteration: int) -> None:
        self.bar.update(max(iteration - self.bar.n, 0))
        post = {}
        for key, label, fmt in (("episode_return", "ret", "{:.2f}"), ("rotation_speed_rad_s", "rad/s", "{:.3f}"),
                                ("time_to_fall_s", "fall s", "{:.1f}"), ("env_steps_per_s", "sps", "{:.0f}")):
            if key in self.latest:
                post[label] = fmt.format(self.latest[key])
        self.bar.set_postfix(post, refresh=False)

    def close(self) -> None:
        self.bar.close()


def finished_episodes(info: dict, select: np.ndarray | None = None) -> list[dict[str, float]]:
    """The ``final_info`` statistics of each env that finished an episode in this step (``info`` of a native
    vector env's ``step``), of those where ``select`` is true if given."""
    if "final_info" not in info:
        return []
    done = np.asarray(info["_final_info"], bool)
    if select is not None:
        done = done & select
    return [episode_stats(info["final_info"], i) for i in np.flatnonzero(done)]
