"""Per-env domain randomisation: physical parameters drawn at reset, random pushes per step."""
from __future__ import annotations

import numpy as np
from numba import njit

from ..config import require, require_range
from .arrays import NUMPY, Arrays
from .config import DomainRandConfig


def validate(dr: DomainRandConfig) -> None:
    """Reject randomisation settings that cannot be simulated, naming the key (``domain_rand.*``)."""
    k = "domain_rand."
    require_range(k + "mass_range", dr.mass_range, 0.0, strict=True)
    require_range(k + "com_range", dr.com_range)
    require_range(k + "friction_range", dr.friction_range, 0.0)
    require_range(k + "kp_scale_range", dr.kp_scale_range, 0.0, strict=True)
    require_range(k + "kv_scale_range", dr.kv_scale_range, 0.0)
    require(len(dr.scale_list) > 0, k + "scale_list", dr.scale_list, "give at least one object scale, e.g. [1.0]")
    require(min(dr.scale_list) > 0, k + "scale_list", dr.scale_list, "object scales must be > 0")
    require(0 <= dr.scale_jitter < min(dr.scale_list), k + "scale_jitter", dr.scale_jitter,
            "must be >= 0 and smaller than the smallest listed scale")
    require(dr.joint_noise_scale >= 0, k + "joint_noise_scale", dr.joint_noise_scale, "must be >= 0")
    require(dr.force_scale >= 0, k + "force_scale", dr.force_scale, "must be >= 0")
    require(0 <= dr.force_prob <= 1, k + "force_prob", dr.force_prob, "a probability, in [0, 1]")
    require(0 <= dr.force_decay <= 1, k + "force_decay", dr.force_decay, "a decay factor, in [0, 1]")
    require(dr.force_decay_interval > 0, k + "force_decay_interval", dr.force_decay_interval, "must be > 0 s")
    require(0 <= dr.gravity_tilt_max < np.pi / 2, k + "gravity_tilt_max", dr.gravity_tilt_max,
            "an angle in radians, in [0, pi/2)")
    require(0 <= dr.tactile_latency <= 1, k + "tactile_latency", dr.tactile_latency, "a probability, in [0, 1]")


def assign_scales(num_scales: int, num_envs: int, rng: np.random.Generator) -> np.ndarray:
    """Index into ``scale_list`` per env: the scales split evenly over the envs, in random order.

    Drawn at a full reset and kept by every later (auto)reset of the env, so an env keeps its scale
    (and with it its grasp cache) for its life; one env gets a random scale per seed.
    """
    return rng.permutation(np.arange(num_envs) % num_scales)


