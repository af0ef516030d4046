"""The measuring half of the ARM benchmark; runs unchanged on x86 (reference) and under QEMU.

Standalone on purpose: only the standard library, numpy and the pure-Python ``infantcry_sdk`` (which
brings onnxruntime, soundfile and soxr), because the emulated aarch64 root has nothing else. The host
(:mod:`benchmarks.arm`) writes a job file, runs ``python arm_worker.py JOB OUT`` here and under
``qemu-aarch64-static``, and compares the two outputs.

Per model it records: load time, the SDK's prediction for each real clip (a path: decoded by
libsndfile, resampled by soxr, windowed by the SDK on this architecture), the raw model outputs for
one fixed 1 s window (no aggregation: the strictest comparison), and latency of the 1 s window and
of the 7 s clip through ``CryClassifier.predict``.
"""
from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

# aarch64 HWCAP bits (linux/arch/arm64/include/uapi/asm/hwcap.h): what the emulated CPU advertises,
# hence which onnxruntime/MLAS kernels run (e.g. the int8 dot-product path needs asimddp or i8mm).
_HWCAP = {"asimd": 1 << 1, "asimdhp": 1 << 10, "asimddp": 1 << 20, "sve": 1 << 22}
_HWCAP2 = {"sve2": 1 << 1, "i8mm": 1 << 13, "bf16": 1 << 14}


def cpu_features() -> list[str] | None:
    """aarch64 feature flags from getauxval (None on other architectures)."""
    if platform.machine() not in ("aarch64", "arm64"):
        return None
    import ctypes

    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    hw, hw2 = libc.getauxval(16), libc.getauxval(26)  # AT_HWCAP, AT_HWCAP2
    return [n for n, b in _HWCAP.items() if hw & b] + [n for n, b in _HWCAP2.items() if hw2 & b]


def _timed(fn, warmup: int, repeats: int) -> dict:
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    a = np.asarray(ms)
    return {"p50_ms": float(np.median(a)), "p95_ms": float(np.percentile(a, 95)), "min_ms": float(a.min()), "n": len(ms)}


def run_job(job: dict) -> dict:
    """Measure every model of ``job`` (see the module docstring); a JSON-ready dict."""
    import onnxruntime

    from infantcry_sdk import CryClassifier

    window = np.load(job["window_npy"])
    clip = np.load(job["clip_npy"])
    out = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__,
        "cpu_features": cpu_features(),
        "models": {},
    }
    for key, path in job["models"].items():
        t0 = time.perf_counter()
        clf = CryClassifier.load(path, threads=job.get("threads", 1))
        load_ms = (time.perf_counter() - t0) * 1e3
        preds = {}
        for c in job["clips"]:
            p = clf.predict(c)
            preds[c] = {"cry_probability": p.cry_probability, "cause_probabilities": [p.cause_probabilities[k] for k in clf.labels]}
        cry, causes = clf.score_windows(window[None, :])
        out["models"][key] = {
            "path": path,
            "labels": list(clf.labels),
            "load_ms": load_ms,
            "predictions": preds,
            "window_outputs": {"cry_probability": cry.tolist(), "cause_probabilities": causes.tolist()},
            "window": _timed(lambda: clf.predict(window, sample_rate=16000), job["warmup"], job["repeats"]),
            "clip": _timed(lambda: clf.predict(clip, sample_rate=16000), job["warmup"], job["repeats"]),
        }
    return out


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(json.dumps(run_job(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
