"""MuJoCo and MotrixSim side by side: the same scene, state, actions and parameters on both backends.

The tolerances are measured differences, not assumptions (README, 'MotrixSim'): MotrixSim is float32
and has no implicit integrator or elliptic cone, so contact-free motion agrees closely and motion in
contact only loosely; what the task computes from identical readings must agree to float32 rounding.
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("motrixsim", reason="the motrix extra is not installed")

from unilab_envs.backends import make_backend  # noqa: E402
from unilab_envs.backends.base import pack_readings, readings_layout  # noqa: E402
from unilab_envs.hands import ALLEGRO, SHARPA  # noqa: E402
from unilab_envs.objects import OBJECTS  # noqa: E402
from unilab_envs.scene import build_scene  # noqa: E402

FAR = np.array([0.4, 0.4, 0.5])
#: max |joint position difference| over 1 s of contact-free motion: measured 3e-7 rad, float32 rounding (the
#: engines integrate alike, as MuJoCo's implicitfast); one finger-finger contact makes it 4e-2 rad (README)
CONTACT_FREE_ATOL = 1e-5


def pair(hand=ALLEGRO, obj="ball", n=3, physics=None):
    layout = build_scene(hand, OBJECTS[obj], *([physics] if physics else []))
    return [make_backend(sim, layout, num_envs=n, num_threads=2) for sim in ("mujoco", "motrix")]


def test_contact_free_joint_trajectories_agree_over_one_second():
    backends = pair()
    lo, hi = backends[0].joint_ranges().T
    home = np.tile(ALLEGRO.home_pose, (3, 1))
    for be in backends:
        be.set_state(np.arange(3), home, np.tile(FAR, (3, 1)), np.tile([1.0, 0, 0, 0], (3, 1)))
    steps = round(0.05 / backends[0].timestep)  # one 20 Hz control step
    worst, moved, contacts = 0.0, 0.0, 0
    for k in range(20):  # 1 s of a sweeping target, different per env, small enough that no fingers touch
        target = np.clip(home + 0.1 * np.sin(0.5 * k + np.arange(3)[:, None] + np.arange(16)), lo, hi)
        for be in backends:
            be.step(target, steps)
        (q0, _), (q1, _) = (be.joint_state() for be in backends)
        worst = max(worst, float(np.abs(q0 - q1).max()))
        moved = max(moved, float(np.abs(q0 - home).max()))
        contacts += sum(backends[0].batch.get_data(i).ncon for i in range(3))
    assert moved > 0.05 and contacts == 0  # the hand really moved, and touched nothing
    print(f"contact-free max joint difference over 1 s: {worst:.2e} rad")
    assert worst < CONTACT_FREE_ATOL, f"joint trajectories differ by {worst:.2e} rad over 1 s without contact"


def _set_native(be, q, qd, pos, quat, linvel, angvel_world, ctrl):
    """Write one full state (velocities included) through the engine's own API, then evaluate it."""
    from unilab_envs.rotations import quat_conj, quat_rotate

    local = quat_rotate(quat_conj(quat), angvel_world)
    if be.name == "mujoco":
        b = be.batch
        qpos, qvel = b.bind("qpos"), b.bind("qvel")
        qpos[:, be._jq], qvel[:, be._jv] = q, qd
        qpos[:, be._oq:be._oq + 7] = np.concatenate([pos, quat], 1)
        qvel[:, be._ov:be._ov + 6] = np.concatenate([linvel, local], 1)
        b.bind("ctrl")[:, be._act] = ctrl
        b.forward()
    else:
        pos_all, vel_all = be.data.dof_pos.copy(), be.data.dof_vel.copy()
        pos_all[:, be._jq], vel_all[:, be._jv] = q, qd
        pos_all[:, be._oq] = np.concatenate([pos, quat[:, [1, 2, 3, 0]]], 1)
        vel_all[:, be._ov] = np.concatenate([linvel, local], 1)
        be.data.reset(be.model, dof_pos=pos_all.astype(np.float32), dof_vel=vel_all.astype(np.float32),
                      forward_kinematic=True, reset_overrides=False)
        be._ctrl[:, be._act] = ctrl
        be.data.actuator_ctrls = be._ctrl
        be._read()


