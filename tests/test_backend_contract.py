"""Contract every physics backend must meet: each test runs against every installed backend."""
from __future__ import annotations

import numpy as np
import pytest

from unilab_envs.backends import BACKENDS, PARAM_SHAPES, make_backend
from unilab_envs.hands import ALLEGRO
from unilab_envs.objects import OBJECTS
from unilab_envs.scene import build_scene

G = 9.81
FAR = np.array([[0.4, 0.4, 0.5]])  # away from the hand: a free body


def available():
    names = []
    for name, (module, _, _) in BACKENDS.items():
        try:
            __import__(module)
            names.append(name)
        except ImportError:
            pass
    return names


@pytest.fixture(params=available())
def backend(request):
    be = make_backend(request.param, build_scene(ALLEGRO, OBJECTS["ball"]), num_envs=3, num_threads=2)
    yield be
    be.close()


def place(be, ids=(0, 1, 2), pos=FAR, quat=(1.0, 0, 0, 0)):
    ids = np.asarray(ids)
    home = np.tile(ALLEGRO.home_pose, (len(ids), 1))
    be.set_state(ids, home, np.broadcast_to(pos, (len(ids), 3)), np.tile(quat, (len(ids), 1)))
    return home


def substeps(backend, seconds: float) -> int:
    """Physics steps covering ``seconds`` of simulated time at the backend's timestep."""
    return max(1, round(seconds / backend.timestep))


def test_state_round_trip_in_wxyz(backend):
    quat = np.array([np.cos(0.4), 0.0, 0.0, np.sin(0.4)])  # 0.8 rad about z
    home = place(backend, quat=quat)
    q, qd = backend.joint_state()
    np.testing.assert_allclose(q, home)
    np.testing.assert_allclose(qd, 0.0)
    obj = backend.object_state()
    np.testing.assert_allclose(obj.pos, np.broadcast_to(FAR, (3, 3)))
    np.testing.assert_allclose(obj.quat, np.tile(quat, (3, 1)), atol=1e-12)
    np.testing.assert_allclose(obj.linvel, 0.0)


def test_free_fall_follows_gravity_and_the_timestep(backend):
    place(backend)
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps=20)
    t = 20 * backend.timestep
    obj = backend.object_state()
    np.testing.assert_allclose(obj.linvel[:, 2], -G * t, rtol=1e-3)
    # semi-implicit Euler (both engines): velocity first, then position, so the drop is g dt^2 n (n + 1) / 2
    dt = backend.timestep
    np.testing.assert_allclose(FAR[0, 2] - obj.pos[:, 2], 0.5 * G * dt * dt * 20 * 21, rtol=1e-3)


def test_object_force_and_mass_parameter(backend):
    place(backend)
    backend.set_params(np.arange(3), object_mass=np.array([0.05, 0.1, 0.2]))
    backend.apply_object_force(np.tile([0.0, 0.0, 0.1 * G], (3, 1)))  # holds exactly 0.1 kg up
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps=20)
    vz = backend.object_state().linvel[:, 2]
    t = 20 * backend.timestep
    np.testing.assert_allclose(vz, [G * t, 0.0, -0.5 * G * t], atol=1e-3)


def test_fingertips_touch_a_grasped_ball_and_not_a_far_one(backend):
    place(backend)
    assert not backend.fingertip_contacts().any()
    tips = backend.fingertip_positions()
    assert tips.shape == (3, 4, 3)
    # at the home pose the tips surround the ball's start point (fact sheet: 0.051-0.058 m)
    d = np.linalg.norm(tips - np.asarray(ALLEGRO.object_start), axis=-1)
    assert np.all((d > 0.045) & (d < 0.065))
    place(backend, pos=np.asarray(ALLEGRO.object_start))
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps=substeps(backend, 0.02))
    assert backend.fingertip_contacts().sum(-1).min() >= 1


def test_actuators_track_targets_and_respect_the_torque_limit(backend):
    place(backend)
    lo, hi = backend.joint_ranges().T
    target = np.tile(np.clip(np.asarray(ALLEGRO.home_pose) + 0.3, lo, hi), (3, 1))
    backend.step(target, substeps=substeps(backend, 2.0))
    q, _ = backend.joint_state()
    assert np.abs(q - target).max() < 0.05
    backend.step(np.tile(lo, (3, 1)), substeps=1)
    assert np.abs(backend.actuator_forces()).max() <= 0.5 + 1e-9


