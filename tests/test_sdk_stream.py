"""CryStream: rules from the model, one event per burst, chunking, flush, detection delay, memory.
(Window scores equal to predict's: test_sdk_stream_parity.py.)"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from infantcry_sdk import AudioError, CryClassifier, CryStream, StreamOptions, contract

SR = 16000
BURSTS = ((2.0, 4.5), (9.0, 11.0), (15.5, 18.0))
SUPPORTED = {contract.KEY_CAUSE_STATUS: contract.CAUSE_SUPPORTED}


class Recorder:
    """Stands in for a classifier and records every window the stream scores."""

    def __init__(self, clf: CryClassifier) -> None:
        self.clf = clf
        self.metadata = clf.metadata
        self.grid = clf.grid
        self.windows: list[tuple[int, float]] = []  # (length, cry probability)

    def _score_span(self, span, lo, first, stop):
        cry, causes = self.clf._score_span(span, lo, first, stop)
        for k, p in zip(range(first, stop), cry):
            start, end = self.grid.bounds(k, lo + span.shape[0])
            self.windows.append((end - start, float(p)))
        return cry, causes


def play(stream: CryStream, x: np.ndarray, chunk: int | list[int]) -> list:
    sizes = iter(chunk) if isinstance(chunk, list) else None
    events, i = [], 0
    while i < len(x):
        n = next(sizes) if sizes else chunk
        events += stream.push(x[i : i + n])
        i += n
    return events + stream.flush()


@pytest.fixture(scope="module")
def bursts(synth_cry) -> np.ndarray:
    return synth_cry(SR, 21.3, bursts=BURSTS)


def test_defaults_are_the_models_rules(toy_classifier):
    s = toy_classifier.stream()
    m = toy_classifier.metadata
    assert s.sample_rate == s.model_rate == SR
    assert s.rules.on_threshold == m.stream_on_threshold == m.detection_threshold
    assert s.rules.off_threshold == pytest.approx(contract.DEFAULT_STREAM_OFF_RATIO * s.rules.on_threshold)
    assert (s.rules.min_on_windows, s.rules.min_off_windows, s.smoothing_windows) == (
        contract.DEFAULT_STREAM_MIN_ON_WINDOWS, contract.DEFAULT_STREAM_MIN_OFF_WINDOWS,
        contract.DEFAULT_STREAM_SMOOTHING_WINDOWS)
    assert s.last_score is None and s.samples_seen == 0 and not s.active


CALIBRATED = {
    contract.KEY_STREAM_ON_THRESHOLD: "0.7",
    contract.KEY_STREAM_OFF_THRESHOLD: "0.2",
    contract.KEY_STREAM_SMOOTHING_WINDOWS: "3",
    contract.KEY_STREAM_MIN_ON_WINDOWS: "2",
    contract.KEY_STREAM_MIN_OFF_WINDOWS: "4",
}


def test_rules_come_from_the_model_metadata_and_options_override_them(toy_model_factory):
    clf = CryClassifier.load(toy_model_factory("calibrated", metadata_overrides=CALIBRATED))
    m = clf.metadata
    assert (m.stream_on_threshold, m.stream_off_threshold, m.stream_smoothing_windows,
            m.stream_min_on_windows, m.stream_min_off_windows) == (0.7, 0.2, 3, 2, 4)
    s = clf.stream()
    assert (s.rules.on_threshold, s.rules.off_threshold, s.smoothing_windows,
            s.rules.min_on_windows, s.rules.min_off_windows) == (0.7, 0.2, 3, 2, 4)
    s = clf.stream(options=StreamOptions(on_threshold=0.9, smoothing_windows=1, min_off_windows=1))
    assert (s.rules.on_threshold, s.rules.off_threshold, s.smoothing_windows,
            s.rules.min_on_windows, s.rules.min_off_windows) == (0.9, pytest.approx(0.54), 1, 2, 1)


def test_smoothing_averages_the_last_windows(toy_model_factory, synth_cry):
    """With 3-window smoothing the detector sees the running mean of the last 3 window scores."""
    clf = CryClassifier.load(toy_model_factory("calibrated", metadata_overrides=CALIBRATED))
    x = synth_cry(SR, 8.0, bursts=((2.0, 5.0),), level=0.05)
    rec = Recorder(clf)
    seen: list[float] = []
    s = CryStream(rec, SR)
    real_update = s._detector.update
    s._detector.update = lambda a, b, p, c: seen.append(p) or real_update(a, b, p, c)
    play(s, x, 3000)
    raw = [p for _, p in rec.windows]
    want = [float(np.mean(raw[max(0, k - 2) : k + 1])) for k in range(len(raw))]
    assert seen == pytest.approx(want, abs=1e-12) and len(raw) == clf.grid.count(x.size)


def test_events_report_detection_delay(toy_classifier, synth_cry):
    x = synth_cry(SR, 6.0, bursts=((2.0, 4.0),))
    s = toy_classifier.stream()
    events = play(s, x, 1000)
    start, end = events
    g = toy_classifier.grid
    # the start is reported when the first window at or above the threshold is complete
    assert start.detected_sample % g.hop == 0 and start.detected_sample - start.sample == g.window
    assert start.delay_s == (start.detected_sample - start.sample) / SR
    assert end.detected_sample >= end.sample and end.delay_s >= 0
    assert start.to_dict()["delay_s"] == start.delay_s


@pytest.mark.parametrize("rate, chunk", [(16000, 1600), (16000, 7777), (44100, 4410), (48000, 100_000)])
def test_one_event_pair_per_burst(toy_model_factory, synth_cry, rate, chunk):
    toy_classifier = CryClassifier.load(toy_model_factory("supported", metadata_overrides=SUPPORTED))
    x = synth_cry(rate, 21.3, bursts=BURSTS)
    events = play(toy_classifier.stream(sample_rate=rate), x, chunk)
    assert [e.kind for e in events] == ["start", "end"] * len(BURSTS)
    w = toy_classifier.metadata.window_seconds
    for (start, end), (on, off) in zip(BURSTS, zip(events[::2], events[1::2])):
        assert start - w <= on.time_s <= start, (start, on)
        assert end <= off.time_s <= end + w, (end, off)
        assert on.time_s == on.sample / SR and off.time_s == off.sample / SR  # exact, model rate
        assert on.cause in toy_classifier.labels and on.cry_probability >= 0.5


def test_chunking_does_not_change_events(toy_classifier, bursts):
    ref = play(toy_classifier.stream(), bursts, len(bursts))
    rng = np.random.default_rng(3)
    for chunks in (37, 8000, 16001, list(rng.integers(1, 20000, size=10_000))):
        got = play(toy_classifier.stream(), bursts, chunks)
        assert [(e.kind, e.sample, e.cause) for e in got] == [(e.kind, e.sample, e.cause) for e in ref]
        assert [e.cry_probability for e in got] == pytest.approx([e.cry_probability for e in ref], abs=1e-6)


def test_resampled_stream_matches_model_rate_stream(toy_classifier, synth_cry):
    at16 = play(toy_classifier.stream(16000), synth_cry(16000, 21.3, bursts=BURSTS), 1600)
    at44 = play(toy_classifier.stream(44100), synth_cry(44100, 21.3, bursts=BURSTS), 4410)
    assert [(e.kind, e.sample) for e in at44] == [(e.kind, e.sample) for e in at16]


def test_flush_rules(toy_classifier, synth_cry):
    m = toy_classifier.metadata
    x = synth_cry(SR, 3.0)
    rec = Recorder(toy_classifier)
    s = CryStream(rec, SR)
    # shorter than min_samples: nothing scored
    s.push(x[: m.min_samples - 1])
    assert s.flush() == [] and rec.windows == []
    # between min_samples and a window: the whole short stream is one window
    s.push(x[: m.min_samples])
    s.flush()
    assert [length for length, _ in rec.windows] == [m.min_samples]
    # exactly one window: scored by push, nothing more at flush
    rec.windows.clear()
    s.push(x[: m.window_samples])
    assert len(rec.windows) == 1
    s.flush()
    assert len(rec.windows) == 1
    # one window and a bit: flush adds the grid's partial window, on the hop grid
    rec.windows.clear()
    s.push(x[: m.window_samples + 100])
    s.flush()
    assert [length for length, _ in rec.windows] == [m.window_samples, m.window_samples - m.hop_samples + 100]


def test_flush_closes_an_open_event_and_starts_over(toy_classifier, synth_cry):
    x = synth_cry(SR, 4.0)  # crying to the very end
    s = toy_classifier.stream()
    events = s.push(x)
    assert [e.kind for e in events] == ["start"] and s.active
    end = s.flush()
    assert [e.kind for e in end] == ["end"] and end[0].sample == len(x) == end[0].detected_sample
    assert s.samples_seen == 0 and not s.active and s.last_score is not None
    assert [e.sample for e in s.push(x)] == [events[0].sample]  # times restart at 0


def test_reset(toy_classifier, bursts):
    s = toy_classifier.stream(sample_rate=44100)
    s.push(np.ones(50_000, np.float32) * 0.3)
    assert s.last_score is not None and s.samples_seen > 0
    s.reset()
    assert s.last_score is None and s.samples_seen == 0 and s.windows_scored == 0 and not s.active
    fresh = play(toy_classifier.stream(), bursts, 4000)
    s16 = toy_classifier.stream()
    s16.push(bursts[:30000])
    s16.reset()
    assert [(e.kind, e.sample) for e in play(s16, bursts, 4000)] == [(e.kind, e.sample) for e in fresh]


def test_last_window_for_meters(toy_classifier, synth_cry):
    s = toy_classifier.stream()
    s.push(np.zeros(SR, np.float32))
    assert s.last_score is not None and s.last_score < 0.01
    s.push(synth_cry(SR, 0.5))
    w = s.last_window
    assert (w.start_sample, w.end_sample) == (8000, 24000) and w.cry_probability == s.last_score > 0.5
    assert set(w.cause_probabilities) == set(toy_classifier.labels)
    assert s.windows_scored == 2 and s.samples_seen == 24000


def test_chunk_kinds(toy_classifier, synth_cry):
    x = synth_cry(SR, 3.0)
    ref = play(toy_classifier.stream(), x, 4000)
    i16 = np.round(x * 32767).astype(np.int16)
    got = play(toy_classifier.stream(), i16, 4000)
    assert [(e.kind, e.sample) for e in got] == [(e.kind, e.sample) for e in ref]
    stereo = np.stack([x, x], axis=1).astype(np.float64)
    got = play(toy_classifier.stream(), stereo, 4000)
    assert [(e.kind, e.sample) for e in got] == [(e.kind, e.sample) for e in ref]


def test_bad_chunks_leave_the_stream_unchanged(toy_classifier):
    s = toy_classifier.stream()
    s.push(np.zeros(1000, np.float32))
    for bad, msg in [
        ([0.0] * 10, "numpy array"),
        (np.zeros(10, np.int8), "dtype"),
        (np.zeros(0, np.int8), "dtype"),
        (np.array([0.0, np.nan], np.float32), "NaN"),
        (np.zeros((2, 100), np.float32), "channels"),
    ]:
        with pytest.raises(AudioError, match=msg):
            s.push(bad)
    assert s.samples_seen == 1000
    assert s.push(np.zeros(0, np.float32)) == [] and s.push(np.zeros((0, 2), np.int16)) == []
    assert s.samples_seen == 1000


@pytest.mark.parametrize("rate", [0, -5, 100, 10**6, 16000.0, True])
def test_bad_stream_rate(toy_classifier, rate):
    with pytest.raises(AudioError):
        toy_classifier.stream(sample_rate=rate)


def test_options(toy_classifier, bursts):
    s = toy_classifier.stream(options=StreamOptions(on_threshold=0.9, off_threshold=0.1, min_on_windows=1, min_off_windows=3))
    assert (s.rules.on_threshold, s.rules.off_threshold, s.rules.min_on_windows, s.rules.min_off_windows) == (0.9, 0.1, 1, 3)
    events = play(s, bursts, 4000)
    assert [e.kind for e in events] == ["start", "end"] * len(BURSTS)
    for bad in (dict(min_on_windows=0), dict(on_threshold=1.5), dict(max_batch_windows=True), dict(off_threshold="x"),
                dict(smoothing_windows=0), dict(on_threshold=True), dict(max_batch_windows=None)):
        with pytest.raises(ValueError):
            StreamOptions(**bad)
    with pytest.raises(ValueError, match="must not exceed"):
        toy_classifier.stream(options=StreamOptions(on_threshold=0.3, off_threshold=0.4))


def test_unsupported_cause_gives_events_without_cause(toy_classifier, bursts):
    assert not toy_classifier.metadata.cause_supported
    events = play(toy_classifier.stream(), bursts, 4000)
    assert events and all(e.cause is None for e in events)
    assert all(set(e.cause_probabilities) == set(toy_classifier.labels) for e in events)


#: Run in a fresh process: the suite's other tests (their garbage, thread pools, onnxruntime arenas)
#: would otherwise move this process's RSS while the stream runs.
_SIX_HOURS = """
import json, os, sys
import numpy as np
from infantcry_sdk import CryClassifier, StreamOptions

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

