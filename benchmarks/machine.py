"""Where a benchmark ran: CPU, cores, load, versions, commit. Timings mean nothing without it."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from .subjects import REPO


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: ISA features that decide which kernels onnxruntime and XNNPACK pick, hence how fast each side runs.
_ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "asimd", "asimddp", "i8mm", "sve")


def isa_flags(cpuinfo: str | None = None) -> list[str]:
    """The speed-relevant ISA flags this CPU reports (Linux /proc/cpuinfo; empty elsewhere)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return []
    present: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.lower().startswith(("flags", "features")):
            present.update(line.split(":", 1)[1].split())
    return [f for f in _ISA_FLAGS if f in present]


def cpu_class(machine: str | None = None, flags: list[str] | None = None) -> str:
    """The CPU class speed budgets are kept per: ``arm64``, ``x86-avx512-vnni-amx``, ``x86-avx512-vnni``,
    ``x86-avx2`` or ``x86-other``. The student's speed-up over YAMNet differs between these classes
    (XNNPACK gains more from wide vectors than the student's small ops do), so one budget cannot hold
    on all of them."""
    machine = (machine or platform.machine()).lower()
    flags = isa_flags() if flags is None else flags
    if machine in ("aarch64", "arm64"):
        return "arm64"
    if "avx512f" in flags and "avx512_vnni" in flags:
        return "x86-avx512-vnni-amx" if "amx_tile" in flags else "x86-avx512-vnni"
    if "avx2" in flags:
        return "x86-avx2"
    return "x86-other"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def machine_info() -> dict:
    """A JSON-ready description of this machine and software stack."""
    import numpy
    import onnxruntime

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpu_class": cpu_class(),
        "isa_flags": isa_flags(),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "load_average_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        "ai_edge_litert": _version("ai-edge-litert"),
        "torch": _version("torch"),  # only the teacher without an ONNX export runs in torch
        "onnx": _version("onnx"),
        "infantcry": _version("infantcry"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
