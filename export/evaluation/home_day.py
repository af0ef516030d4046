"""Home-day streams: hours of household audio with cry bouts inside, scored the way a monitor runs.

The in-domain test split scores clips one at a time; a monitor hears a long stream in which cries are
rare. A home-day stream is built from one side of the split only (validation streams choose the
monitor's rules, test streams report them): that side's non-cry clips of one source laid end to end
over a room-tone bed from the household noise recordings, with cry bouts of 2 to 60 s (that side's
cries, concatenated with short breaths between them) mixed in at random SNRs. Every stream knows
where its bouts are, so event recall, detection delay and false alarms per hour follow.

The scoring runs the real :class:`infantcry_sdk.CryStream` in 100 ms chunks (:func:`run_monitor`),
or replays window scores for calibration (:mod:`export.evaluation.stream_rules`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..audio.augment import active_power, fit_length
from .stream_rules import Bout, StreamScore, score_events

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class HomeDayConfig:
    """How home-day streams are made."""

    minutes_per_source: float = 30.0
    bouts_per_hour: float = 24.0
    bout_seconds: tuple[float, float] = (2.0, 60.0)  # log-uniform
    snr_db: tuple[float, float] = (0.0, 20.0)
    room_tone_dbfs: tuple[float, float] = (-60.0, -40.0)
    gap_between_cries_s: tuple[float, float] = (0.2, 1.0)
    chunk_ms: float = 100.0
    seed: int = 0


@dataclass(frozen=True)
class Piece:
    """Where one negative clip plays in a stream's background, in seconds (``clip``: its id)."""

    start_s: float
    end_s: float
    clip: str


@dataclass
class HomeStream:
    """One stream: its audio at 16 kHz, its bouts, and the negative clips laid end to end under it."""

    name: str
    audio: np.ndarray
    bouts: list[Bout] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)

    @property
    def hours(self) -> float:
        return self.audio.size / SAMPLE_RATE / 3600.0

    def clips_between(self, start_s: float, end_s: float) -> list[str]:
        """The negative clips playing anywhere in ``[start_s, end_s)``: what a window there heard
        besides room tone (and a bout, if one overlaps)."""
        return [p.clip for p in self.pieces if p.start_s < end_s and p.end_s > start_s]


def _level(x: np.ndarray, dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return x if rms <= 0 else (x * (10.0 ** (dbfs / 20.0) / rms)).astype(np.float32)


def _background(
    negatives: Sequence[np.ndarray], ids: Sequence[str], n: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[Piece]]:
    """``n`` samples of the source's clips end to end, in random order (each reused only once all were
    used), and where each one lies."""
    out = np.zeros(n, dtype=np.float32)
    pieces: list[Piece] = []
    pos = 0
    while pos < n:
        for i in rng.permutation(len(negatives)):
            clip = np.asarray(negatives[i], dtype=np.float32)
            take = min(clip.size, n - pos)
            out[pos:pos + take] = clip[:take]
            pieces.append(Piece(pos / SAMPLE_RATE, (pos + take) / SAMPLE_RATE, ids[i]))
            pos += take
            if pos >= n:
                break
    return out, pieces


def _bout(cries: Sequence[np.ndarray], seconds: float, gaps: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """A bout of about ``seconds``: random cries end to end with short breaths between them."""
    n = int(seconds * SAMPLE_RATE)
    parts, total = [], 0
    while total < n:
        cry = np.asarray(cries[int(rng.integers(len(cries)))], dtype=np.float32)
        gap = np.zeros(int(rng.uniform(*gaps) * SAMPLE_RATE), dtype=np.float32)
        parts += [cry, gap]
        total += cry.size + gap.size
    return np.concatenate(parts)[:n]


def build_stream(
    name: str,
    negatives: Sequence[np.ndarray],
    cries: Sequence[np.ndarray],
    room_noise: Sequence[np.ndarray],
    config: HomeDayConfig,
    seed: int,
    negative_ids: Sequence[str] = (),
) -> HomeStream:
    """One home-day stream of ``config.minutes_per_source`` from ``negatives`` of one source
    (``negative_ids``: their clip ids, for :meth:`HomeStream.clips_between`; their positions when empty)."""
    rng = np.random.default_rng(seed)
    n = int(config.minutes_per_source * 60 * SAMPLE_RATE)
    bed = fit_length(room_noise[int(rng.integers(len(room_noise)))], n, int(rng.integers(n)))
    ids = list(negative_ids) or [str(i) for i in range(len(negatives))]
    if len(ids) != len(negatives):
        raise ValueError(f"{len(ids)} negative ids for {len(negatives)} negatives")
    background, pieces = _background(negatives, ids, n, rng)
    audio = background + _level(bed, float(rng.uniform(*config.room_tone_dbfs)))
    stream = HomeStream(name, audio.astype(np.float32), pieces=pieces)
    n_bouts = max(1, int(round(config.bouts_per_hour * stream.hours)))
    slot = n // n_bouts
    lo, hi = np.log(config.bout_seconds[0]), np.log(config.bout_seconds[1])
    # SNR against the stream's mean background power (not the local segment's, which may be a pause),
    # and never quieter than a cry heard across a room (about -45 dBFS background)
    background_power = max(float(np.mean(np.square(stream.audio, dtype=np.float64))), 10.0 ** (-45.0 / 10.0))
    for b in range(n_bouts):
        seconds = float(np.exp(rng.uniform(lo, hi)))
        cry = _bout(cries, min(seconds, slot / SAMPLE_RATE * 0.5), config.gap_between_cries_s, rng)
        start = b * slot + int(rng.integers(0, max(1, slot - cry.size)))
        snr = float(rng.uniform(*config.snr_db))
        gain = np.sqrt(background_power * 10.0 ** (snr / 10.0) / max(active_power(cry), 1e-12))
        seg = stream.audio[start:start + cry.size]
        stream.audio[start:start + cry.size] = np.clip(seg + gain * cry, -1.0, 1.0)
        stream.bouts.append(Bout(start / SAMPLE_RATE, (start + cry.size) / SAMPLE_RATE))
    return stream


def run_monitor(stream: HomeStream, make_stream: Callable[[], object], chunk_ms: float = 100.0) -> StreamScore:
    """Feed ``stream`` through a fresh ``CryStream`` in ``chunk_ms`` chunks and score its events.

    An event is raised when ``push`` returns its start (that chunk's end is the delay's clock); it
    spans from its start sample to its end event's sample (or the stream's end)."""
    monitor = make_stream()
    step = int(round(chunk_ms / 1000.0 * SAMPLE_RATE))
    open_start: tuple[float, float] | None = None
    spans: list[tuple[float, float, float]] = []
    for pos in range(0, stream.audio.size, step):
        now = min(pos + step, stream.audio.size) / SAMPLE_RATE
        events = monitor.push(stream.audio[pos:pos + step])
        open_start = _collect(events, now, open_start, spans)
    open_start = _collect(monitor.flush(), stream.audio.size / SAMPLE_RATE, open_start, spans)
    if open_start is not None:
        spans.append((open_start[0], open_start[1], stream.audio.size / SAMPLE_RATE))
    return score_events(spans, stream.bouts, stream.hours)


def _collect(events, now: float, open_start, spans: list) -> tuple[float, float] | None:
    for e in events:
        if e.kind == "start":
            open_start = (e.time_s, now)
        elif open_start is not None:
            spans.append((open_start[0], open_start[1], e.time_s))
            open_start = None
    return open_start
