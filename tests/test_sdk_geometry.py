"""The load-time window-grid check on the shipped student (red team 3.9): the grid's tail and context
are the graph's, every count up to the bound agrees, and a model re-sealed with a window or hop its
graph was not built for either fails to load or, where no count can tell (a window a fraction of a
model frame off), scores the same windows in predict and the stream.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from export.modelfile.metadata import rewrite_metadata
from infantcry_sdk import CryClassifier, ModelError, contract
from infantcry_sdk.model import default_model_path
from test_sdk_stream_parity import stream_scores

RATE = 16_000


@pytest.fixture(scope="module")
def student_path() -> Path:
    if not default_model_path().is_file():
        pytest.skip(f"the bundled student is absent ({default_model_path()})")
    return default_model_path()


def _resealed(src: Path, dst: Path, **updates: str) -> Path:
    keys = {"window": contract.KEY_WINDOW_SECONDS, "hop": contract.KEY_HOP_SECONDS}
    return rewrite_metadata(src, dst, {keys[k]: v for k, v in updates.items()})


def test_student_grid_is_measured(student_path):
    clf = CryClassifier.load(student_path)
    g = clf.grid
    # the bundled student is causal: 3.06 s of context before a window (4 hops on the grid), none after
    assert (g.window, g.hop, g.context_before, g.context_after) == (30720, 15360, 61440, 0)
    assert 1 <= g.tail <= clf.metadata.min_samples
    for n in (g.window + g.tail - 1, g.window + g.tail, g.window + 7 * g.hop + g.tail, 20 * RATE + 123):
        assert clf._model.window_count(n) == g.count(n) == clf.predict(np.zeros(n, np.float32), RATE).windows


@pytest.mark.parametrize("updates", [{"hop": "0.5"}, {"hop": "0.48"}, {"hop": "0.9601"}, {"window": "1.8"},
                                     {"window": "1.96"}, {"window": "2.88", "hop": "0.96"}])
def test_a_window_or_hop_the_graph_was_not_built_for_is_refused(student_path, tmp_path, updates):
    bad = _resealed(student_path, tmp_path / "bad.onnx", **updates)
    with pytest.raises(ModelError, match="window outputs"):
        CryClassifier.load(bad)


def test_a_window_off_by_less_than_a_frame_scores_consistently(student_path, tmp_path):
    """1.93 s on a 1.92 s graph: no window count can tell them apart, so the grid takes the graph's
    counts (a smaller tail) and the stream scores exactly predict's windows."""
    clf = CryClassifier.load(_resealed(student_path, tmp_path / "w193.onnx", window="1.93"))
    x = (0.05 * np.random.default_rng(1).standard_normal(7 * RATE + 999)).astype(np.float32)
    for n in (31_000, 31_200, 46_700, 47_000, x.size):
        assert clf.predict(x[:n], RATE).windows == clf._model.window_count(n)
    cry, _ = clf._score(x)
    got = stream_scores(clf, x, RATE, np.random.default_rng(4), max_chunk=6000)
    assert got.shape == cry.shape and np.abs(got - cry).max() <= 1e-5
