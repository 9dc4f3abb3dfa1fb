"""Export a trained actor (observation normalization included) as TorchScript and ONNX, and check that
the exported files give the same actions as the policy inside this package.

The files need only ``torch`` (``torch.jit.load``) or ``onnxruntime``::

    actor = torch.jit.load("policy.pt"); action = actor(obs)            # obs: float32 [B, obs_dim]
    sess = onnxruntime.InferenceSession("policy.onnx"); sess.run(None, {"obs": obs})[0]
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .runs import atomic_write_bytes, write_json

ATOL = 1e-5


def export_actor(actor: torch.nn.Module, obs_dim: int, out_dir: Path,
                 reference: Callable[[np.ndarray], np.ndarray] | None = None, samples: int = 256,
                 meta: dict | None = None) -> dict:
    """Write ``policy.pt`` (TorchScript), ``policy.onnx`` and ``policy.json``; return the parity report.

    Parity: on ``samples`` random observations (in the env's [-5, 5] range), the TorchScript and ONNX
    actions must match ``reference`` (the in-package policy's deterministic action) within ``ATOL``.
    """
    actor = actor.eval().cpu()
    out_dir = Path(out_dir)
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript and the TorchScript ONNX exporter deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        _write(actor, obs_dim, out_dir)
    report = check_parity(out_dir, obs_dim, reference or _torch_reference(actor), samples)
    write_json(out_dir / "policy.json", {"obs_dim": obs_dim, "input": "obs", "output": "action",
                                         "action_range": [-1.0, 1.0], "parity": report, **(meta or {})})
    if not report["ok"]:
        raise RuntimeError(f"exported actor disagrees with the in-package policy: {json.dumps(report)}")
    return report


def _write(actor: torch.nn.Module, obs_dim: int, out_dir: Path) -> None:
    example = torch.zeros(1, obs_dim)
    with torch.no_grad():
        scripted = torch.jit.trace(actor, example)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    atomic_write_bytes(out_dir / "policy.pt", buf.getvalue())

    onnx_path = out_dir / "policy.onnx"
    tmp = out_dir / ".policy.onnx.tmp"
    torch.onnx.export(actor, (example,), str(tmp), input_names=["obs"], output_names=["action"],
                      dynamic_axes={"obs": {0: "batch"}, "action": {0: "batch"}}, opset_version=17, dynamo=False)
    tmp.replace(onnx_path)


def _torch_reference(actor: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def ref(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return actor(torch.as_tensor(obs)).numpy()
    return ref


def check_parity(out_dir: Path, obs_dim: int, reference: Callable[[np.ndarray], np.ndarray],
                 samples: int = 256, seed: int = 0) -> dict:
    """Max absolute action difference of the exported files against ``reference``."""
    obs = np.random.default_rng(seed).uniform(-5.0, 5.0, (samples, obs_dim)).astype(np.float32)
    expected = np.asarray(reference(obs), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(Path(out_dir) / "policy.pt"))
    with torch.no_grad():
        ts = scripted(torch.from_numpy(obs)).numpy()
    report = {"samples": samples, "torchscript_max_abs_diff": float(np.abs(ts - expected).max())}
    try:
        import onnxruntime as ort
    except ImportError:
        report["onnx_max_abs_diff"] = None
        report["onnx_note"] = "onnxruntime not installed: ONNX file written but not checked"
    else:
        sess = ort.InferenceSession(str(Path(out_dir) / "policy.onnx"), providers=["CPUExecutionProvider"])
        onnx_out = sess.run(None, {"obs": obs})[0]
        report["onnx_max_abs_diff"] = float(np.abs(onnx_out - expected).max())
    diffs = [v for k, v in report.items() if k.endswith("max_abs_diff") and v is not None]
    report["ok"] = bool(max(diffs) <= ATOL)
    return report
