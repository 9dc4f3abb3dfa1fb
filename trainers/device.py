"""The torch device a run trains on (``training.device``: auto, cpu, cuda[:N]), with a clear error where none is."""
from __future__ import annotations

import torch

#: the device kinds a run can train on (``auto``: cuda when torch sees a GPU, else cpu)
KINDS = ("cpu", "cuda")


def check_device(device: str) -> str:
    """``device`` if this machine has it (``auto`` as is), else a ``ValueError`` naming it and the fix."""
    if device == "auto":
        return device
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in KINDS:
        raise ValueError(f"--device {device!r} (training.device) is not a device to train on; choose auto | cpu | "
                         f"cuda | cuda:N")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device!r} (training.device) but torch sees no CUDA device on this machine; "
                             f"use --device cpu (or --device auto)")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(f"--device {device!r} (training.device) but torch sees {count} CUDA device(s) "
                             f"(cuda:0..cuda:{count - 1}); pick one of them, or --device cuda")
    return device


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return check_device(device)
