"""Audio in: decode, mix down, convert and resample to what the model expects.

The single implementation used everywhere: the runtime, the training data pipeline and the tests all
call these functions, so a clip is turned into samples the same way at training and inference time.
Only numpy, soundfile and soxr are used.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError

AudioInput = Union[str, os.PathLike, np.ndarray]

#: Files larger than this are refused before decoding (about 2 h of 16-bit stereo 48 kHz audio).
MAX_FILE_BYTES = 1 << 30
#: Files whose decoded float32 samples (frames x channels x 4 bytes, read from the header) exceed this
#: are refused before decoding: a small compressed file can hold hours of many-channel silence.
MAX_DECODED_BYTES = 1 << 30
#: Frames decoded per block: a file is mixed down block by block, so decoding holds the mono result
#: and one block, never every channel of the whole file.
DECODE_BLOCK_FRAMES = 1 << 16
#: Float samples beyond this magnitude are refused: audio is expected in [-1, 1], and values this far
#: out are almost always int PCM passed as float (e.g. int16 values in a float32 array).
MAX_ABS_SAMPLE = 16.0
#: Audio longer than this (in seconds at its own rate) is refused: 4 hours.
MAX_SECONDS = 4 * 3600

_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _too_long(frames: int, rate: int) -> AudioError:
    return AudioError(
        f"audio is {frames / rate / 3600:.1f} h long, over the {MAX_SECONDS // 3600} h limit: "
        "stream it through CryStream instead."
    )


def check_rate(sample_rate: object) -> int:
    """A sample rate as a Python int (numpy integers included), or :class:`AudioError`."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise AudioError(f"sample_rate must be a positive integer, not {sample_rate!r}.")
    rate = int(sample_rate)
    if rate < 1000 or rate > 768_000:
        raise AudioError(f"sample_rate {rate} Hz is outside 1000..768000 Hz.")
    return rate


def read_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode an audio file to float32 ``[n]`` mono and its sample rate.

    Anything libsndfile reads works (wav, flac, ogg/vorbis, ...). Multi-channel files are averaged.
    The header's frame and channel counts are checked against :data:`MAX_DECODED_BYTES` and
    :data:`MAX_SECONDS` before anything is decoded, and decoding goes block by block.
    """
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"audio file not found: {p}. Pass an existing path or a numpy array.")
    size = p.stat().st_size
    if size == 0:
        raise AudioError(f"audio file is empty: {p}.")
    if size > MAX_FILE_BYTES:
        raise AudioError(
            f"audio file is {size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES >> 20} MiB limit: {p}. "
            "Split it, or stream it through CryStream in chunks."
        )
    try:
        with sf.SoundFile(str(p)) as f:
            rate = check_rate(f.samplerate)
            frames, channels = int(f.frames), int(f.channels)
            decoded = frames * channels * 4
            if decoded > MAX_DECODED_BYTES:
                raise AudioError(
                    f"audio file {p} decodes to {decoded / 2**20:.0f} MiB ({channels} channels, "
                    f"{frames / rate / 60:.1f} min), over the {MAX_DECODED_BYTES >> 20} MiB limit. "
                    "Split it, or stream it through CryStream in chunks."
                )
            if frames > MAX_SECONDS * rate:
                raise _too_long(frames, rate)
            data = _decode_mono(f, frames, channels)
    except AudioError:
        raise
    except Exception as exc:  # libsndfile raises several types for corrupt input
        raise AudioError(f"cannot decode audio file {p}: {exc}. Use wav, flac or ogg.") from exc
    return to_mono_float32(data, rate), rate


def _decode_mono(f: sf.SoundFile, frames: int, channels: int) -> np.ndarray:
    """The file's frames as float32 mono, decoded block by block into one array."""
    out = np.empty(frames, dtype=np.float32)
    block = np.empty((min(DECODE_BLOCK_FRAMES, max(frames, 1)), channels), dtype=np.float32)
    pos = 0
    while pos < frames:
        got = f.read(min(block.shape[0], frames - pos), dtype="float32", always_2d=True, out=block[: frames - pos])
        m = got.shape[0]
        if m == 0:
            break
        if channels == 1:
            out[pos : pos + m] = got[:, 0]
        else:
            np.mean(got, axis=1, dtype=np.float32, out=out[pos : pos + m])
        pos += m
    return out[:pos]


def _plain_array(audio: object) -> np.ndarray:
    """``audio`` if it is an ndarray numpy arithmetic treats plainly, else :class:`AudioError`."""
    if isinstance(audio, np.matrix):
        raise AudioError("audio must be a plain numpy array, not np.matrix: pass np.asarray(audio).ravel().")
    if isinstance(audio, np.ma.MaskedArray):
        raise AudioError(
            "audio must be a plain numpy array, not a masked array (masked samples would be scored as "
            "whatever they hold): pass audio.filled(0.0) to score them as silence."
        )
    if not isinstance(audio, np.ndarray):
        raise AudioError(f"audio must be a numpy array or a file path, not {type(audio).__name__}.")
    return audio


