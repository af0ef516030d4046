"""The exported student obeys the model contract (export/onnx_export.py).

One default-architecture student (random weights, batch norms settled on synthetic audio) is
exported once per session and shared with tests/test_quantize.py. The export itself (torch.export
tracing the front-end's symbolic shape arithmetic) takes 10-30 s on 2 cores, hence ``slow``.
"""
from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export.constants import SAMPLE_RATE
from export.modelfile.onnx_export import (
    FOLD_OUTPUT_LIMIT,
    FORBIDDEN_OPS,
    ContractWrapper,
    ExportError,
    export_student_onnx,
    largest_constants,
    op_types,
)
from export.modelfile.metadata import metadata_for
from export.models.student import CryStudent, StudentConfig, count_parameters, load_student, save_student
from infantcry_sdk import contract, integrity
from infantcry_sdk.model import load_model
from test_student import settled_student, tones

pytestmark = pytest.mark.slow
torch.set_num_threads(1)

LABELS = ["hungry", "tired", "discomfort", "belly_pain", "burping"]
WINDOW_SECONDS, HOP_SECONDS = 1.92, 0.96  # 16 and 8 of the student's 120 ms embedding frames
CLIP_OUTPUTS = [contract.OUTPUT_CRY, contract.OUTPUT_CAUSES]


def contract_metadata(labels=LABELS) -> dict[str, str]:
    return metadata_for(labels, detection_threshold=0.5, cause_min_confidence=0.4, window_seconds=WINDOW_SECONDS,
                        hop_seconds=HOP_SECONDS, min_samples=SAMPLE_RATE // 2, model_version="test-0",
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
    assert set(outs) == {contract.OUTPUT_CRY, contract.OUTPUT_CAUSES, contract.OUTPUT_WINDOW_CRY, contract.OUTPUT_WINDOW_CAUSES}
    assert all(o.type == "tensor(float)" for o in outs.values())
    assert len(outs[contract.OUTPUT_CRY].shape) == 1
    assert outs[contract.OUTPUT_CAUSES].shape[1] == len(LABELS)
    assert len(outs[contract.OUTPUT_WINDOW_CRY].shape) == 2
    assert outs[contract.OUTPUT_WINDOW_CAUSES].shape[2] == len(LABELS)
    model = onnx.load(str(path))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17


@pytest.mark.parametrize("seconds,batch", [(0.5, 1), (0.5, 3), (2.3, 2), (60.0, 1)])
def test_onnxruntime_matches_torch_at_any_length(exported, seconds: float, batch: int) -> None:
    model, path = exported
    x = np.stack([np.resize(w, int(seconds * SAMPLE_RATE)) for w in tones(batch, 1.0, seed=11)])
    cry, causes = _session(path).run(CLIP_OUTPUTS, {contract.INPUT_NAME: x})
    ref_cry, ref_causes = _torch_probs(model, x)
    assert cry.shape == (batch,) and causes.shape == (batch, len(LABELS))
    assert cry.dtype == np.float32 and causes.dtype == np.float32
    assert np.abs(cry - ref_cry).max() < 1e-4
    assert np.abs(causes - ref_causes).max() < 1e-4
    assert np.allclose(causes.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("seconds", [0.5, 1.92, 1.93, 2.5, 7.0, 30.0])
def test_window_outputs_match_torch_and_count_windows_by_the_contract(exported, seconds: float) -> None:
    model, path = exported
    n = int(round(seconds * SAMPLE_RATE))
    x = np.stack([np.resize(w, n) for w in tones(2, 1.0, seed=5)])
    cry, causes, w_cry, w_causes = _session(path).run(None, {contract.INPUT_NAME: x})
    wf, hf = model.config.window_frames(WINDOW_SECONDS), model.config.window_frames(HOP_SECONDS)
    with torch.no_grad():
        ref = ContractWrapper(model.eval(), (wf, hf))(torch.from_numpy(x))
    for got, want in zip((cry, causes, w_cry, w_causes), ref):
        assert got.shape == tuple(want.shape) and np.abs(got - want.numpy()).max() < 1e-4
    frames = int(model.embedding_lengths(torch.tensor([n]))[0])  # whole 120 ms frames in the clip
    assert w_cry.shape[1] == 1 + max(0, -(-(frames - wf) // hf))  # a window every hop while frames remain
    assert np.allclose(w_causes.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_a_window_plus_hops_gives_exactly_that_many_windows(exported, k: int) -> None:
    _, path = exported
    n = int(WINDOW_SECONDS * SAMPLE_RATE) + (k - 1) * int(HOP_SECONDS * SAMPLE_RATE)
    x = tones(1, n / SAMPLE_RATE, seed=2)[0][None, :n]
    cry, causes, w_cry, w_causes = _session(path).run(None, {contract.INPUT_NAME: x})
    assert w_cry.shape == (1, k)
    if k == 1:  # one window: the window scores are the clip scores
        assert np.abs(w_cry[:, 0] - cry).max() < 1e-6 and np.abs(w_causes[:, 0] - causes).max() < 1e-6


def test_each_window_scores_close_to_the_same_stretch_scored_alone(exported) -> None:
    """One pass differs from cutting windows only at window edges (the convolutions see the real
    neighbours instead of zero padding), so scores stay close on a smooth signal."""
    model, path = exported
    window, hop = int(WINDOW_SECONDS * SAMPLE_RATE), int(HOP_SECONDS * SAMPLE_RATE)
    x = np.resize(tones(1, 1.0, seed=3)[0], 6 * SAMPLE_RATE)[None, :]
    sess = _session(path)
    _, _, w_cry, _ = sess.run(None, {contract.INPUT_NAME: x})
    alone = [sess.run(None, {contract.INPUT_NAME: x[:, s : s + window]})[0][0] for s in range(0, 6 * SAMPLE_RATE - window + 1, hop)]
    assert np.abs(w_cry[0, : len(alone)] - np.array(alone)).max() < 0.05


def test_a_student_with_per_utterance_normalisation_exports_without_window_outputs(tmp_path: Path) -> None:
    model = CryStudent(dataclasses.replace(StudentConfig.tiny(n_causes=5), normalisation="utterance", causal=False))
    path = export_student_onnx(model.eval(), tmp_path / "utt.onnx", contract_metadata()).path
    assert {o.name for o in _session(path).get_outputs()} == {contract.OUTPUT_CRY, contract.OUTPUT_CAUSES}


def test_windows_that_are_not_whole_embedding_frames_are_refused(tmp_path: Path) -> None:
    meta = metadata_for(LABELS, 0.5, 0.4, 2.0, 1.0, 8000, "v", "s")  # 2 s is 16.7 frames of 120 ms
    with pytest.raises(ExportError, match="embedding frames"):
        export_student_onnx(CryStudent(StudentConfig.tiny(n_causes=5)).eval(), tmp_path / "x.onnx", meta)


def test_onnxruntime_matches_torch_on_real_clips(exported) -> None:
    from export.data.paths import DataError, resolve_data_root
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
        cry, causes = sess.run(CLIP_OUTPUTS, {contract.INPUT_NAME: wave})
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
