"""The SDK's overhead over a bare onnxruntime session: ``python -m benchmarks.sdk_overhead [--model PATH]``.

A 7 s clip (noise at 16 kHz), one intra-op thread, the same model file. Prints one JSON object:

* ``bare_ms`` / ``sdk_ms``: thread CPU time per call (the session runs on the calling thread), in
  alternating blocks of 100 calls, the median of the block medians; ``overhead_pct`` from them.
  On a machine shared with other work this is the noisier figure.
* ``sdk_work_us``: the Python work ``predict`` does around ``session.run`` (checks, windowing,
  aggregation), timed with the session replaced by a stub returning the real outputs (best of 15
  repeats), and ``sdk_work_pct`` of the bare run.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import timeit

import numpy as np
import onnxruntime as ort

from infantcry_sdk import CryClassifier, contract
from infantcry_sdk.model import default_model_path
from infantcry_sdk.session import session_options

RATE, SECONDS, BLOCK = 16_000, 7.0, 100


def _blocks(calls: dict, blocks: int) -> dict[str, float]:
    medians: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(blocks):
        for name, call in calls.items():
            times = []
            for _ in range(BLOCK):
                t = time.thread_time()
                call()
                times.append(time.thread_time() - t)
            medians[name].append(statistics.median(times[10:]))
    return {k: statistics.median(v) for k, v in medians.items()}


def measure(model: str | None, blocks: int) -> dict:
    path = model or str(default_model_path())
    clf = CryClassifier.load(path, threads=1)
    names = [contract.OUTPUT_WINDOW_CRY, contract.OUTPUT_WINDOW_CAUSES] if clf._model.window_outputs else [
        contract.OUTPUT_CRY, contract.OUTPUT_CAUSES]
    sess = ort.InferenceSession(path, sess_options=session_options(1), providers=["CPUExecutionProvider"])
    x = (0.1 * np.random.default_rng(0).standard_normal(int(SECONDS * RATE))).astype(np.float32)

    def bare() -> None:
        sess.run(names, {contract.INPUT_NAME: x[None]})

    def sdk() -> None:
        clf.predict(x, RATE)

    times = _blocks({"bare": bare, "sdk": sdk}, blocks)
    outputs = sess.run(names, {contract.INPUT_NAME: x[None]})

    class Stub:
        def run(self, _names, _feed):
            return outputs

    object.__setattr__(clf._model, "session", Stub())
    work = min(timeit.repeat(sdk, number=1000, repeat=15)) / 1000
    stub = min(timeit.repeat(lambda: Stub().run(names, {contract.INPUT_NAME: x[None]}), number=1000, repeat=15)) / 1000
    return {
        "cpu": platform.processor() or platform.machine(),
        "clip_seconds": SECONDS,
        "bare_ms": round(times["bare"] * 1e3, 4),
        "sdk_ms": round(times["sdk"] * 1e3, 4),
        "overhead_pct": round(100 * (times["sdk"] / times["bare"] - 1), 2),
        "sdk_work_us": round((work - stub) * 1e6, 2),
        "sdk_work_pct": round(100 * (work - stub) / times["bare"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model path; default: the bundled model")
    parser.add_argument("--blocks", type=int, default=30, help="alternating blocks of 100 calls (default 30)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.model, args.blocks)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
