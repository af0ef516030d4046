"""export.audio.augment: realised SNR, determinism, shapes and clipping."""
from __future__ import annotations

import numpy as np
import pytest

from export.audio.augment import (
    Augmenter, active_power, fit_length, mix_at_snr, random_crop, time_shift,
)


def _bursty(n: int = 32000, seed: int = 0) -> np.ndarray:
    """Tone bursts with silent gaps: active power must ignore the gaps."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * 450 * t)
    x[(t % 1.0) > 0.5] = 0.0
    return (x + 1e-5 * rng.standard_normal(n)).astype(np.float32)


def _noise(n: int, seed: int = 1) -> np.ndarray:
    return (0.05 * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_active_power_ignores_pauses() -> None:
    x = _bursty()
    assert active_power(x) == pytest.approx(0.3 ** 2 / 2, rel=0.02)
    assert np.mean(x.astype(np.float64) ** 2) == pytest.approx(0.3 ** 2 / 4, rel=0.05)
    assert active_power(np.zeros(1000, np.float32)) == 0.0


@pytest.mark.parametrize("snr", [-5.0, 0.0, 7.5, 20.0])
def test_mix_at_snr_realises_requested_snr(snr: float) -> None:
    s = _bursty()
    n = _noise(10000)  # shorter than the signal: looped
    mix = mix_at_snr(s, n, snr)
    assert mix.dtype == np.float32 and mix.shape == s.shape
    added = mix.astype(np.float64) - s
    realised = 10 * np.log10(active_power(s) / np.mean(added ** 2))
    assert realised == pytest.approx(snr, abs=0.01)


def test_mix_at_snr_degenerate_inputs() -> None:
    s = _bursty(4000)
    np.testing.assert_array_equal(mix_at_snr(s, np.zeros(100, np.float32), 0.0), s)
    z = np.zeros(4000, np.float32)
    np.testing.assert_array_equal(mix_at_snr(z, _noise(100), 0.0), z)
    with pytest.raises(ValueError):
        mix_at_snr(s, _noise(100), float("nan"))


def test_fit_length_loops_with_offset() -> None:
    n = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(fit_length(n, 7, offset=3), [3, 4, 0, 1, 2, 3, 4])


def test_random_crop_and_pad() -> None:
    rng = np.random.default_rng(0)
    x = np.arange(1, 101, dtype=np.float32)
    c = random_crop(x, 40, rng)
    assert c.shape == (40,) and np.all(np.diff(c) == 1) and c[0] >= 1
    p = random_crop(x, 150, rng)
    assert p.shape == (150,) and np.count_nonzero(p) == 100
    nz = np.flatnonzero(p)
    np.testing.assert_array_equal(p[nz[0]:nz[-1] + 1], x)


def test_time_shift_modes() -> None:
    x = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(time_shift(x, 2, "roll"), [4, 5, 1, 2, 3])
    np.testing.assert_array_equal(time_shift(x, 2, "zero"), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(time_shift(x, -2, "zero"), [3, 4, 5, 0, 0])
    np.testing.assert_array_equal(time_shift(x, 9, "zero"), np.zeros(5))


def test_augmenter_deterministic_bounded_and_reports_snr() -> None:
    noises = [_noise(20000, seed=i) for i in range(3)]
    s = _bursty()
    a1 = Augmenter(noises, seed=7, p_noise=1.0, max_shift_s=0.2)
    a2 = Augmenter(noises, seed=7, p_noise=1.0, max_shift_s=0.2)
    outs1 = [a1.apply(s) for _ in range(5)]
    outs2 = [a2.apply(s) for _ in range(5)]
    for (x1, i1), (x2, i2) in zip(outs1, outs2):
        np.testing.assert_array_equal(x1, x2)
        assert i1 == i2
        assert x1.dtype == np.float32 and x1.shape == s.shape
        assert np.abs(x1).max() <= 1.0
        assert -5.0 <= i1.snr_db <= 20.0 and -6.0 <= i1.gain_db <= 6.0
        assert abs(i1.shift) <= 3200 and i1.noise_index in (0, 1, 2)
    assert not np.array_equal(outs1[0][0], outs1[1][0])
    # an explicit generator gives the same result regardless of the augmenter's own state
    r = a1.apply(s, np.random.default_rng(5))[0]
    np.testing.assert_array_equal(r, a2.apply(s, np.random.default_rng(5))[0])
    # the input is never modified
    np.testing.assert_array_equal(s, _bursty())


def test_augmenter_without_noise_is_gain_and_shift_only() -> None:
    s = _bursty(8000)
    a = Augmenter([], p_noise=0.0, max_shift_s=0.0, gain_db=(6.0, 6.0))
    out, info = a.apply(s)
    assert info.noise_index is None and info.snr_db is None and info.shift == 0
    np.testing.assert_allclose(out, np.clip(s * 10 ** (6 / 20), -1, 1), rtol=1e-6)


def test_augmenter_rejects_bad_options() -> None:
    with pytest.raises(ValueError):
        Augmenter([], p_noise=0.5)
    with pytest.raises(ValueError):
        Augmenter([_noise(10)], snr_db=(10, 0))
    with pytest.raises(ValueError):
        Augmenter([np.zeros(0, np.float32)])