def test_parameters_and_ids_are_checked(backend):
    assert set(backend.nominal_params()) == set(PARAM_SHAPES)
    with pytest.raises(KeyError, match="object_mas"):
        backend.set_params([0], object_mas=np.array([0.1]))
    with pytest.raises(IndexError, match="out of range"):
        place(backend, ids=[3])


def test_unknown_and_missing_backends_are_clear_errors(monkeypatch):
    layout = build_scene(ALLEGRO, OBJECTS["ball"])
    with pytest.raises(ValueError, match="unknown physics backend sim='bullet'.*mujoco"):
        make_backend("bullet", layout, 1)
    monkeypatch.setitem(BACKENDS, "fake", ("no_such_module_xyz", "Backend", "fakesim>=1.0"))
    with pytest.raises(ImportError, match="pip install 'fakesim>=1.0'"):
        make_backend("fake", layout, 1)


def _throw(backend, qvel6):
    """Give the free object a velocity (world linear, body angular: both engines' free-joint layout)."""
    if backend.name == "mujoco":
        backend.batch.bind("qvel")[:, backend._ov:backend._ov + 6] = qvel6
    elif backend.name == "mjwarp":
        qvel = backend.d.qvel.numpy()
        qvel[:, backend._ov:backend._ov + 6] = qvel6
        backend.d.qvel.assign(qvel)
    else:
        vel = backend.data.dof_vel.copy()
        vel[:, backend._ov] = qvel6
        backend.data.set_dof_vel(vel)


def _engine_frame_readings(backend):
    """Env 0's object pose and world-frame velocities from the engine's own sensors (wxyz)."""
    if backend.name == "mujoco":
        import mujoco

        data, model = backend.batch.get_data(0), backend.batch.get_model(0)
        mujoco.mj_forward(model, data)
        return [data.sensor(n).data for n in ("object_pos", "object_quat", "object_linvel", "object_angvel")]
    if backend.name == "mjwarp":
        backend._forward()
        sensor = backend.d.sensordata.numpy()[0]
        return [sensor[backend.model.sensor(n).adr[0]:][:k] for n, k in
                (("object_pos", 3), ("object_quat", 4), ("object_linvel", 3), ("object_angvel", 3))]
    base, d = backend.model.floating_bases[0], backend.data
    xyzw = base.get_rotation(d)[0]
    return [base.get_translation(d)[0], xyzw[[3, 0, 1, 2]], base.get_global_linear_velocity(d)[0],
            base.get_global_angular_velocity(d)[0]]


def test_object_velocities_are_in_the_world_frame(backend):
    """Spin and throw the free object; its state must match the engine's own world-frame readings."""
    quat = np.array([np.cos(0.3), np.sin(0.3), 0.0, 0.0])  # tilted, so body and world frames differ
    place(backend, quat=quat)
    _throw(backend, [0.1, -0.2, 0.3, 1.0, 2.0, -3.0])
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps=3)
    obj = backend.object_state()
    tol = 1e-10 if backend.name == "mujoco" else 1e-5  # MotrixSim and MuJoCo Warp are float32
    for ours, theirs in zip((obj.pos, obj.quat, obj.linvel, obj.angvel), _engine_frame_readings(backend), strict=True):
        np.testing.assert_allclose(ours[0], theirs, atol=tol)
    assert np.abs(obj.angvel[0] - [1.0, 2.0, -3.0]).max() > 0.5  # the tilt made the frames differ


def test_gravity_is_a_per_env_parameter(backend):
    place(backend)
    tilted = np.array([[0.0, 0.0, -G], [G * np.sin(0.3), 0.0, -G * np.cos(0.3)], [0.0, 0.0, -G]])
    backend.set_params(np.arange(3), gravity=tilted)
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps(backend, 0.1))
    v = backend.object_state().linvel
    assert v[1, 0] > 0.1 and abs(v[0, 0]) < 1e-6, "env 1 falls sideways, env 0 straight down"
    np.testing.assert_allclose(v[0], v[2], atol=1e-9)


def test_friction_is_set_absolutely_or_relatively_not_both_at_once(backend):
    with pytest.raises(ValueError, match="not both"):
        backend.set_params([0], friction=np.array([1.0]), friction_scale=np.array([1.0]))


def test_a_hand_without_pads_has_no_tactile_readings(backend):
    place(backend)
    assert backend.tactile_forces().shape == (3, 0)


