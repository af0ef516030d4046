"""Hysteresis event logic: per-window scores in, one start and one end event per cry out.

Pure and deterministic (no audio, no model), so it is the reference that the Android demo's Java core
reproduces exactly; golden vectors made from this module pin both sides. The rules:

* A window is *on* when ``cry_probability >= on_threshold``; while idle, ``min_on_windows`` consecutive
  on windows open an event. Its ``start`` is the first sample of the first of those windows.
* While active, a window is *off* when ``cry_probability < off_threshold`` (below ``on_threshold``:
  that gap is the hysteresis). ``min_off_windows`` consecutive off windows close the event; its
  ``end`` is the last sample (exclusive) of the last window that was not off.
* ``finish()`` closes an open event at the same place, as if the stream had gone quiet.
* Each event reports the mean cry probability and the mean cause distribution over the windows that
  carry it (the confirming run for ``start``; every not-off window of the event for ``end``). The
  cause is the arg-max label when its mean probability reaches ``cause_min_confidence``, else None.

The scores fed in are a stream's *stream scores*: :class:`ScoreSmoother` turns each window's cry
probability into the mean over the last ``stream_smoothing_windows`` windows (fewer at the start)
before the detector sees it. Memory is fixed: running sums and counters only, whatever the stream
length.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np


@dataclass(frozen=True)
class EventRules:
    """Thresholds and debouncing for turning window scores into events."""

    on_threshold: float
    off_threshold: float
    min_on_windows: int = 2
    min_off_windows: int = 2
    cause_min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.off_threshold <= self.on_threshold <= 1.0:
            raise ValueError("need 0 <= off_threshold <= on_threshold <= 1")
        if self.min_on_windows < 1 or self.min_off_windows < 1:
            raise ValueError("min_on_windows and min_off_windows must be >= 1")


@dataclass(frozen=True)
class CryEvent:
    """A cry started or ended. ``sample`` is exact, at the model's sample rate.

    ``detected_sample``: how much of the stream (in samples) had arrived when the event could be
    reported, and ``delay_s`` = ``(detected_sample - sample) / rate``, its detection delay; both
    None for events made by an :class:`EventDetector` alone (it does not know the stream).
    """

    kind: Literal["start", "end"]
    sample: int
    time_s: float
    cry_probability: float
    cause: str | None
    cause_probabilities: dict[str, float] = field(default_factory=dict)
    detected_sample: int | None = None
    delay_s: float | None = None

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "sample": self.sample,
            "time_s": self.time_s,
            "cry_probability": self.cry_probability,
            "cause": self.cause,
            "cause_probabilities": dict(self.cause_probabilities),
            "detected_sample": self.detected_sample,
            "delay_s": self.delay_s,
        }


class ScoreSmoother:
    """Stream score = mean cry probability of the last ``windows`` windows (fewer at the start)."""

    def __init__(self, windows: int) -> None:
        if isinstance(windows, bool) or not isinstance(windows, int) or windows < 1:
            raise ValueError(f"smoothing windows must be an integer >= 1, not {windows!r}")
        self._last: deque[float] = deque(maxlen=windows)

    def update(self, cry_probability: float) -> float:
        self._last.append(float(cry_probability))
        return sum(self._last) / len(self._last)

    def reset(self) -> None:
        self._last.clear()


class _Accumulator:
    """Running mean of cry probability and cause distribution over a set of windows."""

    def __init__(self, n_causes: int) -> None:
        self.count = 0
        self.prob_sum = 0.0
        self.cause_sum = [0.0] * n_causes

    def add(self, prob: float, causes: Sequence[float]) -> None:
        self.count += 1
        self.prob_sum += prob
        for i, c in enumerate(causes):
            self.cause_sum[i] += c

    def means(self) -> tuple[float, list[float]]:
        return self.prob_sum / self.count, [c / self.count for c in self.cause_sum]


class EventDetector:
    """Feed window scores in time order with :meth:`update`; collect events."""

    def __init__(self, rules: EventRules, labels: Sequence[str], sample_rate: int) -> None:
        self.rules = rules
        self.labels = list(labels)
        self.sample_rate = int(sample_rate)
        self.reset()

    def reset(self) -> None:
        self.active = False
        self._run = _Accumulator(len(self.labels))  # consecutive on windows while idle
        self._run_start = 0
        self._event = _Accumulator(len(self.labels))
        self._off_count = 0
        self._last_kept_end = 0

    def _make(self, kind: Literal["start", "end"], sample: int, acc: _Accumulator) -> CryEvent:
        prob, causes = acc.means()
        best = max(range(len(causes)), key=causes.__getitem__) if causes else -1
        cause = self.labels[best] if best >= 0 and causes[best] >= self.rules.cause_min_confidence else None
        return CryEvent(
            kind=kind,
            sample=int(sample),
            time_s=sample / self.sample_rate,
            cry_probability=prob,
            cause=cause,
            cause_probabilities={lab: c for lab, c in zip(self.labels, causes)},
        )

    def update(
        self, start_sample: int, end_sample: int, cry_probability: float, cause_probabilities: Sequence[float]
    ) -> list[CryEvent]:
        """Consume one window ``[start_sample, end_sample)``; return the events it completes (0 or 1)."""
        p = float(cry_probability)
        causes = [float(c) for c in np.asarray(cause_probabilities, dtype=np.float64).ravel()]
        r = self.rules
        if not self.active:
            if p >= r.on_threshold:
                if self._run.count == 0:
                    self._run_start = int(start_sample)
                self._run.add(p, causes)
                if self._run.count >= r.min_on_windows:
                    event = self._make("start", self._run_start, self._run)
                    self.active = True
                    self._event = self._run
                    self._run = _Accumulator(len(self.labels))
                    self._off_count = 0
                    self._last_kept_end = int(end_sample)
                    return [event]
            else:
                self._run = _Accumulator(len(self.labels))
            return []
        if p < r.off_threshold:
            self._off_count += 1
            if self._off_count >= r.min_off_windows:
                return [self._close()]
            return []
        self._off_count = 0
        self._event.add(p, causes)
        self._last_kept_end = int(end_sample)
        return []

    def finish(self) -> list[CryEvent]:
        """Close an open event (end of stream); returns it, or nothing when idle."""
        if not self.active:
            self.reset()
            return []
        return [self._close()]

    def _close(self) -> CryEvent:
        event = self._make("end", self._last_kept_end, self._event)
        self.reset()
        return event
