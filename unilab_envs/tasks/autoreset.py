"""Gymnasium's autoreset modes for natively batched envs, and the info layout of finished episodes.

- ``NEXT_STEP`` (the default, as in Gymnasium's own vector envs, and the mode its vector wrappers
  such as ``NormalizeObservation`` require): a finished env returns its final observation; the
  next ``step`` resets it, ignoring its action, and returns its first observation with reward 0
  and ``terminated = truncated = False``.
- ``SAME_STEP`` (what Stable-Baselines3 and Sample Factory expect; the trainers ask for it): a
  finished env is reset within the same step; its final observation is in ``info["final_obs"]``.

In both modes ``info["final_info"]`` (mask ``info["_final_info"]``) holds the statistics of the
episodes that ended in that step, with Gymnasium's ``episode`` entry (``r``, ``l``, ``t``) among them,
as its ``RecordEpisodeStatistics`` writes it (what CleanRL-style loops read).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from gymnasium import error
from gymnasium.vector import AutoresetMode

MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP)


def resolve_mode(mode) -> AutoresetMode:
    """An ``AutoresetMode`` (or its name or value as a string: ``"next_step"``, ``"SameStep"``)."""
    if isinstance(mode, str):
        by_text = {m.name.lower(): m for m in AutoresetMode} | {m.value.lower(): m for m in AutoresetMode}
        mode = by_text.get(mode.strip().lower(), mode)
    if mode not in MODES:
        raise ValueError(f"autoreset_mode={mode!r}; choose AutoresetMode.NEXT_STEP (the default, what Gymnasium's "
                         "vector wrappers expect) or AutoresetMode.SAME_STEP (what SB3 and Sample Factory expect)")
    return mode


def _masked(ids: np.ndarray, num_envs: int, stats: dict) -> tuple[np.ndarray, dict]:
    """Each statistic (an array, or a dict of arrays such as ``episode``) with the other envs' entries zeroed,
    and a ``_``-prefixed mask beside it, as Gymnasium lays out vector infos."""
    mask = np.zeros(num_envs, bool)
    mask[ids] = True

    def zeroed(v):
        if isinstance(v, dict):
            return {k: zeroed(x) for k, x in v.items()}
        return np.where(mask.reshape(-1, *[1] * (np.ndim(v) - 1)), v, np.zeros_like(v))

    info = {k: zeroed(v) for k, v in stats.items()}
    info.update({f"_{k}": mask for k in stats})
    return mask, info


def episode_info(ids: np.ndarray, num_envs: int, stats: dict[str, np.ndarray]) -> dict:
    """``final_info`` (with ``_``-prefixed masks) for the envs ``ids`` whose episodes just ended."""
    mask, info = _masked(ids, num_envs, stats)
    return {"final_info": info, "_final_info": mask}


def final_info(ids: np.ndarray, num_envs: int, obs, stats: dict[str, np.ndarray]) -> dict:
    """SAME_STEP: ``episode_info`` plus ``final_obs``, an object array holding each finished env's own
    last observation (array or dict), as ``SyncVectorEnv`` gives it."""
    out = episode_info(ids, num_envs, stats)
    final_obs = np.full(num_envs, None, dtype=object)
    if isinstance(obs, dict):
        final_obs[ids] = [{k: v[i] for k, v in obs.items()} for i in ids]
    else:
        final_obs[ids] = list(obs[ids])
    return out | {"final_obs": final_obs, "_final_obs": out["_final_info"]}


class Autoreset:
    """A batched env's autoreset bookkeeping: its mode, and which envs restart in the next step."""

    def __init__(self, mode, num_envs: int):
        self.mode = resolve_mode(mode)
        self.num_envs = num_envs
        self.pending = np.zeros(num_envs, bool)  # NEXT_STEP: ended in the last step, restart in this one
        self.started = False

    def on_reset(self, ids: np.ndarray) -> None:
        self.pending[ids] = False
        self.started = True

    def require_started(self) -> None:
        if not self.started:
            raise error.ResetNeeded("Cannot call step() before reset(): call envs.reset(seed=...) first")

    def restart_pending(self, reset_envs: Callable[[np.ndarray], None], *outputs: np.ndarray) -> None:
        """NEXT_STEP: the envs that ended in the last step were stepped along with the batch (one call);
        zero their entries of this step's ``outputs`` (reward, flags, terms) and start their next episode."""
        if self.pending.any():
            ids = np.flatnonzero(self.pending)
            for value in outputs:
                value[ids] = 0
            reset_envs(ids)
            self.pending[ids] = False

    def finish(self, done: np.ndarray, obs, stats: Callable[[], dict], reset_envs: Callable[[np.ndarray], None],
               observe: Callable[[], object]) -> tuple[object, dict]:
        """The step's observation and the info entries of the envs whose episodes ended (``done``)."""
        if not done.any():
            return obs, {}
        ids = np.flatnonzero(done)
        if self.mode == AutoresetMode.SAME_STEP:
            info = final_info(ids, self.num_envs, obs, stats())
            reset_envs(ids)
            return observe(), info
        self.pending[ids] = True
        return obs, episode_info(ids, self.num_envs, stats())
