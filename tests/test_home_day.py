"""Home-day streams: bouts land where the stream says, the build is deterministic, and the monitor
runner turns pushed events into the bouts it caught."""
from __future__ import annotations

import numpy as np
import pytest

from export.evaluation.home_day import SAMPLE_RATE, HomeDayConfig, build_stream, run_monitor
from export.evaluation.monitor import false_alarms_heard
from export.evaluation.stream_rules import LONG_BOUT_SECONDS
from infantcry_sdk.events import CryEvent


def _sources(seed: int = 0):
    rng = np.random.default_rng(seed)
    negatives = [rng.normal(0, 0.05, size=int(rng.uniform(2, 5) * SAMPLE_RATE)).astype(np.float32) for _ in range(8)]
    t = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
    cries = [(0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32) for f in (400.0, 520.0, 610.0)]
    room = [rng.normal(0, 0.01, size=SAMPLE_RATE * 20).astype(np.float32)]
    return negatives, cries, room


def test_stream_holds_its_bouts_and_is_deterministic() -> None:
    negatives, cries, room = _sources()
    cfg = HomeDayConfig(minutes_per_source=6.0, bouts_per_hour=60.0)
    a = build_stream("x", negatives, cries, room, cfg, seed=3)
    b = build_stream("x", negatives, cries, room, cfg, seed=3)
    assert np.array_equal(a.audio, b.audio) and a.bouts == b.bouts
    assert a.audio.size == 6 * 60 * SAMPLE_RATE and abs(a.hours - 0.1) < 1e-9
    assert len(a.bouts) == 6
    for bout in a.bouts:
        assert 0 <= bout.start_s < bout.end_s <= a.audio.size / SAMPLE_RATE
        assert 2.0 - 1e-6 <= bout.seconds <= 60.0
        inside = a.audio[int(bout.start_s * SAMPLE_RATE):int(bout.end_s * SAMPLE_RATE)]
        assert np.sqrt(np.mean(inside ** 2)) > 0.05  # the cry is audible over the background
    assert np.all(np.abs(a.audio) <= 1.0) and a.audio.dtype == np.float32
    assert any(b.seconds >= LONG_BOUT_SECONDS for b in a.bouts) or len(a.bouts) < 3


class _OracleStream:
    """Raises a start 1 s into each bout and an end at its close, plus one false alarm."""

    def __init__(self, bouts, false_alarm_s: float) -> None:
        self.marks = sorted([(b.start_s + 1.0, "start") for b in bouts] + [(b.end_s, "end") for b in bouts]
                            + [(false_alarm_s, "start"), (false_alarm_s + 2.0, "end")])
        self.pos = 0

    def push(self, chunk):
        self.pos += len(chunk)
        now = self.pos / SAMPLE_RATE
        out = []
        while self.marks and self.marks[0][0] <= now:
            t, kind = self.marks.pop(0)
            out.append(CryEvent(kind, int(t * SAMPLE_RATE), t, 0.9, None))
        return out

    def flush(self):
        return []


def test_run_monitor_scores_recall_delay_and_false_alarms() -> None:
    negatives, cries, room = _sources()
    s = build_stream("x", negatives, cries, room, HomeDayConfig(minutes_per_source=6.0, bouts_per_hour=30.0), seed=1)
    gaps = [b.start_s - 5.0 for b in s.bouts if b.start_s > 10.0]
    score = run_monitor(s, lambda: _OracleStream(s.bouts, false_alarm_s=gaps[0] - 30.0), chunk_ms=100.0)
    assert score.recall == 1.0 and score.false_alarms == 1
    assert all(0.0 <= d <= 1.1 for d in score.delays_s)


def test_stream_knows_which_negative_plays_where() -> None:
    negatives, cries, room = _sources()
    ids = [f"neg{i}" for i in range(len(negatives))]
    cfg = HomeDayConfig(minutes_per_source=2.0, bouts_per_hour=30.0)
    s = build_stream("x", negatives, cries, room, cfg, seed=3, negative_ids=ids)
    assert np.array_equal(s.audio, build_stream("x", negatives, cries, room, cfg, seed=3).audio)  # ids change no sample
    assert s.pieces[0].start_s == 0.0 and abs(s.pieces[-1].end_s - s.audio.size / SAMPLE_RATE) < 1e-9
    assert all(a.end_s == b.start_s for a, b in zip(s.pieces, s.pieces[1:]))  # end to end, no gap
    for p in s.pieces[:8]:  # each piece holds its clip's samples (before room tone and bouts are added)
        n = int(round((p.end_s - p.start_s) * SAMPLE_RATE))
        assert n == min(negatives[ids.index(p.clip)].size, s.audio.size - int(round(p.start_s * SAMPLE_RATE)))
    p = s.pieces[3]
    assert s.clips_between(p.start_s + 0.01, p.end_s - 0.01) == [p.clip]
    assert s.clips_between(p.end_s - 0.5, p.end_s + 0.5) == [p.clip, s.pieces[4].clip]
    with pytest.raises(ValueError, match="negative ids"):
        build_stream("x", negatives, cries, room, cfg, seed=3, negative_ids=ids[:2])


def test_false_alarms_name_the_clips_their_window_heard() -> None:
    negatives, cries, room = _sources()
    ids = [f"neg{i}" for i in range(len(negatives))]
    s = build_stream("x", negatives, cries, room, HomeDayConfig(minutes_per_source=6.0, bouts_per_hour=30.0), seed=1,
                     negative_ids=ids)
    alarm_s = [b.start_s - 5.0 for b in s.bouts if b.start_s > 10.0][0] - 30.0
    score = run_monitor(s, lambda: _OracleStream(s.bouts, false_alarm_s=alarm_s), chunk_ms=100.0)
    assert score.false_alarm_starts_s == (alarm_s,)
    heard = false_alarms_heard(s, score, window_s=1.92)
    assert heard == [{"start_s": round(alarm_s, 2), "clips": s.clips_between(alarm_s, alarm_s + 1.92)}]
    assert heard[0]["clips"] and set(heard[0]["clips"]) <= set(ids)
