"""Small contract-conforming ONNX models, built with the ``onnx`` package alone (no torch).

The runtime SDK, the benchmarks and the Android demo need a model that obeys the contract
(:mod:`infantcry_sdk.contract`) long before the trained student exists, and their tests need models
that are wrong in one precise way. :func:`build_toy_model` writes both.

A toy model's outputs depend on the audio deterministically and smoothly, so tests mean something:

* ``kind="energy"``: ``cry_probability = sigmoid(slope_per_db * (level_db - midpoint_db))`` where
  ``level_db = 10 log10(mean(x^2))``: loud audio is a "cry", silence is not.
* ``kind="band"``: the same, but the level is the energy in a few DFT bins between 300 and 3000 Hz
  (frames of 256 samples, one small MatMul), so low rumble or high hiss does not count. It needs at
  least 256 samples and does a little real arithmetic (useful for benchmarks).

The cause logits are a fixed linear map of three features (log energy, log high-pass energy relative
to the energy, i.e. brightness, and log mean absolute value), then a softmax, so different sounds
give different, always valid, distributions.

Broken variants for the tests: other graph names (``input_name=``, ``cry_output_name=``, ...),
``metadata_overrides`` (a value of None deletes the key), ``seal=False`` (leaves the placeholder),
:func:`export.modelfile.metadata.rewrite_metadata` for an existing file, and
:func:`build_foreign_model` (a plain ONNX model
that is not an InfantCry model). ``bloat_bytes`` adds an unused initializer that stays in the file,
so a benchmark can plant a size regression.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from infantcry_sdk import contract

from export.constants import SAMPLE_RATE
from export.modelfile.metadata import metadata_for, save_model, update_metadata

DEFAULT_LABELS = ("hungry", "tired", "discomfort", "belly_pain", "burping")
KINDS = ("energy", "band")
_EPS = 1e-10
_BAND_FRAME = 256
_BAND_HZ = (300.0, 3000.0)
_BAND_BINS = 12


def _const(name: str, value: np.ndarray | float | Sequence[int], dtype=np.float32) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def _cause_weights(n_causes: int) -> np.ndarray:
    """A fixed ``[4, n]`` map from (log energy, brightness, log mean |x|, 1) to cause logits.

    Deterministic (seeded) and scaled so that ordinary audio gives distributions that are neither
    uniform nor one-hot.
    """
    rng = np.random.default_rng(1234 + n_causes)
    w = rng.normal(0.0, 0.15, size=(4, n_causes))
    w[3] = rng.normal(0.0, 0.5, size=n_causes)
    return w.astype(np.float32)


def _band_basis(sample_rate: int) -> np.ndarray:
    """Hann-windowed cos/sin basis ``[frame, 2 * bins]`` for bins spread over the cry band."""
    n = np.arange(_BAND_FRAME)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / _BAND_FRAME)
    freqs = np.linspace(*_BAND_HZ, _BAND_BINS)
    ang = 2 * np.pi * np.outer(n, freqs) / sample_rate
    # Scale so that a sine near a bin has roughly the same level as in "energy" mode.
    scale = np.sqrt(0.5 / np.sum(hann**2))
    return (np.concatenate([np.cos(ang), np.sin(ang)], axis=1) * hann[:, None] * scale).astype(np.float32)


def _level_nodes(kind: str, sample_rate: int) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto], str]:
    """Nodes computing the per-clip level in dB ``[batch]`` from ``x`` (the waveform)."""
    nodes: list[onnx.NodeProto] = []
    inits = [_const("eps", _EPS), _const("ten_over_ln10", 10.0 / np.log(10.0))]
    if kind == "energy":
        nodes += [
            helper.make_node("Mul", ["x", "x"], ["sq"]),
            helper.make_node("ReduceMean", ["sq"], ["power"], axes=[1], keepdims=0),
        ]
    elif kind == "band":
        inits += [
            _const("band_basis", _band_basis(sample_rate)),
            _const("frame_shape", [0, -1, _BAND_FRAME], np.int64),
            _const("frame", [_BAND_FRAME], np.int64),
            _const("one_i", [1], np.int64),
            _const("two_i", [2], np.int64),
        ]
        nodes += [
            # keep floor(n / frame) * frame samples, then [batch, frames, frame] @ basis
            helper.make_node("Shape", ["x"], ["x_shape"]),
            helper.make_node("Gather", ["x_shape", "one_i"], ["n_samples"], axis=0),
            helper.make_node("Div", ["n_samples", "frame"], ["n_frames"]),
            helper.make_node("Mul", ["n_frames", "frame"], ["n_used"]),
            helper.make_node("Slice", ["x", "zero_i", "n_used", "one_i"], ["x_used"]),
            helper.make_node("Reshape", ["x_used", "frame_shape"], ["frames"]),
            helper.make_node("MatMul", ["frames", "band_basis"], ["spec"]),
            helper.make_node("Mul", ["spec", "spec"], ["spec_sq"]),
            helper.make_node("ReduceSum", ["spec_sq", "two_i"], ["frame_power"], keepdims=0),
            helper.make_node("ReduceMean", ["frame_power"], ["power"], axes=[1], keepdims=0),
        ]
    else:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    nodes += [
        helper.make_node("Add", ["power", "eps"], ["power_eps"]),
        helper.make_node("Log", ["power_eps"], ["log_power"]),
        helper.make_node("Mul", ["log_power", "ten_over_ln10"], ["level_db"]),
    ]
    return nodes, inits, "level_db"


def _cause_nodes(causes_output_name: str) -> list[onnx.NodeProto]:
    """Cause probabilities from three fixed features of the audio (log energy, brightness, log mean
    |x|) and a constant, through the ``cause_w`` matrix: deterministic, and different per clip."""
    return [
        helper.make_node("Mul", ["x", "x"], ["f_sq"]),
        helper.make_node("ReduceMean", ["f_sq"], ["f_pow"], axes=[1], keepdims=1),
        helper.make_node("Add", ["f_pow", "eps"], ["f_pow_eps"]),
        helper.make_node("Log", ["f_pow_eps"], ["f_log_pow"]),
        helper.make_node("Slice", ["x", "one_i1", "end_i", "one_i1"], ["x_next"]),
        helper.make_node("Slice", ["x", "zero_i", "minus_one_i", "one_i1"], ["x_prev"]),
        helper.make_node("Sub", ["x_next", "x_prev"], ["dx"]),
        helper.make_node("Mul", ["dx", "dx"], ["dx_sq"]),
        helper.make_node("ReduceMean", ["dx_sq"], ["d_pow"], axes=[1], keepdims=1),
        helper.make_node("Add", ["d_pow", "eps"], ["d_pow_eps"]),
        helper.make_node("Log", ["d_pow_eps"], ["d_log_pow"]),
        helper.make_node("Sub", ["d_log_pow", "f_log_pow"], ["f_bright"]),
        helper.make_node("Abs", ["x"], ["x_abs"]),
        helper.make_node("ReduceMean", ["x_abs"], ["f_mabs"], axes=[1], keepdims=1),
        helper.make_node("Add", ["f_mabs", "eps"], ["f_mabs_eps"]),
        helper.make_node("Log", ["f_mabs_eps"], ["f_log_mabs"]),
        helper.make_node("Mul", ["f_pow", "zero_f"], ["f_zero"]),
        helper.make_node("Add", ["f_zero", "ones_col"], ["f_one"]),
        helper.make_node("Concat", ["f_log_pow", "f_bright", "f_log_mabs", "f_one"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "cause_w"], ["cause_logits"]),
        helper.make_node("Softmax", ["cause_logits"], [causes_output_name], axis=-1),
    ]


def _graph(
    *,
    n_causes: int,
    kind: str,
    sample_rate: int,
    midpoint_db: float,
    slope_per_db: float,
    input_name: str,
    cry_output_name: str,
    causes_output_name: str,
    bloat_bytes: int,
) -> onnx.GraphProto:
    level, level_inits, level_name = _level_nodes(kind, sample_rate)
    nodes = [helper.make_node("Identity", [input_name], ["x"])] + level
    inits = level_inits + [
        _const("midpoint_db", midpoint_db),
        _const("slope_per_db", slope_per_db),
        _const("zero_i", [0], np.int64),
        _const("one_i1", [1], np.int64),
        _const("end_i", [np.iinfo(np.int64).max], np.int64),
        _const("minus_one_i", [-1], np.int64),
        _const("ones_col", np.ones((1, 1), np.float32)),
        _const("cause_w", _cause_weights(n_causes)),
    ]
    nodes += [
        # cry probability from the level
        helper.make_node("Sub", [level_name, "midpoint_db"], ["level_rel"]),
        helper.make_node("Mul", ["level_rel", "slope_per_db"], ["cry_logit"]),
        helper.make_node("Sigmoid", ["cry_logit"], [cry_output_name]),
    ] + _cause_nodes(causes_output_name)
    inits.append(_const("zero_f", 0.0))
    if bloat_bytes > 0:
        # Random bytes so that compression cannot hide them; no node reads it, the file keeps it.
        payload = np.random.default_rng(7).integers(0, 256, size=int(bloat_bytes), dtype=np.uint8)
        inits.append(numpy_helper.from_array(payload, "unused_bloat"))
    return helper.make_graph(
        nodes,
        "infantcry_toy",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", "samples"])],
        [
            helper.make_tensor_value_info(cry_output_name, TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info(causes_output_name, TensorProto.FLOAT, ["batch", n_causes]),
        ],
        initializer=inits,
    )


def build_toy_model(
    path: str | Path,
    labels: Sequence[str] = DEFAULT_LABELS,
    *,
    window_seconds: float = 1.0,
    hop_seconds: float = 0.5,
    detection_threshold: float = 0.5,
    cause_min_confidence: float = 0.3,
    sample_rate: int = SAMPLE_RATE,
    min_samples: int | None = None,
    midpoint_db: float = -30.0,
    slope_per_db: float = 0.5,
    kind: str = "energy",
    model_version: str = "toy-1",
    training_summary: str = "Toy model for tests: no training data; outputs are fixed functions of the audio.",
    opset: int = 17,
    input_name: str = contract.INPUT_NAME,
    cry_output_name: str = contract.OUTPUT_CRY,
    causes_output_name: str = contract.OUTPUT_CAUSES,
    metadata_overrides: Mapping[str, str | None] | None = None,
    bloat_bytes: int = 0,
    seal: bool = True,
) -> Path:
    """Write a toy InfantCry model to ``path`` (sealed) and return the path.

    ``min_samples`` defaults to a quarter of the window (and at least one band frame for
    ``kind="band"``). Every other parameter maps to one contract field; the overrides exist to make
    deliberately broken files.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if min_samples is None:
        min_samples = max(int(round(window_seconds * sample_rate / 4)), _BAND_FRAME if kind == "band" else 2)
    graph = _graph(
        n_causes=len(labels),
        kind=kind,
        sample_rate=sample_rate,
        midpoint_db=midpoint_db,
        slope_per_db=slope_per_db,
        input_name=input_name,
        cry_output_name=cry_output_name,
        causes_output_name=causes_output_name,
        bloat_bytes=bloat_bytes,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="infantcry-toy"
    )
    model.ir_version = min(model.ir_version, 9)  # loadable by onnxruntime releases from 1.16 on
    onnx.checker.check_model(model)
    meta: dict[str, str | None] = dict(metadata_for(
        labels, detection_threshold, cause_min_confidence, window_seconds, hop_seconds, min_samples,
        model_version, training_summary, sample_rate=sample_rate,
    ))
    meta.update(metadata_overrides or {})
    update_metadata(model, meta)
    save_model(model, path, seal=seal)
    return Path(path)


def build_foreign_model(path: str | Path) -> Path:
    """A valid ONNX model that is not an InfantCry model: input ``x`` [N, 10] -> output ``y`` [N, 2]."""
    w = numpy_helper.from_array(np.ones((10, 2), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "foreign",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 10])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = min(model.ir_version, 9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m export.modelfile.toy OUT.onnx [--kind band] [--bloat-bytes N]``: write a toy model."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out")
    parser.add_argument("--kind", choices=KINDS, default="energy")
    parser.add_argument("--bloat-bytes", type=int, default=0)
    parser.add_argument("--window-seconds", type=float, default=1.0)
    parser.add_argument("--hop-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    out = build_toy_model(
        args.out,
        kind=args.kind,
        bloat_bytes=args.bloat_bytes,
        window_seconds=args.window_seconds,
        hop_seconds=args.hop_seconds,
    )
    print(f"{out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
