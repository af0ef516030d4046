"""The SDK on a model with window outputs: one pass per clip (segments for long clips), and the
load-time checks that keep a model's window outputs honest.

Uses a random (batch-norm-settled) default student exported once per session, so these tests need
torch; the rest of the SDK tests run on torch-free toy models, which have no window outputs and so
cover the cut-windows path.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest

from export.modelfile.metadata import read_metadata, rewrite_metadata
from export.modelfile.onnx_export import export_student_onnx
from export.models.student import StudentConfig
from infantcry_sdk import CryClassifier, ModelError, classifier, contract
from test_onnx_export import contract_metadata, exported_default_student
from test_student import settled_student, tones

pytestmark = pytest.mark.slow
RATE = 16_000


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_default_student(tmp_path_factory.getbasetemp())[1]


@pytest.fixture(scope="module")
def clf(model_path: Path) -> CryClassifier:
    return CryClassifier.load(model_path)


def _cut_windows(clf: CryClassifier) -> CryClassifier:
    """The same model scored the other way: windows cut by the SDK, one run of each."""
    return CryClassifier(dataclasses.replace(clf._model, window_outputs=False))


def _clip(seconds: float, seed: int = 0) -> np.ndarray:
    return np.resize(tones(1, 1.0, seed=seed)[0], int(round(seconds * RATE)))


def test_the_exported_student_has_window_outputs(clf: CryClassifier) -> None:
    assert clf._model.window_outputs
    assert clf.metadata.window_samples == 2 * clf.metadata.hop_samples
    g, m = clf.grid, clf.metadata
    assert 1 <= g.tail <= m.min_samples
    # the receptive field the exporter declares (the default student is causal), in whole hops on the grid
    assert (m.context_before_samples, m.context_after_samples) == StudentConfig().context_samples() == (48960, 0)
    assert (g.context_before, g.context_after) == (4 * g.hop, 0)


@pytest.mark.parametrize("k", [1, 2, 6])
def test_predict_aggregates_the_window_outputs_of_one_pass(clf: CryClassifier, k: int) -> None:
    m = clf.metadata
    x = _clip((m.window_samples + (k - 1) * m.hop_samples) / RATE, seed=k)
    pred = clf.predict(x, RATE)
    cry, causes = clf._model.run_windows(x[None, :])
    assert pred.windows == k == cry.shape[1]
    assert pred.cry_probability == pytest.approx(float(cry.max()))
    crying = cry[0] >= m.detection_threshold
    want = (causes[0][crying] if crying.any() else causes[0]).mean(axis=0)
    assert [pred.cause_probabilities[lab] for lab in clf.labels] == pytest.approx(want.tolist())


def test_one_pass_agrees_with_cut_windows(clf: CryClassifier) -> None:
    """Same windows, same aggregation; scores differ only through what the convolutions see at a
    window's edges (real neighbours instead of zero padding)."""
    m = clf.metadata
    for k, seed in ((3, 1), (5, 2)):
        x = _clip((m.window_samples + (k - 1) * m.hop_samples) / RATE, seed=seed)
        a, b = clf.predict(x, RATE), _cut_windows(clf).predict(x, RATE)
        assert a.windows == b.windows == k
        assert abs(a.cry_probability - b.cry_probability) < 0.05


def test_long_clips_go_in_segments_that_score_as_one_pass(clf: CryClassifier, monkeypatch: pytest.MonkeyPatch) -> None:
    g = clf.grid
    x = _clip(20.0, seed=4)
    whole_cry, _ = clf._model.run_windows(x[None, :])
    # segments of 4 windows (plus their context): 20 s needs 6 runs instead of 1
    monkeypatch.setattr(classifier, "MAX_BATCH_SAMPLES", g.span_samples + 3 * g.hop)
    segments = list(g.segments(x.size, classifier.MAX_BATCH_SAMPLES))
    assert len(segments) > 1 and all(stop - first == 4 for first, stop, _, _ in segments[:-1])
    cry, _ = clf._score(x)
    assert cry.shape == (whole_cry.shape[1],)  # the same windows, segment by segment
    assert np.abs(cry - whole_cry[0]).max() <= 1e-5
    assert clf.predict(x, RATE).windows == whole_cry.shape[1]


