"""The long background recordings of ``data/noise`` (dishes, running tap, exercise bike, miaowing, white
and pink noise), for mixing only.

They are not clips: they never enter the catalog, a split, training labels or a score. They are
returned whole, as long float32 arrays at the toolchain's rate, which is what
:class:`export.audio.augment.Augmenter` takes as its backgrounds (it cuts a random segment of each).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from infantcry_sdk import audio as sdk_audio

from export.constants import SAMPLE_RATE
from export.data.catalog import read_csv
from export.data.paths import NOISE_MANIFEST, DataError


@dataclass(frozen=True)
class NoiseRecording:
    name: str
    samples: np.ndarray  # float32 [n] at SAMPLE_RATE
    licence: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def load_noise(root: str | os.PathLike) -> list[NoiseRecording]:
    """Every recording ``data/noise/manifest.csv`` lists, decoded by the runtime's decoder; an empty
    list when the data root has no noise folder."""
    manifest = Path(root) / NOISE_MANIFEST
    if not manifest.is_file():
        return []
    out = []
    for r in read_csv(manifest, ("file", "name", "licence")):
        path = manifest.parent / r["file"]
        if not path.is_file():
            raise DataError(f"noise recording {path} (listed in {manifest}) is missing")
        wave = np.ascontiguousarray(sdk_audio.load(path, None, SAMPLE_RATE), dtype=np.float32)
        out.append(NoiseRecording(r["name"], wave, r["licence"]))
    return out


#: Which side of the split each noise recording serves, by its position in the manifest: a background
#: heard in training must not be the room tone of a test stream.
NOISE_SIDES = ("train", "val", "test")


def noise_for_side(root: str | os.PathLike, side: str) -> list[NoiseRecording]:
    """The recordings of one side: the manifest's rows dealt out in turn to train, val and test."""
    if side not in NOISE_SIDES:
        raise ValueError(f"side must be one of {NOISE_SIDES}, not {side!r}")
    every = load_noise(root)
    return [n for i, n in enumerate(every) if NOISE_SIDES[i % len(NOISE_SIDES)] == side]
