"""What a model costs, counted from its graph rather than timed: parameters, multiply-accumulates
(MACs), peak activation memory and the operator list.

These figures transfer to a phone whatever the machine that measures them, so they sit beside the
timings (which do not). Everything is counted from real tensor shapes for a concrete input length:

* ONNX: the graph is run once in onnxruntime with optimizations OFF and every intermediate tensor
  exposed as an output, so each node's shapes are the ones it really produced (shape inference alone
  cannot follow an in-graph DFT basis built from Range/Cos/Sin). MACs are counted for Conv, MatMul,
  Gemm and their integer/QLinear variants; element-wise work is not counted (state it, don't guess).
* TFLite (YAMNet): the interpreter without delegates lists the original ops with allocated tensor
  shapes; MACs for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and BATCH_MATMUL.

Peak activation memory is a liveness estimate: walk the nodes in file order, allocate each output,
free a tensor after its last reader, and take the largest total. Tensors that do not depend on the
audio (weights, a DFT basis computed in-graph, dequantized weights) are "constants": onnxruntime folds
them at load time, so they are reported apart (``folded_constant_bytes``) and not as activations.
No in-place reuse is assumed, so the figure is an upper bound for a simple arena allocator.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from export.constants import SAMPLE_RATE

#: ONNX ops whose MACs are counted, mapped to a function of (node, shapes) below.
_ONNX_WEIGHT_DTYPES = {1, 2, 3, 10, 11, 16}  # float, uint8, int8, float16, double, bfloat16


@dataclass(frozen=True)
class GraphStats:
    """Counted costs of one model for one input length (see the module docstring)."""

    format: str  # "onnx" or "tflite"
    input_samples: int
    parameters: int  # elements of the weight tensors the graph reads
    parameter_bytes: int
    macs: int  # multiply-accumulates of Conv/MatMul/Gemm-like ops for this input
    macs_by_op: dict[str, int]
    peak_activation_bytes: int
    folded_constant_bytes: int
    operators: dict[str, int]  # op type (domain-qualified when not the default) -> count
    opset: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class _Node:
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _liveness_peak(
    nodes: Sequence[_Node], nbytes: dict[str, int], constants: set[str], graph_inputs: Iterable[str], graph_outputs: Iterable[str]
) -> int:
    """Peak bytes of live non-constant tensors when ``nodes`` run in order (no in-place reuse)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for name in node.inputs:
            last_use[name] = i
    keep = set(graph_outputs)
    live = {n: nbytes.get(n, 0) for n in graph_inputs if n not in constants}
    peak = sum(live.values())
    for i, node in enumerate(nodes):
        for name in node.outputs:
            if name and name not in constants:
                live[name] = nbytes.get(name, 0)
        peak = max(peak, sum(live.values()))
        for name in [n for n in live if last_use.get(n, -1) <= i and n not in keep]:
            del live[name]
    return int(peak)


# ----------------------------------------------------------------------------------------------- ONNX


def _onnx_macs(node, shapes: dict[str, tuple[int, ...]]) -> int:
    """MACs of one ONNX node from its real shapes; 0 for ops that are not counted."""
    op, ins, outs = node.op_type, list(node.input), list(node.output)

    def shape(name: str) -> tuple[int, ...] | None:
        return shapes.get(name)

    out = shape(outs[0]) if outs else None
    if out is None:
        return 0
    n_out = int(np.prod(out, dtype=np.int64))
    if op in ("Conv", "ConvInteger"):
        w = shape(ins[1])
        return n_out * int(np.prod(w[1:], dtype=np.int64)) if w else 0
    if op == "QLinearConv":
        w = shape(ins[3])
        return n_out * int(np.prod(w[1:], dtype=np.int64)) if w else 0
    if op == "ConvTranspose":
        x, w = shape(ins[0]), shape(ins[1])
        return int(np.prod(x, dtype=np.int64)) * int(np.prod(w[1:], dtype=np.int64)) if x and w else 0
    if op in ("MatMul", "MatMulInteger", "QLinearMatMul", "FusedMatMul"):
        a = shape(ins[0])
        return n_out * int(a[-1]) if a else 0
    if op == "Gemm":
        a = shape(ins[0])
        trans_a = next((at.i for at in node.attribute if at.name == "transA"), 0)
        return n_out * int(a[0] if trans_a else a[-1]) if a else 0
    return 0


