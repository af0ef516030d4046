"""Toy subjects for the harness before the trained model exists (and for its tests).

Builds a contract-conforming ``.onnx`` with :func:`export.toy_model.build_toy_model` (``kind="band"``:
a small DFT MatMul, so there is real arithmetic to time) and its ``.ort`` twin, both sealed, so the
``.ort`` code paths of the SDK and the benchmarks run too.
"""
from __future__ import annotations

from pathlib import Path

from .subjects import INT8_ONNX


def to_ort(onnx_path: Path, ort_path: Path) -> Path:
    """Convert an UNSEALED ``.onnx`` to ``.ort`` with onnxruntime, then seal the ``.ort``.

    Basic optimizations only, like a portable mobile conversion: no x86-specific layouts in the file.
    """
    import onnxruntime as ort

    from infantcry_sdk import integrity

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(ort_path)
    opts.add_session_config_entry("session.save_model_format", "ORT")
    opts.log_severity_level = 3
    ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    integrity.seal(ort_path)
    return ort_path


def build_toy_pair(folder: Path, *, bloat_bytes: int = 0, name: str = INT8_ONNX) -> tuple[Path, Path]:
    """Write ``folder/name`` (.onnx) and its ``.ort``, both sealed; returns both paths."""
    from export.toy_model import build_toy_model

    from infantcry_sdk import integrity

    folder.mkdir(parents=True, exist_ok=True)
    onnx_path = folder / name
    build_toy_model(onnx_path, kind="band", bloat_bytes=bloat_bytes, seal=False)
    to_ort(onnx_path, onnx_path.with_suffix(".ort"))
    integrity.seal(onnx_path)
    return onnx_path, onnx_path.with_suffix(".ort")
