"""Monitor rules chosen on validation streams, for a false-alarm budget, and written into the model.

A clip threshold is chosen for ``predict``'s maximum over windows; a monitor sees one window at a time
for hours, and what matters there is how many cry bouts raise an event, how soon, and how many times
an hour it wakes the parents for nothing. So the stream rules (on and off thresholds, smoothing over
the last ``k`` windows, how many windows open and close an event) are chosen here on validation
streams with cry bouts inside: the most bouts caught with at most ``max_false_alarms_per_hour``,
then the shortest median delay. The rules go into the model's metadata
(``infantcry_sdk.contract.KEY_STREAM_*``), which the SDK's ``CryStream`` and the Android core read.

:func:`replay` reproduces ``CryStream``'s event rule on a sequence of window scores, so the thousands
of candidate rules can be tried without re-running the model; a test pins it to the SDK's own rule.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from infantcry_sdk import contract
from infantcry_sdk.stream import StreamOptions


#: The rule fields a calibration sets (``StreamOptions`` minus its batching knob).
RULE_FIELDS = ("on_threshold", "off_threshold", "smoothing_windows", "min_on_windows", "min_off_windows")


def rules_metadata(rules: StreamOptions) -> dict[str, str]:
    """The contract's metadata entries for a calibrated rule (every field set)."""
    return {
        contract.KEY_STREAM_ON_THRESHOLD: f"{rules.on_threshold:.6g}",
        contract.KEY_STREAM_OFF_THRESHOLD: f"{rules.off_threshold:.6g}",
        contract.KEY_STREAM_SMOOTHING_WINDOWS: str(rules.smoothing_windows),
        contract.KEY_STREAM_MIN_ON_WINDOWS: str(rules.min_on_windows),
        contract.KEY_STREAM_MIN_OFF_WINDOWS: str(rules.min_off_windows),
    }


def rules_dict(rules: StreamOptions) -> dict:
    return {name: getattr(rules, name) for name in RULE_FIELDS}


@dataclass(frozen=True)
class Event:
    """One replayed event, in window indices: opened by ``first``..``confirm``, last on at ``last``."""

    first: int
    confirm: int
    last: int


