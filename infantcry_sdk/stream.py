"""CryStream: live audio in, cry start/end events out, in fixed memory.

Rules (the Android port mirrors them; :mod:`infantcry_sdk.events` holds the hysteresis itself)

* Input: chunks of any length (an empty chunk is a no-op), any supported dtype, mono ``[n]`` or
  ``[n, channels]``, all at the ``sample_rate`` given when the stream was made, checked like
  :meth:`CryClassifier.predict` input (including the +/-16 float level limit). Other rates are
  resampled incrementally with ``soxr.ResampleStream`` (HQ), whose output is identical to resampling
  the whole recording at once, so results do not depend on how the audio was chunked.
* Windows, at the model rate: window ``k`` covers samples ``[k*hop, k*hop + window)`` (window and hop
  from the model metadata) and is scored as soon as its last sample has arrived. A ring buffer of
  exactly one window holds the audio; memory does not grow with stream length.
* Events: each window score goes to :class:`~infantcry_sdk.events.EventDetector` with
  ``on_threshold`` = the model's ``detection_threshold``, ``off_threshold`` =
  ``DEFAULT_OFF_FRACTION`` (0.6) x ``on_threshold``, ``min_on_windows`` = 2 and
  ``min_off_windows`` = 2 (all overridable in :class:`StreamOptions`). Sample positions are exact,
  at the model rate; ``time_s = sample / model_rate``.
* ``flush()`` ends the stream: it drains the resampler, then, if some received audio is not yet
  covered by a scored window, scores one final window ending at the last sample (a full window when
  at least one window of audio arrived, else the whole short stream if it reaches ``min_samples``;
  a shorter stream is not scored), then closes any open event. The windows scored are thus exactly
  those :meth:`CryClassifier.predict` scores on the same recording. Afterwards the stream is empty
  again (next sample is sample 0), as after :meth:`reset`.

A stream is not thread-safe: feed it from one thread (the classifier behind it may be shared).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import soxr

from . import audio as _audio
from .errors import AudioError
from .events import CryEvent, EventDetector, EventRules

if TYPE_CHECKING:
    from .classifier import CryClassifier

_SUPPORTED_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.int16, np.int32))

#: Default off threshold as a fraction of the on threshold (hysteresis gap).
DEFAULT_OFF_FRACTION = 0.6


@dataclass(frozen=True)
class StreamOptions:
    """Event debouncing and batching for :class:`CryStream`.

    ``on_threshold``: None = the model's ``detection_threshold``. ``off_threshold``: None =
    ``DEFAULT_OFF_FRACTION * on_threshold``. ``min_on_windows`` consecutive windows at or above
    ``on_threshold`` open an event; ``min_off_windows`` consecutive windows below ``off_threshold``
    close it. ``max_batch_windows`` caps how many windows one ``push`` scores per onnxruntime call.
    Bad values raise ``ValueError``.
    """

    on_threshold: float | None = None
    off_threshold: float | None = None
    min_on_windows: int = 2
    min_off_windows: int = 2
    max_batch_windows: int = 16

    def __post_init__(self) -> None:
        for name in ("on_threshold", "off_threshold"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be None or a number in [0, 1], not {v!r}")
        for name in ("min_on_windows", "min_off_windows", "max_batch_windows"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {v!r}")

    def rules(self, detection_threshold: float, cause_min_confidence: float) -> EventRules:
        """The event rules these options give for a model with these thresholds."""
        on = detection_threshold if self.on_threshold is None else float(self.on_threshold)
        off = DEFAULT_OFF_FRACTION * on if self.off_threshold is None else float(self.off_threshold)
        if off > on:
            raise ValueError(f"off_threshold {off} must not exceed on_threshold {on}")
        return EventRules(
            on_threshold=on,
            off_threshold=off,
            min_on_windows=self.min_on_windows,
            min_off_windows=self.min_off_windows,
            cause_min_confidence=cause_min_confidence,
        )


@dataclass(frozen=True)
class WindowScore:
    """The score of one window ``[start_sample, end_sample)`` at the model rate."""

    start_sample: int
    end_sample: int
    cry_probability: float
    cause_probabilities: dict[str, float]


class CryStream:
    """Push audio chunks, get :class:`CryEvent` lists back. See the module docstring for the rules."""

    def __init__(
        self, classifier: "CryClassifier", sample_rate: int = 16000, options: StreamOptions | None = None
    ) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer, not {sample_rate!r}.")
        if not 1000 <= sample_rate <= 768_000:
            raise AudioError(f"sample_rate {sample_rate} Hz is outside 1000..768000 Hz.")
        self.classifier = classifier
        self.options = options or StreamOptions()
        meta = classifier.metadata
        self.sample_rate = int(sample_rate)
        self.model_rate = meta.sample_rate
        self.rules = self.options.rules(meta.detection_threshold, meta.cause_min_confidence)
        self._window = meta.window_samples
        self._hop = meta.hop_samples
        self._min_samples = meta.min_samples
        self._labels = meta.labels
        self._resampler = (
            soxr.ResampleStream(self.sample_rate, self.model_rate, 1, dtype="float32", quality="HQ")
            if self.sample_rate != self.model_rate
            else None
        )
        self._ring = np.zeros(self._window, dtype=np.float32)
        self._detector = EventDetector(self.rules, meta.labels, self.model_rate)
        self.last_window: WindowScore | None = None
        self._clear()

    # -- public state -----------------------------------------------------------------------
    @property
    def last_score(self) -> float | None:
        """Cry probability of the most recently scored window (None before the first): for meters."""
        return None if self.last_window is None else self.last_window.cry_probability

    @property
    def samples_seen(self) -> int:
        """Samples received so far, at the model rate (resampler output)."""
        return self._total

    @property
    def windows_scored(self) -> int:
        return self._scored

    @property
    def active(self) -> bool:
        """True while a cry event is open (a start was emitted, its end not yet)."""
        return self._detector.active

    # -- feeding ----------------------------------------------------------------------------
    def push(self, chunk: np.ndarray) -> list[CryEvent]:
        """Add audio; return the events that the newly completed windows produce (often none).

        Raises :class:`AudioError` for an unusable chunk (wrong type, dtype or shape, NaN/Inf); the
        stream is then unchanged and may continue.
        """
        if not isinstance(chunk, np.ndarray):
            raise AudioError(f"a chunk must be a numpy array, not {type(chunk).__name__}.")
        if chunk.size == 0 and chunk.ndim in (1, 2) and chunk.dtype in _SUPPORTED_DTYPES:
            return []
        x = _audio.to_mono_float32(chunk, self.sample_rate)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        return self._consume(x)

    def flush(self) -> list[CryEvent]:
        """End of stream: score the unscored tail (see the module docstring), close an open event,
        and return those events. The stream is then empty and ready for a new recording."""
        events: list[CryEvent] = []
        if self._resampler is not None:
            events += self._consume(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        if self._total > self._scored_end:
            if self._total >= self._window:
                events += self._score([self._total - self._window], [self._ring_window()])
            elif self._total >= self._min_samples:
                events += self._score([0], [self._ring[: self._total].copy()])
        events += self._detector.finish()
        self._clear()
        return events

    def reset(self) -> None:
        """Forget everything (audio, open event, last score): a fresh stream."""
        self._clear()
        self.last_window = None

    # -- internals --------------------------------------------------------------------------
    def _clear(self) -> None:
        self._ring.fill(0.0)
        self._pos = 0  # next write index in the ring
        self._total = 0  # samples received at the model rate
        self._next_end = self._window  # end (exclusive) of the next window to score
        self._scored_end = 0  # end of the last scored window
        self._scored = 0
        self._detector.reset()
        if self._resampler is not None:
            self._resampler.clear()

    def _write(self, x: np.ndarray) -> None:
        n = x.shape[0]  # never more than one window (see _consume)
        first = min(n, self._window - self._pos)
        self._ring[self._pos : self._pos + first] = x[:first]
        self._ring[: n - first] = x[first:]
        self._pos = (self._pos + n) % self._window

    def _ring_window(self) -> np.ndarray:
        """The last ``window`` samples in time order (a copy)."""
        return np.concatenate([self._ring[self._pos :], self._ring[: self._pos]])

    def _consume(self, x: np.ndarray) -> list[CryEvent]:
        events: list[CryEvent] = []
        starts: list[int] = []
        windows: list[np.ndarray] = []
        i = 0
        while i < x.shape[0]:
            n = min(self._next_end - self._total, x.shape[0] - i)
            self._write(x[i : i + n])
            i += n
            self._total += n
            if self._total == self._next_end:
                starts.append(self._next_end - self._window)
                windows.append(self._ring_window())
                self._next_end += self._hop
                if len(windows) >= self.options.max_batch_windows:
                    events += self._score(starts, windows)
                    starts, windows = [], []
        if windows:
            events += self._score(starts, windows)
        return events

    def _score(self, starts: list[int], windows: list[np.ndarray]) -> list[CryEvent]:
        cry, causes = self.classifier.score_windows(np.stack(windows))
        events: list[CryEvent] = []
        for start, w, p, c in zip(starts, windows, cry, causes):
            end = start + w.shape[0]
            events += self._detector.update(start, end, float(p), c)
            self._scored_end = end
            self._scored += 1
        self.last_window = WindowScore(
            starts[-1], starts[-1] + windows[-1].shape[0], float(cry[-1]),
            {lab: float(v) for lab, v in zip(self._labels, causes[-1])},
        )
        return events