model, minute_path, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
minute = np.load(minute_path)
s = CryClassifier.load(model).stream(sample_rate=rate, options=StreamOptions(max_batch_windows=64))
starts = 0
for _ in range(10):  # warm up allocator and onnxruntime arenas
    starts += sum(e.kind == "start" for e in s.push(minute))
before = rss()
for _ in range(6 * 60 - 10):
    starts += sum(e.kind == "start" for e in s.push(minute))
print(json.dumps({"growth": rss() - before, "starts": starts, "samples": s.samples_seen, "windows": s.windows_scored}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_six_hour_stream_has_flat_memory(toy_model_factory, synth_cry, tmp_path):
    """6 h of audio through a stream in 60 s chunks: RSS grows < 5 MB.

    A 1 kHz toy model (1 s windows, 1 s hop) keeps the arithmetic small; the stream's bookkeeping
    (ring buffer, resampler-free path, event detector) is the same as at 16 kHz. It runs in a fresh
    process (``_SIX_HOURS``), which measures the stream alone.
    """
    rate = 1000
    model = toy_model_factory("lowrate", sample_rate=rate, hop_seconds=1.0)
    np.save(tmp_path / "minute.npy", synth_cry(rate, 60.0, bursts=((20.0, 30.0),)))
    done = subprocess.run([sys.executable, "-c", _SIX_HOURS, str(model), str(tmp_path / "minute.npy"), str(rate)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["samples"] == 6 * 3600 * rate and out["windows"] == 6 * 3600
    assert out["starts"] == 6 * 60  # one cry per minute, every one found
    assert out["growth"] < 5 * 2**20, f"RSS grew by {out['growth'] / 2**20:.1f} MiB"