def tilted_gravity(nominal: np.ndarray, max_tilt: float, n: int, rng: np.random.Generator,
                   arrays: Arrays = NUMPY) -> np.ndarray:
    """(n, 3) gravity vectors of ``nominal``'s magnitude (host numpy), tilted from it by up to ``max_tilt`` rad,
    uniformly over that spherical cap."""
    xp = arrays.xp
    g = float(np.linalg.norm(nominal))
    down = nominal / g
    # an orthonormal frame (u, v) perpendicular to ``down``
    u = np.cross(down, [1.0, 0.0, 0.0] if abs(down[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    down, u, v = (arrays.asarray(x) for x in (down, u, np.cross(down, u)))
    cos_tilt = rng.uniform(float(np.cos(max_tilt)), 1.0, n)
    sin_tilt = xp.sqrt(1.0 - cos_tilt * cos_tilt)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    direction = cos_tilt[:, None] * down + sin_tilt[:, None] * (xp.cos(azimuth)[:, None] * u +
                                                                  xp.sin(azimuth)[:, None] * v)
    return g * direction


def sample_params(cfg: DomainRandConfig, nominal: dict[str, np.ndarray], scale_idx: np.ndarray,
                  rng: np.random.Generator, arrays: Arrays = NUMPY) -> tuple[dict[str, np.ndarray], set[str]]:
    """Draw parameters for the envs being reset, whose listed scales are ``cfg.scale_list[scale_idx]``.

    Returns every parameter's value per env (switched-off entries at their nominal value, for the
    privileged observation) and the names to write to the simulator: the randomised ones and the
    scale. Switched-off entries are left as the scene defines them. Friction is ``friction`` (one
    coefficient for the object and the hand) or, with ``friction_relative``, ``friction_scale`` (a
    factor on each geom's own coefficient). ``nominal`` holds host numpy arrays; the draws are in ``arrays``.
    """
    on, n = cfg.enabled, len(scale_idx)
    friction = "friction_scale" if cfg.friction_relative else "friction"
    switches = {"object_mass": cfg.object_mass, "object_com": cfg.object_com, friction: cfg.friction,
                "kp": cfg.pd_gains, "kv": cfg.pd_gains, "gravity": cfg.gravity_tilt and cfg.gravity_tilt_max > 0}
    active = {k for k, flag in switches.items() if on and flag} | {"object_scale"}
    scale = arrays.asarray(cfg.scale_list)[scale_idx]
    if on and cfg.object_scale and cfg.scale_jitter > 0:
        scale = scale + rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, n)
    nu = nominal["kp"].shape[0]
    kp, kv = arrays.asarray(nominal["kp"]), arrays.asarray(nominal["kv"])
    draws = {
        "object_mass": lambda: rng.uniform(*cfg.mass_range, n),
        "object_com": lambda: rng.uniform(*cfg.com_range, (n, 3)),
        friction: lambda: rng.uniform(*cfg.friction_range, n),
        "gravity": lambda: tilted_gravity(nominal["gravity"], cfg.gravity_tilt_max, n, rng, arrays),
        "kp": lambda: kp * rng.uniform(*cfg.kp_scale_range, (n, nu)),
        "kv": lambda: kv * rng.uniform(*cfg.kv_scale_range, (n, nu)),
    }
    params = {"object_scale": scale}
    for name, draw in draws.items():
        if name in active:
            params[name] = draw()
        else:
            value = arrays.asarray(nominal[name])
            params[name] = arrays.xp.asarray(arrays.xp.broadcast_to(value, (n, *value.shape)), copy=True)
    return params, active


class RandomPushes:
    """HORA's random object forces: decaying pushes, a new one with probability ``force_prob``, in a random
    direction of size ``force_scale`` times the object's mass (standard normal per axis)."""

    def __init__(self, cfg: DomainRandConfig, num_envs: int, control_dt: float, arrays: Arrays = NUMPY):
        self.active = cfg.enabled and cfg.external_force and cfg.force_scale > 0
        self.cfg = cfg
        self.decay = cfg.force_decay ** (control_dt / cfg.force_decay_interval)
        self.force = arrays.zeros((num_envs, 3))
        self.column = 0  # the onset's column in the step's uniforms (StepDraws column "push")

    def step(self, mass: np.ndarray, draws) -> np.ndarray:
        """Decay the pushes, start new ones from this step's ``draws`` (``step_draws.Draws``: the onset uniform in
        column ``column``, the direction in ``normal``), and return the (N, 3) forces to apply."""
        if self.active:
            onset = draws.uniform[:, self.column]
            if isinstance(self.force, np.ndarray):  # one compiled pass: a one-env step pays ~1 us, not ~10
                cfg = self.cfg
                update_pushes(self.force, mass, onset, draws.normal, self.decay, cfg.force_prob, cfg.force_scale)
            else:
                self.force *= self.decay
                new = (onset < self.cfg.force_prob)[:, None]
                self.force[:] = self.force.where(~new, draws.normal * (mass[:, None] * self.cfg.force_scale))
        return self.force

    def reset(self, ids: np.ndarray) -> None:
        self.force[ids] = 0.0


@njit(cache=True)
def update_pushes(force, mass, onset, normal, decay, prob, scale):
    """``RandomPushes.step``'s update on numpy arrays, in place: a new push where ``onset < prob``, else decay."""
    for i in range(force.shape[0]):
        new = onset[i] < prob
        for c in range(3):
            force[i, c] = normal[i, c] * (mass[i] * scale) if new else force[i, c] * decay
