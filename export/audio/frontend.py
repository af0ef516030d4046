"""The one log-mel front-end: YAMNet's features, used by training, export and tests alike.

YAMNet's documented front-end, reproduced exactly:

* 16 kHz mono float waveform;
* frames of 400 samples (25 ms) every 160 samples (10 ms), periodic Hann window;
* 512-point FFT magnitude (the 400 windowed samples zero-padded to 512);
* TensorFlow's HTK ``linear_to_mel_weight_matrix``: 64 triangular bands between 125 and 7500 Hz,
  triangles linear on the mel scale ``1127 ln(1 + f/700)``, the DC bin zeroed;
* ``log(mel + 0.001)``;
* patches of 96 frames (0.96 s) with a hop of 48 frames for the YAMNet network.

Two implementations of the same formula live here: :func:`log_mel_reference` (float64 numpy with
``np.fft.rfft``, the specification) and :class:`LogMelFrontend` (torch, float32 in and out,
exportable to ONNX).

Why the torch module looks the way it does:

* no ``torch.stft``: ONNX's STFT/DFT operators are very slow in onnxruntime's CPU provider and
  missing on some mobile runtimes. The 512-point DFT is factorised (Cooley-Tukey, 512 = 16 x 32)
  into two real matrix products with the window and twiddle factors folded into the first, and the
  frames are laid out (by transposing the *waveform*, not the 2.5x larger frames) so that both
  products, and the mel matrix product after the magnitude, are large GEMMs. The DFT costs about
  44,000 multiply-adds per frame, against 188,000 for one dense windowed basis ``[400, 2 x 235]``.
  Only bins 0..239 are computed (LAST_BIN = 239); the mel matrix is applied in three band blocks
  that skip most of its zeros (see :func:`_mel_blocks`);
* about 0.25 ms per audio second in onnxruntime (float32, 1 thread; docs/decisions.md);
* no large constant in the file: the DFT factors and the mel blocks (~20,000 numbers) are built
  *inside* ``forward`` from ``arange``/``sin``, so an exported graph holds Range/Sin nodes that
  onnxruntime constant-folds at load. The dynamo exporter keeps them as nodes when its optimizer
  folds only small outputs (``export.modelfile.onnx_export`` does that; the file stays ~30 KB); the TorchScript
  exporter evaluates them while tracing (~250 KB), and an ``.ort`` conversion with constant folding
  stores them as float32 (~80 KB, the previous version ~20 KB; a dense DFT basis ~750 KB);
* constants are computed in float64 from *integer* angle indices reduced modulo the period
  (``k * n mod 512``), so no precision is lost to large float angles. ``cos`` is a
  quarter-period-shifted ``sin`` because onnxruntime has no float64 ``Cos``;
* the arithmetic runs in float64 by default (input and output are float32). In float32 the DFT's
  rounding error is about 1e-7 of the frame's magnitude in *every* bin, which is up to ~3e-3 in
  log-mel for a loud clip with near-empty bands (8 kHz uploads have nothing above 4 kHz): outside
  the 1e-4 parity with the reference. float64 costs ~4x in torch and ~2.3x in onnxruntime;
  ``LogMelFrontend(torch.float32)`` is what the student uses;
* shape arithmetic uses only ``+ - * //`` (see :func:`_int_max`) and padding is Concat, not Pad,
  so the module exports with ``torch.onnx.export`` both with ``dynamo=False`` (traced) and
  ``dynamo=True`` with dynamic batch and sample axes.

Length rules (every stage uses these, through :func:`num_frames` and :func:`num_patches`):

* frames: a waveform of ``n`` samples gives ``1 + (max(n, 400) - 400) // 160`` frames. Samples
  after the last whole frame are dropped (TensorFlow's ``pad_end=False``, as in yamnet.tflite);
  a waveform shorter than 400 samples, even empty, is zero-padded to 400 and gives one frame;
* patches: ``T`` frames give ``1 + ceil(max(T - 96, 0) / hop)`` patches. The frame axis is padded at
  the end with :data:`SILENCE_LOG_MEL` (``log(0.001)``, the log-mel of digital silence, which is
  what YAMNet's own zero padding of the waveform gives) up to a whole number of hops, so there is
  always at least one patch and no real frame is dropped.
"""
from __future__ import annotations

import itertools
import math
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from export.constants import HOP_SAMPLES, PATCH_FRAMES, PATCH_HOP_FRAMES, PATCH_SAMPLES, SAMPLE_RATE, WINDOW_SAMPLES

