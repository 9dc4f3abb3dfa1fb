"""The torch device a run trains on (``training.device``: auto, cpu, cuda[:N]), with a clear error where none is."""
from __future__ import annotations

import torch


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"training.device={device!r} but torch sees no CUDA device; use --device cpu")
    return device
