"""The exported student obeys the model contract (export/onnx_export.py).

One default-architecture student (random weights, batch norms settled on synthetic audio) is
exported once per session and shared with tests/test_quantize.py. The export itself (torch.export
tracing the front-end's symbolic shape arithmetic) takes 10-30 s on 2 cores, hence ``slow``.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.frontend import SAMPLE_RATE
from export.onnx_export import (
    FOLD_OUTPUT_LIMIT,
    FORBIDDEN_OPS,
    ContractWrapper,
    ExportError,
    export_student_onnx,
    largest_constants,
    metadata_for,
    op_types,
)
from export.student import CryStudent, StudentConfig, count_parameters, load_student, save_student
from infantcry_sdk import contract, integrity
from infantcry_sdk.model import load_model
from test_student import settled_student, tones

pytestmark = pytest.mark.slow
torch.set_num_threads(1)

LABELS = ["hungry", "tired", "discomfort", "belly_pain", "burping"]


def contract_metadata(labels=LABELS) -> dict[str, str]:
    return metadata_for(labels, detection_threshold=0.5, cause_min_confidence=0.4, window_seconds=1.0,
                        hop_seconds=0.5, min_samples=SAMPLE_RATE // 2, model_version="test-0",
                        training_summary={"data": "synthetic", "licences": "n/a"})


@functools.lru_cache(maxsize=None)
def exported_default_student(root: Path) -> tuple[CryStudent, Path]:
    """(model, sealed fp32 ONNX path) of the default student, exported once per session under ``root``."""
    folder = root / "default_student"
    ckpt, path = folder / "student.pt", folder / "student_fp32.onnx"
    if ckpt.exists() and path.exists():
        return load_student(ckpt), path
    model = settled_student(StudentConfig())
    export_student_onnx(model, path, contract_metadata())
    save_student(model, ckpt)
    return model, path


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[CryStudent, Path]:
    return exported_default_student(tmp_path_factory.getbasetemp())


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _torch_probs(model: CryStudent, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        cry, causes = ContractWrapper(model.eval())(torch.from_numpy(x))
    return cry.numpy(), causes.numpy()


def test_graph_names_types_and_dynamic_axes(exported) -> None:
    _, path = exported
    sess = _session(path)
    (inp,) = sess.get_inputs()
    assert inp.name == contract.INPUT_NAME and inp.type == "tensor(float)"
    assert len(inp.shape) == 2 and all(isinstance(d, str) for d in inp.shape)  # both axes symbolic
    outs = {o.name: o for o in sess.get_outputs()}
    assert set(outs) == {contract.OUTPUT_CRY, contract.OUTPUT_CAUSES}
    assert all(o.type == "tensor(float)" for o in outs.values())
    assert len(outs[contract.OUTPUT_CRY].shape) == 1
    assert outs[contract.OUTPUT_CAUSES].shape[1] == len(LABELS)
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("seconds,batch", [(0.5, 1), (0.5, 3), (2.3, 2), (60.0, 1)])
def test_onnxruntime_matches_torch_at_any_length(exported, seconds: float, batch: int) -> None:
    model, path = exported
    x = np.stack([np.resize(w, int(seconds * SAMPLE_RATE)) for w in tones(batch, 1.0, seed=11)])
    cry, causes = _session(path).run(None, {contract.INPUT_NAME: x})
    ref_cry, ref_causes = _torch_probs(model, x)
    assert cry.shape == (batch,) and causes.shape == (batch, len(LABELS))
    assert cry.dtype == np.float32 and causes.dtype == np.float32
    assert np.abs(cry - ref_cry).max() < 1e-4
    assert np.abs(causes - ref_causes).max() < 1e-4
    assert np.allclose(causes.sum(axis=1), 1.0, atol=1e-5)


def test_onnxruntime_matches_torch_on_real_clips(exported) -> None:
    from export.data import DataError, resolve_data_root
    from infantcry_sdk.audio import load

    try:
        root = resolve_data_root()
    except DataError as exc:
        pytest.skip(f"real clips need ../shared: {exc}")
    files = sorted((root / "data/donateacry/audio").glob("*.flac"))[:3] + sorted((root / "data/esc50/audio").glob("*"))[:2]
    model, path = exported
    sess = _session(path)
    for f in files:
        wave = load(str(f), None, SAMPLE_RATE)[None, :]
        cry, causes = sess.run(None, {contract.INPUT_NAME: wave})
        ref_cry, ref_causes = _torch_probs(model, wave)
        assert np.abs(cry - ref_cry).max() < 1e-4 and np.abs(causes - ref_causes).max() < 1e-4, f.name


def test_metadata_keys_and_integrity_seal(exported) -> None:
    _, path = exported
    meta = dict(_session(path).get_modelmeta().custom_metadata_map)
    assert set(contract.REQUIRED_KEYS) <= set(meta)
    assert json.loads(meta[contract.KEY_LABELS]) == LABELS
    assert meta[contract.KEY_SCHEMA_VERSION] == contract.SCHEMA_VERSION
    assert meta[contract.KEY_SAMPLE_RATE] == str(SAMPLE_RATE)
    assert json.loads(meta[contract.KEY_TRAINING_SUMMARY])["data"] == "synthetic"
    data = path.read_bytes()
    stored = meta[contract.KEY_FILE_SHA256]
    assert stored != integrity.PLACEHOLDER and integrity.verify(data, stored)
    tampered = bytearray(data)
    tampered[len(data) // 2] ^= 0xFF
    assert not integrity.verify(bytes(tampered), stored)


def test_the_sdk_loads_the_export(exported) -> None:
    _, path = exported
    loaded = load_model(path)
    assert loaded.metadata.labels == tuple(LABELS)


def test_no_stft_or_dft_and_no_baked_constants(exported) -> None:
    model, path = exported
    proto = onnx.load(str(path))
    assert not op_types(proto) & FORBIDDEN_OPS
    biggest_param = max(p.numel() for p in model.parameters())
    name, size = largest_constants(proto)[0]
    assert size <= max(FOLD_OUTPUT_LIMIT, biggest_param), name
    # weights plus a small graph: the ~800 KB DFT basis is not in the file
    assert path.stat().st_size < 4 * count_parameters(model) + 100_000


def test_export_refuses_broken_metadata(tmp_path) -> None:
    """Checked before tracing: a bad call fails fast and writes nothing."""
    model = CryStudent(StudentConfig.tiny(n_causes=5))
    meta = contract_metadata()
    del meta[contract.KEY_DETECTION_THRESHOLD]
    with pytest.raises(ExportError, match="detection_threshold"):
        export_student_onnx(model, tmp_path / "a.onnx", meta)
    with pytest.raises(ExportError, match="labels"):
        export_student_onnx(model, tmp_path / "b.onnx", contract_metadata(LABELS[:3]))
    assert not (tmp_path / "a.onnx").exists() and not (tmp_path / "b.onnx").exists()


def test_metadata_for_validates_its_arguments() -> None:
    with pytest.raises(ValueError):
        metadata_for(["a", "a"], 0.5, 0.4, 1.0, 0.5, 8000, "v", "s")
    with pytest.raises(ValueError):
        metadata_for(["a"], 1.5, 0.4, 1.0, 0.5, 8000, "v", "s")
    with pytest.raises(ValueError):
        metadata_for(["a"], 0.5, 0.4, 1.0, 2.0, 8000, "v", "s")
    meta = metadata_for(["a"], 0.5, 0.4, 1.0, 0.5, 8000, "v", "s")
    assert meta[contract.KEY_FILE_SHA256] == integrity.PLACEHOLDER
    assert all(isinstance(v, str) for v in meta.values())
