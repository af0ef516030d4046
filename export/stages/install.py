"""Stage ``install``: the int8 model and its card into ``infantcry_sdk/models`` (regenerated, never
hand-edited), the ``.ort`` into the Android app, and the golden vectors."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from export.pipeline import REPO, Run

SDK_MODELS = REPO / "infantcry_sdk" / "models"


@dataclass
class InstallOutputs:
    installed: list[Path]


def run(run: Run, context=None) -> InstallOutputs:
    from export.golden import copy_model_asset, write_golden

    t0 = time.time()
    SDK_MODELS.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("student_int8.onnx", "model_card.md", "model_card.json"):
        dst = SDK_MODELS / name
        shutil.copyfile(run.require(name, "report"), dst)
        out.append(dst)
    ort = run.path("student_int8.ort")
    out.append(copy_model_asset(ort if ort.is_file() else SDK_MODELS / "student_int8.onnx"))
    write_golden(data_root=run.data_root)
    run.record("install", out, time.time() - t0, {"installed": [str(p) for p in out]})
    return InstallOutputs(out)
