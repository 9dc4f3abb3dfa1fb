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

An env whose arrays are torch tensors on a device (``arrays="torch"``) keeps every entry a tensor there;
``final_obs`` is then the step's observation before the reset (a tensor, or a dict of them) with its mask
``_final_obs``, instead of numpy's object array of per-env observations.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from gymnasium import error
from gymnasium.vector import AutoresetMode

from .arrays import NUMPY, Arrays

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


def reset_ids(options: dict | None, num_envs: int, known: tuple[str, ...], arrays: Arrays = NUMPY):
    """The envs ``reset(options=...)`` starts: all, or those set in ``options["reset_mask"]`` (a bool array of
    ``num_envs`` entries, as Gymnasium's vector envs take it); None for all. Unknown option keys and a mask that is
    not one bool per env are errors: an index list would otherwise be read as a mask."""
    if not options:
        return None
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"reset options {unknown} are not known to this env; it takes {list(known)}")
    mask = options.get("reset_mask")
    if mask is None:
        return None
    dtype = str(getattr(mask, "dtype", np.asarray(mask).dtype)).removeprefix("torch.")
    shape = tuple(getattr(mask, "shape", np.shape(mask)))
    if dtype != "bool" or shape != (num_envs,):
        raise ValueError(f"options['reset_mask'] has dtype {dtype} and shape {shape}; expected a bool array of shape "
                         f"({num_envs},), True for the envs to reset (from indices i: "
                         f"mask = np.zeros({num_envs}, bool); mask[i] = True)")
    return arrays.flatnonzero(arrays.asarray(mask, arrays.xp.bool))


def _masked(ids, num_envs: int, stats: dict, arrays: Arrays = NUMPY) -> tuple[np.ndarray, dict]:
    """Each statistic (an array, or a dict of arrays such as ``episode``) with the other envs' entries zeroed,
    and a ``_``-prefixed mask beside it, as Gymnasium lays out vector infos."""
    xp = arrays.xp
    mask = arrays.zeros(num_envs, xp.bool)
    mask[ids] = True

    def zeroed(v):
        if isinstance(v, dict):
            return {k: zeroed(x) for k, x in v.items()}
        return xp.where(xp.reshape(mask, (-1, *[1] * (v.ndim - 1))), v, xp.zeros_like(v))

    info = {k: zeroed(v) for k, v in stats.items()}
    info.update({f"_{k}": mask for k in stats})
    return mask, info


def episode_info(ids, num_envs: int, stats: dict[str, np.ndarray], arrays: Arrays = NUMPY) -> dict:
    """``final_info`` (with ``_``-prefixed masks) for the envs ``ids`` whose episodes just ended."""
    mask, info = _masked(ids, num_envs, stats, arrays)
    return {"final_info": info, "_final_info": mask}


def final_info(ids, num_envs: int, obs, stats: dict[str, np.ndarray], arrays: Arrays = NUMPY) -> dict:
    """SAME_STEP: ``episode_info`` plus ``final_obs``: for numpy an object array holding each finished env's own
    last observation (array or dict), as ``SyncVectorEnv`` gives it; on a device the whole batch's observation
    before the reset (read it where ``_final_obs`` is set)."""
    out = episode_info(ids, num_envs, stats, arrays)
    if not arrays.is_numpy:
        return out | {"final_obs": obs, "_final_obs": out["_final_info"]}
    final_obs = np.full(num_envs, None, dtype=object)
    if isinstance(obs, dict):
        final_obs[ids] = [{k: v[i] for k, v in obs.items()} for i in ids]
    else:
        final_obs[ids] = list(obs[ids])
    return out | {"final_obs": final_obs, "_final_obs": out["_final_info"]}


class Autoreset:
    """A batched env's autoreset bookkeeping: its mode, and which envs restart in the next step."""

    def __init__(self, mode, num_envs: int, arrays: Arrays = NUMPY):
        self.mode = resolve_mode(mode)
        self.num_envs, self.arrays = num_envs, arrays
        self.pending = arrays.zeros(num_envs, arrays.xp.bool)  # NEXT_STEP: ended in the last step, restart now
        self.has_pending = False  # whether any is: a flag, read without touching the array (or the device)
        self.started = False

    def on_reset(self, ids: np.ndarray) -> None:
        self.pending[ids] = False
        self.has_pending = self.arrays.any(self.pending)
        self.started = True

    def require_started(self) -> None:
        if not self.started:
            raise error.ResetNeeded("Cannot call step() before reset(): call envs.reset(seed=...) first")

    def restart_pending(self, reset_envs: Callable[[np.ndarray], None], *outputs: np.ndarray) -> None:
        """NEXT_STEP: the envs that ended in the last step were stepped along with the batch (one call);
        zero their entries of this step's ``outputs`` (reward, flags, terms) and start their next episode."""
        if self.has_pending:
            ids = self.arrays.flatnonzero(self.pending)
            for value in outputs:
                value[ids] = 0
            reset_envs(ids)
            self.pending[ids] = False
            self.has_pending = False

    def finish(self, done: np.ndarray, obs, stats: Callable[[], dict], reset_envs: Callable[[np.ndarray], None],
               observe: Callable[[], object]) -> tuple[object, dict]:
        """The step's observation and the info entries of the envs whose episodes ended (``done``)."""
        if not self.arrays.any(done):
            return obs, {}
        ids = self.arrays.flatnonzero(done)
        if self.mode == AutoresetMode.SAME_STEP:
            info = final_info(ids, self.num_envs, obs, stats(), self.arrays)
            reset_envs(ids)
            return observe(), info
        self.pending[ids] = True
        self.has_pending = True
        return obs, episode_info(ids, self.num_envs, stats(), self.arrays)
