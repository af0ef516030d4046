"""infantcry_sdk.windows: the one window grid (counts, spans, readiness, segments) and the stream buffer."""
from __future__ import annotations

import numpy as np
import pytest

from infantcry_sdk.windows import SampleBuffer, WindowGrid


def test_counts_and_starts():
    g = WindowGrid(window=100, hop=50, tail=10)
    assert [g.count(n) for n in (1, 100, 109, 110, 159, 160, 210)] == [1, 1, 1, 2, 2, 3, 4]
    assert g.starts(160).tolist() == [0, 50, 100]
    assert g.bounds(2, 160) == (100, 160)  # the partial last window holds only real audio
    assert WindowGrid(100, 50).starts(230).tolist() == [0, 50, 100, 150]


def test_spans_and_readiness_with_context():
    g = WindowGrid(window=100, hop=50, tail=1, context_before=100, context_after=100)
    assert g.span(0, 1) == (0, 200)
    assert g.span(3, 5) == (50, 400)
    assert g.span(3, 5, n=330) == (50, 330)
    assert [g.ready(n) for n in (199, 200, 249, 250)] == [0, 1, 1, 2]
    assert WindowGrid(100, 50).ready(100) == 1


def test_a_causal_grid_needs_context_before_only():
    g = WindowGrid(window=100, hop=50, tail=1, context_before=150, context_after=0)
    assert g.span(4, 5) == (50, 300) and g.span_samples == 250
    assert [g.ready(n) for n in (99, 100, 149, 150)] == [0, 1, 1, 2]  # each window as soon as it ends


@pytest.mark.parametrize("n", [1, 99, 100, 101, 1000, 12345])
def test_segments_cover_every_window_once(n):
    g = WindowGrid(window=100, hop=50, tail=7, context_before=100, context_after=50)
    segs = list(g.segments(n, max_samples=400))
    assert [k for first, stop, _, _ in segs for k in range(first, stop)] == list(range(g.count(n)))
    for first, stop, lo, hi in segs:
        assert lo % g.hop == 0 and hi <= n and (lo, hi) == g.span(first, stop, n)
        assert hi - lo <= 400 or stop - first == 1


@pytest.mark.parametrize("kwargs", [dict(window=10, hop=11), dict(window=10, hop=5, tail=6), dict(window=10, hop=5, context_before=3),
                                    dict(window=10, hop=5, context_after=-5),
                                    dict(window=10, hop=0), dict(window=10, hop=5, tail=0)])
def test_bad_grids(kwargs):
    with pytest.raises(ValueError):
        WindowGrid(**kwargs)


def test_sample_buffer_keeps_absolute_positions_in_fixed_memory():
    buf = SampleBuffer(10)
    x = np.arange(25, dtype=np.float32)
    assert buf.append(x[:7]) == 7 and buf.append(x[7:]) == 3  # full
    assert buf.view(2, 5).tolist() == [2, 3, 4]
    buf.drop_before(6)
    assert (buf.start, buf.end) == (6, 10) and buf.append(x[10:]) == 6
    assert buf.view(6, 16).tolist() == list(range(6, 16)) and buf.capacity == 10
    with pytest.raises(IndexError):
        buf.view(5, 8)
    buf.clear()
    assert (buf.start, buf.end) == (0, 0)


def test_a_receptive_field_is_rounded_up_to_whole_hops() -> None:
    g = WindowGrid.with_receptive_field(100, 50, 1, 120, 0)
    assert (g.context_before, g.context_after) == (150, 0)
    assert WindowGrid.with_receptive_field(100, 50, 1, 50, 1).context_after == 50
