"""Training-time augmentation: cries mixed into real backgrounds at a chosen SNR, gain and time shift.

Why: Donate-a-Cry clips are close-miked phone recordings in quiet rooms; a home monitor hears cries
across a room over a TV, a vacuum cleaner or talking. Mixing at a *measured* SNR (not a random
gain) lets the evaluation reuse :func:`mix_at_snr` to report recall against SNR on the same scale.

SNR convention: ``10 log10(P_signal_active / P_noise)``, with the signal's power taken over its active
frames only (frames within ``ACTIVE_FLOOR_DB`` of its loudest frame), so the pauses between cry
bursts do not make a clip look quieter than it sounds; the noise power is over the whole segment
that is added. Everything is numpy and deterministic given the random generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from export.constants import SAMPLE_RATE
#: Frame length for the active-power measure: 25 ms at 16 kHz, the front-end's window.
ACTIVE_FRAME = 400
#: Frames more than this far below the loudest frame count as pauses.
ACTIVE_FLOOR_DB = 30.0


def active_power(x: np.ndarray, frame: int = ACTIVE_FRAME, floor_db: float = ACTIVE_FLOOR_DB) -> float:
    """Mean power over the frames within ``floor_db`` of the loudest frame (0.0 for silence)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return 0.0
    n = max(1, x.size // frame)
    frames = x[: n * frame].reshape(n, -1) if x.size >= frame else x.reshape(1, -1)
    p = (frames ** 2).mean(axis=1)
    top = p.max()
    if top <= 0.0:
        return 0.0
    return float(p[p >= top * 10.0 ** (-floor_db / 10.0)].mean())


def fit_length(noise: np.ndarray, n: int, offset: int = 0) -> np.ndarray:
    """``n`` samples of ``noise`` from ``offset``, looping it when it is shorter (backgrounds are
    stationary enough that a loop is inaudible in a 5 s ESC-50 clip)."""
    noise = np.asarray(noise, dtype=np.float32)
    if noise.size == 0:
        raise ValueError("noise is empty.")
    idx = (np.arange(n) + offset) % noise.size
    return noise[idx]


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal + g * noise`` with ``g`` set so that the SNR (see module doc) is ``snr_db``.

    ``noise`` is looped or cut to the signal's length (from its start; pick a random offset with
    :func:`fit_length` first if you want one). The result is float32 and NOT clipped: the SNR is
    exact; callers that feed a model clip to [-1, 1] (the :class:`Augmenter` does). A silent signal
    or silent noise returns the signal unchanged.
    """
    signal = np.asarray(signal, dtype=np.float32)
    if not np.isfinite(snr_db):
        raise ValueError(f"snr_db must be finite, not {snr_db}.")
    seg = fit_length(noise, signal.size)
    ps = active_power(signal)
    pn = float(np.mean(seg.astype(np.float64) ** 2))
    if ps <= 0.0 or pn <= 0.0:
        return signal.copy()
    g = np.sqrt(ps / (pn * 10.0 ** (snr_db / 10.0)))
    return (signal.astype(np.float64) + g * seg).astype(np.float32)


def random_crop(wave: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``n`` samples: a random window of a longer clip, or a shorter clip zero-padded at a
    random position (so a short cry is not always at the start)."""
    wave = np.asarray(wave, dtype=np.float32)
    if n <= 0:
        raise ValueError(f"n must be positive, not {n}.")
    if wave.size >= n:
        start = int(rng.integers(0, wave.size - n + 1))
        return wave[start:start + n].copy()
    out = np.zeros(n, dtype=np.float32)
    start = int(rng.integers(0, n - wave.size + 1))
    out[start:start + wave.size] = wave
    return out


