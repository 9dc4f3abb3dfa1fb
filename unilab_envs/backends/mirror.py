"""Draws a state from any backend with MuJoCo's offscreen renderer on the same MJCF (kinematics only).

For engines without an offscreen renderer on a CPU machine (MotrixSim renders through a Vulkan GPU
service): the picture is the engine's state, posed in a MuJoCo copy of the scene.
"""
from __future__ import annotations

import os

import mujoco
import numpy as np

from ..scene import SceneLayout


class MujocoMirror:
    def __init__(self, layout: SceneLayout):
        self.layout = layout
        self.model = m = mujoco.MjModel.from_xml_string(layout.xml)
        self.data = mujoco.MjData(m)
        self._jq = np.array([m.jnt_qposadr[m.joint(n).id] for n in layout.hand.joint_names])
        self._oq = int(m.jnt_qposadr[m.joint(layout.object_joint).id])
        self._ogeom = m.geom(layout.object_geom).id
        self._size0 = m.geom_size[self._ogeom].copy()
        self._renderer = None

    def render(self, joint_pos, object_pos, object_quat, object_scale: float, width: int, height: int) -> np.ndarray:
        m, d = self.model, self.data
        if self._renderer is None or (self._renderer.width, self._renderer.height) != (width, height):
            m.vis.global_.offwidth = max(width, m.vis.global_.offwidth)
            m.vis.global_.offheight = max(height, m.vis.global_.offheight)
            try:
                self._renderer = mujoco.Renderer(m, height, width)
            except Exception as exc:
                raise RuntimeError(
                    f"could not create an OpenGL context for rendering ({exc}). On a machine without a display "
                    f"set MUJOCO_GL=egl (or osmesa) before mujoco is first imported; MUJOCO_GL is "
                    f"{os.environ.get('MUJOCO_GL')!r} now") from exc
        m.geom_size[self._ogeom] = self._size0 * object_scale
        d.qpos[self._jq] = np.nan_to_num(joint_pos)
        d.qpos[self._oq:self._oq + 3] = np.nan_to_num(object_pos)
        quat = np.nan_to_num(object_quat)
        d.qpos[self._oq + 3:self._oq + 7] = quat if np.linalg.norm(quat) > 0 else (1.0, 0.0, 0.0, 0.0)
        mujoco.mj_kinematics(m, d)
        self._renderer.update_scene(d, camera=self.layout.camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
