"""The audio the benchmarks feed: one 1 s window, one 7 s clip, and a few real clips for parity.

Timing does not depend much on what the audio says, but a real cry keeps every branch honest, so a
Donate-a-Cry recording from ../shared is used when present (decoded once, through the SDK's own
:func:`infantcry_sdk.audio.load`); otherwise deterministic noise with a tone, marked as synthetic.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from export.constants import SAMPLE_RATE as RATE

from .subjects import SHARED

WINDOW_S = 1.0
CLIP_S = 7.0


@dataclass(frozen=True)
class BenchAudio:
    """``window``: float32 [16000]; ``clip``: float32 [112000]; ``source`` says where they came from."""

    window: np.ndarray
    clip: np.ndarray
    source: str
    rate: int = RATE

    @property
    def clip_seconds(self) -> float:
        return len(self.clip) / self.rate


def _long_cry(shared: Path, seconds: float) -> Path | None:
    """The first Donate-a-Cry recording (by file name) at least ``seconds`` long."""
    manifest = shared / "data" / "donateacry" / "manifest.csv"
    if not manifest.is_file():
        return None
    with manifest.open(newline="") as fh:
        rows = sorted((r for r in csv.DictReader(fh) if float(r["duration_s"]) >= seconds), key=lambda r: r["file"])
    return manifest.parent / rows[0]["file"] if rows else None


def synthetic(seconds: float, seed: int = 0) -> np.ndarray:
    """Deterministic noise plus a 450 Hz tone (a cry's pitch range), float32 at 16 kHz."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    rng = np.random.default_rng(seed)
    wave = 0.2 * np.sin(2 * np.pi * 450 * t) + rng.normal(0.0, 0.05, t.shape)
    return wave.astype(np.float32)


def bench_audio(shared: Path = SHARED) -> BenchAudio:
    """A 1 s window and a 7 s clip: a real cry when ../shared has one, else synthetic."""
    path = _long_cry(shared, CLIP_S)
    if path is not None:
        from infantcry_sdk import audio

        wave = audio.load(path, None, RATE)[: int(CLIP_S * RATE)]
        if len(wave) == int(CLIP_S * RATE):
            source = f"{path.relative_to(shared)} (first {CLIP_S:g} s, resampled to 16 kHz)"
            return BenchAudio(np.ascontiguousarray(wave[:RATE]), np.ascontiguousarray(wave), source)
    clip = synthetic(CLIP_S)
    return BenchAudio(clip[:RATE].copy(), clip, "synthetic (450 Hz tone + noise): ../shared absent")


def parity_clips(shared: Path = SHARED, per_source: int = 4) -> list[Path]:
    """Real clips for x86/ARM parity: Donate-a-Cry cries at both recorded rates, ESC-50 cries and
    non-cries (dogs, rain, speech-like sounds): varied inputs so agreement is not a fluke."""
    out: list[Path] = []
    dac = shared / "data" / "donateacry" / "manifest.csv"
    if dac.is_file():
        with dac.open(newline="") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
        for rate in ("8000", "16000"):
            out += [dac.parent / r["file"] for r in rows if r["sample_rate"] == rate][: per_source // 2]
    esc = shared / "data" / "esc50" / "esc50.csv"
    if esc.is_file():
        with esc.open(newline="") as fh:
            rows = sorted(csv.DictReader(fh), key=lambda r: r["file"])
        for cat in ("crying_baby", "dog", "rain", "laughing"):
            out += [esc.parent / r["file"] for r in rows if r["category"] == cat][:1]
    return [p for p in out if p.is_file()]
