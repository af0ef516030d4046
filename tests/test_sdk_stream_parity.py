"""CryStream scores what predict scores, on the shipped student (window outputs with context) and on
a toy model (cut windows): random chunkings of real clips, odd lengths, resampled input, and clips
long enough that predict scores them in segments.

Needs the bundled model (infantcry_sdk/models/student_int8.onnx) and Donate-a-Cry clips from
../shared; each test skips with the reason when one is absent.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infantcry_sdk import CryClassifier, CryStream, audio, classifier
from infantcry_sdk.model import default_model_path

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLIPS = sorted((SHARED / "data" / "donateacry" / "audio").glob("*.flac"))
TOL = 1e-5


class Recorder:
    """Stands in for the classifier behind a stream and records every window score it hands out."""

    def __init__(self, clf: CryClassifier) -> None:
        self.clf = clf
        self.metadata = clf.metadata
        self.grid = clf.grid
        self.scores: dict[int, float] = {}

    def _score_span(self, span, lo, first, stop):
        cry, causes = self.clf._score_span(span, lo, first, stop)
        for k in range(first, stop):
            assert k not in self.scores, f"window {k} scored twice"
            self.scores[k] = float(cry[k - first])
        return cry, causes


def stream_scores(clf: CryClassifier, x: np.ndarray, rate: int, rng: np.random.Generator, max_chunk: int) -> np.ndarray:
    rec = Recorder(clf)
    stream = CryStream(rec, rate)
    i = 0
    while i < x.shape[0]:
        n = int(rng.integers(1, max_chunk))
        stream.push(x[i : i + n])
        i += n
    stream.flush()
    assert sorted(rec.scores) == list(range(len(rec.scores)))
    return np.array([rec.scores[k] for k in range(len(rec.scores))])


@pytest.fixture(scope="module")
def student() -> CryClassifier:
    if not default_model_path().is_file():
        pytest.skip(f"the bundled student is absent ({default_model_path()})")
    return CryClassifier.load()


@pytest.fixture(scope="module")
def real_clips() -> list[tuple[np.ndarray, int]]:
    if len(CLIPS) < 8:
        pytest.skip(f"needs ../shared data: Donate-a-Cry clips not found under {SHARED / 'data/donateacry/audio'}")
    return [audio.read_file(p) for p in CLIPS[::100][:8]]


def test_student_stream_scores_equal_predict_on_random_chunkings(student, real_clips):
    rng = np.random.default_rng(11)
    for x, rate in real_clips:
        for _ in range(2):
            cut = x[: x.shape[0] - int(rng.integers(0, 20_000))]  # odd lengths, partial last windows
            resampled = audio.load(cut, rate, student.sample_rate)
            want, _ = student._score(resampled)
            got = stream_scores(student, cut, rate, rng, max_chunk=int(rng.choice([500, 9000, 70_000])))
            assert got.shape == want.shape == (student.grid.count(resampled.shape[0]),)
            assert np.abs(got - want).max() <= TOL
            assert student.predict(cut, rate).cry_probability == pytest.approx(float(want.max()), abs=1e-12)


def test_student_stream_scores_equal_predict_at_every_tail_length(student, real_clips):
    """Lengths around the grid's edges: one window, a window plus tail - 1 / tail, and beyond."""
    g = student.grid
    x = audio.load(*real_clips[0], student.sample_rate)
    x = np.concatenate([x, x, x])
    rng = np.random.default_rng(5)
    for n in (student.metadata.min_samples, g.window - 1, g.window, g.window + g.tail - 1, g.window + g.tail,
              g.window + g.hop + g.tail, 3 * g.window + 7, 5 * g.hop + g.tail + 1):
        want, _ = student._score(x[:n])
        got = stream_scores(student, x[:n], student.sample_rate, rng, max_chunk=4000)
        assert got.shape == want.shape and np.abs(got - want).max() <= TOL, n


def test_long_clips_are_scored_in_segments_that_equal_one_pass(student, real_clips, monkeypatch):
    """A clip longer than one run's budget goes in segments with their context; each window then
    scores as in one pass over the whole clip, and the stream agrees."""
    g = student.grid
    x = np.concatenate([audio.load(c, r, student.sample_rate) for c, r in real_clips])[: 40 * 16000 + 4321]
    whole = student._model.run_windows(x[None])[0][0]
    monkeypatch.setattr(classifier, "MAX_BATCH_SAMPLES", g.span_samples + 5 * g.hop)
    assert len(list(g.segments(x.shape[0], classifier.MAX_BATCH_SAMPLES))) > 4
    segmented, _ = student._score(x)
    assert segmented.shape == whole.shape and np.abs(segmented - whole).max() <= TOL
    got = stream_scores(student, x, student.sample_rate, np.random.default_rng(2), max_chunk=50_000)
    assert np.abs(got - whole).max() <= TOL


def test_toy_stream_scores_equal_predict(toy_classifier, synth_cry):
    rng = np.random.default_rng(3)
    for rate, seconds in ((16000, 4.37), (44100, 3.01), (8000, 0.7)):
        x = synth_cry(rate, seconds, bursts=((1.0, 2.5),), level=0.08)
        want, _ = toy_classifier._score(audio.load(x, rate, toy_classifier.sample_rate))
        got = stream_scores(toy_classifier, x, rate, rng, max_chunk=7000)
        assert got.shape == want.shape and np.abs(got - want).max() <= TOL
