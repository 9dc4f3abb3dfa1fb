"""A domain-randomisation curriculum: named ranges widen from a start value to ``domain_rand``'s over a
milestone schedule in training env steps.

The env never reads a clock: a trainer tells it how far training has got with
``env.unwrapped.set_training_progress(env_steps)`` (env steps of all envs together, resumed runs
included), and the env draws its randomisation from the ranges of that stage: physical parameters at each
env's next reset, pushes and observation noise from the next step. The stage is a fraction in [0, 1]:
with milestones ``m_0 < ... < m_k`` it is ``i / k`` at ``m_i``, linear in between (``interpolation:
linear``) or held until the next milestone (``step``); 0 before ``m_0``, 1 after ``m_k``.

The privileged observation keeps scaling facts by the full configured ranges, so that its meaning does
not change with the stage.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..config import require
from .config import CurriculumConfig, DomainRandConfig

INTERPOLATIONS = ("linear", "step")


def _terms(dr: DomainRandConfig) -> dict[str, tuple[float, str, bool]]:
    """Each curriculum term -> (its end value in ``dr``, the field to write it to, whether ``dr`` draws it)."""
    return {
        "mass_max": (dr.mass_range[1], "mass_range.1", dr.object_mass),
        "friction_min": (dr.friction_range[0], "friction_range.0", dr.friction),
        "force_scale": (dr.force_scale, "force_scale", dr.external_force),
        "joint_noise_scale": (dr.joint_noise_scale, "joint_noise_scale", dr.joint_noise),
        "gravity_tilt_max": (dr.gravity_tilt_max, "gravity_tilt_max", dr.gravity_tilt),
    }


def validate(cur: CurriculumConfig, dr: DomainRandConfig) -> None:
    """Reject schedules and start values that cannot work, naming the key (``curriculum.*``). The start values
    are checked against ``domain_rand`` only when the curriculum is on."""
    k = "curriculum."
    require(cur.interpolation in INTERPOLATIONS, k + "interpolation", cur.interpolation, f"one of {INTERPOLATIONS}")
    m = np.asarray(cur.milestones, float)
    require(len(m) >= 2 and np.all(np.diff(m) > 0) and m[0] >= 0, k + "milestones", cur.milestones,
            "at least two increasing env-step counts >= 0, e.g. [0, 2e6]")
    if not cur.enabled:
        return
    start = cur.start
    if start.mass_max is not None:
        require(dr.mass_range[0] < start.mass_max <= dr.mass_range[1], k + "start.mass_max", start.mass_max,
                f"in (mass_range[0], mass_range[1]] = ({dr.mass_range[0]}, {dr.mass_range[1]}] kg")
    if start.friction_min is not None:
        require(dr.friction_range[0] <= start.friction_min <= dr.friction_range[1], k + "start.friction_min",
                start.friction_min, f"within friction_range {dr.friction_range}")
    for name in ("force_scale", "joint_noise_scale", "gravity_tilt_max"):
        value, end = getattr(start, name), getattr(dr, name)
        if value is not None:
            require(0 <= value <= end, k + "start." + name, value, f"in [0, domain_rand.{name} = {end}]")


class Curriculum:
    """The stage of a curriculum and the randomisation settings of that stage."""

    def __init__(self, cur: CurriculumConfig, dr: DomainRandConfig):
        self.cfg, self.full = cur, dr
        self.milestones = np.asarray(cur.milestones, float)
        self._levels = np.linspace(0.0, 1.0, len(self.milestones))
        self.progress = 0.0  # the stage, in [0, 1]

    @property
    def enabled(self) -> bool:
        return self.cfg.enabled and self.full.enabled

    def stage(self, env_steps: float) -> float:
        """The fraction of the way from the start values to the configured ranges after ``env_steps``."""
        if self.cfg.interpolation == "linear":
            return float(np.interp(env_steps, self.milestones, self._levels))
        i = int(np.searchsorted(self.milestones, env_steps, side="right")) - 1
        return float(self._levels[i]) if i >= 0 else 0.0

    def values(self, progress: float | None = None) -> dict[str, float]:
        """Each term's value at ``progress`` (default: the current stage); terms without a start, or that
        ``domain_rand`` does not draw (Allegro's gravity tilt), are absent."""
        p = self.progress if progress is None else progress
        out = {}
        for name, (end, _, drawn) in _terms(self.full).items():
            start = getattr(self.cfg.start, name)
            if start is not None and drawn:
                out[name] = float((1.0 - p) * start + p * end)  # exactly the end value at p = 1
        return out

    def ranges(self, progress: float | None = None) -> DomainRandConfig:
        """``domain_rand`` with every term at its value of ``progress`` (the full config when disabled)."""
        if not self.enabled:
            return self.full
        dr = self.full
        changes: dict = {}
        for name, value in self.values(progress).items():
            field, _, index = _terms(dr)[name][1].partition(".")
            if index:
                pair = list(changes.get(field, getattr(dr, field)))
                pair[int(index)] = value
                changes[field] = tuple(pair)
            else:
                changes[field] = value
        return dataclasses.replace(dr, **changes)


__all__ = ["Curriculum", "CurriculumConfig", "INTERPOLATIONS", "validate"]