FFT_SIZE = 512
NUM_FFT_BINS = FFT_SIZE // 2 + 1  # 257
NUM_MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
#: The log-mel value of digital silence: what padding frames hold.
SILENCE_LOG_MEL = math.log(LOG_OFFSET)
#: Supported ``frame_stride`` values: every frame (YAMNet), every second or every third one (20 or
#: 30 ms hop). A frame (13 rows of 32 samples) must span at most three hops, see _frames_by_column.
FRAME_STRIDES = (1, 2, 3)

_MEL_BREAK_HZ = 700.0
_MEL_HIGH_Q = 1127.0

IntLike = TypeVar("IntLike", int, torch.Tensor)


def hertz_to_mel(hz: np.ndarray | float) -> np.ndarray | float:
    """HTK mel scale as TensorFlow writes it: ``1127 ln(1 + f / 700)``."""
    return _MEL_HIGH_Q * np.log1p(np.asarray(hz, dtype=np.float64) / _MEL_BREAK_HZ)


def hann_window(length: int = WINDOW_SAMPLES) -> np.ndarray:
    """Periodic Hann window (TensorFlow's and ``scipy.signal.get_window('hann')``'s default), float64."""
    n = np.arange(length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)


def mel_weight_matrix(
    num_mel_bins: int = NUM_MEL_BANDS,
    num_spectrogram_bins: int = NUM_FFT_BINS,
    sample_rate: int = SAMPLE_RATE,
    lower_edge_hertz: float = MEL_MIN_HZ,
    upper_edge_hertz: float = MEL_MAX_HZ,
) -> np.ndarray:
    """TensorFlow's ``tf.signal.linear_to_mel_weight_matrix`` in float64: ``[num_spectrogram_bins, num_mel_bins]``.

    Bin ``k`` sits at ``k * nyquist / (num_spectrogram_bins - 1)`` Hz; row 0 (DC) is zero by TF's
    HTK convention; each band is a triangle that is linear in mel between its neighbours' centres.
    """
    nyquist = sample_rate / 2.0
    freqs = np.linspace(0.0, nyquist, num_spectrogram_bins)[1:]
    bins_mel = hertz_to_mel(freqs)[:, None]
    edges = np.linspace(hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [[1, 0], [0, 0]])


def _active_bins() -> tuple[int, int]:
    """First and last FFT bin with non-zero mel weight (5 and 239 for YAMNet's parameters)."""
    nonzero = np.flatnonzero(mel_weight_matrix().sum(axis=1) > 0)
    return int(nonzero[0]), int(nonzero[-1])


FIRST_BIN, LAST_BIN = _active_bins()


# ----------------------------------------------------------------------------------------------
# Length rules
# ----------------------------------------------------------------------------------------------
def _int_max(n: IntLike, m: int) -> IntLike:
    """``max(n, m)`` for ``n >= 0`` and ``m > 0`` with only ``+ - * //``.

    ``q = n // m`` is 0 exactly when ``n < m``, and ``2 // (q + 2)`` turns that into a 0/1 indicator.
    Written this way it works on Python ints, integer tensors (elementwise), traced sizes and
    symbolic sizes, so the exported ONNX graph keeps a dynamic sample axis. (Not ``1 // (q + 1)``:
    onnxruntime's optimizer rewrites ``x * (1 / y)`` as ``x / y`` even for integers, which is wrong.)
    """
    below = 2 // (n // m + 2)
    return n + (m - n) * below


def num_frames(n_samples: IntLike, frame_stride: int = 1) -> IntLike:
    """Frames for ``n_samples`` samples: ``1 + (max(n, 400) - 400) // (160 frame_stride)`` (at least one).

    ``frame_stride`` keeps every ``frame_stride``-th frame of YAMNet's 10 ms grid (frames 0, s, 2s, ...),
    which is exactly what a hop of ``160 s`` samples gives. Works elementwise on integer tensors
    too (e.g. a batch of clip lengths).
    """
    _check_frame_stride(frame_stride)
    return (_int_max(n_samples, WINDOW_SAMPLES) - WINDOW_SAMPLES) // (HOP_SAMPLES * frame_stride) + 1


def _check_frame_stride(frame_stride: int) -> None:
    if frame_stride not in FRAME_STRIDES:
        raise ValueError(f"frame_stride must be one of {FRAME_STRIDES}, got {frame_stride!r}.")


