"""Numbers and file names that every part of the toolchain and the benchmarks agree on (no torch here).

The sample rate and YAMNet's framing are properties of the model family, not of one module: the
front-end, the data loader, the augmenter, the exporter and the benchmarks all read them from here.
"""
from __future__ import annotations

from pathlib import Path

#: Every waveform in the toolchain is mono float32 at this rate (the contract's sample rate).
SAMPLE_RATE = 16_000
#: YAMNet's front-end: 25 ms analysis window, 10 ms hop.
WINDOW_SAMPLES = 400
HOP_SAMPLES = 160
#: YAMNet's patches: 96 log-mel frames (0.96 s), hop 48 frames (0.48 s).
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
#: Samples that make exactly one patch: (96 - 1) * 160 + 400 = 15600 (0.975 s), YAMNet's input size.
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES
#: Samples between YAMNet's patch starts (0.48 s).
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * HOP_SAMPLES

#: YAMNet's files, relative to the data root (the ../shared layout).
YAMNET_DIR = Path("models/yamnet")
YAMNET_TFLITE = YAMNET_DIR / "yamnet.tflite"
YAMNET_SPECTRA_TFLITE = YAMNET_DIR / "yamnet_spectra_in.tflite"
YAMNET_CLASS_MAP = YAMNET_DIR / "yamnet_class_map.csv"
