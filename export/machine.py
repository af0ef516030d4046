"""The CPU a build or a benchmark ran on. Both depend on it: onnxruntime and XNNPACK pick kernels by
instruction set (speed budgets are kept per CPU class), and torch's CPU kernels sum in another order
on another instruction set, so the same recipe and seed train a different student on another class
(docs/decisions.md, "Pinned toolchain")."""
from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path


def _read_cpuinfo() -> str:
    """Linux's /proc/cpuinfo, or "" where there is none (every reader below then falls back)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo; else what ``platform`` says)."""
    for line in _read_cpuinfo().splitlines():
        if line.lower().startswith(("model name", "hardware", "cpu model")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


#: ISA features that decide which kernels onnxruntime and XNNPACK pick, hence how fast each side runs.
_ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "asimd", "asimddp", "i8mm", "sve")


def isa_flags(cpuinfo: str | None = None) -> list[str]:
    """The speed-relevant ISA flags this CPU reports (Linux /proc/cpuinfo; empty elsewhere)."""
    present: set[str] = set()
    for line in (_read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
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


def cpu_signature(cpuinfo: str | None = None) -> str | None:
    """The CPU's family, model and stepping and a digest of its full flag list (Linux /proc/cpuinfo;
    None elsewhere). Finer than :func:`cpu_class`: two AMD EPYCs of one class trained different
    teachers from the same code and versions (docs/decisions.md, "Pinned toolchain"), so a rebuild
    can only be expected to match byte for byte on the same signature."""
    fields: dict[str, str] = {}
    for line in (_read_cpuinfo() if cpuinfo is None else cpuinfo).splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("cpu family", "model", "stepping", "flags", "features") and key not in fields:
            fields[key] = value.strip()
    flags = fields.get("flags") or fields.get("features")
    if not flags:
        return None
    digest = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:12]
    ids = " ".join(f"{k.split()[-1]} {fields[k]}" for k in ("cpu family", "model", "stepping") if k in fields)
    return f"{ids}, flags {digest}" if ids else f"flags {digest}"


def package_version(dist: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def build_machine() -> dict:
    """What a stage's outputs depend on besides the code, the data and the thread count: CPU model,
    class and signature, and the versions of the numeric libraries (recorded in the run's manifest
    for each stage)."""
    return {"cpu_model": cpu_model(), "cpu_class": cpu_class(), "cpu_signature": cpu_signature(),
            "python": platform.python_version(),
            **{dist: package_version(dist) for dist in ("torch", "numpy", "onnxruntime", "onnx")}}
