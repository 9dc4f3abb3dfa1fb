"""The trainers behind ``--algo``: each module offers ``validate(cfg)`` (before a run folder is made),
``train(cfg, run_dir, resume) -> summary``,
``list_checkpoints(run_dir)``, ``checkpoint_iteration(path)`` and ``load_actor(run_dir, checkpoint)``; optionally
``validate_resume(cfg, run_dir)`` (what resuming that run needs, in place of ``validate``: a HORA student checks
the teacher its checkpoint names) and ``init_weights`` (``training.init_from``)."""
from __future__ import annotations

import importlib
from types import ModuleType

ALGOS = {"ppo": "trainers.ppo", "appo": "trainers.appo", "hora_distill": "trainers.hora_distill",
         "rsl_ppo": "trainers.rsl_ppo"}


def get_algo(name: str) -> ModuleType:
    if name not in ALGOS:
        raise ValueError(f"--algo {name!r} is not known; choose one of {sorted(ALGOS)}")
    return importlib.import_module(ALGOS[name])
