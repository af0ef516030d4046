"""Home-like augmentation: deterministic, bounded, and it really changes level, band and room."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("audiomentations", reason="audiomentations is part of the toolchain extra")
pytest.importorskip("pyroomacoustics", reason="pyroomacoustics is part of the toolchain extra")

from export.audio.home_augment import HomeAugmentConfig, HomeAugmenter, room_impulse_responses  # noqa: E402

SR = 16000


def _tone() -> np.ndarray:
    t = np.arange(SR * 2) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.3)).astype(np.float32)


def test_same_generator_same_output_and_bounded() -> None:
    aug = HomeAugmenter([np.random.default_rng(0).normal(0, 0.1, SR * 3).astype(np.float32)], HomeAugmentConfig(n_rooms=4))
    a = [aug(_tone(), np.random.default_rng(7)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])
    outs = [aug(_tone(), np.random.default_rng(s)) for s in range(20)]
    for y in outs:
        assert y.dtype == np.float32 and y.shape == _tone().shape and np.all(np.isfinite(y)) and np.abs(y).max() <= 1.0
    levels = [20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) + 1e-12) for y in outs]
    assert max(levels) - min(levels) > 10.0  # the +-20 dB gain is really applied


def test_telephone_band_removes_the_top_octave() -> None:
    cfg = HomeAugmentConfig(p_reverb=0.0, p_background=0.0, p_telephone=1.0, p_lowpass=0.0, p_tilt=0.0,
                            gain_db=(0.0, 0.0), noise_floor_dbfs=(-120.0, -119.0))
    aug = HomeAugmenter([], cfg)
    noise = np.random.default_rng(1).normal(0, 0.1, SR * 2).astype(np.float32)
    y = aug(noise, np.random.default_rng(0))
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / SR)
    assert spec[freqs > 4500].sum() < 1e-3 * spec[freqs < 3500].sum()


def test_rooms_are_real_impulse_responses() -> None:
    rirs = room_impulse_responses(3, seed=0)
    assert len(rirs) == 3
    for r in rirs:
        assert r.dtype == np.float32 and np.abs(r).max() == pytest.approx(1.0) and r.size > 800


def test_background_needed_when_mixing() -> None:
    with pytest.raises(ValueError, match="background"):
        HomeAugmenter([], HomeAugmentConfig(p_reverb=0.0))


def test_baby_like_stand_in_keeps_length_and_raises_pitch() -> None:
    from export.audio.home_augment import baby_like_stand_in

    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    y = baby_like_stand_in(tone, np.random.default_rng(0))
    assert y.shape == tone.shape and y.dtype == np.float32
    peak_hz = np.fft.rfftfreq(y.size, 1 / SR)[np.argmax(np.abs(np.fft.rfft(y)))]
    assert 300 * 2 ** (2.5 / 12) < peak_hz < 300 * 2 ** (7.5 / 12)