def time_shift(wave: np.ndarray, shift: int, mode: str = "roll") -> np.ndarray:
    """Shift by ``shift`` samples (positive = later): circular ("roll") or with zeros ("zero")."""
    wave = np.asarray(wave, dtype=np.float32)
    if mode == "roll":
        return np.roll(wave, shift)
    if mode != "zero":
        raise ValueError(f"mode must be 'roll' or 'zero', not {mode!r}.")
    out = np.zeros_like(wave)
    if abs(shift) >= wave.size:
        return out
    if shift >= 0:
        out[shift:] = wave[: wave.size - shift]
    else:
        out[: wave.size + shift] = wave[-shift:]
    return out


@dataclass(frozen=True)
class AugmentInfo:
    """What one call did (for tests and for logging a sample of the training stream)."""

    shift: int
    noise_index: int | None  # index into noise_clips, None when no noise was mixed
    snr_db: float | None
    gain_db: float


class Augmenter:
    """Shift, mix into a background at a random SNR, random gain, clip to [-1, 1].

    ``noise_clips`` must come from the TRAINING side of the split only (see
    :func:`export.data.catalog.background_clips`): a test background heard in training inflates the test
    score. Deterministic: the same seed (or the same generator state passed to :meth:`apply`)
    gives the same output.
    """

    def __init__(
        self,
        noise_clips: Sequence[np.ndarray],
        snr_db: tuple[float, float] = (-5.0, 20.0),
        gain_db: tuple[float, float] = (-6.0, 6.0),
        max_shift_s: float = 0.5,
        p_noise: float = 0.8,
        seed: int = 0,
        shift_mode: str = "roll",
        sample_rate: int = SAMPLE_RATE,
    ) -> None:
        if snr_db[0] > snr_db[1] or gain_db[0] > gain_db[1]:
            raise ValueError(f"ranges must be (low, high): snr_db={snr_db}, gain_db={gain_db}.")
        if not 0.0 <= p_noise <= 1.0:
            raise ValueError(f"p_noise must be in [0, 1], not {p_noise}.")
        if p_noise > 0 and not noise_clips:
            raise ValueError("p_noise > 0 needs at least one noise clip.")
        if shift_mode not in ("roll", "zero"):
            raise ValueError(f"shift_mode must be 'roll' or 'zero', not {shift_mode!r}.")
        self.noise_clips = [np.asarray(n, dtype=np.float32) for n in noise_clips]
        if any(n.size == 0 for n in self.noise_clips):
            raise ValueError("a noise clip is empty.")
        self.snr_db = (float(snr_db[0]), float(snr_db[1]))
        self.gain_db = (float(gain_db[0]), float(gain_db[1]))
        self.max_shift = int(round(max_shift_s * sample_rate))
        self.p_noise = float(p_noise)
        self.shift_mode = shift_mode
        self.rng = np.random.default_rng(seed)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return self.apply(wave, rng)[0]

    def apply(self, wave: np.ndarray, rng: np.random.Generator | None = None) -> tuple[np.ndarray, AugmentInfo]:
        """Augment one clip; uses ``rng`` if given, else the augmenter's own seeded generator."""
        rng = rng if rng is not None else self.rng
        x = np.asarray(wave, dtype=np.float32)
        shift = int(rng.integers(-self.max_shift, self.max_shift + 1)) if self.max_shift > 0 else 0
        if shift:
            x = time_shift(x, shift, self.shift_mode)
        noise_index = snr = None
        if self.p_noise > 0 and rng.random() < self.p_noise:
            noise_index = int(rng.integers(len(self.noise_clips)))
            noise = self.noise_clips[noise_index]
            offset = int(rng.integers(noise.size))
            snr = float(rng.uniform(*self.snr_db))
            x = mix_at_snr(x, fit_length(noise, x.size, offset), snr)
        gain = float(rng.uniform(*self.gain_db))
        x = np.clip(x * np.float32(10.0 ** (gain / 20.0)), -1.0, 1.0).astype(np.float32)
        return x, AugmentInfo(shift=shift, noise_index=noise_index, snr_db=snr, gain_db=gain)
