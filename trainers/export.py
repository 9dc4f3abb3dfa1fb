"""Export a trained actor (observation normalization included) as TorchScript and ONNX, and check that
the exported files give the same actions as the policy inside this package.

The files need only ``torch`` (``torch.jit.load``) or ``onnxruntime``::

    actor = torch.jit.load("policy.pt"); action = actor(obs)            # obs: float32 [B, obs_dim]
    sess = onnxruntime.InferenceSession("policy.onnx"); sess.run(None, {"obs": obs})[0]

An actor with several inputs (a HORA teacher: ``state, privileged_state``; a student: ``state,
proprio_history``) takes them positionally in that order, and the ONNX inputs carry those names
(``policy.json`` lists them with their shapes).
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


def input_shapes(obs_dim: int | dict) -> dict[str, tuple[int, ...]]:
    """``{input name: shape without the batch}``; a bare ``obs_dim`` is one input named ``obs``."""
    if isinstance(obs_dim, dict):
        return {k: tuple(int(d) for d in np.atleast_1d(v)) for k, v in obs_dim.items()}
    return {"obs": (int(obs_dim),)}


def export_actor(actor: torch.nn.Module, obs_dim: int | dict, out_dir: Path,
                 reference: Callable | None = None, samples: int = 256, meta: dict | None = None) -> dict:
    """Write ``policy.pt`` (TorchScript), ``policy.onnx`` and ``policy.json``; return the parity report.

    ``obs_dim``: the observation size, or ``{input name: shape}`` for an actor of several inputs (taken
    positionally in that order; ``reference`` then takes a dict of arrays by those names).
    Parity: on ``samples`` random observations (in the env's [-5, 5] range), the TorchScript and ONNX
    actions must match ``reference`` (the in-package policy's deterministic action) within ``ATOL``.
    """
    actor = actor.eval().cpu()
    out_dir = Path(out_dir)
    shapes = input_shapes(obs_dim)
    with warnings.catch_warnings():  # torch 2.13 marks TorchScript and the TorchScript ONNX exporter deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        _write(actor, shapes, out_dir)
    report = check_parity(out_dir, shapes, reference or _torch_reference(actor, shapes), samples)
    inputs = {"obs_dim": shapes["obs"][0], "input": "obs"} if list(shapes) == ["obs"] else \
        {"inputs": {k: list(v) for k, v in shapes.items()}}
    write_json(out_dir / "policy.json", {**inputs, "output": "action",
                                         "action_range": [-1.0, 1.0], "parity": report, **(meta or {})})
    if not report["ok"]:
        raise RuntimeError(f"exported actor disagrees with the in-package policy: {json.dumps(report)}")
    return report


def _write(actor: torch.nn.Module, shapes: dict[str, tuple[int, ...]], out_dir: Path) -> None:
    example = tuple(torch.zeros(1, *shape) for shape in shapes.values())
    with torch.no_grad():
        scripted = torch.jit.trace(actor, example)
    buf = io.BytesIO()
    torch.jit.save(scripted, buf)
    atomic_write_bytes(out_dir / "policy.pt", buf.getvalue())

    onnx_path = out_dir / "policy.onnx"
    tmp = out_dir / ".policy.onnx.tmp"
    names = list(shapes)
    torch.onnx.export(actor, example, str(tmp), input_names=names, output_names=["action"],
                      dynamic_axes={k: {0: "batch"} for k in [*names, "action"]}, opset_version=17, dynamo=False)
    tmp.replace(onnx_path)


def _torch_reference(actor: torch.nn.Module, shapes: dict[str, tuple[int, ...]]) -> Callable:
    def ref(obs) -> np.ndarray:
        inputs = [obs[k] for k in shapes] if isinstance(obs, dict) else [obs]
        with torch.no_grad():
            return actor(*(torch.as_tensor(x) for x in inputs)).numpy()
    return ref


def check_parity(out_dir: Path, obs_dim: int | dict, reference: Callable, samples: int = 256, seed: int = 0) -> dict:
    """Max absolute action difference of the exported files against ``reference``."""
    shapes = input_shapes(obs_dim)
    rng = np.random.default_rng(seed)
    feeds = {k: rng.uniform(-5.0, 5.0, (samples, *shape)).astype(np.float32) for k, shape in shapes.items()}
    single = list(shapes) == ["obs"]
    expected = np.asarray(reference(feeds["obs"] if single else feeds), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.load(str(Path(out_dir) / "policy.pt"))
    with torch.no_grad():
        ts = scripted(*(torch.from_numpy(x) for x in feeds.values())).numpy()
    report = {"samples": samples, "torchscript_max_abs_diff": float(np.abs(ts - expected).max())}
    try:
        import onnxruntime as ort
    except ImportError:
        report["onnx_max_abs_diff"] = None
        report["onnx_note"] = "onnxruntime not installed: ONNX file written but not checked"
    else:
        sess = ort.InferenceSession(str(Path(out_dir) / "policy.onnx"), providers=["CPUExecutionProvider"])
        onnx_out = sess.run(None, feeds)[0]
        report["onnx_max_abs_diff"] = float(np.abs(onnx_out - expected).max())
    diffs = [v for k, v in report.items() if k.endswith("max_abs_diff") and v is not None]
    report["ok"] = bool(max(diffs) <= ATOL)
    return report
