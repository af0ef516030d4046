"""Child process for memory figures: load one model, score one 7 s clip, exit.

Run by :mod:`benchmarks.memory` as ``python -m benchmarks.probe ENGINE PATH [--threads N]
[--baseline] [--hold]``; the parent reads this process's peak RSS (``VmHWM``) from outside.
``--baseline`` imports exactly the same modules and stops before loading the model, so the model's
own share (peak minus baseline) can be told apart from the interpreter and its libraries.
The audio is synthetic (arrays, no file decoding), the same for every engine. For ``torch`` (the
teacher's ``teacher.pt``) the baseline imports torch and the toolchain modules the teacher runs on.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("engine", choices=["sdk", "ort", "tflite", "torch"])
    parser.add_argument("path", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--hold", action="store_true", help="after printing, wait for stdin to close")
    args = parser.parse_args(argv)

    from . import runners
    from .clips import CLIP_S, BenchAudio, RATE, synthetic

    if args.engine == "sdk":
        import infantcry_sdk  # noqa: F401
    elif args.engine == "ort":
        import onnxruntime  # noqa: F401
    elif args.engine == "torch":
        import ai_edge_litert.interpreter  # noqa: F401  (reads YAMNet's weights from its tflite)
        import torch  # noqa: F401

        import export.training.features  # noqa: F401
        import export.models.teacher  # noqa: F401
        import export.models.yamnet  # noqa: F401
    else:
        import ai_edge_litert.interpreter  # noqa: F401
    if args.baseline:
        return _report({"baseline": True}, args.hold)
    clip = synthetic(CLIP_S)
    audio = BenchAudio(clip[:RATE].copy(), clip, "synthetic")
    t0 = time.perf_counter()
    runner = runners.RUNNERS[args.engine](args.path, args.threads, audio)
    t1 = time.perf_counter()
    runner.clip()
    t2 = time.perf_counter()
    return _report({"load_ms": (t1 - t0) * 1e3, "first_clip_ms": (t2 - t1) * 1e3}, args.hold)


def _report(info: dict, hold: bool) -> int:
    """Print one JSON line; with ``hold``, stay alive until the parent has read our peak RSS."""
    info["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(info), flush=True)
    if hold:
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
