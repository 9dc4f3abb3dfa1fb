"""Checks the Allegro Hand V3 (right) MJCF against docs/specs/allegro.md."""

from pathlib import Path

import mujoco
import numpy as np
import pytest

XML = Path(__file__).parents[1] / "unilab_envs/assets/allegro/allegro_right.xml"

JOINTS = [
    "ff_mcp_aa", "ff_mcp_fe", "ff_pip", "ff_dip",
    "mf_mcp_aa", "mf_mcp_fe", "mf_pip", "mf_dip",
    "rf_mcp_aa", "rf_mcp_fe", "rf_pip", "rf_dip",
    "th_cmc_rot", "th_cmc_aa", "th_mcp_fe", "th_ip_fe",
]
FINGER_RANGES = [(-0.47, 0.47), (-0.196, 1.61), (-0.174, 1.709), (-0.227, 1.618)]
RANGES = FINGER_RANGES * 3 + [(0.263, 1.396), (-0.105, 1.163), (-0.189, 1.644), (-0.162, 1.719)]

HOME = [
    0.082, 1.244, 0.265, 0.298,
    0.005, 1.096, 0.080, 0.150,
    0.029, 1.337, 0.285, 0.317,
    1.104, 1.163, 0.953, -0.138,
]

# Section 2: joint anchors and axes in the palm frame at q=0.
_FF_ANCHORS = [(0, .0435, -.0015), (0, .0449, .0148), (0, .0496, .0686), (0, .0530, .1068)]
_FF_AXES = [(0, .0872, .9962)] + [(0, .9962, -.0872)] * 3
_MF_ANCHORS = [(0, 0, .0007), (0, 0, .0171), (0, 0, .0711), (0, 0, .1095)]
_MF_AXES = [(0, 0, 1)] + [(0, 1, 0)] * 3
_RF_ANCHORS = [(x, -y, z) for x, y, z in _FF_ANCHORS]
_RF_AXES = [(0, -.0872, .9962)] + [(0, .9962, .0872)] * 3
_TH_ANCHORS = [(-.0182, .0193, -.0460), (-.0132, .0567, -.0764),
               (-.0132, .0744, -.0779), (-.0132, .1256, -.0824)]
_TH_AXES = [(0, -.0872, -.9962), (0, .9962, -.0872), (1, 0, 0), (1, 0, 0)]
ANCHORS = _FF_ANCHORS + _MF_ANCHORS + _RF_ANCHORS + _TH_ANCHORS
AXES = _FF_AXES + _MF_AXES + _RF_AXES + _TH_AXES

TIP_CENTRES = {
    "ff": (0, .0553, .1334),
    "mf": (0, 0, .1362),
    "rf": (0, -.0553, .1334),
    "th": (-.0132, .1677, -.0861),
}

# Section 4: mass and COM (body frame).
_FINGER_INERTIA = {
    "base": (0.0072, (-.0008, 0, .0083)),
    "proximal": (0.0273, (0, -.0001, .0270)),
    "medial": (0.0185, (-.0002, -.0001, .0226)),
    "distal": (0.0075, (-.0005, 0, .0073)),
    "tip": (0.0068, (0, 0, .0254)),
}
BODY_INERTIA = {"palm": (0.3514, (-.0090, -.0040, -.0403))}
for _d in ("ff", "mf", "rf"):
    for _link, _v in _FINGER_INERTIA.items():
        BODY_INERTIA[f"{_d}_{_link}"] = _v
BODY_INERTIA.update({
    "th_base": (0.0383, (-.0179, .0080, .0123)),
    "th_proximal": (0.0072, (-.0008, 0, .0081)),
    "th_medial": (0.0225, (-.0002, 0, .0211)),
    "th_distal": (0.0163, (0, 0, .0131)),
    "th_tip": (0.0068, (0, 0, .0410)),
})


@pytest.fixture(scope="module")
def model():
    return mujoco.MjModel.from_xml_path(str(XML))


def _forward(model, qpos):
    data = mujoco.MjData(model)
    data.qpos[:] = qpos
    mujoco.mj_forward(model, data)
    return data


def _q0(model):
    return np.clip(np.zeros(model.nq), model.jnt_range[:, 0], model.jnt_range[:, 1])


def _palm_frame(model, data):
    palm = model.body("palm").id
    return data.xpos[palm].copy(), data.xmat[palm].reshape(3, 3).copy()


def test_joint_names_order_and_ranges(model):
    assert model.njnt == 16 and model.nq == 16 and model.nv == 16
    assert [model.joint(i).name for i in range(model.njnt)] == JOINTS
    assert all(model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
    np.testing.assert_allclose(model.jnt_range, RANGES, atol=1e-9)
    assert all(model.jnt_limited)
    np.testing.assert_allclose(model.dof_damping, 0.1)
    np.testing.assert_allclose(model.dof_armature, 0.01)
    np.testing.assert_allclose(model.dof_frictionloss, 0.0)


def test_actuators(model):
    assert model.nu == 16
    assert [model.actuator(i).name for i in range(model.nu)] == JOINTS
    for i in range(model.nu):
        assert model.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_JOINT
        assert model.joint(model.actuator_trnid[i, 0]).name == JOINTS[i]
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], 1.0)
    np.testing.assert_allclose(model.actuator_biasprm[:, :3], np.tile([0.0, -1.0, -0.1], (16, 1)))
    np.testing.assert_allclose(model.actuator_ctrlrange, RANGES, atol=1e-9)
    assert all(model.actuator_ctrllimited)
    assert all(model.actuator_forcelimited)
    np.testing.assert_allclose(model.actuator_forcerange, np.tile([-0.5, 0.5], (16, 1)))