def _native(dtype: np.dtype) -> np.dtype:
    """``dtype`` in native byte order (big- and little-endian arrays are the same samples)."""
    return dtype.newbyteorder("=") if dtype.byteorder in "<>" else dtype


def is_empty_chunk(chunk: object) -> bool:
    """True for an empty array of a supported dtype and shape (a stream's no-op push)."""
    a = _plain_array(chunk)
    dtype = _native(a.dtype)
    return a.size == 0 and a.ndim in (1, 2) and (dtype in _INT_SCALE or dtype in _FLOATS)


def to_mono_float32(audio: np.ndarray, sample_rate: int | None) -> np.ndarray:
    """Validate an array and return it as contiguous float32 mono ``[n]``.

    Accepts float32/float64 in [-1, 1] and int16/int32 PCM (scaled to [-1, 1]), in either byte
    order; shape ``[n]`` or ``[n, channels]`` (channels averaged). ``np.matrix`` and masked arrays
    are refused. Raises :class:`AudioError` for anything else.
    """
    audio = _plain_array(audio)
    if sample_rate is None:
        raise AudioError("sample_rate is required with an array: pass sample_rate=16000 (or the array's rate).")
    rate = check_rate(sample_rate)
    if audio.ndim == 2:
        if audio.shape[1] == 0:
            raise AudioError("audio has zero channels.")
        if audio.shape[1] > 32 and audio.shape[0] <= 32:
            raise AudioError(
                f"audio shape {audio.shape} looks like [channels, samples]; pass [samples, channels] (use .T)."
            )
    elif audio.ndim != 1:
        raise AudioError(f"audio must be [samples] or [samples, channels], got shape {audio.shape}.")
    dtype = _native(audio.dtype)
    if dtype in _INT_SCALE:
        out = audio.astype(np.float32)
        out *= np.float32(1.0 / _INT_SCALE[dtype])
    elif dtype in _FLOATS:
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf: refused below
            out = audio.astype(np.float32, copy=False)
    else:
        raise AudioError(f"audio dtype {audio.dtype} is not supported: use float32, float64, int16 or int32.")
    if out.ndim == 2:
        out = out.mean(axis=1, dtype=np.float32)
    if out.size == 0:
        raise AudioError("audio is empty.")
    if out.size > MAX_SECONDS * rate:
        raise _too_long(out.size, rate)
    lo, hi = float(out.min()), float(out.max())  # NaN propagates; +/-inf shows as a bound
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise AudioError("audio contains NaN or Inf samples.")
    peak = max(-lo, hi)
    if peak > MAX_ABS_SAMPLE:
        raise AudioError(
            f"audio peaks at {peak:.4g}, far outside [-1, 1]: float audio must be scaled to [-1, 1]. "
            "If these are int16 PCM values stored as float, divide by 32768 (or pass the int16 array)."
        )
    return np.ascontiguousarray(out, dtype=np.float32)


#: soxr's quality recipe for every resampling in the SDK (files, arrays and streams). "VHQ" runs soxr's
#: double-precision engine, whose float32 output is bit-identical on x86-64 and aarch64 (checked for
#: 8-96 kHz inputs under emulated aarch64); "HQ" runs its float SIMD engine, which differs between the
#: two by up to ~4e-7, enough to move an int8 model's input across a quantization step (1e-3 in
#: probability on an 8 kHz clip). It costs ~1.5x HQ's time, a few ms per minute of audio.
#: Part of the toolchain's cache keys: a change re-decodes the training audio.
RESAMPLE_QUALITY = "VHQ"


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample float32 mono audio with soxr (:data:`RESAMPLE_QUALITY`); a no-op when the rates match."""
    if from_rate == to_rate:
        return audio
    return soxr.resample(audio, from_rate, to_rate, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)


def load(audio: AudioInput, sample_rate: int | None, target_rate: int) -> np.ndarray:
    """Any supported input to float32 mono at ``target_rate``: the one entry point for every stage.

    For a path, the file's own rate is used and ``sample_rate`` must be None or agree with it.
    """
    if isinstance(audio, (str, os.PathLike)):
        samples, rate = read_file(audio)
        if sample_rate is not None and check_rate(sample_rate) != rate:
            raise AudioError(
                f"sample_rate={sample_rate} was given but the file {audio} is {rate} Hz; omit sample_rate for files."
            )
    else:
        samples = to_mono_float32(audio, sample_rate)
        rate = check_rate(sample_rate)
    return resample(samples, rate, target_rate)
