"""Where the time goes: onnxruntime's own profiler, summed by operator type.

A speed budget that breaks needs a culprit, not just a number: is it the in-graph front-end (DFT
MatMul, framing Gather/Concat, mel Mul) or the network (Conv / QLinearConv)? Kernel times come from
``SessionOptions.enable_profiling`` on a bare session (same options as the timed one), scoring the
7 s clip a few times after one warm-up run.
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from .runners import ort_session


def op_time_profile(path: Path, audio: np.ndarray, *, runs: int = 5, threads: int = 1, top: int = 8) -> dict:
    """Per-run kernel milliseconds by op type (largest first) for ``audio`` [samples] through ``path``."""
    with tempfile.TemporaryDirectory(prefix="infantcry-prof-") as tmp:
        session = ort_session(path, threads, profile_prefix=str(Path(tmp) / "ort"))
        name = session.get_inputs()[0].name
        feed = {name: np.ascontiguousarray(audio[None, :], dtype=np.float32)}
        for _ in range(runs + 1):  # the first is a warm-up: dropped below
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    return _summarize(kernels, runs + 1, runs, top)


def _summarize(kernels: list[dict], total_runs: int, keep_runs: int, top: int) -> dict:
    per_run = len(kernels) // max(total_runs, 1)
    kept = kernels[len(kernels) - per_run * keep_runs :] if per_run else kernels
    ms: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    for e in kept:
        op = e.get("args", {}).get("op_name", "?")
        ms[op] += e["dur"] / 1000.0 / keep_runs
        nodes[op] += 1
    total = sum(ms.values())
    return {
        "runs": keep_runs,
        "kernel_ms_per_run": round(total, 3),
        "by_op": [
            {"op": op, "ms": round(v, 3), "share": round(v / total, 4) if total else 0.0, "nodes": nodes[op] // keep_runs}
            for op, v in ms.most_common(top)
        ],
    }
