"""int8 versions of the exported student, and the ``.ort`` file for ONNX Runtime Mobile.

* :func:`quantize_static_int8`: onnxruntime static quantization after ``quant_pre_process``, QDQ
  format, per-channel int8 weights, uint8 activations (the U8S8 pair that onnxruntime's CPU kernels
  run fastest on ARM and x86), calibrated on fixed-length windows of training audio with MinMax,
  Entropy or Percentile ranges. Only the CNN and the heads (Conv, MatMul, Gemm) are quantized: the
  front-end and the per-utterance normalisation stay float (a log-mel in 8 bits loses the quiet
  bands, and the in-graph DFT basis must stay computable from Range/Sin), and so do the pooling
  statistics, the two tiny output layers (the logits keep float resolution next to the detection
  threshold) and the output activations.
* :func:`quantize_dynamic_int8`: weights-only dynamic quantization, the paper's variant, for the
  compression table.
* :func:`to_ort`: ``.ort`` conversion with onnxruntime's own tool, sealed, its metadata checked,
  its ``required_operators.config`` kept beside it, and the mobile usability verdict.

Every output file carries the fp32 model's ``infantcry.*`` metadata and is re-sealed.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader

from infantcry_sdk import contract, integrity

from export.constants import SAMPLE_RATE
from export.modelfile.metadata import read_metadata, save_sealed, set_metadata
from export.modelfile.onnx_export import drop_initializer_value_info

log = logging.getLogger(__name__)

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
#: Operator types quantized by default: the weight-carrying ones. Everything else stays float.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm")
#: The student's first trainable convolution (its weight's initializer name after export): the
#: front-end and the normalisation are exactly the nodes upstream of its input.
STEM_WEIGHT = "model.stem.0.weight"
#: The output heads' weights: their two small Gemms stay float, so the logits (and the probabilities
#: compared against the detection threshold) keep float resolution instead of 1/255 of their range.
HEAD_WEIGHTS = ("model.cry.weight", "model.cause.weight")


class QuantizeError(RuntimeError):
    """Quantization or ``.ort`` conversion failed or produced a file that breaks the contract."""


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    size_bytes: int
    sha256: str
    method: str  # "minmax" | "entropy" | "percentile" | "dynamic"
    float_nodes: tuple[str, ...]  # nodes kept float on purpose (front-end + normalisation, output heads)
    op_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OrtResult:
    path: Path
    size_bytes: int
    sha256: str
    required_operators: Path
    metadata_survives: bool  # custom_metadata_map of the .ort session equals the .onnx metadata
    usability: dict  # mobile usability checker verdict, see :func:`mobile_usability`


# ------------------------------------------------------------------------------------------------
# calibration data
# ------------------------------------------------------------------------------------------------
def calibration_windows(
    waveforms: Sequence[np.ndarray],
    window_seconds: float = 1.0,
    max_windows: int = 128,
    seed: int = 0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """Fixed-length windows ``[n, window]`` float32 cut from ``waveforms`` (non-overlapping), at most
    ``max_windows``, chosen with a seeded generator. Clips shorter than a window are zero-padded:
    the deployed model sees such tails too."""
    win = int(round(window_seconds * sample_rate))
    if win < 1:
        raise ValueError(f"window_seconds {window_seconds} is too short")
    out: list[np.ndarray] = []
    for w in waveforms:
        w = np.asarray(w, dtype=np.float32).reshape(-1)
        if w.size == 0:
            continue
        if w.size < win:
            out.append(np.pad(w, (0, win - w.size)))
            continue
        for start in range(0, w.size - win + 1, win):
            out.append(w[start : start + win])
    if not out:
        raise ValueError("no calibration audio: every waveform was empty")
    if len(out) > max_windows:
        pick = np.sort(np.random.default_rng(seed).choice(len(out), size=max_windows, replace=False))
        out = [out[i] for i in pick]
    return np.stack(out).astype(np.float32)


class WindowReader(CalibrationDataReader):
    """``onnxruntime.quantization.CalibrationDataReader`` over windows (rows of an array, or a list of
    waveforms), one per batch."""

    def __init__(self, windows: np.ndarray | Sequence[np.ndarray]) -> None:
        self.windows = windows
        self._it: Iterator[dict] | None = None
        self.rewind()

    def get_next(self) -> dict | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter([{contract.INPUT_NAME: w[None, :]} for w in self.windows])


# ------------------------------------------------------------------------------------------------
# graph helpers
# ------------------------------------------------------------------------------------------------
def frontend_nodes(model: onnx.ModelProto, stem_weight: str = STEM_WEIGHT) -> list[str]:
    """Names of the nodes that compute the stem's input: the front-end and the normalisation.

    The stem is the node consuming the ``stem_weight`` initializer; if there is none (a model not
    exported from :class:`export.models.student.CryStudent`), the first Conv/MatMul/Gemm whose weight is an
    initializer. Everything upstream of its data input is returned.
    """
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    stem = next((n for n in graph.node if stem_weight in n.input), None)
    if stem is None:
        stem = next(
            (n for n in graph.node if n.op_type in QUANTIZED_OPS and len(n.input) > 1 and n.input[1] in inits), None
        )
    if stem is None:
        raise QuantizeError("cannot find the first trainable layer: no front-end boundary")
    producer = {out: n for n in graph.node for out in n.output}
    keep: dict[str, onnx.NodeProto] = {}
    stack = [stem.input[0]]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in keep:
            continue
        keep[node.name] = node
        stack.extend(node.input)
    if any(not name for name in keep):
        raise QuantizeError("front-end nodes without names cannot be excluded from quantization")
    order = {n.name: i for i, n in enumerate(graph.node)}
    return sorted(keep, key=order.__getitem__)


def head_nodes(model: onnx.ModelProto, head_weights: Sequence[str] = HEAD_WEIGHTS) -> list[str]:
    """Names of the nodes that consume a head weight (the cry and cause output layers)."""
    return [n.name for n in model.graph.node if any(w in n.input for w in head_weights)]


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    return dict(Counter(n.op_type for n in model.graph.node))


def _ensure_node_names(model: onnx.ModelProto) -> None:
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def _preprocess(fp32_path: Path, out_path: Path) -> None:
    """``quant_pre_process`` without onnxruntime's graph optimisation: that would constant-fold the
    in-graph DFT basis into ~1 MB of initializers. Symbolic shape inference is tried first and
    dropped if it cannot follow the front-end's shape arithmetic."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # quant_pre_process leaves sym_shape_infer_temp.onnx and <uuid>.data files in the working
    # directory: run it from a scratch one.
    fp32, out = str(Path(fp32_path).resolve()), str(Path(out_path).resolve())
    with tempfile.TemporaryDirectory(prefix="infantcry-qpre-") as scratch, contextlib.chdir(scratch):
        try:
            with _quiet_logger("onnxruntime.tools.symbolic_shape_infer"):  # chatter about undecidable sizes
                quant_pre_process(fp32, out, skip_optimization=True)
        except Exception as exc:  # symbolic shape inference is best effort
            log.info("symbolic shape inference failed (%s); pre-processing with ONNX shape inference only", exc)
            quant_pre_process(fp32, out, skip_optimization=True, skip_symbolic_shape=True)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _entropy_bins(num_bins: int, num_quantized_bins: int) -> Iterator[None]:
    """Make ``quantize_static``'s Entropy calibrator use a real histogram.

    ``quantize_static`` forwards no bin counts to the calibrator, whose Entropy defaults are 128
    histogram bins and 128 quantized bins: the KL search then has exactly one candidate, the full
    range, so "Entropy" silently equals MinMax (measured: identical models). TensorRT's recipe is
    2048 bins searched down to 128 levels; onnxruntime's KL search is pure Python and about
    quadratic in the bin count (2048 bins: ~1 min for the default student here), so the default
    is 512 (~10 s, same error as 2048 on our check). Patched for the duration of one call only.
    """
    # the package re-exports a function named ``quantize`` that shadows the module of that name
    ort_quantize = importlib.import_module("onnxruntime.quantization.quantize")

    original = ort_quantize.create_calibrator

    def create_calibrator(*args, **kwargs):
        options = dict(kwargs.get("extra_options") or {})
        options.setdefault("num_bins", num_bins)
        options.setdefault("num_quantized_bins", num_quantized_bins)
        kwargs["extra_options"] = options
        return original(*args, **kwargs)

    ort_quantize.create_calibrator = create_calibrator
    try:
        yield
    finally:
        ort_quantize.create_calibrator = original


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The histogram calibrators print progress to stdout; keep the pipeline's output readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _load_prepared(pre: Path) -> onnx.ModelProto:
    """Load the pre-processed model, give every node a unique name (exclusion lists are by name),
    drop shape annotations of initializers, and save it back for the quantizer."""
    model = onnx.load(str(pre))
    _ensure_node_names(model)
    drop_initializer_value_info(model)
    onnx.save_model(model, str(pre))
    return model