def smoothed(window_probs: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last ``k`` window scores at each window (fewer at the start of the stream), summed
    oldest first as the SDK sums them, so both round alike."""
    p = np.asarray(window_probs, dtype=np.float64)
    total = np.zeros_like(p)
    count = np.zeros_like(p)
    for lag in range(k - 1, -1, -1):
        total[lag:] += p[: p.size - lag]
        count[lag:] += 1
    return total / np.maximum(count, 1)


def replay(window_probs: Sequence[float], rules: StreamOptions) -> list[Event]:
    """The events ``CryStream`` raises on these window scores, in order (``rules``: every field set)."""
    score = smoothed(np.asarray(window_probs), rules.smoothing_windows)
    events: list[Event] = []
    active, run, off, first, last = False, 0, 0, 0, 0
    confirm = 0
    for w, s in enumerate(score):
        if not active:
            if s >= rules.on_threshold:
                first = w if run == 0 else first
                run += 1
                if run >= rules.min_on_windows:
                    active, off, last, confirm, run = True, 0, w, w, 0
            else:
                run = 0
            continue
        if s < rules.off_threshold:
            off += 1
            if off >= rules.min_off_windows:
                events.append(Event(first, confirm, last))
                active = False
            continue
        off, last = 0, w
    if active:
        events.append(Event(first, confirm, last))
    return events


@dataclass(frozen=True)
class Bout:
    """A cry bout inside a stream, in seconds."""

    start_s: float
    end_s: float

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class StreamScore:
    """Event recall, delays and false alarms of one rule on a set of streams."""

    bouts: int
    detected: int
    long_bouts: int
    long_detected: int
    false_alarms: int
    hours: float
    delays_s: tuple[float, ...]
    false_alarm_starts_s: tuple[float, ...] = ()  # where each false alarm's first window starts

    @property
    def recall(self) -> float:
        return self.detected / self.bouts if self.bouts else float("nan")

    @property
    def long_recall(self) -> float:
        return self.long_detected / self.long_bouts if self.long_bouts else float("nan")

    @property
    def false_alarms_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else float("nan")

    def delay_percentile(self, q: float) -> float:
        return float(np.percentile(self.delays_s, q)) if self.delays_s else float("nan")

    @staticmethod
    def pooled(scores: Sequence["StreamScore"]) -> "StreamScore":
        """Several streams' scores as one."""
        return StreamScore(
            sum(s.bouts for s in scores), sum(s.detected for s in scores), sum(s.long_bouts for s in scores),
            sum(s.long_detected for s in scores), sum(s.false_alarms for s in scores), sum(s.hours for s in scores),
            tuple(d for s in scores for d in s.delays_s), tuple(t for s in scores for t in s.false_alarm_starts_s),
        )

    def summary(self) -> dict:
        return {
            "bouts": self.bouts, "event_recall": self.recall,
            "bouts_10s_or_more": self.long_bouts, "event_recall_10s_or_more": self.long_recall,
            "false_alarms": self.false_alarms, "hours": self.hours,
            "false_alarms_per_hour": self.false_alarms_per_hour,
            "median_delay_s": self.delay_percentile(50), "p95_delay_s": self.delay_percentile(95),
        }


#: Bouts at least this long are the ones the monitor's recall target is about.
LONG_BOUT_SECONDS = 10.0
#: An event detects a bout when it starts inside the bout or at most this long before it (the first
#: window that hears a cry starts up to one 1.92 s window earlier). An event already running long
#: before a cry began was raised for something else: it detects nothing.
ONSET_TOLERANCE_S = 2.0


def _detects(start: float, bout: Bout) -> bool:
    return bout.start_s - ONSET_TOLERANCE_S <= start < bout.end_s


def score_events(
    spans: Iterable[tuple[float, float, float]], bouts: Sequence[Bout], hours: float
) -> StreamScore:
    """Match events to bouts. ``spans`` are (start_s, raised_s, end_s) per event: an event that starts
    within a bout (or just before it, :data:`ONSET_TOLERANCE_S`) detects it, with delay raised - bout
    start (at least 0); an event that detects no bout is a false alarm."""
    spans = list(spans)
    delays: list[float] = []
    detected = long_detected = 0
    for b in bouts:
        hits = [raised for start, raised, _ in spans if _detects(start, b)]
        if hits:
            detected += 1
            long_detected += b.seconds >= LONG_BOUT_SECONDS
            delays.append(max(0.0, min(hits) - b.start_s))
    false_alarms = tuple(start for start, _, _ in spans if not any(_detects(start, b) for b in bouts))
    n_long = sum(b.seconds >= LONG_BOUT_SECONDS for b in bouts)
    return StreamScore(len(bouts), detected, n_long, long_detected, len(false_alarms), hours, tuple(delays), false_alarms)


def event_spans(events: Sequence[Event], window_s: float, hop_s: float, context_s: float = 0.0) -> list[tuple[float, float, float]]:
    """(start_s, raised_s, end_s) of replayed events: raised once the confirming window and the
    ``context_s`` of audio its score needs after it have arrived (as ``CryStream`` raises it)."""
    return [(e.first * hop_s, e.confirm * hop_s + window_s + context_s, e.last * hop_s + window_s) for e in events]


@dataclass(frozen=True)
class LabelledStream:
    """A validation or test stream's window scores and where its cry bouts are."""

    name: str
    window_probs: np.ndarray
    bouts: tuple[Bout, ...]
    hours: float


def evaluate_rules(
    streams: Sequence[LabelledStream], rules: StreamOptions, window_s: float, hop_s: float, context_s: float = 0.0
) -> StreamScore:
    """One rule on several streams, pooled."""
    return StreamScore.pooled(
        [score_events(event_spans(replay(s.window_probs, rules), window_s, hop_s, context_s), s.bouts, s.hours) for s in streams]
    )


@dataclass(frozen=True)
class CalibrationGrid:
    """The candidate rules tried on validation streams."""

    smoothing_windows: tuple[int, ...] = (1, 2, 3, 4)
    min_on_windows: tuple[int, ...] = (1, 2)
    min_off_windows: tuple[int, ...] = (2, 3)
    off_ratios: tuple[float, ...] = (0.5, 0.7, 0.9)
    n_thresholds: int = 40


def _threshold_candidates(streams: Sequence[LabelledStream], n: int) -> np.ndarray:
    p = np.concatenate([s.window_probs for s in streams])
    return np.unique(np.clip(np.quantile(p, np.linspace(0.5, 0.9995, n)), 0.02, 0.995))


def _choose(scored: Sequence[tuple[StreamOptions, StreamScore]], budget: float,
            long_bout_slack: int) -> tuple[StreamOptions, StreamScore, bool]:
    """The rule :func:`calibrate` picks among the scored candidates (see there)."""
    delay = lambda sc: sc.delay_percentile(50) if sc.delays_s else float("inf")  # noqa: E731
    within = [c for c in scored if c[1].false_alarms_per_hour <= budget]
    if not within:
        rules, sc = max(scored, key=lambda c: (-c[1].false_alarms, c[1].detected, -delay(c[1])))
        return rules, sc, False
    if long_bout_slack == 0:
        rules, sc = max(within, key=lambda c: (c[1].long_detected, c[1].detected, -delay(c[1])))
        return rules, sc, True
    most = max(sc.long_detected for _, sc in within)
    near = [c for c in within if c[1].long_detected >= most - long_bout_slack]
    rules, sc = max(near, key=lambda c: (-delay(c[1]), c[1].detected, c[1].long_detected))
    return rules, sc, True


def choice_value(score: StreamScore, met_budget: bool) -> float:
    """:func:`calibrate`'s order (with no slack) as one number, higher better, for early stopping on
    streams: within the false-alarm budget, long bouts caught, then bouts caught, then the shorter
    median delay (each step of one outweighs everything after it); outside the budget always lower,
    fewer false alarms first, then bouts caught."""
    if not met_budget:
        return -1.0 - score.false_alarms + score.detected / (score.bouts + 1)
    quick = 1.0 / (1.0 + score.delay_percentile(50)) if score.delays_s else 0.0
    return score.long_detected + (score.detected + quick) / (score.bouts + 2)


def calibrate(
    streams: Sequence[LabelledStream],
    window_s: float,
    hop_s: float,
    max_false_alarms_per_hour: float = 0.5,
    grid: CalibrationGrid = CalibrationGrid(),
    context_s: float = 0.0,
    long_bout_slack: int = 0,
) -> tuple[StreamOptions, StreamScore, bool]:
    """The rule with the most long bouts caught, then the most bouts, then the shortest median delay,
    among those within the false-alarm budget on ``streams``; ``True`` when the budget was met. With
    ``long_bout_slack`` n > 0: the shortest median delay (then the most bouts) among the rules within
    the budget that catch at least the most long bouts any of them catches minus n. When no rule
    meets the budget, the rule with the fewest false alarms (then the most bouts) and ``False``.
    The first candidate wins a tie."""
    if long_bout_slack < 0:
        raise ValueError(f"long_bout_slack must be >= 0, got {long_bout_slack}")
    scored = []
    for k, on_n, off_n, ratio, thr in itertools.product(
        grid.smoothing_windows, grid.min_on_windows, grid.min_off_windows, grid.off_ratios,
        _threshold_candidates(streams, grid.n_thresholds),
    ):
        rules = StreamOptions(float(thr), float(thr * ratio), k, on_n, off_n)
        scored.append((rules, evaluate_rules(streams, rules, window_s, hop_s, context_s)))
    return _choose(scored, max_false_alarms_per_hour, long_bout_slack)
