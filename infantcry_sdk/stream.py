"""CryStream: live audio in, cry start/end events out, in fixed memory.

Rules (the Android port mirrors them; :mod:`infantcry_sdk.events` holds the hysteresis itself)

* Input: chunks of any length (an empty chunk is a no-op), any supported dtype, mono ``[n]`` or
  ``[n, channels]``, all at the ``sample_rate`` given when the stream was made, checked like
  :meth:`CryClassifier.predict` input (including the +/-16 float level limit). Other rates are
  resampled incrementally with ``soxr.ResampleStream`` (the SDK's one recipe,
  :data:`infantcry_sdk.audio.RESAMPLE_QUALITY`), whose output is identical to resampling
  the whole recording at once, so results do not depend on how the audio was chunked.
* Windows: the model's grid (:mod:`infantcry_sdk.windows`), the one ``predict`` scores. Window ``k``
  covers ``[k*hop, k*hop + window)`` at the model rate and is scored, through the same code as
  ``predict``, from its span: the window and the grid's context before and after it (the model's
  ``context_*_samples`` in whole hops for a model with window outputs, none otherwise). It is scored
  as soon as its span has arrived, so its score equals ``predict``'s for the same recording (to
  float32 rounding), however the audio was chunked; the context after a window is thus the stream's
  delay (none for a causal model). Windows completed by one push are scored together, at most
  ``max_batch_windows`` per run.
* Memory: a :class:`~infantcry_sdk.windows.SampleBuffer` of the span of one window (``context_before
  + window + context_after``) and ``max_batch_windows - 1`` hops; it does not grow with the stream.
* Events: each window's stream score (the mean cry probability of the last ``smoothing_windows``
  windows, :class:`~infantcry_sdk.events.ScoreSmoother`) goes to
  :class:`~infantcry_sdk.events.EventDetector`: ``min_on_windows`` consecutive scores >=
  ``on_threshold`` open an event, ``min_off_windows`` consecutive scores < ``off_threshold`` close
  it. The rules are the model's (its ``stream_*`` metadata, with the contract's defaults);
  :class:`StreamOptions` overrides any of them. Sample positions are exact, at the model rate
  (``time_s = sample / model_rate``). Each event carries ``detected_sample``, the stream position at
  which it was reported (the end of the span of the window that completed it, or the stream's end
  for events made by ``flush``), and ``delay_s``, the detection delay. A model whose cause head is
  not supported gives events with ``cause`` None.
* ``flush()`` ends the stream: it drains the resampler, then scores the windows of the grid not yet
  scored (those whose right context had not arrived, and a last partial window; a stream shorter
  than ``min_samples`` is not scored), then closes any open event. The windows scored are thus
  exactly those :meth:`CryClassifier.predict` scores on the same recording. Afterwards the stream is
  empty again (next sample is sample 0), as after :meth:`reset`.

A stream is not thread-safe: feed it from one thread (the classifier behind it may be shared).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import soxr

from . import audio as _audio
from . import contract
from .errors import AudioError
from .events import CryEvent, EventDetector, EventRules, ScoreSmoother
from .windows import SampleBuffer

if TYPE_CHECKING:
    from .classifier import CryClassifier
    from .model import ModelMetadata


@dataclass(frozen=True)
class StreamOptions:
    """Overrides of the model's stream rules, and batching, for :class:`CryStream`.

    Each rule left None is the model's (``ModelMetadata.stream_*``): ``on_threshold``,
    ``off_threshold``, ``smoothing_windows`` (windows averaged into each stream score),
    ``min_on_windows`` (consecutive scores >= on that open an event) and ``min_off_windows``
    (consecutive scores < off that close it). ``max_batch_windows`` caps how many windows one
    onnxruntime run scores. Bad values raise ``ValueError``.
    """

    on_threshold: float | None = None
    off_threshold: float | None = None
    smoothing_windows: int | None = None
    min_on_windows: int | None = None
    min_off_windows: int | None = None
    max_batch_windows: int = 16

    def __post_init__(self) -> None:
        for name in ("on_threshold", "off_threshold"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0):
                raise ValueError(f"{name} must be None or a number in [0, 1], not {v!r}")
        for name in ("smoothing_windows", "min_on_windows", "min_off_windows", "max_batch_windows"):
            v = getattr(self, name)
            if v is None and name != "max_batch_windows":
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, not {v!r}")

    def _pick(self, name: str, model_value):
        value = getattr(self, name)
        return model_value if value is None else value

    def rules(self, metadata: "ModelMetadata") -> EventRules:
        """The event rules for a model: its stream rules, with these options' overrides. An
        ``on_threshold`` given without ``off_threshold`` gets the contract's default off threshold
        (0.6 x on), not the model's, which was calibrated with the model's on threshold."""
        on = float(self._pick("on_threshold", metadata.stream_on_threshold))
        default_off = metadata.stream_off_threshold if self.on_threshold is None else contract.DEFAULT_STREAM_OFF_RATIO * on
        off = float(self._pick("off_threshold", default_off))
        if off > on:
            raise ValueError(f"off_threshold {off} must not exceed on_threshold {on}")
        return EventRules(
            on_threshold=on,
            off_threshold=off,
            min_on_windows=self._pick("min_on_windows", metadata.stream_min_on_windows),
            min_off_windows=self._pick("min_off_windows", metadata.stream_min_off_windows),
            cause_min_confidence=metadata.cause_min_confidence,
        )

    def smoothing(self, metadata: "ModelMetadata") -> int:
        """Windows averaged into each stream score for a model."""
        return self._pick("smoothing_windows", metadata.stream_smoothing_windows)


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
        rate = _audio.check_rate(sample_rate)
        self.classifier = classifier
        self.options = options or StreamOptions()
        meta = classifier.metadata
        self.sample_rate = rate
        self.model_rate = meta.sample_rate
        self.rules = self.options.rules(meta)
        self.smoothing_windows = self.options.smoothing(meta)
        self.grid = classifier.grid
        self._min_samples = meta.min_samples
        self._labels = meta.labels
        self._cause_supported = meta.cause_supported
        self._resampler = (
            soxr.ResampleStream(self.sample_rate, self.model_rate, 1, dtype="float32", quality=_audio.RESAMPLE_QUALITY)
            if self.sample_rate != self.model_rate
            else None
        )
        g = self.grid
        self._buffer = SampleBuffer(g.span_samples + (self.options.max_batch_windows - 1) * g.hop)
        self._smoother = ScoreSmoother(self.smoothing_windows)
        self._detector = EventDetector(self.rules, meta.labels, self.model_rate)
        self.last_window: WindowScore | None = None
        #: Called with every scored window's :class:`WindowScore`, in order (meters, recorders).
        self.on_window: Callable[[WindowScore], None] | None = None
        self._clear()

    # -- public state -----------------------------------------------------------------------
    @property
    def last_score(self) -> float | None:
        """Cry probability of the most recently scored window (None before the first): for meters."""
        return None if self.last_window is None else self.last_window.cry_probability

    @property
    def samples_seen(self) -> int:
        """Samples received so far, at the model rate (resampler output)."""
        return self._buffer.end

    @property
    def windows_scored(self) -> int:
        return self._next

    @property
    def active(self) -> bool:
        """True while a cry event is open (a start was emitted, its end not yet)."""
        return self._detector.active

    @property
    def delay_samples(self) -> int:
        """Audio past a window's end that the stream waits for before scoring it (its context after)."""
        return self.grid.context_after

    # -- feeding ----------------------------------------------------------------------------
    def push(self, chunk: np.ndarray) -> list[CryEvent]:
        """Add audio; return the events that the newly scored windows produce (often none).

        Raises :class:`AudioError` for an unusable chunk (wrong type, dtype or shape, NaN/Inf); the
        stream is then unchanged and may continue.
        """
        if _audio.is_empty_chunk(chunk):
            return []
        x = _audio.to_mono_float32(chunk, self.sample_rate)
        if self._resampler is not None:
            x = self._resampler.resample_chunk(x)
        return self._consume(x)

    def flush(self) -> list[CryEvent]:
        """End of stream: score the grid's remaining windows (see the module docstring), close an
        open event, and return those events. The stream is then empty and ready for a new recording."""
        events: list[CryEvent] = []
        if self._resampler is not None:
            events += self._consume(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True))
        n = self._buffer.end
        if n >= self._min_samples:
            count = self.grid.count(n)
            if count > self._next:
                events += self._score(self._next, count, n)
        events += self._stamp(self._detector.finish(), n)
        self._clear()
        return events

    def reset(self) -> None:
        """Forget everything (audio, open event, last score): a fresh stream."""
        self._clear()
        self.last_window = None

    # -- internals --------------------------------------------------------------------------
    def _clear(self) -> None:
        self._buffer.clear()
        self._next = 0  # next window to score
        self._detector.reset()
        self._smoother.reset()
        if self._resampler is not None:
            self._resampler.clear()

    def _consume(self, x: np.ndarray) -> list[CryEvent]:
        events: list[CryEvent] = []
        i = 0
        while i < x.shape[0]:
            i += self._buffer.append(x[i:])
            ready = self.grid.ready(self._buffer.end)
            while self._next < ready:
                events += self._score(self._next, min(ready, self._next + self.options.max_batch_windows), None)
        return events

    def _score(self, first: int, stop: int, n: int | None) -> list[CryEvent]:
        """Score windows ``first .. stop - 1`` (``n``: the stream's length once it has ended) and
        feed them to the detector; the buffer then keeps only what later windows need."""
        g = self.grid
        lo, hi = g.span(first, stop, n)
        cry, causes = self.classifier._score_span(self._buffer.view(lo, hi), lo, first, stop)
        end_of_stream = self._buffer.end if n is None else n
        events: list[CryEvent] = []
        for k in range(first, stop):
            start, end = g.bounds(k, end_of_stream)
            score = self._smoother.update(cry[k - first])
            detected = g.span(k, k + 1, n)[1]
            events += self._stamp(self._detector.update(start, end, score, causes[k - first]), detected)
            if self.on_window is not None or k == stop - 1:
                self.last_window = WindowScore(start, end, float(cry[k - first]),
                                               dict(zip(self._labels, causes[k - first].tolist())))
                if self.on_window is not None:
                    self.on_window(self.last_window)
        self._next = stop
        self._buffer.drop_before(g.span(stop, stop + 1)[0])
        return events

    def _stamp(self, events: list[CryEvent], detected: int) -> list[CryEvent]:
        """Events with their detection point and delay (and no cause when the model has none)."""
        out = []
        for e in events:
            cause = e.cause if self._cause_supported else None
            delay = (detected - e.sample) / self.model_rate
            out.append(dataclasses.replace(e, cause=cause, detected_sample=int(detected), delay_s=delay))
        return out