def unshare_weights(model: onnx.ModelProto) -> list[str]:
    """Give every node its own copy of a float initializer it shares with another node.

    The window-output graph applies the pooling projection and the heads twice (whole clip and
    windows, two Gemms) with the same weights; onnxruntime's dynamic quantizer quantizes a weight
    for its first consumer only and then cannot find it for the second. Returns the copies' names.
    """
    inits = {i.name: i for i in model.graph.initializer if i.data_type == onnx.TensorProto.FLOAT and i.dims}
    seen: set[str] = set()
    copies = []
    for node in model.graph.node:
        for pos, name in enumerate(node.input):
            if name not in inits:
                continue
            if name in seen:
                copy = onnx.TensorProto()
                copy.CopyFrom(inits[name])
                copy.name = f"{name}__{node.name}"
                model.graph.initializer.append(copy)
                node.input[pos] = copy.name
                copies.append(copy.name)
            seen.add(name)
    return copies


@contextlib.contextmanager
def _prepared(fp32_path: Path, keep_float: Sequence[str] = ()) -> Iterator[tuple[Path, Path, list[str]]]:
    """A temporary folder holding the pre-processed model: yields (its path, the path for the
    quantized output, the nodes that stay float: front-end, heads, and consumers of ``keep_float``)."""
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        _preprocess(fp32_path, pre)
        model = _load_prepared(pre)
        yield pre, Path(tmp) / "q.onnx", frontend_nodes(model) + head_nodes(model, (*HEAD_WEIGHTS, *keep_float))


