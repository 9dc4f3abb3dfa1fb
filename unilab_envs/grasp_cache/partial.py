"""An unfinished grasp collection, kept in atomic chunks beside its target so that it can resume.

``<target>.partial/`` holds ``chunk_<k>.npy`` (float32 rows, exactly as the final cache stores them)
and ``progress.json`` (attempts so far, how often the collection resumed, and a fingerprint of what
is being collected). Each chunk is written atomically before ``progress.json`` names it, so a kill
at any moment loses at most the grasps found since the last chunk. A collection of something else
(another model, object, scale or criteria) never resumes from these chunks.
"""
from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np

from .store import atomic_write

log = logging.getLogger(__name__)
PROGRESS = "progress.json"


class PartialCollection:
    def __init__(self, target: str | Path, fingerprint: dict):
        self.target = Path(target)
        self.folder = self.target.with_name(self.target.name + ".partial")
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from JSON
        self.chunks: list[np.ndarray] = []
        self.attempts = 0
        self.resumes = 0

    @property
    def count(self) -> int:
        return sum(len(c) for c in self.chunks)

    def load(self) -> bool:
        """Take up the chunks of an interrupted collection of the same thing; True if any were found."""
        progress = self.folder / PROGRESS
        if not progress.is_file():
            return False
        state = json.loads(progress.read_text())
        if state.get("fingerprint") != self.fingerprint:
            log.warning("grasp collection %s: the unfinished chunks in %s are of another collection; starting anew",
                        self.target, self.folder)
            self.discard()
            return False
        self.chunks = [np.load(self.folder / name) for name in state["chunks"]]
        self.attempts, self.resumes = int(state["attempts"]), int(state["resumes"]) + 1
        log.info("grasp collection %s: resuming with %d grasps from %d chunk(s)", self.target, self.count,
                 len(self.chunks))
        return True

    def add(self, grasps: np.ndarray, attempts: int) -> None:
        """Store ``grasps`` as the next chunk (atomically) and the total ``attempts`` so far."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"chunk_{len(self.chunks):05d}.npy"
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(grasps, dtype=np.float32), allow_pickle=False)
        atomic_write(self.folder / name, lambda f: f.write(buf.getvalue()))
        self.chunks.append(np.asarray(grasps, np.float32))
        self.attempts = attempts
        state = {"fingerprint": self.fingerprint, "chunks": [f"chunk_{k:05d}.npy" for k in range(len(self.chunks))],
                 "attempts": attempts, "resumes": self.resumes}
        atomic_write(self.folder / PROGRESS, lambda f: f.write(json.dumps(state, indent=1).encode()))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
