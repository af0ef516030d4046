"""The window grid, defined once: which windows a recording has, which audio scoring them needs, and
the fixed buffer a stream keeps. ``predict`` (one pass or cut windows, whole clips or segments),
``CryStream`` and its ``flush`` all take their windows from here, so they score the same windows.

All positions are samples at the model rate.

* Window ``k`` covers ``[k * hop, k * hop + window)``, clipped to the recording: windows start every
  hop from sample 0.
* Window 0 always exists (a recording shorter than a window is one window holding all of it). Window
  ``k >= 1`` exists when the recording reaches ``tail`` samples past the end of window ``k - 1``, that
  is ``n >= window + (k - 1) * hop + tail``; the last window may thus be partial and holds only real
  audio. ``tail`` is the model's: the fewest new samples its frame grid turns into a frame
  (measured at load for a model with window outputs), else enough that a partial window holds
  ``min_samples``.
* A window's score may depend on audio up to ``context_before`` samples before it and
  ``context_after`` samples after it (0: the window alone; for a model with window outputs, through
  its convolutions and local normalisation: one window either side for a centred model, none after
  for a causal one). Scoring windows ``first .. stop - 1`` therefore needs the span
  ``[first * hop - context_before, (stop - 1) * hop + window + context_after)`` clipped to the
  recording, and a stream can score window ``k`` once it holds ``k * hop + window + context_after``
  samples: ``context_after`` is the stream's delay. Spans start on the hop grid (both contexts are
  whole hops), so window ``k`` is window ``k - lo / hop`` of a span that starts at ``lo``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowGrid:
    """Window length, hop, the tail that starts a partial window, and the audio before and after a
    window that its score depends on."""

    window: int
    hop: int
    tail: int = 1
    context_before: int = 0
    context_after: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.hop <= self.window:
            raise ValueError(f"need 1 <= hop <= window, got hop {self.hop}, window {self.window}")
        if not 1 <= self.tail <= self.hop:
            raise ValueError(f"need 1 <= tail <= hop, got tail {self.tail}, hop {self.hop}")
        for name in ("context_before", "context_after"):
            value = getattr(self, name)
            if value < 0 or value % self.hop:
                raise ValueError(f"{name} must be a whole number of hops, got {value} (hop {self.hop})")

    @classmethod
    def with_receptive_field(cls, window: int, hop: int, tail: int, before: int, after: int) -> "WindowGrid":
        """The grid of a model whose window scores depend on ``before`` samples before a window and
        ``after`` after it: both rounded up to whole hops, since spans start on the hop grid."""
        def whole_hops(samples: int) -> int:
            return -(-samples // hop) * hop

        return cls(window, hop, tail, whole_hops(before), whole_hops(after))

    @property
    def span_samples(self) -> int:
        """Samples scoring one window needs: its context before, itself and its context after."""
        return self.context_before + self.window + self.context_after

    def count(self, n: int) -> int:
        """How many windows a recording of ``n`` samples has (>= 1)."""
        if n < self.window + self.tail:
            return 1
        return 2 + (n - self.window - self.tail) // self.hop

    def starts(self, n: int) -> np.ndarray:
        """Start sample of every window of a recording of ``n`` samples."""
        return np.arange(self.count(n), dtype=np.int64) * self.hop

    def bounds(self, k: int, n: int) -> tuple[int, int]:
        """``[start, end)`` of window ``k`` in a recording of ``n`` samples (the end clipped to it)."""
        start = k * self.hop
        return start, min(n, start + self.window)

    def span(self, first: int, stop: int, n: int | None = None) -> tuple[int, int]:
        """Samples ``[lo, hi)`` that scoring windows ``first .. stop - 1`` needs; ``n`` None = the
        recording goes on past ``hi``."""
        lo = max(0, first * self.hop - self.context_before)
        hi = (stop - 1) * self.hop + self.window + self.context_after
        return lo, hi if n is None else min(n, hi)

    def ready(self, received: int) -> int:
        """Windows a stream can score, context included, once it holds ``received`` samples and more
        may follow: windows ``0 .. ready - 1``."""
        return max(0, (received - self.window - self.context_after) // self.hop + 1)

    @functools.lru_cache(maxsize=256)  # noqa: B019 (grids are few, small and immutable)
    def segments(self, n: int, max_samples: int) -> tuple[tuple[int, int, int, int], ...]:
        """``(first, stop, lo, hi)`` per segment of at most about ``max_samples``: windows
        ``first .. stop - 1`` of a recording of ``n`` samples are scored from samples ``[lo, hi)``.
        Depends only on the lengths, so it is computed once per length."""
        per = max(1, (max_samples - self.span_samples) // self.hop + 1)
        total = self.count(n)
        return tuple((first, min(total, first + per), *self.span(first, min(total, first + per), n))
                     for first in range(0, total, per))


class SampleBuffer:
    """The newest samples of a stream in fixed memory: one float32 array of ``capacity`` holding the
    stream's samples ``[start, end)`` (absolute positions). :meth:`drop_before` moves the kept part
    to the front, so memory never grows with the stream."""

    def __init__(self, capacity: int) -> None:
        self._data = np.zeros(int(capacity), dtype=np.float32)
        self.start = 0
        self.end = 0

    @property
    def capacity(self) -> int:
        return self._data.shape[0]

    def append(self, x: np.ndarray) -> int:
        """Copy in as much of ``x`` as fits; returns how many samples were taken."""
        used = self.end - self.start
        take = min(x.shape[0], self.capacity - used)
        self._data[used : used + take] = x[:take]
        self.end += take
        return take

    def view(self, lo: int, hi: int) -> np.ndarray:
        """Samples ``[lo, hi)`` (absolute; within ``[start, end)``), as a view valid until the next change."""
        if not self.start <= lo <= hi <= self.end:
            raise IndexError(f"samples [{lo}, {hi}) are not in the buffer [{self.start}, {self.end})")
        return self._data[lo - self.start : hi - self.start]

    def drop_before(self, pos: int) -> None:
        """Forget the samples before ``pos``."""
        cut = min(max(pos, self.start), self.end) - self.start
        if cut:
            used = self.end - self.start
            self._data[: used - cut] = self._data[cut:used]
            self.start += cut

    def clear(self) -> None:
        self.start = self.end = 0
