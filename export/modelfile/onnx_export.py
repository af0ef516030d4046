"""Export the student to the model contract: one ONNX file, waveform in, probabilities out.

The contract (``infantcry_sdk.contract``): input ``waveform`` float32 ``[batch, samples]`` (both
dynamic), outputs ``cry_probability`` ``[batch]`` (sigmoid) and ``cause_probabilities``
``[batch, n_causes]`` (softmax), plus the per-window outputs ``window_cry_probability`` and
``window_cause_probabilities`` for a student with local normalisation (the metadata's window and
hop, in whole embedding frames), every ``infantcry.*`` metadata key, sealed with
``infantcry_sdk.integrity``.

Why the dynamo exporter with our own constant folding: the front-end rebuilds its DFT basis and mel
matrix from ``arange``/``sin`` in every call so that the file does not store ~800 KB of constants.
The TorchScript exporter (``dynamo=False``) evaluates those factory calls while tracing and stores
their results (a 1.4 MB file, measured); the dynamo exporter keeps them as Range/Sin nodes, and its
default optimizer would then fold the large products back into initializers. So we export with
``optimize=False`` and run the onnxscript optimizer ourselves with a small output-size limit: small
constants fold, the basis stays a handful of nodes that onnxruntime folds when it loads the model.
"""
from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import onnx
import torch
from torch import nn

from infantcry_sdk import contract

from export.constants import SAMPLE_RATE
from export.modelfile.metadata import save_sealed, set_metadata
from export.models.student import CryStudent, fused_for_export

log = logging.getLogger(__name__)

#: Operators the contract forbids (slow in onnxruntime's CPU provider, missing on some mobile builds).
FORBIDDEN_OPS = frozenset({"STFT", "DFT"})
#: Largest constant (elements) the exporter's folding may create; bigger ones stay computed in-graph.
FOLD_OUTPUT_LIMIT = 4096
DEFAULT_OPSET = 18  # the dynamo exporter's minimum; the contract asks for 17 or newer


class ExportError(RuntimeError):
    """The exported graph breaks the model contract (names, ops, size, metadata)."""


