"""Gymnasium's SAME_STEP autoreset info layout for natively batched envs."""
from __future__ import annotations

import numpy as np


def final_info(ids: np.ndarray, num_envs: int, obs, stats: dict[str, np.ndarray]) -> dict:
    """``final_obs``/``final_info`` entries (with ``_``-prefixed masks) for the envs ``ids`` that ended.

    ``obs`` is the batched terminal observation (array or dict of arrays); ``final_obs`` becomes an
    object array holding each finished env's own observation, as ``SyncVectorEnv`` gives it.
    """
    mask = np.zeros(num_envs, bool)
    mask[ids] = True
    final_obs = np.full(num_envs, None, dtype=object)
    if isinstance(obs, dict):
        final_obs[ids] = [{k: v[i] for k, v in obs.items()} for i in ids]
    else:
        final_obs[ids] = list(obs[ids])
    info = {k: np.where(mask.reshape(-1, *[1] * (np.ndim(v) - 1)), v, np.zeros_like(v)) for k, v in stats.items()}
    info.update({f"_{k}": mask for k in stats})
    return {"final_obs": final_obs, "_final_obs": mask, "final_info": info, "_final_info": mask}