def _onnx_shapes(model, n_samples: int) -> tuple[dict[str, tuple[int, ...]], dict[str, int], list[str]]:
    """Run the graph once on ``n_samples`` of noise; every tensor's real shape and byte size."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, shape_inference

    from infantcry_sdk.session import session_options

    notes: list[str] = []
    inferred = shape_inference.infer_shapes(model)
    elem_type: dict[str, int] = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        if vi.type.tensor_type.elem_type:
            elem_type[vi.name] = vi.type.tensor_type.elem_type
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    existing = {o.name for o in probe.graph.output}
    untyped = []
    for node in probe.graph.node:
        for name in node.output:
            if not name or name in existing:
                continue
            if name in elem_type:
                probe.graph.output.append(helper.make_tensor_value_info(name, elem_type[name], None))
                existing.add(name)
            else:
                untyped.append(name)
    if untyped:
        notes.append(f"{len(untyped)} tensors without an inferred type were not measured")
    sess = ort.InferenceSession(probe.SerializeToString(), session_options(optimize=False), providers=["CPUExecutionProvider"])
    feeds = {}
    for arg in sess.get_inputs():
        dims = [1 if i == 0 else n_samples for i in range(len(arg.shape))]
        feeds[arg.name] = np.random.default_rng(0).uniform(-0.3, 0.3, dims).astype(np.float32)
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, feeds)
    shapes = {n: tuple(int(d) for d in np.shape(v)) for n, v in zip(names, values)}
    nbytes = {n: int(np.asarray(v).nbytes) for n, v in zip(names, values)}
    for name, value in feeds.items():
        shapes[name], nbytes[name] = value.shape, value.nbytes
    for init in model.graph.initializer:
        arr = onnx.numpy_helper.to_array(init)
        shapes[init.name], nbytes[init.name] = arr.shape, arr.nbytes
    return shapes, nbytes, notes


def onnx_graph_stats(path: str | Path, n_samples: int = SAMPLE_RATE) -> GraphStats:
    """Count an ONNX model's costs for one ``[1, n_samples]`` input (see the module docstring)."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    if any(a.type == onnx.AttributeProto.GRAPH for n in graph.node for a in n.attribute):
        subgraph_note = ["subgraphs (If/Loop/Scan) present: their inner nodes are not counted"]
    else:
        subgraph_note = []
    shapes, nbytes, notes = _onnx_shapes(model, n_samples)

    inits = {i.name: i for i in graph.initializer}
    constants = set(inits)
    nodes: list[_Node] = []
    for node in graph.node:  # file order is a valid topological order (the checker requires it)
        if all(i in constants or not i for i in node.input):  # Constant, Range/Cos/Sin DFT basis, ...
            constants.update(o for o in node.output if o)
        nodes.append(_Node(node.op_type, tuple(i for i in node.input if i), tuple(node.output)))
    read = {i for n in graph.node for i in n.input}
    weights = [inits[n] for n in inits if n in read and inits[n].data_type in _ONNX_WEIGHT_DTYPES]
    parameters = sum(int(np.prod(inits[w.name].dims, dtype=np.int64)) for w in weights)
    parameter_bytes = sum(nbytes.get(w.name, 0) for w in weights)
    folded = sum(nbytes.get(c, 0) for c in constants - set(inits))

    macs_by_op: Counter[str] = Counter()
    for node in graph.node:
        m = _onnx_macs(node, shapes)
        if m:
            macs_by_op[node.op_type] += m
    operators = Counter(f"{n.domain}:{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type for n in graph.node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    peak = _liveness_peak(
        nodes, nbytes, constants, [i.name for i in graph.input if i.name not in inits], [o.name for o in graph.output]
    )
    return GraphStats(
        format="onnx",
        input_samples=n_samples,
        parameters=parameters,
        parameter_bytes=parameter_bytes,
        macs=int(sum(macs_by_op.values())),
        macs_by_op=dict(macs_by_op),
        peak_activation_bytes=peak,
        folded_constant_bytes=int(folded),
        operators=dict(sorted(operators.items())),
        opset=opset,
        notes=notes + subgraph_note,
    )