def test_an_unstable_simulation_stays_nonfinite_until_placed_again(backend):
    """No engine auto-reset behind the task's back: the task must see the NaN to count it (end_cause nonfinite)."""
    place(backend)
    ctrl = np.tile(ALLEGRO.home_pose, (3, 1))
    backend.step(ctrl, substeps=2)
    before = backend.object_state().pos.copy()
    force = np.zeros((3, 3))
    force[1, 2] = 1e300
    backend.apply_object_force(force)
    backend.step(ctrl, substeps=2)
    backend.apply_object_force(np.zeros((3, 3)))
    backend.step(ctrl, substeps=2)
    pos = backend.object_state().pos
    assert not np.isfinite(pos[1]).all()  # still lost, not quietly restarted at the default pose
    assert np.isfinite(pos[[0, 2]]).all() and pos[0, 2] < before[0, 2]  # the others fall on
    place(backend, ids=[1])
    backend.step(ctrl, substeps=2)
    assert np.isfinite(backend.object_state().pos).all() and np.isfinite(backend.joint_state()[0]).all()


def test_the_floor_is_scenery_unless_the_contact_filter_is_off():
    """contype=0 on the floor is honoured: with the filter on the object falls through it, off it lands."""
    from unilab_envs.scene import PhysicsOptions

    for name in available():
        for filtered, lands in ((True, False), (False, True)):
            layout = build_scene(ALLEGRO, OBJECTS["ball"], PhysicsOptions(contact_filter=filtered))
            be = make_backend(name, layout, num_envs=1, num_threads=1)
            be.set_state([0], np.array([ALLEGRO.home_pose]), np.array([[0.4, 0.4, -0.1]]), np.array([[1.0, 0, 0, 0]]))
            be.step(np.array([ALLEGRO.home_pose]), substeps(be, 1.0))
            z = be.object_state().pos[0, 2]
            assert (z > -0.15) == lands, (name, filtered, z)  # floor surface at z = -0.15 + 0
            be.close()


def test_an_uninstalled_motrixsim_says_how_to_install_it(monkeypatch):
    import sys

    import gymnasium as gym

    monkeypatch.setitem(sys.modules, "motrixsim", None)  # import motrixsim now raises ImportError
    monkeypatch.delitem(sys.modules, "unilab_envs.backends.motrix", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'unilab-envs\[motrix\]' \(from a clone: pip install -e"):
        make_backend("motrix", build_scene(ALLEGRO, OBJECTS["ball"]), 1)
    with pytest.raises(ImportError, match="motrix"):
        gym.make_vec("AllegroInhandRotation-v0", num_envs=2, sim="motrix")


def test_backends_declare_threads_and_the_options_they_honour(backend):
    from dataclasses import fields

    from unilab_envs.scene import PhysicsOptions

    assert backend.threads >= 1
    assert {"timestep", "contact_filter"} <= backend.honoured_options <= {f.name for f in fields(PhysicsOptions)}


def test_parameters_persist_across_set_state(backend):
    """Randomised parameters are the env's until set again: placing an env anew must not reset them."""
    place(backend)
    backend.set_params(np.arange(3), object_mass=np.array([0.05, 0.1, 0.2]))
    place(backend)  # a reset of every env: MotrixSim's own reset would restore the model's values here
    backend.apply_object_force(np.tile([0.0, 0.0, 0.1 * G], (3, 1)))
    backend.step(np.tile(ALLEGRO.home_pose, (3, 1)), substeps=20)
    t = 20 * backend.timestep
    np.testing.assert_allclose(backend.object_state().linvel[:, 2], [G * t, 0.0, -0.5 * G * t], atol=1e-3)


def test_render_gives_an_image_of_the_env(backend):
    place(backend, pos=np.asarray(ALLEGRO.object_start))
    img = backend.render(1, width=64, height=48)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 1  # not a blank frame


def test_readings_are_the_getters_in_one_array(backend):
    """readings(): what the compiled step reads, every per-step reading in one host array (readings_layout)."""
    from unilab_envs.backends.base import pack_readings, readings_layout

    if getattr(backend, "xp", np) is not np:
        pytest.skip("readings() serves the compiled step, which runs on numpy backends")
    home = place(backend, pos=[[0.02, 0.0, 0.55]])
    backend.apply_object_force(np.tile([0.0, 0.3, 0.0], (3, 1)))
    backend.step(home, substeps(backend, 0.05))
    got = backend.readings()
    nj, ntip = home.shape[1], backend.fingertip_contacts().shape[1]
    assert got.shape == (3, readings_layout(nj, ntip, backend.tactile_forces().shape[1])["tactile"].stop)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, pack_readings(backend, np.zeros_like(got)), rtol=1e-12, atol=1e-12)
