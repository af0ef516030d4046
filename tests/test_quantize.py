"""int8 quantization and the .ort conversion (export/quantize.py) on the default student.

Reuses the session's fp32 export from tests/test_onnx_export.py (slow: the export dominates).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export.audio.frontend import SAMPLE_RATE
from export.modelfile.quantize import (
    STEM_WEIGHT,
    QuantizeError,
    calibration_windows,
    frontend_nodes,
    ort_metadata,
    quantize_dynamic_int8,
    quantize_static_int8,
    to_ort,
)
from infantcry_sdk import contract, integrity
from infantcry_sdk.model import load_model
from test_onnx_export import exported_default_student
from test_student import tones

pytestmark = pytest.mark.slow

CALIBRATION = tones(6, 3.0, seed=21)  # "training audio": varied tones in noise
HELD_OUT = np.stack([w[:SAMPLE_RATE] for w in tones(6, 1.0, seed=22)])  # calibration-like, not calibrated on


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_default_student(tmp_path_factory.getbasetemp())[1]


@pytest.fixture(scope="module")
def int8(fp32: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("int8") / "student_int8.onnx"
    return quantize_static_int8(fp32, out, CALIBRATION, method="minmax", max_windows=16)


@pytest.fixture(scope="module")
def ort_file(int8):
    return to_ort(int8.path)


def _run(path: Path, x: np.ndarray = HELD_OUT) -> tuple[np.ndarray, np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return tuple(sess.run([contract.OUTPUT_CRY, contract.OUTPUT_CAUSES], {contract.INPUT_NAME: x}))


def _producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {out: n for n in model.graph.node for out in n.output}


def test_static_int8_is_qdq_per_channel(int8) -> None:
    model = onnx.load(str(int8.path))
    ops = int8.op_counts
    assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0
    inits = {i.name: i for i in model.graph.initializer}
    weight_dq = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits
                 and inits[n.input[0]].data_type == onnx.TensorProto.INT8 and len(inits[n.input[0]].dims) == 4]
    assert weight_dq, "conv weights should be stored as int8"
    scales = [onnx.numpy_helper.to_array(inits[n.input[1]]) for n in weight_dq]
    assert all(s.size > 1 for s in scales), "per-channel scales expected"


def test_front_end_nodes_stay_float(int8, fp32: Path) -> None:
    model = onnx.load(str(int8.path))
    producers = _producers(model)
    by_name = {n.name: n for n in model.graph.node}
    assert int8.float_nodes and set(frontend_nodes(onnx.load(str(fp32)))) <= set(int8.float_nodes)
    for name in int8.float_nodes:
        node = by_name[name]
        assert node.op_type not in ("QuantizeLinear", "DequantizeLinear")
        for i in node.input:
            src = producers.get(i)
            assert src is None or src.op_type != "DequantizeLinear", f"{name} reads quantized {i}"
    # the front-end's log and the graph's output activations are float ops in the int8 graph
    assert {"Log", "Sigmoid", "Softmax"} <= {by_name[n].op_type for n in by_name}


def test_static_int8_close_to_fp32_and_smaller(int8, fp32: Path) -> None:
    ref_cry, ref_causes = _run(fp32)
    cry, causes = _run(int8.path)
    assert np.abs(cry - ref_cry).max() < 0.1
    assert np.abs(causes - ref_causes).max() < 0.1
    assert int8.size_bytes < 0.5 * fp32.stat().st_size


def test_int8_metadata_copied_and_resealed(int8, fp32: Path) -> None:
    meta, ref = ort_metadata(int8.path), ort_metadata(fp32)
    assert {k: v for k, v in meta.items() if k != contract.KEY_FILE_SHA256} == {
        k: v for k, v in ref.items() if k != contract.KEY_FILE_SHA256}
    assert meta[contract.KEY_FILE_SHA256] == int8.sha256
    assert integrity.verify(int8.path.read_bytes(), int8.sha256)
    assert load_model(int8.path).metadata.labels == tuple(json.loads(ref[contract.KEY_LABELS]))


def test_calibration_methods_all_work_and_entropy_is_not_minmax(int8, fp32: Path, tmp_path) -> None:
    results = {m: quantize_static_int8(fp32, tmp_path / f"{m}.onnx", CALIBRATION, method=m, max_windows=6,
                                       entropy_bins=256)
               for m in ("minmax", "entropy", "percentile")}
    outs = {m: _run(r.path) for m, r in results.items()}
    ref = _run(fp32)
    for m, (cry, causes) in outs.items():
        assert np.abs(cry - ref[0]).max() < 0.1, m
    # onnxruntime's Entropy defaults make it a copy of MinMax; ours must differ
    assert not np.array_equal(outs["entropy"][0], outs["minmax"][0])
    with pytest.raises(ValueError, match="calibration method"):
        quantize_static_int8(fp32, tmp_path / "x.onnx", CALIBRATION, method="kl")


def test_keep_float_leaves_a_chosen_layer_unquantized(fp32: Path, tmp_path) -> None:
    res = quantize_static_int8(fp32, tmp_path / "k.onnx", CALIBRATION, max_windows=4, keep_float=(STEM_WEIGHT,))
    model = onnx.load(str(res.path))
    (stem,) = [n for n in model.graph.node if STEM_WEIGHT in n.input]  # the float weight, used directly
    producers = _producers(model)
    assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in stem.input)
    assert stem.name in res.float_nodes


def test_dynamic_int8(fp32: Path, tmp_path) -> None:
    res = quantize_dynamic_int8(fp32, tmp_path / "dyn.onnx")
    assert res.op_counts.get("MatMulInteger", 0) + res.op_counts.get("DynamicQuantizeLinear", 0) > 0
    cry, causes = _run(res.path)
    ref_cry, ref_causes = _run(fp32)
    assert np.abs(cry - ref_cry).max() < 0.02 and np.abs(causes - ref_causes).max() < 0.02
    assert integrity.verify(res.path.read_bytes(), res.sha256)
    assert res.size_bytes < fp32.stat().st_size


def test_quantize_needs_contract_metadata(tmp_path) -> None:
    bare = tmp_path / "bare.onnx"
    x = onnx.helper.make_tensor_value_info(contract.INPUT_NAME, onnx.TensorProto.FLOAT, ["b", "n"])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["b", "n"])
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Relu", [contract.INPUT_NAME], ["y"], name="r")], "g", [x], [y])), bare)
    with pytest.raises(QuantizeError):
        to_ort(bare, check_usability=False)


def test_ort_matches_int8_onnx_and_keeps_sealed_metadata(ort_file, int8) -> None:
    assert ort_file.path.suffix == ".ort" and ort_file.path.exists()
    cry, causes = _run(ort_file.path)
    ref_cry, ref_causes = _run(int8.path)
    assert np.abs(cry - ref_cry).max() < 1e-5 and np.abs(causes - ref_causes).max() < 1e-5
    assert ort_file.metadata_survives
    meta = ort_metadata(ort_file.path)
    assert set(contract.REQUIRED_KEYS) <= set(meta)
    assert integrity.verify(ort_file.path.read_bytes(), meta[contract.KEY_FILE_SHA256])
    assert load_model(ort_file.path).metadata.labels == load_model(int8.path).metadata.labels


def test_ort_required_operators_and_usability_verdict(ort_file) -> None:
    config = ort_file.required_operators
    assert config.name == "required_operators.config" and config.parent == ort_file.path.parent
    text = config.read_text()
    assert "QLinearConv" in text and "ai.onnx" in text
    verdict = ort_file.usability
    assert {"nnapi", "coreml_mlprogram", "try_nnapi_or_coreml", "log"} <= set(verdict)
    assert verdict["nnapi"] in ("YES", "MAYBE", "NO")


def test_calibration_windows_are_fixed_length_and_capped() -> None:
    waves = [np.ones(40_000, np.float32), np.ones(5_000, np.float32), np.zeros(0, np.float32)]
    w = calibration_windows(waves, window_seconds=1.0, max_windows=10)
    assert w.shape == (3, SAMPLE_RATE) and w.dtype == np.float32  # 2 full windows + 1 padded short clip
    assert calibration_windows(waves * 10, max_windows=4).shape == (4, SAMPLE_RATE)
    with pytest.raises(ValueError):
        calibration_windows([np.zeros(0, np.float32)])
