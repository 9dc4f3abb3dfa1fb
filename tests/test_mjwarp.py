"""MuJoCo Warp (``sim="mjwarp"``) on Warp's CPU device beside ``mujoco.batch``: the same model, states and actions.

The first test in a fresh environment compiles Warp's kernels (~30 s; cached in ~/.cache/warp). Measured
differences (README, 'MuJoCo Warp'): 3e-7 rad without contact, 3e-5 rad and 4e-6 m over 1 s in a grasp;
the tolerances below are stated with margin.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco_warp", reason="the mjwarp extra is not installed")

from unilab_envs.backends import make_backend  # noqa: E402
from unilab_envs.grasp_cache import SHIPPED_DIR  # noqa: E402
from unilab_envs.hands import ALLEGRO  # noqa: E402
from unilab_envs.objects import OBJECTS  # noqa: E402
from unilab_envs.scene import build_scene  # noqa: E402

from .conftest import WARP_DEVICE  # noqa: E402

CONTACT_FREE_ATOL = 1e-5     # rad over 1 s
IN_CONTACT_JOINT_ATOL = 1e-3  # rad over 1 s from a cached grasp
IN_CONTACT_OBJECT_ATOL = 1e-3  # m


def pair(n):
    layout = build_scene(ALLEGRO, OBJECTS["ball"])
    return (make_backend("mujoco", layout, num_envs=n, num_threads=2),
            make_backend("mjwarp", layout, num_envs=n, device=WARP_DEVICE))


def _grasps(n):
    return np.load(SHIPPED_DIR / "allegro_ball_grasp_1.0.npy")[:n].astype(float)


def test_contact_free_trajectories_agree_tightly():
    backends = pair(3)
    lo, hi = backends[0].joint_ranges().T
    home = np.tile(ALLEGRO.home_pose, (3, 1))
    for be in backends:
        be.set_state(np.arange(3), home, np.tile([0.4, 0.4, 0.5], (3, 1)), np.tile([1.0, 0, 0, 0], (3, 1)))
    worst = 0.0
    for k in range(20):  # 1 s
        target = np.clip(home + 0.1 * np.sin(0.5 * k + np.arange(3)[:, None] + np.arange(16)), lo, hi)
        for be in backends:
            be.step(target, 6)
        worst = max(worst, float(np.abs(backends[0].joint_state()[0] - backends[1].joint_state()[0]).max()))
    assert worst < CONTACT_FREE_ATOL


def test_trajectories_from_cached_grasps_agree_in_contact():
    backends = pair(8)
    g = _grasps(8)
    for be in backends:
        be.set_state(np.arange(8), g[:, :16], g[:, 16:19], g[:, 19:23])
    for _ in range(20):  # 1 s holding the grasp
        for be in backends:
            be.step(g[:, :16], 6)
    (q0, _), (q1, _) = (be.joint_state() for be in backends)
    np.testing.assert_allclose(q1, q0, atol=IN_CONTACT_JOINT_ATOL)
    np.testing.assert_allclose(backends[1].object_state().pos, backends[0].object_state().pos,
                               atol=IN_CONTACT_OBJECT_ATOL)
    touch = [be.fingertip_contacts() for be in backends]
    assert touch[0].sum() > 8 and (touch[0] == touch[1]).mean() >= 0.9  # a grazing tip may read either way


def test_randomisation_lands_in_the_batched_model_fields():
    mj, wp_ = pair(2)
    ids = np.arange(2)
    params = {"object_mass": np.array([0.03, 0.2]), "object_scale": np.array([0.9, 1.1]),
              "object_com": np.array([[0.0, 0.003, 0.0], [0.0, 0.0, -0.002]]),
              "friction": np.array([0.5, 2.0]), "gravity": np.array([[0.0, 0, -9.81], [1.0, 0, -9.76]]),
              "kp": np.tile(mj.nominal_params()["kp"], (2, 1)) * [[0.9], [1.1]]}
    for be in (mj, wp_):
        be.set_params(ids, **params)
    for field in ("body_mass", "body_inertia", "body_ipos", "geom_size", "geom_friction", "actuator_gainprm",
                  "actuator_biasprm", "body_subtreemass"):
        np.testing.assert_allclose(getattr(wp_.m, field).numpy(), mj.batch.expanded(field), rtol=1e-5, atol=1e-7,
                                   err_msg=field)
    np.testing.assert_allclose(wp_.m.opt.gravity.numpy(), mj.batch.expanded("opt.gravity"), rtol=1e-6)


def test_zero_action_hold_rates_match(make_vec):
    held = {}
    # host arrays on both: the same numpy streams draw the same grasps
    for sim, extra in (("mujoco", {}), ("mjwarp", {"sim_device": WARP_DEVICE, "arrays": "numpy"})):
        env = make_vec(16, sim=sim, stagger_episodes=False, domain_rand={"enabled": False}, **extra)
        env.reset(seed=2)
        dropped = np.zeros(16, bool)
        for _ in range(40):  # 2 s
            dropped |= env.step(np.zeros(env.action_space.shape, np.float32))[2]
        held[sim] = 1.0 - dropped.mean()
    assert held["mjwarp"] == held["mujoco"] >= 0.9, held


@pytest.mark.parametrize("env_id", ["AllegroInhandRotation-v0", "SharpaInhandRotation-v0", "AllegroInhandGrasp-v0"])
def test_envs_run_on_mjwarp(make_vec, env_id):
    import gymnasium as gym

    from unilab_envs.backends import host

    env = gym.make_vec(env_id, num_envs=4, sim="mjwarp", sim_device=WARP_DEVICE)
    try:
        obs, _ = env.reset(seed=0)
        env.action_space.seed(5)  # seed 5 once made a world hit the linesearch cap: not an error
        for _ in range(5):
            obs, reward, *_ = env.step(env.action_space.sample())
        # the rotation envs answer in torch tensors on the physics device (arrays="auto"); grasp collection in numpy
        assert env.observation_space.contains(host(obs)) and np.isfinite(host(reward)).all()
        assert type(obs).__module__.startswith("torch") == ("Rotation" in env_id)
    finally:
        env.close()


def test_advance_is_the_physics_of_a_step():
    """``advance(k)``, what ``step`` runs and benchmarks/gpu_throughput.py times as the physics, is k of MuJoCo
    Warp's own steps with the controls left as they are."""
    import mujoco_warp as mjw
    import warp as wp

    layout, g = build_scene(ALLEGRO, OBJECTS["ball"]), _grasps(2)
    advanced, reference = (make_backend("mjwarp", layout, num_envs=2, device=WARP_DEVICE) for _ in range(2))
    target = g[:, :16] + 0.05
    for be in (advanced, reference):
        be.set_state(np.arange(2), g[:, :16], g[:, 16:19], g[:, 19:23])
        be.step(target, 0)  # the controls, no physics
    before = advanced.joint_state()[0].copy()
    advanced.advance(6)
    with wp.ScopedDevice(WARP_DEVICE):
        for _ in range(6):
            mjw.step(reference.m, reference.d)
    for be in (advanced, reference):
        be.step(target, 0)  # read back
    assert np.abs(advanced.joint_state()[0] - before).max() > 1e-3  # it moved
    np.testing.assert_array_equal(advanced.joint_state()[0], reference.joint_state()[0])
    np.testing.assert_array_equal(advanced.object_state().pos, reference.object_state().pos)


def test_overflowing_the_preallocated_contacts_is_a_clear_error():
    be = make_backend("mjwarp", build_scene(ALLEGRO, OBJECTS["ball"]), num_envs=2, device=WARP_DEVICE, nconmax=1,
                    njmax=8)
    g = _grasps(2)
    be.set_state(np.arange(2), g[:, :16], g[:, 16:19], g[:, 19:23])
    with pytest.raises(RuntimeError, match=r"nconmax=1 .*raise them with env.sim_options"):
        be.step(g[:, :16], 6)


def test_options_and_devices_are_checked(make_vec):
    import gymnasium as gym
    import warp as wp

    with pytest.raises(ValueError, match="sim_options.nconmax=8 has no effect on sim='mujoco'.*sim=mjwarp"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, sim_options={"nconmax": 8})
    if not wp.is_cuda_available():
        with pytest.raises(ValueError, match="no CUDA device.*--sim-device cpu"):
            make_backend("mjwarp", build_scene(ALLEGRO, OBJECTS["ball"]), num_envs=2, device="cuda")