class ContractWrapper(nn.Module):
    """The student with the contract's output activations: ``waveform -> (cry_probability, cause_probabilities)``,
    plus the two window outputs when ``windows`` = (window frames, hop frames) is given."""

    def __init__(self, model: nn.Module, windows: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.model = model
        self.windows = windows

    def forward(self, waveform: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.windows is None:
            cry_logit, cause_logits = self.model(waveform)
            return torch.sigmoid(cry_logit), torch.softmax(cause_logits, dim=-1)
        cry, causes, w_cry, w_causes = self.model.forward_windows(waveform, *self.windows)
        return torch.sigmoid(cry), torch.softmax(causes, dim=-1), torch.sigmoid(w_cry), torch.softmax(w_causes, dim=-1)


def window_frames_for(model: nn.Module, metadata: Mapping[str, str]) -> tuple[int, int] | None:
    """(window, hop) in the model's embedding frames from the metadata's seconds, when ``model`` can
    give window outputs (a :class:`CryStudent` with local normalisation); None otherwise."""
    if not isinstance(model, CryStudent) or model.config.normalisation != "local":
        return None
    window = float(metadata[contract.KEY_WINDOW_SECONDS])
    hop = float(metadata[contract.KEY_HOP_SECONDS])
    try:
        return model.config.window_frames(window), model.config.window_frames(hop)
    except ValueError as exc:
        raise ExportError(f"window {window} s / hop {hop} s do not fit the model's frames: {exc}") from None


@dataclass(frozen=True)
class ExportResult:
    path: Path
    size_bytes: int
    sha256: str  # the sealed ``infantcry.file_sha256``
    opset: int
    parameters: int


# ------------------------------------------------------------------------------------------------
# metadata (written and sealed by export.modelfile.metadata)
# ------------------------------------------------------------------------------------------------
def check_metadata(metadata: Mapping[str, str], n_causes: int | None = None) -> None:
    """Raise :class:`ExportError` unless ``metadata`` holds every required key as a string."""
    missing = [k for k in contract.REQUIRED_KEYS if k not in metadata]
    if missing:
        raise ExportError(f"metadata lacks required keys {missing}")
    bad = [k for k, v in metadata.items() if not isinstance(v, str)]
    if bad:
        raise ExportError(f"metadata values must be strings: {bad}")
    if n_causes is not None:
        labels = json.loads(metadata[contract.KEY_LABELS])
        if len(labels) != n_causes:
            raise ExportError(f"{len(labels)} labels in metadata but the model has {n_causes} cause outputs")


# ------------------------------------------------------------------------------------------------
# graph checks
# ------------------------------------------------------------------------------------------------
def op_types(proto: onnx.ModelProto) -> set[str]:
    """Every operator type in the graph, subgraphs and local functions included."""
    found: set[str] = set()

    def visit(graph: onnx.GraphProto) -> None:
        for node in graph.node:
            found.add(node.op_type)
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    visit(attr.g)
                for g in attr.graphs:
                    visit(g)

    visit(proto.graph)
    for fn in proto.functions:
        found.update(n.op_type for n in fn.node)
    return found


def check_forbidden_ops(proto: onnx.ModelProto) -> None:
    bad = op_types(proto) & FORBIDDEN_OPS
    if bad:
        raise ExportError(f"graph holds forbidden operators {sorted(bad)}: the front-end must not use STFT/DFT")


def largest_constants(proto: onnx.ModelProto, exclude: set[str] = frozenset()) -> list[tuple[str, int]]:
    """(name, elements) of initializers and Constant tensors, largest first, ``exclude`` left out."""
    sizes = [(i.name, int(np.prod(i.dims))) for i in proto.graph.initializer if i.name not in exclude]
    for node in proto.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    sizes.append((node.output[0], int(np.prod(attr.t.dims))))
    return sorted(sizes, key=lambda s: -s[1])


def check_contract_io(proto: onnx.ModelProto, n_causes: int) -> None:
    """Names, element types and ranks of the graph's inputs and outputs, as the contract says."""
    want_in = {contract.INPUT_NAME: 2}
    want_out = dict(contract.OUTPUT_RANKS)
    got_in = {v.name: v for v in proto.graph.input}
    got_out = {v.name: v for v in proto.graph.output}
    if any(name in got_out for name in contract.WINDOW_OUTPUT_RANKS):
        want_out.update(contract.WINDOW_OUTPUT_RANKS)
    if set(got_in) != set(want_in) or set(got_out) != set(want_out):
        raise ExportError(f"graph io {sorted(got_in)} -> {sorted(got_out)}; contract wants {sorted(want_in)} -> {sorted(want_out)}")
    for vals, want in ((got_in, want_in), (got_out, want_out)):
        for name, rank in want.items():
            t = vals[name].type.tensor_type
            if t.elem_type != onnx.TensorProto.FLOAT or len(t.shape.dim) != rank:
                raise ExportError(f"{name}: want float32 of rank {rank}")
    waveform_dims = got_in[contract.INPUT_NAME].type.tensor_type.shape.dim
    if any(d.HasField("dim_value") for d in waveform_dims):
        raise ExportError("waveform must have dynamic batch and samples axes")
    causes = got_out[contract.OUTPUT_CAUSES].type.tensor_type.shape.dim[1]
    if causes.HasField("dim_value") and causes.dim_value != n_causes:
        raise ExportError(f"cause_probabilities has {causes.dim_value} columns, model has {n_causes}")


def _strip_exporter_annotations(proto: onnx.ModelProto) -> None:
    """Drop the exporter's per-node/per-value metadata and doc strings: bytes nobody at runtime reads."""
    graph = proto.graph
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for v in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
        del v.metadata_props[:]
        v.doc_string = ""
    del graph.metadata_props[:]
    proto.doc_string = ""
    drop_initializer_value_info(proto)


#: Names for the graph's symbolic io axes (the exporter writes sizes such as ``s16`` or a window-count formula).
IO_AXES = {
    contract.INPUT_NAME: ("batch", "samples"),
    contract.OUTPUT_CRY: ("batch",),
    contract.OUTPUT_CAUSES: ("batch", None),
    contract.OUTPUT_WINDOW_CRY: ("batch", "windows"),
    contract.OUTPUT_WINDOW_CAUSES: ("batch", "windows", None),
}


def name_io_axes(proto: onnx.ModelProto) -> None:
    """Give the io's symbolic axes the names in :data:`IO_AXES`, so that tools (``infantcry info``,
    Netron) show ``[batch, windows]`` rather than the exporter's shape formula."""
    for value in [*proto.graph.input, *proto.graph.output]:
        for dim, name in zip(value.type.tensor_type.shape.dim, IO_AXES.get(value.name, ())):
            if name is not None and not dim.HasField("dim_value"):
                dim.dim_param = name


def drop_initializer_value_info(proto: onnx.ModelProto) -> None:
    """Remove ``value_info`` entries that merely repeat an initializer's shape. The dynamo exporter
    writes them; onnxruntime's dynamic quantizer transposes Gemm weights and then trips over the
    stale shapes in strict shape inference."""
    inits = {i.name for i in proto.graph.initializer}
    keep = [v for v in proto.graph.value_info if v.name not in inits]
    del proto.graph.value_info[:]
    proto.graph.value_info.extend(keep)


# ------------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------------
def to_onnx_proto(
    model: nn.Module,
    opset: int = DEFAULT_OPSET,
    fold_limit: int = FOLD_OUTPUT_LIMIT,
    windows: tuple[int, int] | None = None,
) -> onnx.ModelProto:
    """Trace ``model`` (eval mode) wrapped to the contract; returns the optimised proto, no metadata yet.

    ``windows``: (window, hop) embedding frames for the window outputs, or None for none.

    ``opset`` below 18 is raised to 18: the dynamo exporter emits 18 and its down-conversion to 17
    fails on this graph (ReduceMean axes); the contract asks for 17 or newer, so 18 satisfies it.
    """
    import onnxscript.optimizer

    if opset < DEFAULT_OPSET:
        log.info("opset %d raised to %d (the dynamo exporter's minimum)", opset, DEFAULT_OPSET)
        opset = DEFAULT_OPSET

    if isinstance(model, CryStudent):
        model = fused_for_export(model)  # a copy: batch norms folded, eval mode
    wrapper = ContractWrapper(model, windows)
    outputs = [contract.OUTPUT_CRY, contract.OUTPUT_CAUSES]
    if windows is not None:
        outputs += [contract.OUTPUT_WINDOW_CRY, contract.OUTPUT_WINDOW_CAUSES]
    was_training = model.training
    wrapper.eval()
    # Any content: shapes are symbolic. 4 s, so that the window count (3) is not 0 or 1, sizes that
    # torch.export specialises the graph on.
    example = torch.zeros(2, 4 * SAMPLE_RATE)
    example[:, ::7] = 0.1
    dyn = torch.export.Dim.DYNAMIC
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.export internals (LeafSpec deprecation)
            program = torch.onnx.export(
                wrapper,
                (example,),
                input_names=[contract.INPUT_NAME],
                output_names=outputs,
                dynamic_shapes={"waveform": {0: dyn, 1: dyn}},
                opset_version=opset,
                dynamo=True,
                optimize=False,
                external_data=False,
                verbose=False,
            )
    finally:
        model.train(was_training)
    onnxscript.optimizer.optimize(program.model, output_size_limit=fold_limit)
    proto = program.model_proto
    _strip_exporter_annotations(proto)
    name_io_axes(proto)
    return proto


def export_student_onnx(
    model: nn.Module,
    path: str | Path,
    metadata: Mapping[str, str],
    opset: int = DEFAULT_OPSET,
    *,
    fold_limit: int = FOLD_OUTPUT_LIMIT,
) -> ExportResult:
    """Export ``model`` (``forward(waveform) -> (cry_logit, cause_logits)``) as a sealed contract ONNX file,
    with window outputs when the model supports them (:func:`window_frames_for`).

    Checks before writing: ``onnx.checker`` (full), contract io, no STFT/DFT, no folded constant
    larger than ``fold_limit`` elements besides the model's own parameters, every metadata key. A
    model with window outputs also gets its context keys (``CryStudent``'s receptive field).
    """
    n_causes = int(getattr(getattr(model, "config", None), "n_causes", 0)) or None
    check_metadata(metadata, n_causes)
    windows = window_frames_for(model, metadata)
    proto = to_onnx_proto(model, opset=opset, fold_limit=fold_limit, windows=windows)
    if windows is not None:  # the window outputs' receptive field, which the SDK's grid and stream use
        before, after = model.config.context_samples()
        metadata = {**metadata, contract.KEY_CONTEXT_BEFORE_SAMPLES: str(before),
                    contract.KEY_CONTEXT_AFTER_SAMPLES: str(after)}
    # Parameters become initializers named after their state-dict keys (prefixed "model."), or a
    # folded copy (e.g. batch norm folded into the conv); either way at most their own size.
    param_sizes = sorted((p.numel() for p in model.state_dict().values()), reverse=True)
    biggest_param = param_sizes[0] if param_sizes else 0
    name, size = (largest_constants(proto) or [("", 0)])[0]
    if size > max(fold_limit, biggest_param):
        raise ExportError(f"constant {name!r} of {size} elements was baked into the graph (limit {fold_limit})")
    check_forbidden_ops(proto)
    check_contract_io(proto, n_causes or 0)
    set_metadata(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    digest = save_sealed(proto, path)
    path = Path(path)
    return ExportResult(
        path=path,
        size_bytes=path.stat().st_size,
        sha256=digest,
        opset=max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
        parameters=sum(p.numel() for p in model.parameters()),
    )


__all__ = [
    "ContractWrapper",
    "ExportError",
    "ExportResult",
    "FORBIDDEN_OPS",
    "check_contract_io",
    "check_forbidden_ops",
    "check_metadata",
    "window_frames_for",
    "drop_initializer_value_info",
    "export_student_onnx",
    "largest_constants",
    "op_types",
    "to_onnx_proto",
]