@pytest.mark.parametrize("env_id", ["AllegroInhandRotation-v0", "SharpaInhandRotation-v0"])
def test_reward_terms_from_identical_states_are_identical(make_vec, env_id):
    """Replace each backend's physics step by the same written state: every reward term and the observation
    must then agree to float32 rounding, so the task layer does not depend on the backend. Contact readings are
    outputs of a physics step, not state, so both backends report the same made-up ones."""
    envs = [make_vec(4, env_id, sim=sim, stagger_episodes=False) for sim in ("mujoco", "motrix")]
    for env in envs:
        env.reset(seed=3)
    starts = envs[0].episode_starts(np.arange(4))
    for env in envs:
        env.reset(options={"episode_starts": starts})
    rng = np.random.default_rng(0)
    nj = envs[0].backend.joint_ranges().shape[0]
    for k in range(3):
        q0, _ = envs[0].backend.joint_state()
        state = (q0 + 0.02 * rng.standard_normal((4, nj)), rng.standard_normal((4, nj)),
                 envs[0].backend.object_state().pos + 0.003 * rng.standard_normal((4, 3)),
                 _unit(rng.standard_normal((4, 4))), 0.05 * rng.standard_normal((4, 3)),
                 rng.standard_normal((4, 3)))
        actions = rng.uniform(-1, 1, envs[0].action_space.shape).astype(np.float32)
        ntip = envs[0].backend.fingertip_contacts().shape[1]
        tactile = rng.uniform(0, 2, envs[0].backend.tactile_forces().shape)
        contacts = rng.random((4, ntip)) < 0.5
        out = []
        for env in envs:
            be = env.backend
            be.step = lambda ctrl, substeps, be=be, state=state: _set_native(be, *state, ctrl)
            be.tactile_forces = lambda tactile=tactile: tactile
            be.fingertip_contacts = lambda contacts=contacts: contacts
            # the compiled step reads everything at once: through the getters above here
            width = readings_layout(nj, ntip, tactile.shape[1])["tactile"].stop
            be.readings = lambda be=be, width=width: pack_readings(be, np.zeros((4, width)))
            out.append(env.step(actions))
        (o0, r0, t0, _, i0), (o1, r1, t1, _, i1) = out
        for name in i0["reward_terms"]:
            np.testing.assert_allclose(i1["reward_terms"][name], i0["reward_terms"][name], rtol=1e-4, atol=1e-5,
                                       err_msg=f"reward term {name!r}, step {k}")
        np.testing.assert_allclose(r1, r0, rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(t1, t0)
        np.testing.assert_allclose(o1, o0, rtol=1e-4, atol=1e-4)


def _unit(q):
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def test_randomisation_changes_the_same_physical_quantities():
    """The same set_params on both backends, read back from each engine's own model data."""
    mj, mx = pair(SHARPA, "small_cylinder", n=2)
    ids = np.arange(2)
    params = {"object_mass": np.array([0.03, 0.09]), "object_com": np.array([[0.0, 0.002, 0.0], [0.001, 0, -0.001]]),
              "object_scale": np.array([0.8, 1.3]), "gravity": np.array([[0.0, 0, -9.81], [0.9, 0, -9.77]]),
              "kp": np.tile(mj.nominal_params()["kp"], (2, 1)) * [[0.5], [2.0]],
              "kv": np.tile(mj.nominal_params()["kv"], (2, 1)) * [[0.7], [1.5]]}
    for be in (mj, mx):
        be.set_params(ids, **params)
        be.set_params(ids, friction_scale=np.array([0.75, 1.25]))
    b, o, g = mj.batch, mj._obody, mj._ogeom
    link, geom, d = mx._link, mx._ogeom, mx.data
    np.testing.assert_allclose(link.get_mass_override(d), b.expanded("body_mass")[:, o], rtol=1e-6)
    inertia = link.get_inertia_override(d)
    np.testing.assert_allclose(inertia[:, :3], b.expanded("body_inertia")[:, o], rtol=1e-5)
    np.testing.assert_allclose(inertia[:, 3:], 0.0, atol=1e-12)
    np.testing.assert_allclose(link.get_center_of_mass_override(d), b.expanded("body_ipos")[:, o], atol=1e-7)
    np.testing.assert_allclose(geom.get_size_override(d), b.expanded("geom_size")[:, g, :2], rtol=1e-6)
    np.testing.assert_allclose(mx.model.get_gravity_override(d), b.expanded("opt.gravity"), rtol=1e-6)
    friction = b.expanded("geom_friction")[:, mj._friction_geoms, 0]
    ours = np.stack([gm.get_friction_override(d)[:, 0] for gm in mx._friction_geoms], 1)
    np.testing.assert_allclose(ours, friction, rtol=1e-6)
    kp = np.stack([a.get_gain_override(d) for a in mx._actuators], 1)
    stiff = np.stack([a.get_stiffness_override(d) for a in mx._actuators], 1)
    damp = np.stack([a.get_damping_override(d) for a in mx._actuators], 1)
    np.testing.assert_allclose(kp, b.expanded("actuator_gainprm")[:, mj._act, 0], rtol=1e-6)
    np.testing.assert_allclose(stiff, -b.expanded("actuator_biasprm")[:, mj._act, 1], rtol=1e-6)
    np.testing.assert_allclose(damp, -b.expanded("actuator_biasprm")[:, mj._act, 2], rtol=1e-6)
    # every colliding hand geom is randomised on both, not only the pads
    assert len(mx._friction_geoms) == len(mj._friction_geoms) > len(SHARPA.fingertip_geoms) + 1


@pytest.mark.parametrize("env_id", ["AllegroInhandRotation-v0", "SharpaInhandRotation-v0"])
def test_cached_grasps_hold_for_two_seconds_on_both_backends(make_vec, env_id):
    """Zero action from the same cached grasps at nominal physics: at least 90% keep the object 2 s on each."""
    held = {}
    for sim in ("mujoco", "motrix"):
        env = make_vec(64, env_id, sim=sim, stagger_episodes=False, domain_rand={"enabled": False})
        env.reset(seed=5)
        dropped = np.zeros(64, bool)
        for _ in range(round(2.0 / env.control_dt)):
            _, _, terminated, _, _ = env.step(np.zeros(env.action_space.shape, np.float32))
            dropped |= terminated
        held[sim] = 1.0 - dropped.mean()
    assert min(held.values()) >= 0.9, held


def test_a_cache_made_on_one_backend_is_accepted_by_the_other(tmp_path, caplog):
    import logging

    import gymnasium as gym

    from unilab_envs.collect_grasps import collect_grasps
    from unilab_envs.grasp_cache import cache_filename, read_metadata

    path = collect_grasps(tmp_path / cache_filename("allegro_ball_grasp", 1.0), num_grasps=20, num_envs=64,
                          seed=0, sim="motrix", progress=False)
    assert read_metadata(path)["backend"] == "motrix"
    with caplog.at_level(logging.INFO, logger="unilab_envs"):
        env = gym.make_vec("AllegroInhandRotation-v0", num_envs=2, sim="mujoco", grasp_cache_dir=str(tmp_path))
    env.reset(seed=0)
    env.close()
    assert "made on sim=motrix and is used on sim=mujoco" in caplog.text


@pytest.mark.parametrize("env_id,obs_mode", [
    *((f"{hand}InhandRotation-v0", mode) for hand in ("Allegro", "Sharpa") for mode in ("state", "privileged", "hora")),
    ("AllegroInhandGrasp-v0", None), ("SharpaInhandGrasp-v0", None)])
def test_every_env_runs_on_motrix(make_vec, env_id, obs_mode):
    import gymnasium as gym

    kwargs = {"obs_mode": obs_mode} if obs_mode else {}
    env = gym.make_vec(env_id, num_envs=8, sim="motrix", **kwargs)
    try:
        assert env.backend.name == "motrix"
        obs, _ = env.reset(seed=0)
        for _ in range(10):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(reward).all()
        for part in (obs.values() if isinstance(obs, dict) else [obs]):
            assert np.isfinite(part).all()
    finally:
        env.close()


def test_solver_options_motrixsim_does_not_apply_are_warned_about_once(monkeypatch):
    import warnings

    from unilab_envs.backends import motrix

    monkeypatch.setattr(motrix, "_warned", set())
    layout = build_scene(ALLEGRO, OBJECTS["ball"])
    with pytest.warns(UserWarning, match=r"impratio=10.*cone=elliptic"):
        make_backend("motrix", layout, num_envs=1, num_threads=2).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_backend("motrix", layout, num_envs=1, num_threads=2).close()  # once per process
    assert "impratio" not in make_backend("motrix", layout, 1, num_threads=2).honoured_options


def _episode(be, hand, steps=5):
    """Place every world in the hand's grasp start and step at the home targets: the readings of each step."""
    n = be.num_envs
    home = np.tile(hand.home_pose, (n, 1))
    be.set_state(np.arange(n), home, np.tile(hand.object_start, (n, 1)), np.tile([1.0, 0, 0, 0], (n, 1)))
    out = []
    for _ in range(steps):
        be.step(home, substeps=6)
        out.append(be.readings().copy())
    return np.stack(out)


@pytest.mark.parametrize("hand", [ALLEGRO, SHARPA], ids=lambda h: h.name)
def test_motrix_set_state_forgets_the_last_episode(hand):
    """The same state set again steps exactly as the first time on the same instance, whatever came between:
    MotrixSim's reset keeps its warm-start impulses (friction loss, contacts), which the backend zeroes.
    Without that, Sharpa's readings differed by 0.04 rad and 5 N after one step (README, 'MotrixSim')."""
    be = make_backend("motrix", build_scene(hand, OBJECTS["ball"]), num_envs=3, num_threads=2)
    first = _episode(be, hand)
    lo, hi = be.joint_ranges().T
    n = be.num_envs
    for k in range(10):  # a history with contacts, friction and other targets
        be.step(np.tile(hand.home_pose + 0.3 * np.sin(k + np.arange(lo.size)), (n, 1)).clip(lo, hi), substeps=6)
    np.testing.assert_array_equal(_episode(be, hand), first)
    fresh = make_backend("motrix", build_scene(hand, OBJECTS["ball"]), num_envs=3, num_threads=2)
    np.testing.assert_array_equal(_episode(fresh, hand), first)
