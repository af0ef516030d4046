"""Where a benchmark ran: CPU, cores, load, versions, commit. Timings mean nothing without it."""
from __future__ import annotations

import os
import platform
import subprocess

from export.machine import cpu_class, cpu_model, isa_flags, package_version

from .subjects import REPO

__all__ = ["cpu_class", "isa_flags", "machine_info"]


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
        "cpu_model": cpu_model(),
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
        "ai_edge_litert": package_version("ai-edge-litert"),
        "torch": package_version("torch"),  # only the teacher without an ONNX export runs in torch
        "onnx": package_version("onnx"),
        "infantcry": package_version("infantcry"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
