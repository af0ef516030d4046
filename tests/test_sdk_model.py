"""Model loading: every way a file can fail the contract gives a ModelError naming the problem."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from export.modelfile.metadata import rewrite_metadata
from export.modelfile.toy import build_foreign_model, build_toy_model
from infantcry_sdk.session import session_options
from infantcry_sdk import CryClassifier, InfantCryError, ModelError, contract, integrity
from infantcry_sdk import model as model_mod


def test_toy_model_loads_with_parsed_metadata(toy_classifier):
    m = toy_classifier.metadata
    assert m.labels == ("hungry", "tired", "discomfort", "belly_pain", "burping")
    assert toy_classifier.labels == m.labels
    assert toy_classifier.sample_rate == m.sample_rate == 16000
    assert (m.window_samples, m.hop_samples, m.min_samples) == (16000, 8000, 4000)
    assert m.detection_threshold == 0.5 and m.schema_version == "1"
    assert m.raw[contract.KEY_MODEL_VERSION] == "toy-1"
    assert "Toy model" in m.training_summary
    with pytest.raises(TypeError):
        m.raw["x"] = "y"  # read-only view
    info = toy_classifier.info()
    assert info["file_bytes"] == toy_classifier.path.stat().st_size
    assert [i["name"] for i in info["inputs"]] == [contract.INPUT_NAME]
    assert info["providers"] == ["CPUExecutionProvider"]
    json.dumps(info)  # serialisable as is


def test_session_settings(toy_model_path):
    clf = CryClassifier.load(toy_model_path, threads=3)
    assert clf.info()["threads"] == 3
    opts = session_options(2)
    assert opts.intra_op_num_threads == 2 and opts.inter_op_num_threads == 1
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2"])
def test_bad_thread_count(toy_model_path, threads):
    with pytest.raises(ValueError, match="threads"):
        CryClassifier.load(toy_model_path, threads=threads)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        CryClassifier.load(tmp_path / "nope.onnx")
    with pytest.raises(ModelError, match="not found"):
        CryClassifier.load(tmp_path)  # a directory


def test_missing_default_model_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(model_mod, "default_model_path", lambda: tmp_path / "student_int8.onnx")
    with pytest.raises(ModelError, match="bundled default model is not installed"):
        CryClassifier.load()


def test_default_model_is_used_when_present(monkeypatch, toy_model_path):
    monkeypatch.setattr(model_mod, "default_model_path", lambda: toy_model_path)
    assert CryClassifier.load().path == toy_model_path


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelError, match="onnxruntime cannot load it"):
        CryClassifier.load(bad)


def test_foreign_model_rejected(tmp_path):
    with pytest.raises(ModelError, match="expected one input 'waveform'"):
        CryClassifier.load(build_foreign_model(tmp_path / "foreign.onnx"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_name": "audio"}, "expected one input 'waveform'"),
        ({"cry_output_name": "p"}, "output 'cry_probability' is missing"),
        ({"causes_output_name": "c"}, "output 'cause_probabilities' is missing"),
    ],
)
def test_wrong_graph_names(tmp_path, kwargs, message):
    with pytest.raises(ModelError, match=message):
        CryClassifier.load(build_toy_model(tmp_path / "m.onnx", **kwargs))


@pytest.mark.parametrize("key", contract.REQUIRED_KEYS)
def test_each_required_key_is_checked(tmp_path, key):
    path = build_toy_model(tmp_path / "m.onnx", metadata_overrides={key: None})
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        CryClassifier.load(path)


def test_unknown_schema_version(tmp_path):
    path = build_toy_model(tmp_path / "m.onnx", metadata_overrides={contract.KEY_SCHEMA_VERSION: "99"})
    with pytest.raises(ModelError, match="schema '99'.*Upgrade"):
        CryClassifier.load(path)


@pytest.mark.parametrize(
    "key, value",
    [
        (contract.KEY_LABELS, "hungry,tired"),
        (contract.KEY_LABELS, "[]"),
        (contract.KEY_LABELS, '["a", "a", "b", "c", "d"]'),
        (contract.KEY_SAMPLE_RATE, "16k"),
        (contract.KEY_DETECTION_THRESHOLD, "1.5"),
        (contract.KEY_DETECTION_THRESHOLD, "nan"),
        (contract.KEY_HOP_SECONDS, "2.0"),  # longer than the window
        (contract.KEY_MIN_SAMPLES, "0"),
        (contract.KEY_MIN_SAMPLES, "99999"),  # longer than the window
    ],
)
def test_unparseable_metadata(tmp_path, key, value):
    path = build_toy_model(tmp_path / "m.onnx", metadata_overrides={key: value})
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        CryClassifier.load(path)


def test_labels_must_match_the_graph(tmp_path, toy_model_path):
    path = rewrite_metadata(toy_model_path, tmp_path / "m.onnx", {contract.KEY_LABELS: '["a", "b"]'})
    with pytest.raises(ModelError, match="does not match its own metadata"):
        CryClassifier.load(path)


def test_unsealed_model_rejected(tmp_path):
    path = build_toy_model(tmp_path / "m.onnx", seal=False)
    with pytest.raises(ModelError, match="not a sealed SHA-256"):
        CryClassifier.load(path)


def _flip_weight_byte(src: Path, dst: Path) -> None:
    """Flip one byte inside the cause weight matrix (raw float data), leaving the file parseable."""
    data = bytearray(src.read_bytes())
    import onnx
    from onnx import numpy_helper

    w = next(t for t in onnx.load_model(str(src)).graph.initializer if t.name == "cause_w")
    at = bytes(data).index(numpy_helper.to_array(w).tobytes()) + 5
    data[at] ^= 0x10
    dst.write_bytes(bytes(data))


def test_tampered_weights_rejected(tmp_path, toy_model_path):
    bad = tmp_path / "tampered.onnx"
    _flip_weight_byte(toy_model_path, bad)
    ort.InferenceSession(str(bad), providers=["CPUExecutionProvider"])  # still a loadable graph
    with pytest.raises(ModelError, match=r"tampered.*tampered\.onnx|tampered\.onnx.*tampered"):
        CryClassifier.load(bad)


def test_tampered_metadata_rejected(tmp_path, toy_model_path):
    data = toy_model_path.read_bytes().replace(b'"hungry"', b'"Hungry"')
    bad = tmp_path / "relabelled.onnx"
    bad.write_bytes(data)
    with pytest.raises(ModelError, match="tampered"):
        CryClassifier.load(bad)


def test_ort_format_loads(tmp_path, toy_model_path):
    unsealed = build_toy_model(tmp_path / "m.onnx", seal=False)
    opts = ort.SessionOptions()
    opts.optimized_model_filepath = str(tmp_path / "m.ort")
    opts.add_session_config_entry("session.save_model_format", "ORT")
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    ort.InferenceSession(str(unsealed), opts, providers=["CPUExecutionProvider"])
    integrity.seal(tmp_path / "m.ort")
    clf = CryClassifier.load(tmp_path / "m.ort")
    ref = CryClassifier.load(toy_model_path)
    x = np.sin(np.arange(20000) / 7.0).astype(np.float32) * 0.05
    assert clf.predict(x, 16000).cry_probability == pytest.approx(ref.predict(x, 16000).cry_probability, abs=1e-6)


def test_bloat_and_band_variants(toy_model_factory):
    small = toy_model_factory("plain")
    big = toy_model_factory("bloat", bloat_bytes=100_000)
    assert big.stat().st_size - small.stat().st_size >= 100_000
    CryClassifier.load(big)
    band = CryClassifier.load(toy_model_factory("band", kind="band"))
    t = np.arange(16000) / 16000
    cry = band.predict((0.3 * np.sin(2 * np.pi * 450 * t)).astype(np.float32), 16000)
    rumble = band.predict((0.3 * np.sin(2 * np.pi * 50 * t)).astype(np.float32), 16000)
    assert cry.is_cry and not rumble.is_cry


def test_model_error_is_an_infantcry_error():
    assert issubclass(ModelError, InfantCryError)


def test_toy_model_command_and_contract(tmp_path, capsys):
    """``python -m export.modelfile.toy`` writes an opset-17 model with every contract key, sealed."""
    import onnx

    from export.modelfile import toy as toy_model

    out = tmp_path / "cmd.onnx"
    assert toy_model.main([str(out), "--kind", "band", "--bloat-bytes", "5000"]) == 0
    assert str(out) in capsys.readouterr().out
    m = onnx.load_model(str(out))
    onnx.checker.check_model(m)
    assert m.opset_import[0].version == 17
    meta = {p.key: p.value for p in m.metadata_props}
    assert set(contract.REQUIRED_KEYS) <= set(meta) and contract.KEY_TRAINING_SUMMARY in meta
    assert integrity.verify(out.read_bytes(), meta[contract.KEY_FILE_SHA256])
    assert not any(n.op_type in ("STFT", "DFT") for n in m.graph.node)
    clf = CryClassifier.load(out)
    for seconds in (0.5, 1.0, 7.3):  # dynamic length
        assert 0.0 <= clf.predict(np.zeros(int(seconds * 16000), np.float32), 16000).cry_probability <= 1.0


# -- optional stream and cause keys -------------------------------------------------------------
@pytest.mark.parametrize(
    "key, value",
    [
        (contract.KEY_STREAM_ON_THRESHOLD, "1.5"),
        (contract.KEY_STREAM_OFF_THRESHOLD, "0.9"),  # above the on threshold (0.5)
        (contract.KEY_STREAM_SMOOTHING_WINDOWS, "0"),
        (contract.KEY_STREAM_MIN_ON_WINDOWS, "2.5"),
        (contract.KEY_STREAM_MIN_OFF_WINDOWS, "100000"),
        (contract.KEY_CAUSE_STATUS, "maybe"),
        (contract.KEY_CONTEXT_AFTER_SAMPLES, "-1"),
        (contract.KEY_CONTEXT_BEFORE_SAMPLES, "1e9"),
        (contract.KEY_CONTEXT_BEFORE_SAMPLES, "99999999"),  # more than 8 windows
    ],
)
def test_bad_optional_keys_are_refused(tmp_path, key, value):
    path = build_toy_model(tmp_path / "m.onnx", metadata_overrides={key: value})
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        CryClassifier.load(path)


def test_optional_keys_default_to_the_contract(toy_classifier):
    m = toy_classifier.metadata
    assert m.stream_on_threshold == m.detection_threshold
    assert m.stream_off_threshold == pytest.approx(contract.DEFAULT_STREAM_OFF_RATIO * m.detection_threshold)
    assert (m.stream_smoothing_windows, m.stream_min_on_windows, m.stream_min_off_windows) == (1, 1, 2)
    assert m.cause_status == "unsupported" and not m.cause_supported
    assert m.cause_status_reason == contract.DEFAULT_CAUSE_STATUS_REASON
    assert m.to_dict()["cause_status"] == "unsupported"
    assert m.context_before_samples == m.context_after_samples == m.window_samples
    # a model without window outputs is cut into windows scored alone: no context, whatever it declares
    assert (toy_classifier.grid.context_before, toy_classifier.grid.context_after) == (0, 0)


# -- external data (red team 3.1) ---------------------------------------------------------------
def _external_copy(src: Path, folder: Path) -> Path:
    """``src`` re-saved with every tensor in ``weights.bin`` beside it, the .onnx re-sealed."""
    proto = onnx.load(str(src))
    for prop in proto.metadata_props:
        if prop.key == contract.KEY_FILE_SHA256:
            prop.value = integrity.PLACEHOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "external.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    integrity.seal(path)
    return path


def test_external_data_weights_are_refused(tmp_path, toy_model_path, monkeypatch):
    """The seal covers only the .onnx bytes, so weights in a side file could be changed unnoticed."""
    path = _external_copy(toy_model_path, tmp_path / "model")
    assert (tmp_path / "model" / "weights.bin").is_file()
    assert integrity.has_external_data(path.read_bytes()) and not integrity.has_external_data(toy_model_path.read_bytes())
    monkeypatch.chdir(tmp_path / "model")  # where the old loader found weights.bin
    with pytest.raises(ModelError, match="external-data file"):
        CryClassifier.load(path)


def test_external_data_walk_finds_nested_tensors():
    """A tensor inside a node attribute (a Constant in a subgraph) stored externally is found too."""
    from onnx import TensorProto, helper, numpy_helper

    def model(external: bool) -> bytes:
        value = numpy_helper.from_array(np.ones(64, np.float32), "c")
        if external:
            value.ClearField("raw_data")
            value.data_location = TensorProto.EXTERNAL
            value.external_data.add(key="location", value="c.bin")
        out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])]
        body = helper.make_graph([helper.make_node("Constant", [], ["y"], value=value)], "body", [], out)
        cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
        node = helper.make_node("If", ["cond"], ["y"], then_branch=body, else_branch=body)
        graph = helper.make_graph([node], "g", [cond], out)
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()

    assert not integrity.has_external_data(model(False))
    assert integrity.has_external_data(model(True))
