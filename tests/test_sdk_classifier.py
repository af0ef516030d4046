"""CryClassifier.predict / predict_batch: every input kind, resampling, windowing, sharing."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf
import soxr

from infantcry_sdk import AudioError, CryClassifier, CryPrediction, InfantCryError, contract
from infantcry_sdk import audio as audio_mod
from infantcry_sdk.windows import WindowGrid

SUPPORTED = {contract.KEY_CAUSE_STATUS: contract.CAUSE_SUPPORTED,
             contract.KEY_CAUSE_STATUS_REASON: "permutation test p=0.001 (test fixture)"}

SR = 16000


@pytest.fixture(scope="module")
def clip(synth_cry) -> np.ndarray:
    """3 s at 16 kHz: 1 s of near-silence, then a cry."""
    return synth_cry(SR, 3.0, bursts=((1.0, None),))


def _same(a: CryPrediction, b: CryPrediction, tol: float = 1e-6) -> None:
    assert a.is_cry == b.is_cry and a.cause == b.cause and a.windows == b.windows
    assert a.cry_probability == pytest.approx(b.cry_probability, abs=tol)
    for k in a.cause_probabilities:
        assert a.cause_probabilities[k] == pytest.approx(b.cause_probabilities[k], abs=tol)


@pytest.fixture(scope="module")
def supported(toy_model_factory) -> CryClassifier:
    """The default toy model, its cause head marked as having passed the toolchain's test."""
    return CryClassifier.load(toy_model_factory("supported", metadata_overrides=SUPPORTED))