def _padded_frames(n_frames: IntLike, patch_frames: int, hop_frames: int) -> IntLike:
    """Frames after padding the tail to a whole patch plus a whole number of hops."""
    extra = _int_max(n_frames, patch_frames) - patch_frames
    return patch_frames + hop_frames * ((extra + hop_frames - 1) // hop_frames)


def num_patches_from_frames(n_frames: IntLike, hop_frames: int = PATCH_HOP_FRAMES,
                            patch_frames: int = PATCH_FRAMES) -> IntLike:
    """Patches for ``n_frames`` frames: ``1 + ceil(max(T - 96, 0) / hop)`` (at least one)."""
    _check_hop(hop_frames, patch_frames)
    return (_padded_frames(n_frames, patch_frames, hop_frames) - patch_frames) // hop_frames + 1


def num_patches(n_samples: IntLike, hop_frames: int = PATCH_HOP_FRAMES, patch_frames: int = PATCH_FRAMES) -> IntLike:
    """Patches for ``n_samples`` samples (see the module docstring); elementwise on tensors."""
    return num_patches_from_frames(num_frames(n_samples), hop_frames, patch_frames)


def lengths_to_mask(counts: torch.Tensor, size: int) -> torch.Tensor:
    """Boolean ``[B, size]`` mask, True where ``index < counts[b]`` (a real frame or patch)."""
    return torch.arange(size, device=counts.device)[None, :] < counts[:, None]


def _check_hop(hop_frames: int, patch_frames: int) -> None:
    if not isinstance(hop_frames, int) or not isinstance(patch_frames, int):
        raise TypeError(f"hop_frames and patch_frames must be ints, got {hop_frames!r}, {patch_frames!r}.")
    if patch_frames < 1 or not 1 <= hop_frames <= patch_frames:
        raise ValueError(f"need 1 <= hop_frames <= patch_frames, got hop {hop_frames}, patch {patch_frames}.")


# ----------------------------------------------------------------------------------------------
# Reference (float64 numpy): the specification
# ----------------------------------------------------------------------------------------------
def log_mel_reference(wave: np.ndarray, frame_stride: int = 1) -> np.ndarray:
    """YAMNet log-mel of a mono 16 kHz waveform ``[n]``, float64 ``[num_frames(n, frame_stride), 64]``.

    Straight from the definition with ``np.fft.rfft``; slow and exact, used to test
    :class:`LogMelFrontend`. ``frame_stride`` keeps every ``frame_stride``-th frame.
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"log_mel_reference takes a 1-D waveform, got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("waveform holds NaN or infinite samples.")
    if x.size < WINDOW_SAMPLES:
        x = np.pad(x, (0, WINDOW_SAMPLES - x.size))
    t = num_frames(int(x.size), frame_stride)
    idx = np.arange(t)[:, None] * (HOP_SAMPLES * frame_stride) + np.arange(WINDOW_SAMPLES)[None, :]
    frames = x[idx] * hann_window()
    magnitude = np.abs(np.fft.rfft(frames, n=FFT_SIZE, axis=-1))
    return np.log(magnitude @ mel_weight_matrix() + LOG_OFFSET)


# ----------------------------------------------------------------------------------------------
# Torch module (float32, exportable)
# ----------------------------------------------------------------------------------------------
# The 512-point DFT of a windowed frame, factorised (Cooley-Tukey, 512 = 16 x 32): frame sample
# n = 32 a + b (a < 13: a 400-sample frame fills 13 rows of 32; b < 32), bin k = k1 + 16 k2
# (k1 < 16, k2 < 15, so bins 0..239 = everything up to LAST_BIN):
#   stage 1:  Y[b, k1]      = sum_a w[n] y[n] exp(-2 pi i n k1 / 512)   (window and twiddle inside)
#   stage 2:  X[k1 + 16 k2] = sum_b Y[b, k1] exp(-2 pi i b k2 / 32)
# (n (k1 + 16 k2) / 512 = n k1 / 512 + a k2 + b k2 / 32.) Each stage is one matrix product with
# the large axis (frames x something) as the free dimension: see magnitude_spectrum.
_B = 32  # b: samples per row; the row index a is the slow one
_ROWS = -(-WINDOW_SAMPLES // _B)  # 13 rows of 32 samples hold a 400-sample frame
_ROWS_PER_HOP = HOP_SAMPLES // _B  # 5: a hop is 5 whole rows
_K1 = FFT_SIZE // _B  # 16
_K2 = LAST_BIN // _K1 + 1  # 15
#: Spectrum bins the module computes: 0..239 (all bins with mel weight; rows 0..4 of the mel matrix are zero).
NUM_BINS = _K1 * _K2  # 240


def _hops_per_frame(frame_stride: int) -> int:
    """Hops of ``160 frame_stride`` samples (whole rows) that one 13-row frame reaches into: 3, 2 or 1 at stride 1, 2, 3."""
    return -(-_ROWS // (_ROWS_PER_HOP * frame_stride))


def _tail_samples(frame_stride: int) -> int:
    """Zeros appended to every waveform: the framing reads ``hop (T + hops - 1)`` samples, at most one
    hop past the real ones for a whole frame, and all of them for a clip shorter than one frame."""
    return HOP_SAMPLES * frame_stride * _hops_per_frame(frame_stride)


def _mel_blocks(groups: int = 3) -> tuple[tuple[int, int, int, int], ...]:
    """The mel product in ``groups`` blocks: ``(first band, end band, first bin, end bin)`` each.

    A band's triangle spans 1 bin at 156 Hz but 17 at 7 kHz, so the ``[240, 64]`` matrix is 97 %
    zeros. Bands are split into consecutive ranges (the split with the fewest numbers in all) and
    each range is multiplied only with the bins it touches: ~4,700 weights instead of 15,360, which
    is what a converter that constant-folds (``.ort``) stores, and a little less arithmetic.
    """
    nonzero = mel_weight_matrix()[:NUM_BINS] > 0
    first = [int(np.flatnonzero(nonzero[:, j])[0]) for j in range(NUM_MEL_BANDS)]
    end = [int(np.flatnonzero(nonzero[:, j])[-1]) + 1 for j in range(NUM_MEL_BANDS)]

    def blocks(cuts: tuple[int, ...]) -> tuple[tuple[int, int, int, int], ...]:
        edges = (0, *cuts, NUM_MEL_BANDS)
        return tuple((j0, j1, first[j0], end[j1 - 1]) for j0, j1 in zip(edges[:-1], edges[1:]))

    splits = itertools.combinations(range(1, NUM_MEL_BANDS), groups - 1)
    return min((blocks(c) for c in splits), key=lambda bl: sum((j1 - j0) * (e - b) for j0, j1, b, e in bl))


_MEL_BLOCKS = _mel_blocks()


def _sin_of_fraction(numer: torch.Tensor, period: int) -> torch.Tensor:
    """``sin(2 pi numer / period)`` in float64 for integer ``numer``, reduced modulo the period first."""
    return torch.sin((numer % period).to(torch.float64) * (2.0 * math.pi / period))


def _cos_of_fraction(numer: torch.Tensor, period: int) -> torch.Tensor:
    """``cos`` via ``sin`` shifted by a quarter period (exact in integers; onnxruntime lacks float64 Cos)."""
    if period % 4:
        raise ValueError(f"period {period} must be a multiple of 4")
    return _sin_of_fraction(numer + period // 4, period)


def _arange(n: int, device: torch.device | None) -> torch.Tensor:
    return torch.arange(n, dtype=torch.int64, device=device)


def dft_factors(device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The two DFT stages as float64 matrices ``(stage1 [32, 32, 13], stage2 [30, 64])``.

    ``stage1[b, k1, a] = w[n] cos(2 pi n k1 / 512)`` and ``stage1[b, 16 + k1, a] = -w[n] sin(...)`` with
    ``n = 32 a + b`` and the periodic Hann window ``w`` (zero for ``n >= 400``): per ``b``, the real and
    imaginary parts of ``Y[b, k1]`` from the 13 samples ``y[32 a + b]``.
    ``stage2[r, 2 b + c]``: row ``k2`` gives ``Re X[k1 + 16 k2]`` and row ``15 + k2`` gives ``Im X``
    from ``(Re Y[b], Im Y[b])`` (``c`` = 0, 1), i.e. ``X = sum_b Y[b] exp(-2 pi i b k2 / 32)``.
    Angles come from integer indices reduced modulo the period, so no precision is lost.
    """
    b, a, k1 = _arange(_B, device), _arange(_ROWS, device), _arange(_K1, device)
    n = _B * a[None, :] + b[:, None]  # [32, 13]
    window = (0.5 - 0.5 * _cos_of_fraction(n, WINDOW_SAMPLES)) * (n < WINDOW_SAMPLES).to(torch.float64)
    nk = k1[None, :, None] * n[:, None, :]  # [32, 16, 13]
    stage1 = torch.cat([_cos_of_fraction(nk, FFT_SIZE), -_sin_of_fraction(nk, FFT_SIZE)], dim=1) * window[:, None, :]
    bk = _arange(_K2, device)[:, None] * b[None, :]  # [15, 32]
    c, s = _cos_of_fraction(bk, _B), _sin_of_fraction(bk, _B)
    stage2 = torch.stack([torch.cat([c, -s], dim=0), torch.cat([s, c], dim=0)], dim=-1).reshape(2 * _K2, 2 * _B)
    return stage1, stage2


def mel_matrix(device: torch.device | None = None) -> torch.Tensor:
    """Rows ``0..239`` of :func:`mel_weight_matrix` (the rest are zero), float64 ``[240, 64]``, from torch ops.

    The same TensorFlow HTK formula (triangles linear in mel between equally spaced edges; bins
    below 125 Hz, DC included, get zero), written with ``arange`` so that an exporter keeps it as a
    few nodes instead of a stored matrix.
    """
    k = _arange(NUM_BINS, device).to(torch.float64)
    bins_mel = (_MEL_HIGH_Q * torch.log(1.0 + k * (SAMPLE_RATE / FFT_SIZE / _MEL_BREAK_HZ)))[:, None]
    lo, hi = float(hertz_to_mel(MEL_MIN_HZ)), float(hertz_to_mel(MEL_MAX_HZ))
    edges = lo + _arange(NUM_MEL_BANDS + 2, device).to(torch.float64) * ((hi - lo) / (NUM_MEL_BANDS + 1))
    lower, center, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    return torch.clamp(torch.minimum(lower_slopes, upper_slopes), min=0.0)


def _zeros_like_columns(x: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros shaped like ``x`` but with ``width`` entries in the last axis.

    Used instead of ``F.pad``: the dynamo exporter emits Pad-18, which onnx cannot convert to opset
    17, while Concat/ConstantOfShape convert everywhere.
    """
    return x.new_zeros((*x.shape[:-1], width))


def _frames_by_column(x: torch.Tensor, t: IntLike, frame_stride: int = 1) -> torch.Tensor:
    """``[B, L]`` -> ``[B, 32, 13, t]`` with ``[:, b, a, j] = x[:, hop j + 32 a + b]`` (``hop = 160 frame_stride``).

    Needs ``L >= hop (t + hops - 1)`` (see :func:`_hops_per_frame`). The frames with the sample's
    row index ``a`` second-fastest and the frame index fastest, the layout that makes stage 1 one
    batched product over ``b``. Only reshapes, two transposes of the waveform itself (not of the
    2.5x larger frames) and slices: with ``R = 5 frame_stride`` rows per hop, ``g[:, b, r, s]``
    holds sample ``hop s + 32 r + b`` (``r < R``), and row ``a = R q + r`` of frame ``j`` is
    ``g[..., r, j + q]``.
    """
    batch, rows, hops = x.shape[0], _ROWS_PER_HOP * frame_stride, _hops_per_frame(frame_stride)
    span = t + hops - 1
    g = x[:, : HOP_SAMPLES * frame_stride * span].reshape(batch, rows * span, _B).transpose(1, 2)
    g = g.reshape(batch, _B, span, rows).transpose(2, 3)  # [B, 32, R, span]
    pieces = [g[..., q : t + q] for q in range(hops - 1)]  # whole hops of rows
    pieces.append(g[:, :, : _ROWS - (hops - 1) * rows, hops - 1 : t + hops - 1])  # the frame's last rows
    return torch.cat(pieces, dim=2)


def magnitude_spectrum(
    waveform: torch.Tensor, compute_dtype: torch.dtype = torch.float64, frame_stride: int = 1
) -> torch.Tensor:
    """``|rfft|`` of the Hann-windowed frames, bins ``0..239``: ``[B, N]`` -> ``[B, 240, num_frames(N, frame_stride)]``.

    Frequency before time (the order the two DFT stages leave it in); ``compute_dtype`` throughout.
    """
    x = waveform.to(compute_dtype)
    batch, t = x.shape[0], num_frames(x.shape[1], frame_stride)
    # Zeros after every waveform: a clip shorter than one window is zero-padded to one frame, and
    # longer clips never read them into a frame (t is counted on the unpadded length).
    x = torch.cat([x, _zeros_like_columns(x, _tail_samples(frame_stride))], dim=1)
    stage1, stage2 = (m.to(compute_dtype) for m in dft_factors(x.device))
    y = torch.matmul(stage1, _frames_by_column(x, t, frame_stride))  # [B, 32 (b), 32 (re|im, k1), t]
    z = torch.matmul(stage2, y.reshape(batch, 2 * _B, _K1 * t))  # [B, 30 (re|im, k2), 16 t (k1, t)]
    z = z.reshape(batch, 2, NUM_BINS, t)  # bin k1 + 16 k2
    re, im = z[:, 0], z[:, 1]
    return torch.sqrt(re * re + im * im)


class LogMelFrontend(nn.Module):
    """Waveform ``[B, N]`` float32 at 16 kHz -> YAMNet log-mel ``[B, num_frames(N), 64]``.

    No parameters and no buffers: the DFT factors and the mel matrix are rebuilt from
    ``arange``/``sin`` in every call (well under a millisecond; onnxruntime folds them into
    constants when it loads the model). The exported graph has no STFT/DFT operator and no large
    constant: a few reshapes and transposes, matrix products, a square root and a log.

    ``compute_dtype``: float64 (default) meets 1e-4 parity with :func:`log_mel_reference` on any
    audio; float32 is several times faster and differs by up to ~1e-3 in near-empty bands of loud
    clips. The output is float32 either way.

    ``lengths`` (optional ``[B]`` int tensor of true sample counts) is for batches of clips
    zero-padded to a common length: frames past ``num_frames(lengths[b])`` are set to
    :data:`SILENCE_LOG_MEL`, so each clip gets exactly the frames it would get alone, padded the
    way :func:`frames_to_patches` pads.

    ``frame_stride`` s computes only every s-th frame (a hop of 10 s ms): the same numbers as
    those rows of stride 1, at 1/s of the cost. The student uses 3: the front-end was over half of
    its run time.
    """

    def __init__(self, compute_dtype: torch.dtype = torch.float64, frame_stride: int = 1) -> None:
        super().__init__()
        if compute_dtype not in (torch.float32, torch.float64):
            raise ValueError(f"compute_dtype must be torch.float32 or torch.float64, not {compute_dtype}.")
        _check_frame_stride(frame_stride)
        self.compute_dtype = compute_dtype
        self.frame_stride = frame_stride

    def extra_repr(self) -> str:
        return f"compute_dtype={self.compute_dtype}, frame_stride={self.frame_stride}"

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if waveform.dim() != 2:
            raise ValueError(f"LogMelFrontend takes a waveform batch [B, N], got shape {tuple(waveform.shape)}.")
        magnitude = magnitude_spectrum(waveform, self.compute_dtype, self.frame_stride)  # [B, 240, T]
        weights = mel_matrix(magnitude.device).to(self.compute_dtype)
        mel = torch.cat(
            [torch.matmul(weights[b0:b1, j0:j1].T, magnitude[:, b0:b1]) for j0, j1, b0, b1 in _MEL_BLOCKS], dim=1
        )  # [B, 64, T]
        logmel = torch.log(mel + LOG_OFFSET).to(torch.float32).transpose(1, 2).contiguous()
        if lengths is not None:
            valid = lengths_to_mask(num_frames(lengths.to(torch.int64), self.frame_stride), logmel.shape[1])
            logmel = logmel.masked_fill(~valid.unsqueeze(-1), SILENCE_LOG_MEL)
        return logmel


def frames_to_patches(logmel: torch.Tensor, patch_frames: int = PATCH_FRAMES,
                      hop_frames: int = PATCH_HOP_FRAMES) -> torch.Tensor:
    """Log-mel frames ``[B, T, 64]`` -> patches ``[B, P, patch_frames, 64]``, ``P = num_patches_from_frames(T)``.

    The frame axis is padded at the end with :data:`SILENCE_LOG_MEL` to ``patch_frames`` plus a whole
    number of hops, so short inputs still give one patch and the tail is never dropped.
    """
    _check_hop(hop_frames, patch_frames)
    if logmel.dim() != 3:
        raise ValueError(f"frames_to_patches takes [B, T, bands], got shape {tuple(logmel.shape)}.")
    t = logmel.shape[1]
    tail = torch.full_like(logmel[:, :1], SILENCE_LOG_MEL).expand(-1, _padded_frames(t, patch_frames, hop_frames) - t, -1)
    return torch.cat([logmel, tail], dim=1).unfold(1, patch_frames, hop_frames).transpose(2, 3)
