"""Golden vectors that pin the Android demo's Java core to the Python SDK's streaming behaviour.

The Android app re-implements :class:`infantcry_sdk.CryStream`'s windowing and
:mod:`infantcry_sdk.events` in plain Java (``android_demo/core``). It cannot run Python, and this
machine cannot run the app's ONNX Runtime, so the two meet in the middle: this module records, per
clip, the model's output for every window the Python stream scored and the events the stream
derived from them, and the JVM tests replay those outputs through the Java code and demand the same
events (kind, exact sample, cause; probabilities to 1e-9). When the Python rules change, regenerate
the vectors and the JVM tests show the drift.

One JSON file per case::

    {"format": 1, "name", "description", "kind": "stream" | "synthetic",
     "model": {...} | null, "metadata": {infantcry.* strings} | null,
     "labels": [...], "rules": {on_threshold, off_threshold, min_on_windows, min_off_windows,
     cause_min_confidence}, "sample_rate", "window_samples", "hop_samples", "min_samples",
     "num_samples", "sources": [...],
     "windows": [{"start_sample", "end_sample", "cry_probability", "cause_probabilities": [...],
                  stream cases only: "span_start", "span_end", "detected_sample"}],
     "events": [{"kind", "sample", "time_s", "cry_probability", "cause",
                 "cause_probabilities": {label: p}, "window_index"}]}

``window_index`` is the window whose score completed the event, or ``len(windows)`` for an event
that the end of the stream closed (``EventDetector.finish``). Windows include the ones that
``CryStream.flush`` scores (those still waiting for their right context, and a partial last one).
For ``stream`` cases, ``model`` also gives the grid's ``tail_samples``, ``context_before_samples`` and
``context_after_samples``, and
each window the samples ``[span_start, span_end)`` of the one model run that scored it and
``detected_sample``, the stream position at which its score, and an event it completes, was known
(an event closed by the end of the stream was known at ``num_samples``). ``metadata`` lets the Java side check that it derives the same window,
hop and rules from the model's metadata. ``contract.json`` holds the contract's names and its
defaults for the optional metadata keys, ``metadata_rules.json`` the stream rules and cause status
that metadata with and without those keys gives (:func:`stream_rules_from_metadata`), and
``integrity.json`` a blob sealed by :mod:`infantcry_sdk.integrity` for the Java integrity check.

Cases: ``stream`` cases are real clips from ../shared (Donate-a-Cry cries between ESC-50 background
and silence, a cry that runs to the end of the stream, a stream shorter than one window, a non-cry
clip) played through ``CryStream``; their events are checked against a fresh ``EventDetector`` fed
the recorded scores. ``synthetic`` cases are hand-made score sequences for the rules' edge cases.

Commands::

    python -m export.golden [--out DIR] [--model PATH] [--data-root DIR]
    python -m export.golden --copy-model [--model PATH] [--assets DIR]

The model defaults to the bundled ``infantcry_sdk/models/student_int8.onnx``, else a toy model
(:mod:`export.modelfile.toy`) built in a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from infantcry_sdk import contract
from infantcry_sdk.audio import load as load_audio
from infantcry_sdk.classifier import CryClassifier
from infantcry_sdk.events import CryEvent, EventDetector, EventRules, ScoreSmoother
from infantcry_sdk.model import default_model_path
from infantcry_sdk.stream import CryStream

_REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = _REPO / "android_demo" / "core" / "src" / "test" / "resources" / "golden"
DEFAULT_ASSETS = _REPO / "android_demo" / "app" / "src" / "main" / "assets"
#: The asset name the app opens; OrtModelSession reads ".ort" first, then ".onnx".
ASSET_STEM = "student_int8"
FORMAT = 1
#: Files in the golden folder that are references for the Java mirror, not replay cases.
REFERENCE_FILES = ("contract.json", "integrity.json", "metadata_rules.json")


class GoldenError(RuntimeError):
    """A golden case could not be made (missing data or model), or the stream disagreed with the
    event rules it claims to use."""


# ------------------------------------------------------------------------------------ real clips
@dataclass(frozen=True)
class Segment:
    """A piece of a golden clip: a file from ../shared (``source`` donateacry or esc50), cut to
    ``seconds`` when given, or ``silence`` of ``seconds``."""

    source: str
    file: str | None = None
    seconds: float | None = None


_CRY_A = "audio/035c6b30-a145-42b9-8d0f-445cd9003d2c-1435948197257-1.7-m-04-hu.flac"  # hungry, android
_CRY_B = "audio/03ADDCFB-354E-416D-BF32-260CF47F7060-1433658024-1.1-f-04-ti.flac"  # tired, ios
_CRICKETS = "audio/1-57316-A-13.ogg"
_KEYBOARD = "audio/1-137-A-32.ogg"
_LAUGHING = "audio/1-1791-A-26.ogg"

#: name -> (description, segments). A segment with seconds=None keeps the whole file. The
#: "short_cry" length is set from the model's window at run time (see _short_seconds).
CLIPS: dict[str, tuple[str, tuple[Segment, ...]]] = {
    "cries_with_background": (
        "Two Donate-a-Cry cries separated by ESC-50 background (crickets, keyboard) and digital "
        "silence: two start/end pairs with a sound model.",
        (
            Segment("esc50", _CRICKETS),
            Segment("donateacry", _CRY_A),
            Segment("silence", seconds=1.0),
            Segment("esc50", _KEYBOARD),
            Segment("donateacry", _CRY_B),
            Segment("esc50", _CRICKETS, 3.0),
        ),
    ),
    "cry_until_end": (
        "Background then a cry cut off mid-way: the stream ends while a cry is active, so flush() "
        "scores an unaligned tail window and finish() closes the event.",
        (Segment("esc50", _KEYBOARD, 2.0), Segment("donateacry", _CRY_A, 4.3)),
    ),
    "short_cry": (
        "A stream shorter than one window but above min_samples: flush() scores it whole.",
        (Segment("donateacry", _CRY_B, None),),
    ),
    "non_cry_laughing": (
        "An ESC-50 non-cry clip (adult laughing), a common confuser.",
        (Segment("esc50", _LAUGHING),),
    ),
}


def _segment_path(data_root: Path, seg: Segment) -> Path:
    sub = {"donateacry": "data/donateacry", "esc50": "data/esc50"}.get(seg.source)
    if sub is None or seg.file is None:
        raise GoldenError(f"segment {seg} names no file of a known source")
    path = data_root / sub / seg.file
    if not path.is_file():
        raise GoldenError(f"golden clip source {path} is missing: is --data-root the ../shared folder?")
    return path


def build_clip(segments: Sequence[Segment], data_root: Path, sample_rate: int) -> np.ndarray:
    """Concatenate the segments at ``sample_rate`` (decoded and resampled by the SDK's own loader)."""
    parts = []
    for seg in segments:
        if seg.source == "silence":
            parts.append(np.zeros(int(round((seg.seconds or 0.0) * sample_rate)), np.float32))
            continue
        x = load_audio(_segment_path(data_root, seg), None, sample_rate)
        if seg.seconds is not None:
            x = x[: int(round(seg.seconds * sample_rate))]
        parts.append(x)
    return np.concatenate(parts).astype(np.float32)


def _short_seconds(clf: CryClassifier) -> float:
    """Halfway between min_samples and one window, so the stream takes flush()'s short path."""
    m = clf.metadata
    return (m.min_samples + m.window_samples) / 2 / m.sample_rate


# ------------------------------------------------------------------------------------ recording
def _rules_dict(rules: EventRules) -> dict:
    return asdict(rules)


def _event_dict(event: CryEvent, window_index: int) -> dict:
    d = {k: v for k, v in event.to_dict().items() if k not in ("detected_sample", "delay_s")}  # stream-only
    d["window_index"] = window_index
    return d


def replay(
    rules: EventRules, labels: Sequence[str], sample_rate: int, windows: Sequence[dict], smoothing_windows: int = 1
) -> list[dict]:
    """Feed recorded window scores, smoothed as the stream smooths them, to a fresh
    :class:`EventDetector`, then ``finish()``: the events, each tagged with the index of the window
    that completed it (``len(windows)`` for finish)."""
    det = EventDetector(rules, labels, sample_rate)
    smoother = ScoreSmoother(smoothing_windows)
    out: list[dict] = []
    for k, w in enumerate(windows):
        score = smoother.update(w["cry_probability"])
        for ev in det.update(w["start_sample"], w["end_sample"], score, w["cause_probabilities"]):
            out.append(_event_dict(ev, k))
    for ev in det.finish():
        out.append(_event_dict(ev, len(windows)))
    return out


def _strip_index(events: Iterable[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "window_index"} for e in events]


def _as_detected(events: Iterable[dict], cause_supported: bool) -> list[dict]:
    """What the detector decides, for comparing a stream's events with a replay: the stream adds its
    detection point and delay, and drops the cause of a model whose cause head is unsupported."""
    drop = {"window_index", "detected_sample", "delay_s"} | (set() if cause_supported else {"cause"})
    return [{k: v for k, v in e.items() if k not in drop} for e in events]


def stream_case(
    clf: CryClassifier, samples: np.ndarray, name: str, description: str, sources: list[dict]
) -> dict:
    """Play ``samples`` (float32 at the model rate) through ``CryStream`` and record every window.

    Chunks are one hop long, so each push completes at most one window; ``CryStream.on_window``
    records every window's score exactly as the stream handed it to its detector (flush scores the
    windows still waiting for their right context, and the grid's partial last window). Raises
    :class:`GoldenError` if the stream's own events differ from a replay of those scores.
    """
    m = clf.metadata
    stream, windows, stream_events = _play(clf, samples)
    n = int(samples.shape[0])
    events = replay(stream.rules, m.labels, m.sample_rate, windows, stream.smoothing_windows)
    _check_stream_events(name, events, stream_events, windows, n, m.cause_supported)
    g = stream.grid
    return {
        "format": FORMAT,
        "name": name,
        "description": description,
        "kind": "stream",
        "model": {
            "model_version": m.model_version,
            "file_sha256": m.file_sha256,
            "file": clf.path.name,
            "tail_samples": g.tail,
            "context_before_samples": g.context_before,
            "context_after_samples": g.context_after,
        },
        "metadata": {k: v for k, v in m.raw.items() if k.startswith("infantcry.")},
        "labels": list(m.labels),
        "rules": _rules_dict(stream.rules),
        "smoothing_windows": stream.smoothing_windows,
        "sample_rate": m.sample_rate,
        "window_samples": m.window_samples,
        "hop_samples": m.hop_samples,
        "min_samples": m.min_samples,
        "num_samples": n,
        "sources": sources,
        "windows": windows,
        "events": events,
    }


def _play(clf: CryClassifier, samples: np.ndarray) -> tuple[CryStream, list[dict], list[CryEvent]]:
    """Push ``samples`` one hop at a time, then flush: the stream, every window it scored (with the
    samples of the model run that scored it and the sample at which its score was known) and its
    events."""
    m = clf.metadata
    stream = clf.stream(sample_rate=m.sample_rate)
    windows: list[dict] = []
    stream_events: list[CryEvent] = []
    stream.on_window = lambda w: windows.append({
        "start_sample": int(w.start_sample),
        "end_sample": int(w.end_sample),
        "cry_probability": float(w.cry_probability),
        "cause_probabilities": [float(w.cause_probabilities[lab]) for lab in m.labels],
    })
    g, n, hop = stream.grid, int(samples.shape[0]), m.hop_samples
    spans: list[tuple[int, int]] = []  # per window: the samples of the model run that scored it
    for pos in range(0, n, hop):
        before = stream.windows_scored
        stream_events += stream.push(samples[pos : pos + hop])
        if stream.windows_scored - before > 1:
            raise GoldenError("a one-hop chunk completed more than one window")
        spans += [g.span(before, stream.windows_scored)] * (stream.windows_scored - before)
    flushed = len(windows)
    stream_events += stream.flush()  # the windows still waiting for context, and a partial one
    spans += [g.span(flushed, len(windows), n)] * (len(windows) - flushed)
    for k, (w, (lo, hi)) in enumerate(zip(windows, spans)):
        w.update(span_start=lo, span_end=hi, detected_sample=g.span(k, k + 1, n if k >= flushed else None)[1])
    return stream, windows, stream_events


def _check_stream_events(name: str, events: list[dict], stream_events: list[CryEvent], windows: list[dict],
                         n: int, cause_supported: bool) -> None:
    """The stream's own events are the replay's, reported at the sample where their window was scored."""
    if _as_detected(events, cause_supported) != _as_detected((e.to_dict() for e in stream_events), cause_supported):
        raise GoldenError(
            f"{name}: CryStream's events differ from EventDetector's on the same window scores:\n"
            f"stream: {[e.to_dict() for e in stream_events]}\nreplay: {_strip_index(events)}"
        )
    known = [windows[e["window_index"]]["detected_sample"] if e["window_index"] < len(windows) else n for e in events]
    if known != [e.detected_sample for e in stream_events]:
        raise GoldenError(f"{name}: CryStream reported events at {[e.detected_sample for e in stream_events]}, "
                          f"not where their windows were scored ({known})")


def real_cases(clf: CryClassifier, data_root: Path) -> list[dict]:
    """The ``stream`` cases over real clips from ``data_root`` (the ../shared layout)."""
    out = []
    rate = clf.metadata.sample_rate
    for name, (description, segments) in CLIPS.items():
        if name == "short_cry":
            segments = tuple(Segment(s.source, s.file, _short_seconds(clf)) for s in segments)
        samples = build_clip(segments, data_root, rate)
        m = clf.metadata
        if name == "cry_until_end" and (samples.shape[0] - m.window_samples) % m.hop_samples == 0:
            samples = samples[: samples.shape[0] - m.hop_samples // 2]  # keep flush's tail window unaligned
        sources = [{"source": s.source, "file": s.file, "seconds": s.seconds} for s in segments]
        out.append(stream_case(clf, samples, name, description, sources))
    return out


# ------------------------------------------------------------------------------------ synthetic
_SYN_LABELS = ("hungry", "tired", "discomfort")
_SYN_RATE = 16000
_SYN_WINDOW = 15600
_SYN_HOP = 8000
_C0 = (0.2, 0.5, 0.3)


def _synthetic(
    name: str,
    description: str,
    probs: Sequence[float],
    causes: Sequence[Sequence[float]] | None = None,
    rules: EventRules | None = None,
) -> dict:
    rules = rules or EventRules(on_threshold=0.5, off_threshold=0.3, min_on_windows=2, min_off_windows=2,
                                cause_min_confidence=0.35)
    causes = causes or [_C0] * len(probs)
    windows = [
        {
            "start_sample": k * _SYN_HOP,
            "end_sample": k * _SYN_HOP + _SYN_WINDOW,
            "cry_probability": float(p),
            "cause_probabilities": [float(c) for c in cs],
        }
        for k, (p, cs) in enumerate(zip(probs, causes))
    ]
    return {
        "format": FORMAT,
        "name": name,
        "description": description,
        "kind": "synthetic",
        "model": None,
        "metadata": None,
        "labels": list(_SYN_LABELS),
        "rules": _rules_dict(rules),
        "smoothing_windows": 1,
        "sample_rate": _SYN_RATE,
        "window_samples": _SYN_WINDOW,
        "hop_samples": _SYN_HOP,
        "min_samples": _SYN_WINDOW,
        "num_samples": (len(probs) - 1) * _SYN_HOP + _SYN_WINDOW if probs else 0,
        "sources": [],
        "windows": windows,
        "events": replay(rules, _SYN_LABELS, _SYN_RATE, windows),
    }


def synthetic_cases() -> list[dict]:
    """Hand-made score sequences for the rules' edge cases (no model, no audio)."""
    rng = np.random.default_rng(20240611)
    noisy = rng.uniform(0.0, 1.0, size=200)
    noisy_causes = rng.dirichlet(np.ones(len(_SYN_LABELS)), size=200)
    return [
        _synthetic("syn_flicker", "On/off flicker never reaching min_on_windows: no event.",
                   [0.1, 0.6, 0.2, 0.7, 0.1, 0.9, 0.29, 0.51, 0.0, 0.5, 0.49]),
        _synthetic("syn_min_windows", "Exactly min_on then min_off windows; on == threshold counts as on.",
                   [0.0, 0.5, 0.5, 0.29999, 0.3, 0.0, 0.0, 0.2]),
        _synthetic("syn_hysteresis", "Scores between off and on keep the event open and count in its mean; "
                   "a single off window is bridged and not counted.",
                   [0.8, 0.9, 0.4, 0.31, 0.1, 0.6, 0.35, 0.05, 0.05]),
        _synthetic("syn_finish_active", "The stream ends while a cry is active: finish() closes it at the "
                   "last kept window, after one pending off window.",
                   [0.2, 0.7, 0.8, 0.9, 0.1]),
        _synthetic("syn_cause_ties", "Equal top causes: the first label wins; a top cause below "
                   "cause_min_confidence gives no cause.",
                   [0.9, 0.9, 0.0, 0.0, 0.9, 0.9, 0.0, 0.0],
                   [(0.4, 0.4, 0.2)] * 4 + [(0.34, 0.33, 0.33)] * 4,
                   EventRules(0.5, 0.3, 2, 2, 0.35)),
        _synthetic("syn_single_window_rules", "min_on = min_off = 1 and off == on: every crossing is an event.",
                   [0.6, 0.4, 0.6, 0.6, 0.59, 0.61, 0.0],
                   rules=EventRules(0.6, 0.6, 1, 1, 0.0)),
        _synthetic("syn_random_long", "200 random windows with random cause distributions under longer "
                   "debouncing: many events, long running sums.",
                   noisy.tolist(), noisy_causes.tolist(), EventRules(0.55, 0.35, 3, 4, 0.4)),
    ]


# ------------------------------------------------------------------------------------ contract
def contract_case() -> dict:
    """The contract's names and its defaults for the optional keys, for the Java mirror."""
    return {
        "format": FORMAT,
        "schema_version": contract.SCHEMA_VERSION,
        "input_name": contract.INPUT_NAME,
        "output_cry": contract.OUTPUT_CRY,
        "output_causes": contract.OUTPUT_CAUSES,
        "output_window_cry": contract.OUTPUT_WINDOW_CRY,
        "output_window_causes": contract.OUTPUT_WINDOW_CAUSES,
        "required_keys": list(contract.REQUIRED_KEYS),
        "keys": {
            name: getattr(contract, name) for name in sorted(dir(contract)) if name.startswith("KEY_")
        },
        "metadata_defaults": {
            name: getattr(contract, name) for name in sorted(dir(contract))
            if name.startswith(("DEFAULT_", "CAUSE_"))
        },
    }


def stream_rules_from_metadata(meta: dict[str, str]) -> dict:
    """The stream rules and cause status that ``meta`` gives, read as :mod:`infantcry_sdk.contract`
    describes its optional keys (absent key: the documented default). Raises ``ValueError`` for a
    value the contract does not allow."""
    c = contract
    on = float(meta.get(c.KEY_STREAM_ON_THRESHOLD, meta[c.KEY_DETECTION_THRESHOLD]))
    off = float(meta[c.KEY_STREAM_OFF_THRESHOLD]) if c.KEY_STREAM_OFF_THRESHOLD in meta else c.DEFAULT_STREAM_OFF_RATIO * on
    counts = {
        name: int(meta.get(key, default))
        for name, key, default in (
            ("smoothing_windows", c.KEY_STREAM_SMOOTHING_WINDOWS, c.DEFAULT_STREAM_SMOOTHING_WINDOWS),
            ("min_on_windows", c.KEY_STREAM_MIN_ON_WINDOWS, c.DEFAULT_STREAM_MIN_ON_WINDOWS),
            ("min_off_windows", c.KEY_STREAM_MIN_OFF_WINDOWS, c.DEFAULT_STREAM_MIN_OFF_WINDOWS),
        )
    }
    if counts["smoothing_windows"] < 1:
        raise ValueError("stream_smoothing_windows must be >= 1")
    rules = EventRules(on, off, counts["min_on_windows"], counts["min_off_windows"],
                       float(meta[c.KEY_CAUSE_MIN_CONFIDENCE]))  # checks thresholds and the two minima
    status = meta.get(c.KEY_CAUSE_STATUS, c.CAUSE_UNSUPPORTED)
    if status not in c.CAUSE_STATUSES:
        raise ValueError(f"cause_status {status!r} is not one of {c.CAUSE_STATUSES}")
    return {**_rules_dict(rules), "smoothing_windows": counts["smoothing_windows"], "cause_status": status,
            "cause_status_reason": meta.get(c.KEY_CAUSE_STATUS_REASON, c.DEFAULT_CAUSE_STATUS_REASON)}


#: Optional-key variants over one base metadata: (name, keys set). None marks a value the reader refuses.
_METADATA_VARIANTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("no_optional_keys", {}),
    ("calibrated_supported", {
        contract.KEY_STREAM_ON_THRESHOLD: "0.62", contract.KEY_STREAM_OFF_THRESHOLD: "0.41",
        contract.KEY_STREAM_SMOOTHING_WINDOWS: "3", contract.KEY_STREAM_MIN_ON_WINDOWS: "2",
        contract.KEY_STREAM_MIN_OFF_WINDOWS: "3", contract.KEY_CAUSE_STATUS: contract.CAUSE_SUPPORTED,
        contract.KEY_CAUSE_STATUS_REASON: "permutation p=0.003; balanced accuracy CI [0.31, 0.44] > 0.20"}),
    ("on_threshold_only", {contract.KEY_STREAM_ON_THRESHOLD: "0.7", contract.KEY_STREAM_SMOOTHING_WINDOWS: "2"}),
    ("unsupported_with_reason", {contract.KEY_CAUSE_STATUS: contract.CAUSE_UNSUPPORTED,
                                 contract.KEY_CAUSE_STATUS_REASON: "permutation p=0.41"}),
    ("supported_without_reason", {contract.KEY_CAUSE_STATUS: contract.CAUSE_SUPPORTED}),
    ("bad_cause_status", {contract.KEY_CAUSE_STATUS: "maybe"}),
    ("off_above_on", {contract.KEY_STREAM_ON_THRESHOLD: "0.5", contract.KEY_STREAM_OFF_THRESHOLD: "0.6"}),
    ("on_above_one", {contract.KEY_STREAM_ON_THRESHOLD: "1.2"}),
    ("zero_smoothing", {contract.KEY_STREAM_SMOOTHING_WINDOWS: "0"}),
    ("fractional_min_on", {contract.KEY_STREAM_MIN_ON_WINDOWS: "1.5"}),
)


def metadata_rules_case() -> dict:
    """Base metadata (the shipped student's values, a dummy seal) and, per variant of its optional
    keys, the rules and cause status it gives, or ``null`` where the contract refuses it."""
    base = {
        contract.KEY_SCHEMA_VERSION: contract.SCHEMA_VERSION, contract.KEY_SAMPLE_RATE: "16000",
        contract.KEY_LABELS: json.dumps(["hungry", "tired", "discomfort", "belly_pain", "burping"]),
        contract.KEY_DETECTION_THRESHOLD: "0.8712644577026367", contract.KEY_CAUSE_MIN_CONFIDENCE: "0.3",
        contract.KEY_WINDOW_SECONDS: "1.92", contract.KEY_HOP_SECONDS: "0.96", contract.KEY_MIN_SAMPLES: "1600",
        contract.KEY_MODEL_VERSION: "golden", contract.KEY_FILE_SHA256: "ab" * 32,
    }
    cases = []
    for name, keys in _METADATA_VARIANTS:
        try:
            expected = stream_rules_from_metadata({**base, **keys})
        except ValueError:
            expected = None
        cases.append({"name": name, "keys": keys, "expected": expected})
    return {"format": FORMAT, "base_metadata": base, "cases": cases}


def integrity_case() -> dict:
    """A small blob sealed by :func:`infantcry_sdk.integrity.seal` (and a tampered copy), so the Java
    check is pinned to the Python seal without committing a model file."""
    import base64

    from infantcry_sdk import integrity

    rng = np.random.default_rng(7)
    blob = rng.integers(0, 256, 300, dtype=np.uint8).tobytes() + integrity.PLACEHOLDER.encode("ascii") + b"tail"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        path.write_bytes(blob)
        digest = integrity.seal(path)
        sealed = path.read_bytes()
    tampered = bytearray(sealed)
    tampered[5] ^= 1
    assert integrity.verify(sealed, digest) and not integrity.verify(bytes(tampered), digest)
    return {
        "format": FORMAT,
        "sealed_base64": base64.b64encode(sealed).decode("ascii"),
        "tampered_base64": base64.b64encode(bytes(tampered)).decode("ascii"),
        "sha256": digest,
    }


# ------------------------------------------------------------------------------------ entry points
def _toy_model(tmp: Path) -> Path:
    from export.modelfile.toy import build_toy_model  # toolchain-only (needs the onnx package)

    return build_toy_model(tmp / "toy_energy.onnx")


def resolve_model(model: str | Path | None, tmp: Path) -> Path:
    """``model``, else the bundled default, else a toy model written under ``tmp``."""
    if model is not None:
        return Path(model)
    default = default_model_path()
    return default if default.is_file() else _toy_model(tmp)


def dumps(data: dict) -> str:
    """JSON with one line per top-level key and per window or event: readable diffs when the
    vectors are regenerated. Floats are written by ``repr`` (exact round trip)."""
    lines = []
    for key, value in data.items():
        if key in ("windows", "events") and value:
            items = ",\n".join("  " + json.dumps(v, allow_nan=False) for v in value)
            text = "[\n" + items + "\n ]"
        else:
            text = json.dumps(value, allow_nan=False)
        lines.append(f" {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(dumps(data), encoding="utf-8")
    return path


def write_golden(
    out_dir: str | Path = DEFAULT_OUT,
    model: str | Path | None = None,
    data_root: str | Path | None = None,
    *,
    real: bool = True,
) -> list[Path]:
    """Write every golden file into ``out_dir`` (old ``*.json`` there are removed first); returns the
    paths. ``real=False`` writes only the synthetic cases and ``contract.json`` (no data needed)."""
    out = Path(out_dir)
    cases = synthetic_cases()
    with tempfile.TemporaryDirectory(prefix="infantcry-golden-") as tmp:
        if real:
            from export.data.paths import resolve_data_root

            root = resolve_data_root(data_root)
            clf = CryClassifier.load(resolve_model(model, Path(tmp)))
            cases = real_cases(clf, root) + cases
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    paths = [_write_json(out / f"{case['name']}.json", case) for case in cases]
    paths.append(_write_json(out / "contract.json", contract_case()))
    paths.append(_write_json(out / "integrity.json", integrity_case()))
    paths.append(_write_json(out / "metadata_rules.json", metadata_rules_case()))
    return paths


def copy_model_asset(model: str | Path | None = None, assets_dir: str | Path = DEFAULT_ASSETS) -> Path:
    """Copy the model into the Android app's assets as ``student_int8.ort`` (or ``.onnx``).

    With no ``model``: the bundled ``student_int8.ort`` next to the default ``.onnx`` when it
    exists, else the default ``.onnx``. The file is validated with the SDK's loader first (contract,
    metadata, integrity seal), so the app never ships a model the SDK would refuse. Any other
    ``student_int8.*`` in the assets is removed, so the app cannot pick a stale one.
    """
    if model is None:
        onnx_path = default_model_path()
        ort_path = onnx_path.with_suffix(".ort")
        src = ort_path if ort_path.is_file() else onnx_path
    else:
        src = Path(model)
    if src.suffix.lower() not in (".ort", ".onnx"):
        raise GoldenError(f"model {src} must be a .ort or .onnx file")
    CryClassifier.load(src)  # raises ModelError, naming the problem, for an unusable file
    dest_dir = Path(assets_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    for old in dest_dir.glob(f"{ASSET_STEM}.*"):
        old.unlink()
    dest = dest_dir / f"{ASSET_STEM}{src.suffix.lower()}"
    shutil.copyfile(src, dest)
    return dest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export.golden",
        description="Write the Android demo's parity golden vectors, or copy the model into its assets.",
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="golden folder (default: %(default)s)")
    parser.add_argument("--model", default=None, help="model file (default: bundled student, else a toy model)")
    parser.add_argument("--data-root", default=None, help="the ../shared folder (default: as export.data)")
    parser.add_argument("--synthetic-only", action="store_true", help="skip the real-clip cases")
    parser.add_argument("--copy-model", action="store_true", help="copy the model into the app's assets instead")
    parser.add_argument("--assets", default=str(DEFAULT_ASSETS), help="app assets folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.copy_model:
        dest = copy_model_asset(args.model, args.assets)
        print(f"copied model to {dest} ({dest.stat().st_size} bytes)")
        return 0
    paths = write_golden(args.out, args.model, args.data_root, real=not args.synthetic_only)
    for p in paths:
        data = json.loads(p.read_text(encoding="utf-8"))
        what = f"{len(data['windows'])} windows, {len(data['events'])} events" if "windows" in data else "reference"
        print(f"{p}: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
