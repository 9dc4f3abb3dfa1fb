"""Sharpa Wave (right, 22 DoF, five tactile fingertip pads), palm up as in UniLab. Facts:
docs/specs/sharpa_wave.md."""
from __future__ import annotations

from .base import ASSETS, HandSpec

DIGITS = ("th", "ff", "mf", "rf", "lf")
JOINT_NAMES = (
    "th_cmc_fe", "th_cmc_aa", "th_mcp_fe", "th_mcp_aa", "th_ip",
    "ff_mcp_fe", "ff_mcp_aa", "ff_pip", "ff_dip",
    "mf_mcp_fe", "mf_mcp_aa", "mf_pip", "mf_dip",
    "rf_mcp_fe", "rf_mcp_aa", "rf_pip", "rf_dip",
    "lf_cmc", "lf_mcp_fe", "lf_mcp_aa", "lf_pip", "lf_dip",
)
# The sheet's grasp-generation pose (from sharpa-rl-lab), in JOINT_NAMES order.
HOME_POSE = (
    1.6603, -0.0543, 0.2586, -0.0181, 0.2136,
    1.1381, 0.1067, 0.2720, 0.1030,
    0.5540, -0.0167, 0.7310, 0.2242,
    0.5537, 0.1718, 0.6148, 0.3147,
    0.1915, 1.1922, 0.1395, 0.1029, 0.1030,
)

SHARPA = HandSpec(
    name="sharpa",
    xml_path=ASSETS / "sharpa" / "sharpa_right.xml",
    joint_names=JOINT_NAMES,
    fingertip_sites=tuple(f"{d}_tip_site" for d in DIGITS),
    fingertip_geoms=tuple(f"{d}_pad" for d in DIGITS),
    palm_site="palm_center_site",
    home_pose=HOME_POSE,
    object_start=(-0.09559, -0.00517, 0.61906),
    grasp_noise=0.15,
    tactile=True,
    camera_pos=(0.12, -0.30, 0.78),
    camera_lookat=(-0.08, 0.0, 0.60),
)