def _finish(model: onnx.ModelProto, fp32: onnx.ModelProto, out_path: Path, method: str, float_nodes: list[str]) -> QuantizeResult:
    """Copy the fp32 metadata (placeholder hash), drop the shape annotations, save as one file, seal.

    The annotations are what ``quant_pre_process``'s symbolic shape inference wrote: ~20 KB of
    shape expressions for the window-output graph (and more in the ``.ort`` made from it) that
    onnxruntime recomputes at load anyway; without them the outputs are bit-identical (measured).
    """
    meta = read_metadata(fp32)
    if contract.KEY_FILE_SHA256 not in meta:
        raise QuantizeError("the fp32 model has no infantcry metadata; export it with export_student_onnx first")
    del model.graph.value_info[:]
    set_metadata(model, meta)
    onnx.checker.check_model(model)
    digest = save_sealed(model, out_path)
    return QuantizeResult(
        path=out_path,
        size_bytes=out_path.stat().st_size,
        sha256=digest,
        method=method,
        float_nodes=tuple(float_nodes),
        op_counts=op_counts(model),
    )


# ------------------------------------------------------------------------------------------------
# quantization
# ------------------------------------------------------------------------------------------------
def quantize_static_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration_waveforms: Sequence[np.ndarray],
    method: str = "minmax",
    *,
    window_seconds: float = 1.0,
    max_windows: int = 128,
    seed: int = 0,
    op_types: Sequence[str] = QUANTIZED_OPS,
    reduce_range: bool = False,
    percentile: float = 99.999,
    entropy_bins: int = 512,
    keep_float: Sequence[str] = (),
) -> QuantizeResult:
    """Static int8 (QDQ, per-channel weights) of a contract ONNX file; front-end nodes stay float.

    ``calibration_waveforms``: training-side audio (never validation or test), 16 kHz float32.
    ``keep_float``: initializer names (e.g. :data:`STEM_WEIGHT`) whose layers also stay float.
    ``reduce_range``: 7-bit weights; avoids the U8S8 int16 saturation of x86 AVX2 kernels without
    VNNI (ARM has no such issue).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ValueError(f"unknown calibration method {method!r}; choose one of {CALIBRATION_METHODS}")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    fp32 = onnx.load(str(fp32_path))
    windows = calibration_windows(calibration_waveforms, window_seconds, max_windows, seed)
    extra = {"ActivationSymmetric": False, "WeightSymmetric": True}
    if method == "percentile":
        extra["CalibPercentile"] = percentile
    with _prepared(fp32_path, keep_float) as (pre, q_path, float_nodes):
        bins = _entropy_bins(entropy_bins, 128) if method == "entropy" else contextlib.nullcontext()
        try:
            with bins, _quiet_stdout():
                quantize_static(
                    str(pre),
                    str(q_path),
                    WindowReader(windows),
                    quant_format=QuantFormat.QDQ,
                    op_types_to_quantize=list(op_types),
                    per_channel=True,
                    reduce_range=reduce_range,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    nodes_to_exclude=float_nodes,
                    calibrate_method=methods[method],
                    extra_options=extra,
                )
        except ValueError as exc:
            # onnxruntime's histogram calibrators fail on a tensor that is constant to float precision
            # across all calibration windows (e.g. an untrained model fed uniform noise).
            raise QuantizeError(f"{method} calibration failed ({exc}); use more varied calibration audio") from exc
        model = onnx.load(str(q_path))
    return _finish(model, fp32, out_path, method, float_nodes)


def quantize_dynamic_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    *,
    op_types: Sequence[str] = ("MatMul", "Gemm"),
) -> QuantizeResult:
    """Dynamic (weights-only, activations quantized on the fly) int8: the paper's variant.

    Default ops: MatMul/Gemm, the linear layers, as PyTorch's dynamic quantization (the paper's tool)
    does: it has no dynamic convolution. Weights shared by two of them (a window-output graph's
    projection and heads) are stored once per consumer (:func:`unshare_weights`), so this file holds
    those ~55k weights twice. ``op_types=("Conv", "MatMul", "Gemm")`` also turns the
    convolutions into ConvInteger (onnxruntime's CPU provider runs it; ~200 KB for the default student).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32_path, out_path = Path(fp32_path), Path(out_path)
    fp32 = onnx.load(str(fp32_path))
    with _prepared(fp32_path) as (pre, q_path, float_nodes):
        prepared = onnx.load(str(pre))
        if unshare_weights(prepared):
            onnx.save_model(prepared, str(pre))
        quantize_dynamic(
            str(pre),
            str(q_path),
            op_types_to_quantize=list(op_types),
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=float_nodes,
        )
        model = onnx.load(str(q_path))
    return _finish(model, fp32, out_path, "dynamic", float_nodes)


# ------------------------------------------------------------------------------------------------
# .ort
# ------------------------------------------------------------------------------------------------
_VERDICT = re.compile(r"Model should perform well with (.+?) (as is|if modified to have fixed input shapes): (\w+)")


def mobile_usability(onnx_path: str | Path) -> dict:
    """Run onnxruntime's mobile usability checker; returns its verdict as a dict.

    ``{"nnapi": ..., "coreml_neuralnetwork": ..., "coreml_mlprogram": ...}`` (YES / MAYBE / NO, as
    is), ``"..._fixed_shapes"`` where the checker also tried fixed shapes, ``"try_nnapi_or_coreml"``
    (its bool), ``"recommendation"`` and the full ``"log"``.
    """
    from onnxruntime.tools.mobile_helpers import usability_checker

    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("infantcry.mobile_usability")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = _Collect()
    logger.addHandler(handler)
    try:
        try_eps = bool(usability_checker.analyze_model(Path(onnx_path), skip_optimize=False, logger=logger))
    finally:
        logger.removeHandler(handler)
    verdict: dict = {"try_nnapi_or_coreml": try_eps}
    for line in lines:
        m = _VERDICT.search(line)
        if m:
            key = m.group(1).lower().replace("coreml ", "coreml_").replace(" ", "_")
            if m.group(2) != "as is":
                key += "_fixed_shapes"
            verdict[key] = m.group(3)
    verdict["recommendation"] = (
        "compare NNAPI (Android) / CoreML (iOS) against the CPU EP" if try_eps else "use the CPU execution provider"
    )
    verdict["log"] = lines
    return verdict


def to_ort(
    onnx_path: str | Path,
    ort_path: str | Path | None = None,
    *,
    optimization_level: str = "all",
    target_platform: str = "arm",
    check_usability: bool = True,
) -> OrtResult:
    """Convert a sealed contract ONNX file to ``.ort`` with ``onnxruntime.tools.convert_onnx_models_to_ort``.

    The conversion runs on a copy whose integrity value is the placeholder, so the ``.ort`` is
    sealed on its own bytes. ``required_operators.config`` (the reduced-build operator list) is
    written beside the ``.ort``. ``optimization_level`` "all" (the tool's default, "Fixed" style)
    bakes onnxruntime's graph optimisations in, the QDQ -> QLinearConv fusions among them, and with
    them the constant-folded DFT basis; "basic"/"disable" keep the file smaller but leave more work
    for load time or run time.
    """
    onnx_path = Path(onnx_path)
    ort_path = Path(ort_path) if ort_path is not None else onnx_path.with_suffix(".ort")
    model = onnx.load(str(onnx_path))
    meta = read_metadata(model)
    if contract.KEY_FILE_SHA256 not in meta:
        raise QuantizeError(f"{onnx_path} has no infantcry metadata")
    set_metadata(model, meta)  # placeholder hash
    config_path = ort_path.parent / "required_operators.config"
    _convert_to_ort(model, ort_path, config_path, optimization_level, target_platform)
    if ort_path.read_bytes().count(integrity.PLACEHOLDER.encode("ascii")) != 1:
        raise QuantizeError(
            "the .ort file does not carry the infantcry.file_sha256 placeholder exactly once: "
            "metadata did not survive the conversion, so it cannot be sealed"
        )
    digest = integrity.seal(ort_path)
    survived = ort_metadata(ort_path)
    expected = {**meta, contract.KEY_FILE_SHA256: digest}
    return OrtResult(
        path=ort_path,
        size_bytes=ort_path.stat().st_size,
        sha256=digest,
        required_operators=config_path,
        metadata_survives=survived == expected,
        usability=mobile_usability(onnx_path) if check_usability else {},
    )


def _convert_to_ort(model: onnx.ModelProto, ort_path: Path, config_path: Path, optimization_level: str,
                    target_platform: str) -> None:
    """Run onnxruntime's converter on ``model`` in a scratch folder; copy its one ``.ort`` to
    ``ort_path`` and its operator list to ``config_path``."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory() as tmp:
        src_dir, out_dir = Path(tmp) / "src", Path(tmp) / "out"
        src_dir.mkdir()
        src = src_dir / "model.onnx"
        onnx.save_model(model, str(src))
        # the tool narrates every step with print() and an INFO log line
        with _environment("ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL", optimization_level), \
                _quiet_stdout(), _quiet_logger("ort_format_model.utils"):
            convert_onnx_models_to_ort(src, output_dir=out_dir, optimization_styles=[OptimizationStyle.Fixed],
                                       target_platform=target_platform)
        produced = list(out_dir.glob("*.ort"))
        configs = list(out_dir.glob("*.config"))
        if len(produced) != 1 or len(configs) != 1:
            raise QuantizeError(f"ORT conversion produced {produced} and {configs}; expected one of each")
        ort_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced[0], ort_path)
        shutil.copyfile(configs[0], config_path)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block; the old value, or its absence, comes back after."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def ort_metadata(path: str | Path) -> dict[str, str]:
    """``custom_metadata_map`` of a model as onnxruntime loads it (works for .onnx and .ort)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return dict(sess.get_modelmeta().custom_metadata_map)


__all__ = [
    "CALIBRATION_METHODS",
    "OrtResult",
    "QuantizeError",
    "QuantizeResult",
    "WindowReader",
    "calibration_windows",
    "frontend_nodes",
    "mobile_usability",
    "op_counts",
    "ort_metadata",
    "quantize_dynamic_int8",
    "quantize_static_int8",
    "to_ort",
]
