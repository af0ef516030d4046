"""Home-like augmentation: what a phone or monitor microphone in a room does to a sound.

Donate-a-Cry cries are close-miked phone recordings, half of them 8 kHz AMR; a monitor hears a cry
across a room, full-band, over a TV or a dishwasher. A detector trained on the raw clips can learn
"clean phone recording = cry". So cries AND negatives go through the same chain (the model must not
tell them apart by the chain), built from well-kept libraries where one fits:

* room reverb: impulse responses of random shoebox rooms simulated once with ``pyroomacoustics``;
* background mixing from -5 to 20 dB SNR with training-side negatives and household noise
  (:func:`export.audio.augment.mix_at_snr`, so the SNR means what the recall-vs-SNR curve means);
* a noise floor from -70 to -40 dBFS; gain of +-20 dB, EQ tilt (shelf filters) and a codec-like
  low-pass from ``audiomentations``; above full scale, mild clipping now and then, else a limiter;
* an 8 kHz telephone band (``soxr`` down to 8 kHz and back);
* optionally (``p_codec``, off by default) a round trip through the AMR-NB speech codec at one of its
  eight bit rates (``PyAV``'s bundled opencore encoder), the codec of Donate-a-Cry's Android uploads:
  a band limit alone does not make the codec's artefacts.

Deterministic: every call draws from the generator it is given (``audiomentations`` draws from
Python's and numpy's global generators, which are seeded from it for each call).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import soxr

from .augment import fit_length, mix_at_snr

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class HomeAugmentConfig:
    """Probabilities and ranges of each step (the issue's home conditions as defaults)."""

    p_reverb: float = 0.5
    p_background: float = 0.8
    snr_db: tuple[float, float] = (-5.0, 20.0)
    noise_floor_dbfs: tuple[float, float] = (-70.0, -40.0)
    p_telephone: float = 0.25
    p_lowpass: float = 0.2
    gain_db: tuple[float, float] = (-20.0, 20.0)
    p_tilt: float = 0.5
    p_clip: float = 0.1
    p_codec: float = 0.0  # AMR-NB round trip; 0 draws nothing, so the chain's other draws are unchanged
    n_rooms: int = 24
    seed: int = 0


def room_impulse_responses(n: int, seed: int, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
    """``n`` impulse responses of random furnished rooms (3-7 m, RT60 0.2-0.8 s), source and
    microphone 0.5-4 m apart, normalised to a unit direct path."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dims = rng.uniform([3.0, 3.0, 2.4], [7.0, 6.0, 3.0])
        rt60 = float(rng.uniform(0.2, 0.8))
        absorption, max_order = pra.inverse_sabine(rt60, dims)
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=min(max_order, 12))
        mic = rng.uniform([0.5, 0.5, 0.8], dims - 0.5)
        direction = rng.normal(size=3)
        src = np.clip(mic + direction / np.linalg.norm(direction) * rng.uniform(0.5, 4.0), 0.3, dims - 0.3)
        room.add_source(src)
        room.add_microphone(mic)
        room.compute_rir()
        rir = np.asarray(room.rir[0][0], dtype=np.float64)
        out.append((rir / (np.abs(rir).max() or 1.0)).astype(np.float32))
    return out


def _audiomentations_chain(config: HomeAugmentConfig):
    import audiomentations as A

    return A.Compose([
        A.OneOf([
            A.LowShelfFilter(min_gain_db=-9.0, max_gain_db=9.0, p=1.0),
            A.HighShelfFilter(min_gain_db=-9.0, max_gain_db=9.0, p=1.0),
        ], p=config.p_tilt),
        A.LowPassFilter(min_cutoff_freq=3000.0, max_cutoff_freq=6000.0, p=config.p_lowpass),
        A.Gain(min_gain_db=config.gain_db[0], max_gain_db=config.gain_db[1], p=1.0),
            ])


class HomeAugmenter:
    """Turns a clean clip into how it might sound in a home (see the module doc).

    ``backgrounds`` are training-side negatives and household noise only: a test background heard
    in training would inflate the test score."""

    def __init__(self, backgrounds: Sequence[np.ndarray], config: HomeAugmentConfig = HomeAugmentConfig()) -> None:
        self.config = config
        self.backgrounds = [np.asarray(b, dtype=np.float32) for b in backgrounds if np.size(b)]
        if config.p_background > 0 and not self.backgrounds:
            raise ValueError("p_background > 0 needs at least one background clip.")
        self.rooms = room_impulse_responses(config.n_rooms, config.seed) if config.p_reverb > 0 else []
        self.chain = _audiomentations_chain(config)

    def fingerprint(self) -> str:
        """What the chain's output depends on besides the generator: cached features of augmented
        audio are keyed by it, so a changed chain never reuses stale features."""
        import hashlib

        h = hashlib.sha1(repr(self.config).encode())
        for b in self.backgrounds:
            h.update(np.int64(b.size).tobytes())
            h.update(b[:: max(1, b.size // 64)].tobytes())
        return h.hexdigest()[:10]

    def __call__(self, wave: np.ndarray, rng: np.random.Generator,
                 snr_db: tuple[float, float] | None = None) -> np.ndarray:
        """``wave`` through the chain. ``snr_db`` replaces the config's background SNR range for this
        call (the student's cry crops, ``DistillConfig.cry_snr_db``); it draws from ``rng`` exactly as
        the config's range does, so every other draw of the chain is unchanged."""
        c = self.config
        snr_range = c.snr_db if snr_db is None else snr_db
        x = np.asarray(wave, dtype=np.float32)
        if self.rooms and rng.random() < c.p_reverb:
            x = self._reverb(x, self.rooms[int(rng.integers(len(self.rooms)))])
        if rng.random() < c.p_background:
            bg = self.backgrounds[int(rng.integers(len(self.backgrounds)))]
            x = mix_at_snr(x, fit_length(bg, x.size, int(rng.integers(bg.size))), float(rng.uniform(*snr_range)))
        floor = 10.0 ** (float(rng.uniform(*c.noise_floor_dbfs)) / 20.0)
        x = x + rng.normal(0.0, floor, size=x.size).astype(np.float32)
        if rng.random() < c.p_telephone:
            x = soxr.resample(soxr.resample(x, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE)[: x.size]
        if c.p_codec > 0 and rng.random() < c.p_codec:
            x = amr_nb_round_trip(x, AMR_NB_BIT_RATES[int(rng.integers(len(AMR_NB_BIT_RATES)))])
        seed = int(rng.integers(2**31))
        random.seed(seed)
        np.random.seed(seed)
        x = self.chain(samples=np.ascontiguousarray(x, dtype=np.float32), sample_rate=SAMPLE_RATE)
        peak = float(np.abs(x).max()) if x.size else 0.0
        if peak > 1.0 and rng.random() >= c.p_clip:
            x = x * np.float32(0.99 / peak)  # a recorder's limiter: loud, not clipped
        return np.clip(x, -1.0, 1.0).astype(np.float32)

    @staticmethod
    def _reverb(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
        from scipy.signal import fftconvolve

        y = fftconvolve(x, rir)[: x.size]
        peak_in, peak_out = float(np.abs(x).max() or 1.0), float(np.abs(y).max() or 1.0)
        return (y * (peak_in / peak_out)).astype(np.float32)


AMR_NB_BIT_RATES = (4750, 5150, 5900, 6700, 7400, 7950, 10200, 12200)
_AMR_FRAME = 160  # samples at 8 kHz (20 ms)


def amr_nb_round_trip(wave: np.ndarray, bit_rate: int) -> np.ndarray:
    """``wave`` (16 kHz) as an 8 kHz AMR-NB phone upload sounds once decoded, back at 16 kHz and
    the same length. The codec models speech, so a cry comes out with its harmonics smeared and the
    noise between them shaped, which an 8 kHz low-pass does not imitate."""
    import av

    x8 = soxr.resample(np.asarray(wave, dtype=np.float32), SAMPLE_RATE, 8000)
    pcm = (np.clip(x8, -1.0, 1.0) * 32767.0).astype(np.int16)
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % _AMR_FRAME + _AMR_FRAME, np.int16)])  # flush the last frame
    encoder = av.CodecContext.create("libopencore_amrnb", "w")
    encoder.sample_rate, encoder.format, encoder.layout, encoder.bit_rate = 8000, "s16", "mono", int(bit_rate)
    decoder = av.CodecContext.create("amrnb", "r")
    decoder.sample_rate, decoder.layout = 8000, "mono"
    packets = []
    for start in range(0, pcm.size, _AMR_FRAME):
        frame = av.AudioFrame.from_ndarray(pcm[None, start:start + _AMR_FRAME], format="s16", layout="mono")
        frame.sample_rate = 8000
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoded = [f.to_ndarray().reshape(-1) for p in packets for f in decoder.decode(p)]
    y8 = np.concatenate(decoded).astype(np.float32)[: x8.size] if decoded else np.zeros(x8.size, np.float32)
    y = soxr.resample(y8, 8000, SAMPLE_RATE)
    out = np.zeros(np.size(wave), np.float32)
    out[: min(out.size, y.size)] = y[: out.size]
    return out


def baby_like_stand_in(wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Laughter or a child's voice pitched up 3 to 7 semitones: a stand-in for baby laughter and babble,
    which the data does not hold (``audiomentations.PitchShift``)."""
    import audiomentations as A

    seed = int(rng.integers(2**31))
    random.seed(seed)
    np.random.seed(seed)
    shift = A.PitchShift(min_semitones=3.0, max_semitones=7.0, p=1.0)
    x = shift(samples=np.array(wave, dtype=np.float32, copy=True).reshape(1, -1), sample_rate=SAMPLE_RATE)[0]
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def training_augmenter(ctx, data_root, seed: int, config: HomeAugmentConfig = HomeAugmentConfig()) -> HomeAugmenter:
    """``config``'s chain (its seed replaced by ``seed``) over the TRAINING side's negatives (every
    source) and the training side's household noise recordings: a validation or test background is
    never heard in training. ``ctx`` is the run's :class:`export.data.context.DataContext`."""
    from export.data.catalog import background_clips
    from export.data.noise import noise_for_side

    train_ids = [c.clip_id for c in ctx.side("train")]
    backgrounds = ctx.waves(background_clips(ctx.clips, train_ids, include_speech=True))
    backgrounds += [n.samples for n in noise_for_side(data_root, "train")]
    return HomeAugmenter(backgrounds, replace(config, seed=seed))