# --------------------------------------------------------------------------------------------- TFLite


def tflite_graph_stats(path: str | Path) -> GraphStats:
    """Count a TFLite model's costs at its own (fixed) input shape (see the module docstring)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(
        model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    it.allocate_tensors()
    tensors = {t["index"]: t for t in it.get_tensor_details()}
    ops = it._get_ops_details()  # the only API listing ops with their tensor indices

    def shape(i: int) -> tuple[int, ...]:
        return tuple(int(d) for d in tensors[i]["shape"])

    def nbytes(i: int) -> int:
        return int(np.prod(shape(i), dtype=np.int64)) * np.dtype(tensors[i]["dtype"]).itemsize

    produced = {int(o) for op in ops for o in op["outputs"]}
    graph_inputs = {int(d["index"]) for d in it.get_input_details()}
    graph_outputs = {int(d["index"]) for d in it.get_output_details()}
    constants = {
        int(i) for op in ops for i in op["inputs"] if i >= 0 and int(i) not in produced and int(i) not in graph_inputs
    }
    weight_ids = {i for i in constants if np.dtype(tensors[i]["dtype"]).kind in "fiu" and tensors[i]["dtype"] != np.int32}
    nodes: list[_Node] = []
    macs_by_op: Counter[str] = Counter()
    for op in ops:
        ins = [int(i) for i in op["inputs"] if i >= 0]
        outs = [int(o) for o in op["outputs"]]
        if all(i in constants for i in ins):  # DEQUANTIZE of a weight: folded, like ONNX constants
            constants.update(outs)
        nodes.append(_Node(op["op_name"], tuple(map(str, ins)), tuple(map(str, outs))))
        name, out = op["op_name"], shape(outs[0])
        n_out = int(np.prod(out, dtype=np.int64))
        if name == "CONV_2D":
            macs_by_op[name] += n_out * int(np.prod(shape(ins[1])[1:], dtype=np.int64))
        elif name == "DEPTHWISE_CONV_2D":
            kh, kw = shape(ins[1])[1:3]
            macs_by_op[name] += n_out * kh * kw
        elif name in ("FULLY_CONNECTED", "BATCH_MATMUL"):
            macs_by_op[name] += n_out * shape(ins[0])[-1]
    sizes = {str(i): nbytes(i) for i in tensors}
    peak = _liveness_peak(nodes, sizes, {str(c) for c in constants}, map(str, graph_inputs), map(str, graph_outputs))
    folded = sum(nbytes(c) for c in constants if c in produced)
    (inp,) = it.get_input_details()
    return GraphStats(
        format="tflite",
        input_samples=int(np.prod(inp["shape"])),
        parameters=sum(int(np.prod(shape(i), dtype=np.int64)) for i in weight_ids),
        parameter_bytes=sum(nbytes(i) for i in weight_ids),
        macs=int(sum(macs_by_op.values())),
        macs_by_op=dict(macs_by_op),
        peak_activation_bytes=peak,
        folded_constant_bytes=int(folded),
        operators=dict(sorted(Counter(op["op_name"] for op in ops).items())),
        notes=["int32 constants (shapes, gather indices) are not counted as parameters"],
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m benchmarks.graph_stats MODEL [--samples N]``: print the counted costs as JSON."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model")
    parser.add_argument("--samples", type=int, default=SAMPLE_RATE, help="input length for ONNX models (samples)")
    args = parser.parse_args(argv)
    if args.model.endswith(".tflite"):
        stats = tflite_graph_stats(args.model)
    else:
        stats = onnx_graph_stats(args.model, args.samples)
    print(json.dumps(stats.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