def test_joint_anchors_and_axes_in_palm_frame(model):
    data = _forward(model, np.zeros(model.nq))  # q=0 as in the sheet (kinematics only)
    p, R = _palm_frame(model, data)
    anchors = (data.xanchor - p) @ R
    axes = data.xaxis @ R
    np.testing.assert_allclose(anchors, ANCHORS, atol=1e-3)
    np.testing.assert_allclose(axes, AXES, atol=1e-3)


def test_tip_sites_in_palm_frame(model):
    data = _forward(model, np.zeros(model.nq))
    p, R = _palm_frame(model, data)
    for d, centre in TIP_CENTRES.items():
        site = model.site(f"{d}_tip_site").id
        np.testing.assert_allclose((data.site_xpos[site] - p) @ R, centre, atol=1e-3, err_msg=d)
        # the tip site sits at the hemisphere centre of the tip capsule
        geom = model.geom(f"{d}_tip_geom").id
        assert model.geom_type[geom] == mujoco.mjtGeom.mjGEOM_CAPSULE
        assert model.geom_size[geom, 0] == pytest.approx(0.012)
        assert model.geom_condim[geom] == 6
        np.testing.assert_allclose(model.geom_friction[geom], [2.0, 0.05, 0.01])
        g_axis = data.geom_xmat[geom].reshape(3, 3)[:, 2]
        half = model.geom_size[geom, 1]
        ends = [data.geom_xpos[geom] + s * half * g_axis for s in (1.0, -1.0)]
        # the segment end farther from the DIP joint (tip body origin)
        tip_origin = data.xpos[model.body(f"{d}_tip").id]
        end = max(ends, key=lambda e: np.linalg.norm(e - tip_origin))
        np.testing.assert_allclose(end, data.site_xpos[site], atol=1e-6, err_msg=d)


def test_masses_and_coms(model):
    palm = model.body("palm").id
    assert model.body_subtreemass[palm] == pytest.approx(0.6445, abs=1e-3)
    assert set(BODY_INERTIA) == {model.body(i).name for i in range(1, model.nbody)}
    for name, (mass, com) in BODY_INERTIA.items():
        b = model.body(name)
        assert b.mass[0] == pytest.approx(mass, abs=1e-6), name
        np.testing.assert_allclose(b.ipos, com, atol=1e-6, err_msg=name)
        assert np.all(b.inertia > 0), name
    # geoms carry no mass
    np.testing.assert_allclose(model.geom_group[model.geom_contype == 0], 2)


def test_tip_bodies_are_jointless_children_of_distal(model):
    for d in ("ff", "mf", "rf", "th"):
        tip = model.body(f"{d}_tip")
        assert model.body(tip.parentid[0]).name == f"{d}_distal"
        assert tip.jntnum[0] == 0
        np.testing.assert_allclose(tip.pos, 0.0)
        np.testing.assert_allclose(tip.quat, [1, 0, 0, 0])


def test_palm_up_mounting(model):
    palm = model.body("palm")
    assert palm.jntnum[0] == 0 and palm.parentid[0] == 0
    data = _forward(model, _q0(model))
    p, R = _palm_frame(model, data)
    np.testing.assert_allclose(p, 0.0, atol=1e-12)
    np.testing.assert_allclose(R[:, 0], [0, 0, 1], atol=1e-9)   # palmar normal -> world +z
    np.testing.assert_allclose(R[:, 2], [0, -1, 0], atol=1e-9)  # fingers -> world -y
    np.testing.assert_allclose(R[:, 1], [-1, 0, 0], atol=1e-9)  # palm +y -> world -x


@pytest.mark.parametrize("pose", ["zero", "home"])
def test_no_self_contacts(model, pose):
    qpos = _q0(model) if pose == "zero" else np.asarray(HOME)
    assert np.all(qpos >= model.jnt_range[:, 0]) and np.all(qpos <= model.jnt_range[:, 1])
    data = _forward(model, qpos)
    pairs = [(model.body(model.geom_bodyid[c.geom1]).name,
              model.body(model.geom_bodyid[c.geom2]).name) for c in data.contact[:data.ncon]]
    assert data.ncon == 0, pairs


def test_audited_exclusions_never_touch_anywhere_in_the_joint_ranges():
    """Every pair the MJCF excludes as audit output stays apart (with a margin) in sampled poses."""
    from unilab_envs.hands.collision_audit import audit, audited_exclusions

    shipped = audited_exclusions("allegro")
    assert len(shipped) > 30  # the list is in the file (and this check is not vacuous)
    result = audit("allegro", margin=0.003, samples=20_000, seed=1)  # other poses than the generating run
    assert not shipped & result["keep"], sorted(shipped & result["keep"])
    assert shipped <= result["candidates"]  # each names a pair MuJoCo would otherwise test


def test_pairs_that_touch_in_use_are_still_tested(model):
    """Self-contacts seen under random actions (fingertips of neighbours, medials, thumb on a proximal)
    must stay in the model: the audit removes only pairs that cannot touch."""
    from unilab_envs.hands.collision_audit import tested_pairs

    kept = tested_pairs(model)
    for pair in [("ff_tip", "mf_tip"), ("mf_tip", "rf_tip"), ("rf_tip", "th_tip"), ("ff_medial", "mf_medial"),
                 ("mf_medial", "rf_medial"), ("mf_proximal", "th_tip"), ("palm", "th_tip")]:
        assert tuple(sorted(pair)) in kept, pair
