"""Toy subjects for the harness before the trained model exists (and for its tests).

Builds a contract-conforming ``.onnx`` with :func:`export.modelfile.toy.build_toy_model` (``kind="band"``:
a small DFT MatMul, so there is real arithmetic to time) and its ``.ort`` twin, both sealed, so the
``.ort`` code paths of the SDK and the benchmarks run too; and an int8 QDQ CNN stand-in with its
fp32 original (:func:`build_cnn_run`) for int8 kernel parity and int8/fp32 speed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from export.constants import SAMPLE_RATE

from .subjects import INT8_ONNX


def to_ort(onnx_path: Path) -> Path:
    """The sealed ``.ort`` twin of a sealed ``.onnx``, converted exactly as the export pipeline does
    (:func:`export.modelfile.quantize.to_ort`: the official converter, fixed style, all optimizations)."""
    from export.modelfile.quantize import to_ort as pipeline_to_ort

    return pipeline_to_ort(onnx_path, check_usability=False).path


def build_toy_pair(folder: Path, *, bloat_bytes: int = 0, name: str = INT8_ONNX, ort: bool = True) -> tuple[Path, Path | None]:
    """Write ``folder/name`` (.onnx) and, with ``ort``, its ``.ort``, both sealed; returns both paths.

    ``ort=False`` skips the conversion (and the toolchain import it needs) where only the .onnx matters.
    """
    from export.modelfile.toy import build_toy_model

    onnx_path = build_toy_model(folder / name, kind="band", bloat_bytes=bloat_bytes)
    return onnx_path, to_ort(onnx_path) if ort else None


# ------------------------------------------------------------------------- an int8 CNN stand-in

CNN_LABELS = ("hungry", "tired", "discomfort", "belly_pain", "burping")


def _cnn_graph(seed: int = 0):
    """A student-shaped float CNN (random weights): waveform [B, N] -> a strided Conv1d filterbank
    (400-sample frames every 160, like 25 ms / 10 ms), log compression, three Conv1d+Relu blocks,
    mean over time, two heads. About 110k parameters and 6 M MACs per second of audio: the size of
    the real student, so int8 kernels (QLinearConv, QGemm) do the bulk of the work."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def w(name: str, *shape: int) -> onnx.TensorProto:
        fan_in = int(np.prod(shape[1:]))
        return numpy_helper.from_array((rng.normal(0, np.sqrt(2.0 / fan_in), shape)).astype(np.float32), name)

    def b(name: str, n: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.normal(0, 0.05, n).astype(np.float32), name)

    inits = [
        w("fb_w", 64, 1, 400), numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(1e-3, np.float32), "eps"),
        w("c1_w", 64, 64, 3), b("c1_b", 64), w("c2_w", 128, 64, 3), b("c2_b", 128), w("c3_w", 128, 128, 3), b("c3_b", 128),
        w("cry_w", 1, 128), b("cry_b", 1), w("cause_w", len(CNN_LABELS), 128), b("cause_b", len(CNN_LABELS)),
    ]
    n = helper.make_node
    nodes = [
        n("Unsqueeze", ["waveform", "axis1"], ["x1"]),
        n("Conv", ["x1", "fb_w"], ["fb"], strides=[160], kernel_shape=[400]),
        n("Abs", ["fb"], ["fb_abs"]), n("Add", ["fb_abs", "eps"], ["fb_eps"]), n("Log", ["fb_eps"], ["logfb"]),
        n("Conv", ["logfb", "c1_w", "c1_b"], ["c1"], pads=[1, 1], kernel_shape=[3]), n("Relu", ["c1"], ["r1"]),
        n("Conv", ["r1", "c2_w", "c2_b"], ["c2"], pads=[1, 1], strides=[2], kernel_shape=[3]), n("Relu", ["c2"], ["r2"]),
        n("Conv", ["r2", "c3_w", "c3_b"], ["c3"], pads=[1, 1], strides=[2], kernel_shape=[3]), n("Relu", ["c3"], ["r3"]),
        n("ReduceMean", ["r3"], ["pooled"], axes=[2], keepdims=0),
        n("Gemm", ["pooled", "cry_w", "cry_b"], ["cry_logit"], transB=1),
        n("Flatten", ["cry_logit"], ["cry_flat"], axis=0),
        n("Sigmoid", ["cry_flat"], ["cry_sig"]),
        n("Squeeze", ["cry_sig", "zero_axis"], ["cry_probability"]),
        n("Gemm", ["pooled", "cause_w", "cause_b"], ["cause_logits"], transB=1),
        n("Softmax", ["cause_logits"], ["cause_probabilities"], axis=-1),
    ]
    inits.append(numpy_helper.from_array(np.array([0], np.int64), "zero_axis"))
    graph = helper.make_graph(
        nodes, "infantcry_cnn_toy",
        [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", "samples"])],
        [helper.make_tensor_value_info("cry_probability", TensorProto.FLOAT, ["batch"]),
         helper.make_tensor_value_info("cause_probabilities", TensorProto.FLOAT, ["batch", len(CNN_LABELS)])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="infantcry-bench-toy")
    model.ir_version = min(model.ir_version, 9)
    onnx.checker.check_model(model)
    return model


def build_cnn_run(
    folder: Path,
    calibration: Sequence[np.ndarray] | None = None,
    *,
    activations: str = "QUInt8",
    weights: str = "QInt8",
    reduce_range: bool = True,
) -> Path:
    """A run-dir-shaped folder with a CNN stand-in: ``student_fp32.onnx``, ``student_int8.onnx``
    (static QDQ, per-channel int8 weights, calibrated on ``calibration`` windows) and
    ``student_int8.ort``, all carrying the contract metadata and sealed. Returns the folder.

    For checking int8 kernels (x86 vs aarch64 parity, int8/fp32 speed) before the trained student exists.

    ``reduce_range`` defaults to True because of what ``python -m benchmarks arm`` found on this
    stand-in (8 real clips): with onnxruntime's default u8s8 QDQ (uint8 activations, int8 weights)
    x86 AVX2 without VNNI saturates its int16 pair sums while aarch64 does not, and probabilities
    differed by up to 0.084 (s8s8 the same); with 7-bit weights (``reduce_range=True``) or u8u8
    they agreed exactly (0.0). Dynamic quantization agreed within 5e-4.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from export.modelfile.quantize import WindowReader
    from export.modelfile.metadata import metadata_for, rewrite_metadata

    folder.mkdir(parents=True, exist_ok=True)
    meta = metadata_for(
        CNN_LABELS, detection_threshold=0.5, cause_min_confidence=0.3, window_seconds=1.0, hop_seconds=0.5,
        min_samples=4000, model_version="bench-cnn-toy-1",
        training_summary="Benchmark stand-in: random weights, no training data.",
    )
    raw = folder / "_cnn_raw.onnx"
    onnx.save_model(_cnn_graph(), str(raw))
    fp32 = rewrite_metadata(raw, folder / "student_fp32.onnx", meta)
    if calibration is None:
        rng = np.random.default_rng(1)
        calibration = [(rng.normal(0, 0.1, SAMPLE_RATE) * (0.2 + i / 8)).astype(np.float32) for i in range(8)]

    q = folder / "_cnn_q.onnx"
    reader = WindowReader([np.asarray(c, dtype=np.float32) for c in calibration])
    quantize_static(str(raw), str(q), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType[activations], weight_type=QuantType[weights], reduce_range=reduce_range)
    to_ort(rewrite_metadata(q, folder / INT8_ONNX, meta))
    raw.unlink()
    q.unlink()
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.toys DIR [--cnn]``: write a toy run folder (band toy, or the int8 CNN)."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("dir", type=Path)
    p.add_argument("--cnn", action="store_true", help="the int8 QDQ CNN stand-in with its fp32 twin")
    p.add_argument("--bloat-bytes", type=int, default=0)
    args = p.parse_args(argv)
    if args.cnn:
        build_cnn_run(args.dir)
    else:
        build_toy_pair(args.dir, bloat_bytes=args.bloat_bytes)
    for f in sorted(args.dir.iterdir()):
        print(f"{f} ({f.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