def test_prediction_fields(supported, clip):
    toy_classifier = supported
    p = toy_classifier.predict(clip, SR)
    assert p.is_cry and p.cry_probability > 0.99
    assert p.cause in toy_classifier.labels and p.confident
    assert p.cause_status == "supported" and "p=0.001" in p.cause_status_reason
    assert set(p.cause_probabilities) == set(toy_classifier.labels)
    assert sum(p.cause_probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert p.duration_s == pytest.approx(3.0) and p.windows == 5  # 0, .5, 1, 1.5, 2 s
    d = p.to_dict()
    assert d["cause"] == p.cause and d["windows"] == 5 and d["cause_probabilities"] == p.cause_probabilities
    with pytest.raises(AttributeError):
        p.is_cry = False  # frozen


def test_silence_is_not_a_cry(toy_classifier):
    p = toy_classifier.predict(np.zeros(SR, np.float32), SR)
    assert not p.is_cry and p.cause is None
    assert sum(p.cause_probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_cause_none_when_not_confident(toy_model_factory, clip):
    clf = CryClassifier.load(toy_model_factory("picky", cause_min_confidence=0.99, metadata_overrides=SUPPORTED))
    p = clf.predict(clip, SR)
    assert p.is_cry and p.cause is None and not p.confident


@pytest.mark.parametrize("status", [None, contract.CAUSE_UNSUPPORTED])
def test_unsupported_cause_head_never_answers(toy_model_factory, synth_cry, status):
    """A model that does not record a passed cause test abstains on every clip, and says why."""
    overrides = {} if status is None else {contract.KEY_CAUSE_STATUS: status,
                                           contract.KEY_CAUSE_STATUS_REASON: "p=0.41 against chance"}
    clf = CryClassifier.load(toy_model_factory("abstains", cause_min_confidence=0.0, metadata_overrides=overrides))
    clips = [synth_cry(SR, 1.0 + 0.5 * i, level=0.05 * (i + 1), seed=i) for i in range(6)]
    preds = clf.predict_batch(clips, sample_rate=SR)
    assert any(p.is_cry for p in preds)
    for p in preds:
        assert p.cause is None and not p.confident and p.cause_status == "unsupported"
        assert p.to_dict()["cause_status_reason"] == p.cause_status_reason
    want = "p=0.41 against chance" if status else contract.DEFAULT_CAUSE_STATUS_REASON
    assert preds[0].cause_status_reason == want


# -- input kinds --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_files(toy_classifier, clip, tmp_path, fmt, subtype):
    path = tmp_path / f"clip.{fmt.lower()}"
    sf.write(path, clip, SR, format=fmt, subtype=subtype)
    from_file = toy_classifier.predict(path)
    from_str = toy_classifier.predict(str(path))
    ref = toy_classifier.predict(clip, SR)
    _same(from_file, from_str)
    tol = 0.02 if fmt == "OGG" else 1e-3  # lossy codec
    assert from_file.cry_probability == pytest.approx(ref.cry_probability, abs=tol)
    assert from_file.windows == ref.windows


def test_file_rate_conflict(toy_classifier, clip, tmp_path):
    path = tmp_path / "clip.wav"
    sf.write(path, clip, SR)
    toy_classifier.predict(path, sample_rate=SR)  # agreeing rate is fine
    with pytest.raises(AudioError, match="omit sample_rate"):
        toy_classifier.predict(path, sample_rate=8000)


def test_stereo_file_is_mixed_down(toy_classifier, clip, tmp_path):
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([clip, clip], axis=1), SR, subtype="FLOAT")
    _same(toy_classifier.predict(path), toy_classifier.predict(clip, SR))


def test_array_dtypes(toy_classifier, clip):
    ref = toy_classifier.predict(clip, SR)
    _same(toy_classifier.predict(clip.astype(np.float64), SR), ref)
    i16 = np.round(clip * 32767).astype(np.int16)
    i32 = i16.astype(np.int32) << 16
    _same(toy_classifier.predict(i16, SR), ref, tol=1e-3)
    _same(toy_classifier.predict(i32, SR), toy_classifier.predict(i16, SR))


def test_stereo_array(toy_classifier, clip):
    stereo = np.stack([clip, clip * 0.5], axis=1)
    _same(toy_classifier.predict(stereo, SR), toy_classifier.predict(clip * 0.75, SR))


@pytest.mark.parametrize(
    "audio, rate, message",
    [
        (np.zeros(SR, np.int8), SR, "dtype int8"),
        (np.zeros(SR, np.complex64), SR, "dtype complex64"),
        (np.zeros((2, SR), np.float32), SR, r"\[channels, samples\].*\.T"),
        (np.zeros((SR, 2, 1), np.float32), SR, "shape"),
        (np.zeros(0, np.float32), SR, "empty"),
        (np.full(SR, np.nan, np.float32), SR, "NaN"),
        (np.concatenate([np.zeros(SR, np.float32), [np.inf]]), SR, "NaN or Inf"),
        (np.zeros(SR, np.float32), None, "sample_rate is required"),
        (np.zeros(SR, np.float32), 0, "positive integer"),
        (np.zeros(SR, np.float32), 16000.5, "positive integer"),
        ([0.0] * SR, SR, "numpy array or a file path"),
        (np.zeros(1000, np.float32), SR, r"at least 0\.250 s"),  # too short: min_samples = 4000
    ],
)
def test_bad_arrays(toy_classifier, audio, rate, message):
    with pytest.raises(AudioError, match=message):
        toy_classifier.predict(audio, rate)


def test_too_short_after_resampling(toy_classifier):
    toy_classifier.predict(np.zeros(4000, np.float32), SR)  # exactly min_samples: fine
    with pytest.raises(AudioError, match="0.249 s"):
        toy_classifier.predict(np.zeros(1992, np.float32), 8000)  # 3984 samples at 16 kHz


def test_bad_files(toy_classifier, tmp_path):
    with pytest.raises(AudioError, match="not found"):
        toy_classifier.predict(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        toy_classifier.predict(empty)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 20)
    with pytest.raises(AudioError, match="cannot decode"):
        toy_classifier.predict(corrupt)


def test_huge_file_refused_before_decoding(toy_classifier, tmp_path, monkeypatch):
    path = tmp_path / "big.wav"
    sf.write(path, np.zeros(SR, np.float32), SR)
    monkeypatch.setattr(audio_mod, "MAX_FILE_BYTES", 1000)
    with pytest.raises(AudioError, match="over the .* limit"):
        toy_classifier.predict(path)


def test_errors_are_infantcry_errors(toy_classifier):
    with pytest.raises(InfantCryError):
        toy_classifier.predict(np.zeros(3, np.float32), SR)


# -- resampling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("level", [0.06, 0.3])
def test_resampling_equivalence(toy_classifier, synth_cry, level):
    """The same band-limited cry at 8, 16, 44.1 and 48 kHz scores within 0.02."""
    preds = {rate: toy_classifier.predict(synth_cry(rate, 2.3, level=level, noise=0.0), rate) for rate in (8000, 16000, 44100, 48000)}
    ref = preds[16000]
    if level < 0.1:
        assert 0.2 < ref.cry_probability < 0.9  # not saturated: the comparison means something
    for rate, p in preds.items():
        assert p.windows == ref.windows, rate
        assert p.cry_probability == pytest.approx(ref.cry_probability, abs=0.02), rate
        for k, v in ref.cause_probabilities.items():
            assert p.cause_probabilities[k] == pytest.approx(v, abs=0.02), (rate, k)


# -- windowing and aggregation ------------------------------------------------------------------
def test_predict_windows_follow_the_grid(toy_classifier, synth_cry):
    """A partial last window holds only the clip's tail; the count is the grid's."""
    g = toy_classifier.grid
    assert (g.window, g.hop, g.tail, g.context_before, g.context_after) == (16000, 8000, 1, 0, 0)
    for n in (4000, 16000, 16001, 24000, 24001, 37777):
        x = synth_cry(SR, n / SR)
        assert toy_classifier.predict(x, SR).windows == g.count(n)
    x = synth_cry(SR, 37777 / SR, level=0.1)
    cry, _ = toy_classifier._score(x)
    partial, _ = toy_classifier.score_windows(x[None, 24000:])
    assert cry[-1] == pytest.approx(partial[0], abs=1e-7)


def test_long_clip_aggregation(toy_classifier, clip):
    """cry = max over windows; causes = mean over the crying windows."""
    m = toy_classifier.metadata
    starts = toy_classifier.grid.starts(len(clip))
    rows = np.stack([clip[s : s + m.window_samples] for s in starts])
    cry, causes = toy_classifier.score_windows(rows)
    assert cry.min() < m.detection_threshold <= cry.max()  # the clip has quiet and crying windows
    p = toy_classifier.predict(clip, SR)
    assert p.cry_probability == pytest.approx(cry.max(), abs=1e-7)
    expected = causes[cry >= m.detection_threshold].mean(axis=0)
    assert list(p.cause_probabilities.values()) == pytest.approx(list(expected), abs=1e-7)


def test_quiet_clip_causes_average_all_windows(toy_classifier):
    quiet = (0.001 * np.random.default_rng(1).standard_normal(3 * SR)).astype(np.float32)
    m = toy_classifier.metadata
    starts = toy_classifier.grid.starts(len(quiet))
    _, causes = toy_classifier.score_windows(np.stack([quiet[s : s + m.window_samples] for s in starts]))
    p = toy_classifier.predict(quiet, SR)
    assert not p.is_cry
    assert list(p.cause_probabilities.values()) == pytest.approx(list(causes.mean(axis=0)), abs=1e-7)


def test_batch_limit_splits_runs(toy_classifier, clip, monkeypatch):
    ref = toy_classifier.predict(clip, SR)
    import infantcry_sdk.classifier as cmod

    monkeypatch.setattr(cmod, "MAX_BATCH_SAMPLES", 2 * SR)  # two windows per session.run
    _same(toy_classifier.predict(clip, SR), ref)


def test_predict_batch_matches_predict(toy_classifier, clip, tmp_path):
    path = tmp_path / "c.wav"
    sf.write(path, clip, SR, subtype="FLOAT")
    arrays = [clip, clip[:5000], np.zeros(SR, np.float32), clip[:5000] * 0.5]
    batch = toy_classifier.predict_batch(arrays + [path], sample_rate=SR)  # the file agrees with SR
    for a, b in zip(batch, arrays):
        _same(a, toy_classifier.predict(b, SR))
    _same(batch[-1], toy_classifier.predict(path))
    assert toy_classifier.predict_batch([]) == []
    _same(toy_classifier.predict_batch([path])[0], toy_classifier.predict(path))
    with pytest.raises(AudioError, match="clip 1"):
        toy_classifier.predict_batch([clip, np.zeros(10, np.float32)], sample_rate=SR)
    with pytest.raises(AudioError, match="list of clips"):
        toy_classifier.predict_batch(clip, sample_rate=SR)


# -- sharing ------------------------------------------------------------------------------------
def test_threads_share_one_classifier(toy_classifier, synth_cry):
    """8 threads x 200 predictions give exactly the single-thread results."""
    clips = [synth_cry(SR, 0.5 + 0.25 * i, level=0.02 * (i + 1), seed=i) for i in range(8)]
    expected = [toy_classifier.predict(c, SR) for c in clips]
    failures: list[str] = []

    def work(k: int) -> None:
        for j in range(200):
            i = (k + j) % len(clips)
            if toy_classifier.predict(clips[i], SR) != expected[i]:
                failures.append(f"thread {k} call {j} clip {i}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[:5]


def test_resample_helper_is_soxr(clip):
    """The SDK resamples exactly as audio.resample (soxr, the one recipe): one implementation everywhere."""
    assert audio_mod.RESAMPLE_QUALITY == "VHQ"
    np.testing.assert_array_equal(audio_mod.load(clip, SR, 8000), soxr.resample(clip, SR, 8000, quality="VHQ"))


# -- red-team regressions -----------------------------------------------------------------------
@pytest.mark.parametrize("rate", [np.int16(16000), np.uint16(16000), np.int32(16000), np.int64(16000), np.uint32(16000)])
def test_numpy_integer_sample_rates(toy_classifier, clip, rate):
    """np.int16(16000) used to overflow the length check ("0.0 h long"); np.uint16 refused > 2.56 s."""
    _same(toy_classifier.predict(clip, rate), toy_classifier.predict(clip, SR))
    long = np.zeros(5 * SR, np.float32)
    assert toy_classifier.predict(long, rate).duration_s == 5.0
    assert toy_classifier.stream(sample_rate=rate).sample_rate == SR


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_and_masked_arrays_are_refused(toy_classifier, clip):
    masked = np.ma.masked_invalid(np.concatenate([clip, [np.nan, np.inf]]).astype(np.float32))
    for bad, message in [(np.asmatrix(clip), "np.matrix"), (np.asmatrix(clip).T, "np.matrix"), (masked, "masked")]:
        with pytest.raises(AudioError, match=message):
            toy_classifier.predict(bad, SR)
        stream = toy_classifier.stream()
        with pytest.raises(AudioError, match=message):
            stream.push(bad)
        assert stream.samples_seen == 0


@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i2", ">i4", "<f4", "<i2"])
def test_byte_swapped_dtypes_are_the_same_samples(toy_classifier, clip, dtype):
    native = np.dtype(dtype).newbyteorder("=")
    x = clip if native.kind == "f" else np.round(clip * 32767).astype(np.int16)
    x = x.astype(native)
    if native == np.int32:
        x = x << 16
    _same(toy_classifier.predict(x.astype(dtype), SR), toy_classifier.predict(x, SR), tol=0)


def _forbid_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("decoded a file that should have been refused from its header")

    monkeypatch.setattr(sf.SoundFile, "read", refuse)


def test_decoded_size_is_checked_from_the_header(toy_classifier, tmp_path, monkeypatch):
    """A small FLAC of many-channel silence decodes to far more than its size: refused unread."""
    path = tmp_path / "wide.flac"
    sf.write(path, np.zeros((2 * SR, 8), np.int16), SR, subtype="PCM_16")
    assert path.stat().st_size < 20_000  # 1 MB decoded
    monkeypatch.setattr(audio_mod, "MAX_DECODED_BYTES", 500_000)
    _forbid_decoding(monkeypatch)
    with pytest.raises(AudioError, match="decodes to 1 MiB .8 channels.*over the 0 MiB limit"):
        toy_classifier.predict(path)


def test_duration_limit_is_checked_from_the_header(toy_classifier, tmp_path, monkeypatch):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(3 * SR, np.int16), SR)
    monkeypatch.setattr(audio_mod, "MAX_SECONDS", 2)
    _forbid_decoding(monkeypatch)
    with pytest.raises(AudioError, match="h limit"):
        toy_classifier.predict(path)


def test_files_decode_in_blocks(tmp_path):
    """Decoding holds the mono result and one block, not every channel of the file at once."""
    import tracemalloc

    rate, seconds, channels = 48000, 20, 8
    path = tmp_path / "many.flac"
    noise = (np.random.default_rng(0).standard_normal((rate * seconds, channels)) * 1000).astype(np.int16)
    sf.write(path, noise, rate, subtype="PCM_16")
    del noise
    tracemalloc.start()
    try:
        samples, got_rate = audio_mod.read_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    mono_bytes = rate * seconds * 4
    assert got_rate == rate and samples.shape == (rate * seconds,)
    assert peak < 2.5 * mono_bytes, f"peak {peak / 2**20:.1f} MiB for a {mono_bytes / 2**20:.1f} MiB result"
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_allclose(samples, ref.mean(axis=1), atol=1e-7)
