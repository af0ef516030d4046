"""Home-like augmentation: deterministic, bounded, and it really changes level, band and room."""
from __future__ import annotations

import numpy as np
import pytest
import soxr

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


def test_amr_round_trip_is_a_lossy_8khz_codec_of_the_same_length() -> None:
    pytest.importorskip("av", reason="PyAV is part of the toolchain extra")
    from export.audio.home_augment import AMR_NB_BIT_RATES, amr_nb_round_trip

    x = _tone()
    band_limited = soxr.resample(soxr.resample(x, SR, 8000), 8000, SR)[: x.size]
    errors = []
    for rate in (AMR_NB_BIT_RATES[0], AMR_NB_BIT_RATES[-1]):
        y = amr_nb_round_trip(x, rate)
        assert y.dtype == np.float32 and y.shape == x.shape and np.all(np.isfinite(y))
        spec = np.abs(np.fft.rfft(y)) ** 2
        freqs = np.fft.rfftfreq(y.size, 1 / SR)
        assert spec[freqs > 4500].sum() < 1e-3 * spec[freqs < 3500].sum()  # an 8 kHz codec
        assert np.sqrt(np.mean(y**2)) > 0.3 * np.sqrt(np.mean(x**2))  # the tone survives
        errors.append(float(np.mean((y - band_limited) ** 2)))
    assert errors[0] > errors[1] > 0.0  # lossy, and more so at 4.75 than at 12.2 kbit/s


def test_codec_step_is_drawn_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("av", reason="PyAV is part of the toolchain extra")
    import export.audio.home_augment as home_augment

    quiet = dict(p_reverb=0.0, p_background=0.0, p_telephone=0.0, p_lowpass=0.0, p_tilt=0.0, gain_db=(0.0, 0.0))

    def after_call(p_codec: float) -> tuple[np.ndarray, float]:
        """The chain's output and the generator's next draw after it."""
        rng = np.random.default_rng(3)
        return HomeAugmenter([], HomeAugmentConfig(**quiet, p_codec=p_codec))(_tone(), rng), float(rng.random())

    on, _ = after_call(1.0)
    never_applied, draw_when_rolled = after_call(1e-300)  # the codec's roll is drawn but never passes
    with monkeypatch.context() as m:
        m.setattr(home_augment, "amr_nb_round_trip", lambda *a: pytest.fail("codec called with p_codec 0"))
        off, draw_when_off = after_call(0.0)
    assert np.array_equal(off, never_applied) and not np.allclose(on, off, atol=1e-3)
    assert draw_when_off != draw_when_rolled  # p_codec 0 draws nothing, so the chain's other draws are unchanged


def test_a_per_call_snr_range_replaces_the_configs_and_leaves_every_other_draw_as_it_was() -> None:
    """``DistillConfig.cry_snr_db`` mixes the student's cry crops at another SNR through the same chain:
    the call draws the SNR from the generator as the config's range does, so the generator ends in the
    same state and only the background's level differs."""
    quiet = dict(p_reverb=0.0, p_background=1.0, p_telephone=0.0, p_lowpass=0.0, p_tilt=0.0, p_clip=0.0,
                 gain_db=(0.0, 0.0), noise_floor_dbfs=(-120.0, -119.0))
    background = np.random.default_rng(3).normal(0, 0.1, SR * 3).astype(np.float32)
    aug = HomeAugmenter([background], HomeAugmentConfig(**quiet, snr_db=(-5.0, -4.999)))

    def run(snr_db):
        rng = np.random.default_rng(11)
        return aug(_tone() * np.float32(0.1), rng, snr_db=snr_db), float(rng.random())

    as_config, after_config = run(None)
    same, after_same = run((-5.0, -4.999))
    loud_cry, after_loud = run((20.0, 20.001))
    assert np.array_equal(as_config, same) and after_config == after_same == after_loud
    residual = lambda y: float(np.mean((y.astype(np.float64) - _tone() * 0.1) ** 2))  # noqa: E731
    assert 10 * np.log10(residual(as_config) / residual(loud_cry)) == pytest.approx(25.0, abs=0.1)