def test_a_lone_window_output_is_refused(model_path: Path, tmp_path: Path) -> None:
    proto = onnx.load(str(model_path))
    keep = [o for o in proto.graph.output if o.name != contract.OUTPUT_WINDOW_CAUSES]
    del proto.graph.output[:]
    proto.graph.output.extend(keep)
    onnx.save_model(proto, str(tmp_path / "unsealed.onnx"))
    bad = rewrite_metadata(tmp_path / "unsealed.onnx", tmp_path / "lone.onnx", {})  # re-sealed
    with pytest.raises(ModelError, match="without its pair"):
        CryClassifier.load(bad)


def test_window_outputs_that_disagree_with_the_metadata_are_refused(model_path: Path, tmp_path: Path) -> None:
    assert read_metadata(onnx.load(str(model_path)))[contract.KEY_HOP_SECONDS] == "0.96"
    bad = rewrite_metadata(model_path, tmp_path / "hop.onnx", {contract.KEY_HOP_SECONDS: "0.48"})  # re-sealed
    with pytest.raises(ModelError, match="windows"):
        CryClassifier.load(bad)


@pytest.fixture(scope="module")
def centred_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("centred") / "centred_fp32.onnx"
    export_student_onnx(settled_student(StudentConfig(causal=False)), path, contract_metadata())
    return path


def test_a_centred_student_waits_one_window_after_each(centred_path: Path) -> None:
    clf = CryClassifier.load(centred_path)
    g, m = clf.grid, clf.metadata
    assert (m.context_before_samples, m.context_after_samples) == StudentConfig(causal=False).context_samples() == (24480, 22960)
    assert g.context_before == g.context_after == m.window_samples  # rounded up to whole hops


def test_a_model_that_claims_less_context_than_it_has_is_refused(centred_path: Path, tmp_path: Path) -> None:
    """A centred student declaring itself causal would make streams score windows before the audio
    they depend on has arrived; the load check catches it on its noise probe."""
    bad = rewrite_metadata(centred_path, tmp_path / "claims_causal.onnx", {contract.KEY_CONTEXT_AFTER_SAMPLES: "0"})
    with pytest.raises(ModelError, match="context before it"):
        CryClassifier.load(bad)


def test_a_causal_student_is_scored_as_soon_as_each_window_ends(clf: CryClassifier) -> None:
    causal = clf
    g = causal.grid
    x = _clip(12.0, seed=5)
    want, _ = causal._model.run_windows(x[None, :])
    stream = causal.stream(RATE)
    assert stream.delay_samples == 0
    scored: list[tuple[int, float]] = []  # (samples pushed before the push that scored it, score)
    stream.on_window = lambda w: scored.append((i, w.cry_probability))
    rng = np.random.default_rng(0)
    i = 0
    while i < x.size:  # random chunks
        n = int(rng.integers(100, 4000))
        stream.push(x[i : i + n])
        i += n
    full = (x.size - g.window) // g.hop + 1  # windows that end inside the clip
    # each full window is scored by the push that completes it: none before, none later
    assert all(before < k * g.hop + g.window <= before + 4000 for k, (before, _) in enumerate(scored[:full]))
    stream.flush()
    assert len(scored) == want.shape[1] > full
    assert np.abs(np.array([p for _, p in scored]) - want[0]).max() <= 1e-5


def test_the_torch_student_scores_a_stream_as_the_sdk_scores_its_export(model_path: Path, clf: CryClassifier) -> None:
    """Early stopping on streams scores windows with the torch student (``stream_window_scores``):
    the same windows, and the same scores within float rounding, as the SDK's stream of the exported
    file, across several segments."""
    from export.evaluation.monitor import sdk_window_scores
    from export.models.student import load_student
    from export.training.distill import student_grid, stream_window_scores

    model = load_student(model_path.parent / "student.pt")
    m = clf.metadata
    audio = _clip(130.0, seed=3)
    torch_scores = stream_window_scores(model, audio, m.window_seconds, m.hop_seconds, max_samples=20 * RATE)
    sdk_scores = sdk_window_scores(clf, audio)
    assert student_grid(model.config, m.window_seconds, m.hop_seconds).context_before == clf.grid.context_before
    assert torch_scores.shape == sdk_scores.shape
    np.testing.assert_allclose(torch_scores, sdk_scores, atol=1e-4)
