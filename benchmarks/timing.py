"""Honest timing for the benchmarks: CPU/wall ratios, machine load, versions, and a contention flag.

An absolute rate on a shared machine means something only when nothing else ran. Every timed
section therefore records its wall time and this process's CPU time (all threads): with ``t``
busy threads on a quiet machine CPU/wall is close to ``t``; when another process holds a core it
drops toward 1. The whole measurement also records how busy the machine's other processes were
(from ``/proc/stat``). A measurement is flagged ``contended`` when either says so, on screen and
in the JSON, and a flagged figure is not a result.
"""
from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from importlib import metadata

#: below this share of the expected CPU/wall a section counts as contended
MIN_CPU_SHARE = 0.85
#: above this share of all cores used by other processes the machine counts as busy
MAX_OTHERS_SHARE = 0.10


@dataclass
class Section:
    """Accumulated wall and CPU seconds of one timed section (many short intervals)."""

    wall: float = 0.0
    cpu: float = 0.0
    count: int = 0

    def add(self, wall: float, cpu: float, count: int = 1) -> None:
        self.wall += wall
        self.cpu += cpu
        self.count += count

    @property
    def cpu_per_wall(self) -> float:
        return self.cpu / self.wall if self.wall else 0.0


def clocks() -> tuple[float, float]:
    """(wall, process CPU) now, for ``Section.add(wall1 - wall0, cpu1 - cpu0)``."""
    return time.perf_counter(), time.process_time()


def _own_cpu() -> float:
    """CPU seconds of this process and of its finished children (a benchmark may run ``train`` as one)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _busy_seconds() -> float | None:
    """CPU seconds all processes have been busy since boot (None where /proc/stat is missing)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class MachineLoad:
    """How much CPU other processes (not this one, nor its children) used while a measurement ran."""

    def __enter__(self) -> MachineLoad:
        self.wall0, self.cpu0 = time.perf_counter(), _own_cpu()
        self.busy0 = _busy_seconds()
        return self

    def __exit__(self, *exc) -> None:
        wall1, cpu1 = time.perf_counter(), _own_cpu()
        busy1 = _busy_seconds()
        self.wall = wall1 - self.wall0
        ours = cpu1 - self.cpu0
        others = None if busy1 is None or self.busy0 is None else max(0.0, busy1 - self.busy0 - ours)
        self.others_share = None if others is None else others / (self.wall * (os.cpu_count() or 1))


def verdict(sections: dict[str, tuple[Section, int]], load: MachineLoad | None = None) -> dict:
    """CPU/wall of each section against its thread count, and whether the figures are contended.

    ``sections`` maps a name to (its Section, the threads it keeps busy); 0 threads: recorded, not judged.
    """
    out: dict = {"sections": {}, "contended": False, "reasons": []}
    for name, (sec, threads) in sections.items():
        ratio = sec.cpu_per_wall
        out["sections"][name] = {"wall_s": sec.wall, "cpu_s": sec.cpu, "cpu_per_wall": ratio, "threads": threads}
        if ratio < MIN_CPU_SHARE * threads:
            out["contended"] = True
            out["reasons"].append(f"{name}: CPU/wall {ratio:.2f} with {threads} busy thread(s)")
    if load is not None and load.others_share is not None:
        out["others_cpu_share"] = load.others_share
        if load.others_share > MAX_OTHERS_SHARE:
            out["contended"] = True
            out["reasons"].append(f"other processes used {load.others_share:.0%} of the machine's CPU")
    return out


def machine_info() -> dict:
    """Cores, CPU model, Python and the versions of the libraries a figure depends on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for pkg in ("unilab-envs", "mujoco", "numpy", "gymnasium", "torch", "stable-baselines3", "rsl-rl-lib",
                "motrixsim", "mujoco-warp", "warp-lang", "numba"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return {"cores": os.cpu_count(), "cpu": model, "machine": platform.machine(),
            "python": platform.python_version(), "versions": versions}


def warn_if_contended(result: dict, what: str) -> None:
    """Print a loud line when a measurement was taken on a busy machine."""
    if result.get("contended"):
        print(f"WARNING: {what} was measured on a contended machine ({'; '.join(result['reasons'])}): "
              "do not publish it as a result; rerun on a quiet machine.", flush=True)
