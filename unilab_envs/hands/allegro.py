"""Allegro Hand V3 (right, 16 DoF), palm up as in HORA. Facts: docs/specs/allegro.md."""
from __future__ import annotations

from .base import ASSETS, HandSpec

DIGITS = ("ff", "mf", "rf", "th")
JOINT_NAMES = (
    "ff_mcp_aa", "ff_mcp_fe", "ff_pip", "ff_dip",
    "mf_mcp_aa", "mf_mcp_fe", "mf_pip", "mf_dip",
    "rf_mcp_aa", "rf_mcp_fe", "rf_pip", "rf_dip",
    "th_cmc_rot", "th_cmc_aa", "th_mcp_fe", "th_ip_fe",
)
# HORA's canonical grasp-generation pose, reordered to ff, mf, rf, th.
HOME_POSE = (
    0.082, 1.244, 0.265, 0.298,
    0.005, 1.096, 0.080, 0.150,
    0.029, 1.337, 0.285, 0.317,
    1.104, 1.163, 0.953, -0.138,
)

ALLEGRO = HandSpec(
    name="allegro",
    xml_path=ASSETS / "allegro" / "allegro_right.xml",
    joint_names=JOINT_NAMES,
    fingertip_sites=tuple(f"{d}_tip_site" for d in DIGITS),
    fingertip_geoms=tuple(f"{d}_tip_geom" for d in DIGITS),
    palm_site="palm_center_site",
    home_pose=HOME_POSE,
    object_start=(-0.01, -0.01, 0.13),
    grasp_noise=0.25,
)
