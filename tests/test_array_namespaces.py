"""The per-step task functions give the same values on torch tensors as on numpy arrays (the array namespace
the device-resident task layer of MuJoCo Warp will use; docs/gpu_task_layer.md)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
array_api_compat = pytest.importorskip("array_api_compat")

from unilab_envs.rotations import quat_rotate, random_quat, rotation_about_axis, skew  # noqa: E402
from unilab_envs.tasks import rewards  # noqa: E402
from unilab_envs.tasks.config import RewardScales  # noqa: E402

XP = array_api_compat.array_namespace(torch.zeros(1))


def _inputs(n=64, nj=16, seed=0):
    rng = np.random.default_rng(seed)
    return {"angvel": rng.normal(size=(n, 3)), "axis": np.array([0.0, 0.0, -1.0]), "clip": (-0.5, 0.5),
            "linvel": rng.normal(size=(n, 3)) * 0.1, "joint_pos": rng.normal(size=(n, nj)),
            "start_pose": rng.normal(size=(n, nj)), "tau": rng.normal(size=(n, nj)) * 0.3,
            "joint_vel": rng.normal(size=(n, nj)), "fell": rng.random(n) < 0.2,
            "object_offset": rng.random(n) * 0.03, "object_radius": 0.02}


def _torch(x):
    return torch.as_tensor(x) if isinstance(x, np.ndarray) else x


def test_reward_terms_agree_on_torch_and_numpy():
    args = _inputs()
    ours = rewards.weighted_terms(RewardScales(), 0.05, **args)
    theirs = rewards.weighted_terms(RewardScales(), 0.05, xp=XP, **{k: _torch(v) for k, v in args.items()})
    assert set(ours) == set(theirs) == set(rewards.TERMS)
    for name in ours:
        assert isinstance(theirs[name], torch.Tensor)
        np.testing.assert_allclose(theirs[name].numpy(), ours[name], rtol=1e-12, atol=1e-15, err_msg=name)
    single = rewards.weighted_terms(RewardScales(), 0.05, xp=XP, **{
        k: _torch(v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype == np.float64 else v)
        for k, v in args.items()})
    assert all(t.dtype == torch.float32 for t in single.values())  # a float32 device stays float32


def test_rotation_helpers_agree_on_torch_and_numpy():
    rng = np.random.default_rng(1)
    a, b, v = random_quat(rng, 32), random_quat(rng, 32), rng.normal(size=(32, 3))
    axis = np.array([0.0, 0.0, -1.0])
    np.testing.assert_allclose(quat_rotate(_torch(a), _torch(v)).numpy(), quat_rotate(a, v), rtol=1e-12)
    ours = rotation_about_axis(a, b, axis, skew(axis))
    theirs = rotation_about_axis(_torch(a), _torch(b), _torch(axis), _torch(skew(axis)), xp=XP)
    np.testing.assert_allclose(theirs.numpy(), ours, rtol=1e-10, atol=1e-12)


def test_end_causes_and_joint_normalisation_agree_on_torch_and_numpy():
    from unilab_envs.tasks.end_causes import classify
    from unilab_envs.tasks.observations import normalize_joints

    rng = np.random.default_rng(2)
    masks = [rng.random(50) < p for p in (0.05, 0.2, 0.1, 0.1)]
    theirs = classify(*(torch.as_tensor(m) for m in masks), xp=XP)
    assert theirs.dtype == torch.int8
    np.testing.assert_array_equal(theirs.numpy(), classify(*masks))
    q, ranges = rng.normal(size=(50, 16)), np.sort(rng.normal(size=(16, 2)), axis=1)
    np.testing.assert_allclose(normalize_joints(_torch(q), _torch(ranges)).numpy(), normalize_joints(q, ranges),
                               rtol=1e-12)


def test_torch_generator_answers_the_tasks_draws_like_numpy():
    from unilab_envs.tasks.domain_rand import assign_scales
    from unilab_envs.tasks.torch_random import TorchGenerator

    g = TorchGenerator(np.random.default_rng(0))
    u = g.uniform(-2.0, 3.0, (4000, 2))
    assert u.shape == (4000, 2) and u.dtype == torch.float32 and -2.0 <= float(u.min()) and float(u.max()) < 3.0
    assert abs(float(u.mean()) - 0.5) < 0.1 and abs(float(g.standard_normal(4000).std()) - 1.0) < 0.05
    k = g.integers(1, 5, size=2000)
    assert set(k.unique().tolist()) == {1, 2, 3, 4} and g.integers(3, size=(2, 2)).shape == (2, 2)
    assert sorted(assign_scales(3, 9, g).tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # the tasks' own call
    again = [TorchGenerator(np.random.default_rng(7)).uniform(0, 1, 5) for _ in range(2)]
    assert torch.equal(*again)  # numpy's seed decides the stream
    a, b = g.spawn(2)
    assert not torch.equal(a.random(8), b.random(8))
    with pytest.raises(ValueError, match="high=1 must be > low=1"):
        g.integers(1, 1)
