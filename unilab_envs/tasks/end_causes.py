"""Why a rotation episode ended: one code per finished episode, in ``final_info["end_cause"]``.

When several hold at the same step, the first in this order wins: non-finite physics, below the
height threshold, left the palm, outside the height band. An episode that ran to its step limit
ended by ``time_limit`` (the only cause with ``truncated=True``; every other one is ``dropped``).
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np


class EndCause(IntEnum):
    TIME_LIMIT = 0   # ran ``episode_length`` steps (truncated)
    FELL = 1         # object centre below ``termination_height``
    LEFT_PALM = 2    # object centre farther than ``max_palm_distance`` from the palm site
    HEIGHT_BAND = 3  # object centre left ``height_band`` around its start height (Sharpa)
    NONFINITE = 4    # the simulation went NaN/inf (counted, then the env is reset)


#: code -> name, as the README, ``eval`` and TensorBoard (``end_cause/<name>``) spell them
NAMES = {c.value: c.name.lower() for c in EndCause}


def classify(nonfinite: np.ndarray, fell: np.ndarray, left_palm: np.ndarray, out_of_band: np.ndarray,
             xp=np) -> np.ndarray:
    """(N,) int8 cause codes of this step (``TIME_LIMIT`` = 0 where none holds), in the masks' namespace ``xp``
    and on their device."""
    cause = xp.zeros_like(nonfinite, dtype=xp.int8)
    # later assignments win: write the lowest-priority cause first
    cause[out_of_band] = EndCause.HEIGHT_BAND
    cause[left_palm] = EndCause.LEFT_PALM
    cause[fell] = EndCause.FELL
    cause[nonfinite] = EndCause.NONFINITE
    return cause


def shares(codes: np.ndarray) -> dict[str, float]:
    """Share of each cause among ``codes`` (every cause listed, 0.0 where absent); empty for no episodes."""
    codes = np.asarray(codes).astype(np.int64).ravel()
    if codes.size == 0:
        return {}
    counts = np.bincount(codes, minlength=len(NAMES))
    return {name: float(counts[code]) / codes.size for code, name in NAMES.items()}


def parse(names) -> set[int]:
    """Cause codes from names (``"fell"``, ``"left_palm"`` ...), with a clear error for unknown ones."""
    by_name = {v: k for k, v in NAMES.items()}
    out = set()
    for name in names:
        key = str(name).strip().lower()
        if key not in by_name:
            raise ValueError(f"unknown end cause {name!r}; choose among {sorted(by_name)}")
        out.add(by_name[key])
    return out
