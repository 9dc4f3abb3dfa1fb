"""Physics sanity of the rotation task, at nominal physics (domain randomisation off)."""
from __future__ import annotations

import numpy as np

NOMINAL = {"domain_rand": {"enabled": False}, "stagger_episodes": False}


def test_cached_grasps_hold_the_ball_with_zero_action(make_vec):
    envs = make_vec(num_envs=64, **NOMINAL)
    envs.reset(seed=0)
    dropped = np.zeros(64, bool)
    for _ in range(40):  # 2 s at 20 Hz
        _, _, terminated, _, info = envs.step(np.zeros((64, 16)))
        dropped |= terminated
    assert 1.0 - dropped.mean() >= 0.9
    held = ~dropped
    assert np.median(info["tip_contacts"][held]) >= 2
    assert np.all(info["object_height"][held] > envs.cfg.termination_height)


def test_opening_the_hand_drops_the_ball_and_ends_the_episode(make_vec):
    envs = make_vec(num_envs=32, **NOMINAL)
    envs.reset(seed=0)
    dropped = np.zeros(32, bool)
    for _ in range(40):
        _, _, terminated, _, info = envs.step(-np.ones((32, 16)))  # every target toward its lower limit
        dropped |= terminated
        if dropped.all():
            break
    assert dropped.mean() >= 0.9
    assert info.get("final_info", {}).get("dropped") is None or info["final_info"]["dropped"][info["_final_info"]].all()


def test_rotation_speed_metric_matches_the_object_orientation(make_vec):
    envs = make_vec(num_envs=1, **NOMINAL)
    envs.reset(seed=0)
    from unilab_envs.rotations import world_rotation_between
    q0 = envs.backend.object_state().quat.copy()
    total = 0.0
    for _ in range(10):
        _, _, terminated, _, info = envs.step(np.zeros((1, 16)))
        total += info["rotation_speed"][0] * envs.control_dt
    assert not terminated[0]
    q1 = envs.backend.object_state().quat
    expected = world_rotation_between(q0, q1)[0] @ envs.axis
    # per-step increments and the net rotation agree up to second-order (non-commuting) terms
    np.testing.assert_allclose(total, expected, rtol=0.02, atol=1e-4)
    assert abs(expected) > 1e-3  # the grasp settles with some turning: the check is not vacuous


def test_domain_randomisation_reaches_the_simulator(make_vec):
    envs = make_vec(num_envs=16, domain_rand={"scale_jitter": 0.05})
    envs.reset(seed=0)
    b, m = envs.backend.batch, envs.backend.model
    obj = m.body("object").id
    mass = b.expanded("body_mass")[:, obj]
    assert np.all((mass >= 0.01) & (mass <= 0.25)) and mass.std() > 0.01
    np.testing.assert_allclose(mass, envs.mass)
    radius = b.expanded("geom_size")[:, m.geom("object_geom").id, 0]
    np.testing.assert_allclose(radius, 0.04 * envs.scale)
    inertia = b.expanded("body_inertia")[:, obj, 0]
    np.testing.assert_allclose(inertia, 0.4 * mass * radius**2, rtol=1e-9)  # solid sphere
    kp = b.expanded("actuator_gainprm")[:, :, 0]
    assert np.all((kp >= 2.9 / 3 - 1e-9) & (kp <= 3.1 / 3 + 1e-9)) and kp.std() > 0


def test_render_rgb_array_shows_env_zero(make_vec):
    envs = make_vec(num_envs=2, render_mode="rgb_array", render_width=160, render_height=120)
    envs.reset(seed=0)
    frame = envs.render()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert frame.std() > 5  # not a blank image


def test_switched_off_randomisation_leaves_the_scene_values(make_vec):
    envs = make_vec(num_envs=4, domain_rand={"friction": False, "pd_gains": False})
    envs.reset(seed=0)
    b, m = envs.backend.batch, envs.backend.model
    assert b.expanded("geom_friction") is None  # never touched: hand geoms keep 1.0, tips 2.0
    assert b.expanded("actuator_gainprm") is None
    assert b.expanded("body_mass") is not None  # mass is still randomised
    np.testing.assert_allclose(m.geom_friction[m.geom("ff_tip_geom").id, 0], 2.0)


def test_friction_randomisation_reaches_every_hand_geom_that_can_touch_the_object(make_vec):
    import mujoco

    envs = make_vec(num_envs=8)
    envs.reset(seed=0)
    m = envs.backend.model
    obj = m.geom("object_geom").id
    excluded = {int(s) for s in m.exclude_signature}

    def can_touch(g):
        if not (m.geom_contype[g] & m.geom_conaffinity[obj] or m.geom_contype[obj] & m.geom_conaffinity[g]):
            return False
        b1, b2 = sorted((int(m.geom_bodyid[g]), int(m.geom_bodyid[obj])))
        return (b1 << 16) + b2 not in excluded

    touching = [g for g in range(m.ngeom) if g != obj and can_touch(g)]
    assert len(touching) >= 16 and m.geom("floor").id not in touching  # 20 hand geoms; the floor is scenery
    friction = envs.backend.batch.expanded("geom_friction")[:, :, 0]
    env_friction = friction[:, obj]
    assert env_friction.std() > 0.05  # drawn per env
    for g in touching:
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g)
        np.testing.assert_allclose(friction[:, g], env_friction, err_msg=name)


def test_floor_is_scenery_not_a_collider(make_vec):
    envs = make_vec(num_envs=1)
    m = envs.backend.model
    floor = m.geom("floor").id
    assert m.geom_contype[floor] == 0 and m.geom_conaffinity[floor] == 0
    # an episode ends (object centre below termination_height) before even a large ball could reach it
    assert envs.cfg.termination_height - 0.04 * 1.6 > m.geom_pos[floor, 2]


def test_gymnasium_record_video_writes_an_mp4_with_frames(cache_dir, tmp_path):
    """The `render` extra installs what gym.wrappers.RecordVideo needs (moviepy)."""
    import gymnasium as gym
    import imageio.v3 as iio

    env = gym.make("AllegroInhandRotation-v0", render_mode="rgb_array", render_width=160, render_height=120,
                   episode_length=12)
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda ep: ep == 0,
                                   disable_logger=True)
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.zeros(16, np.float32))
        done = terminated or truncated
    env.close()
    (video,) = (tmp_path / "videos").glob("*.mp4")
    frames = iio.imread(video)
    assert frames.shape[0] >= 12 and frames.shape[1:3] == (120, 160)
    assert frames.std() > 5  # not blank
