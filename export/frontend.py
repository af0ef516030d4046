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
  missing on some mobile runtimes. Framing is reshapes and slices; the 512-point DFT is factorised
  (Cooley-Tukey, 512 = 16 x 32) into two small real matmuls and a twiddle multiply, and only the
  bins that carry mel weight (5..239, 156-7469 Hz) are computed: the others are multiplied by
  exactly zero in the mel matrix. The mel matrix is applied as per-bin interpolation weights and
  two cumulative sums (see :func:`_mel_plan`);
* no large constant anywhere: the window, DFT factors and mel weights are about 4,000 numbers in
  all, built *inside* ``forward`` from ``arange``/``sin`` (so an exported graph can hold Range/Sin
  nodes that onnxruntime constant-folds at load). An exporter or optimizer that folds them into
  the file stores ~32 KB (float64), where a dense DFT basis and mel matrix would be ~800 KB;
* constants are computed in float64 from *integer* angle indices reduced modulo the period
  (``k * n mod 512``), so no precision is lost to large float angles. ``cos`` is a
  quarter-period-shifted ``sin`` because onnxruntime has no float64 ``Cos``;
* the arithmetic runs in float64 by default (input and output are float32). In float32 the DFT's
  rounding error is about 1e-7 of the frame's magnitude in *every* bin, which is up to 1e-3 in log-mel
  for a loud clip with near-empty bands (8 kHz uploads have nothing above 4 kHz): outside the 1e-4
  parity with the reference. float64 costs ~2.5x in torch and ~1.5x in onnxruntime (about 2 ms per
  second of audio there); ``LogMelFrontend(torch.float32)`` is available where speed matters more;
* shape arithmetic uses only ``+ - * //`` (see :func:`_int_max`) and padding is Concat, not Pad,
  so the module exports with ``torch.onnx.export`` both with ``dynamo=False`` (traced) and
  ``dynamo=True``, opset 17, with dynamic batch and sample axes.

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

import math
from typing import TypeVar

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 400  # 25 ms
HOP_SAMPLES = 160  # 10 ms
FFT_SIZE = 512
NUM_FFT_BINS = FFT_SIZE // 2 + 1  # 257
NUM_MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
#: The log-mel value of digital silence: what padding frames hold.
SILENCE_LOG_MEL = math.log(LOG_OFFSET)
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
#: Samples that make exactly one patch: (96 - 1) * 160 + 400 = 15600 (0.975 s), YAMNet's input size.
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES

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


def num_frames(n_samples: IntLike) -> IntLike:
    """Frames for ``n_samples`` samples: ``1 + (max(n, 400) - 400) // 160`` (at least one).

    Works elementwise on integer tensors too (e.g. a batch of clip lengths).
    """
    return (_int_max(n_samples, WINDOW_SAMPLES) - WINDOW_SAMPLES) // HOP_SAMPLES + 1


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
def log_mel_reference(wave: np.ndarray) -> np.ndarray:
    """YAMNet log-mel of a mono 16 kHz waveform ``[n]``, float64 ``[num_frames(n), 64]``.

    Straight from the definition with ``np.fft.rfft``; slow and exact, used to test
    :class:`LogMelFrontend`.
    """
    x = np.asarray(wave, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"log_mel_reference takes a 1-D waveform, got shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("waveform holds NaN or infinite samples.")
    if x.size < WINDOW_SAMPLES:
        x = np.pad(x, (0, WINDOW_SAMPLES - x.size))
    t = num_frames(int(x.size))
    idx = np.arange(t)[:, None] * HOP_SAMPLES + np.arange(WINDOW_SAMPLES)[None, :]
    frames = x[idx] * hann_window()
    magnitude = np.abs(np.fft.rfft(frames, n=FFT_SIZE, axis=-1))
    return np.log(magnitude @ mel_weight_matrix() + LOG_OFFSET)


# ----------------------------------------------------------------------------------------------
# Torch module (float32, exportable)
# ----------------------------------------------------------------------------------------------
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


# The 512-point DFT, factorised (Cooley-Tukey, 512 = 16 x 32) so that no constant is large:
# sample n = 32 a + b (a < 13 because only the first 400 samples are non-zero, b < 32) and bin
# k = k1 + 16 k2 (k1 < 16, k2 < 15 because no bin above LAST_BIN = 239 is needed):
#   X[k1 + 16 k2] = sum_b exp(-2 pi i b k2 / 32) * exp(-2 pi i b k1 / 512) * sum_a y[32 a + b] exp(-2 pi i a k1 / 16)
_N1, _N2 = 16, 32  # FFT_SIZE = _N1 * _N2
_ROWS = -(-WINDOW_SAMPLES // _N2)  # 13 rows of 32 samples hold a 400-sample frame
_K2 = LAST_BIN // _N1 + 1  # 15: bins 0..239


def dft_stage_matrices(device: torch.device | None = None) -> tuple[torch.Tensor, ...]:
    """Constants of the factorised DFT, float32, built from integer angle indices in float64.

    Returns float64 ``(window [400], stage1 [32, 13], twiddle_cos [16, 32], twiddle_sin [16, 32],
    stage2 [64, 30])``; about 4,000 numbers in all, so even an exporter that folds them into the
    file keeps the front-end small.
    """
    n = _arange(WINDOW_SAMPLES, device)
    window = 0.5 - 0.5 * _cos_of_fraction(n, WINDOW_SAMPLES)
    k1a = _arange(_N1, device)[:, None] * _arange(_ROWS, device)[None, :]
    stage1 = torch.cat([_cos_of_fraction(k1a, _N1), -_sin_of_fraction(k1a, _N1)], dim=0)
    k1b = _arange(_N1, device)[:, None] * _arange(_N2, device)[None, :]
    tw_cos, tw_sin = _cos_of_fraction(k1b, FFT_SIZE), _sin_of_fraction(k1b, FFT_SIZE)
    bk2 = _arange(_N2, device)[:, None] * _arange(_K2, device)[None, :]
    c2, s2 = _cos_of_fraction(bk2, _N2), _sin_of_fraction(bk2, _N2)
    # [re | im] @ stage2 = [re c2 + im s2 | im c2 - re s2]: the real and imaginary parts of sum_b (re + i im) e^{-i psi}
    stage2 = torch.cat([torch.cat([c2, -s2], dim=1), torch.cat([s2, c2], dim=1)], dim=0)
    return window, stage1, tw_cos, tw_sin, stage2


def _mel_plan(device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The mel matrix as per-bin interpolation weights: ``(alpha [K] float64, starts [66] int64)``.

    TF's bands are triangles linear in mel with equally spaced edges, so on the band-centre axis
    ``u_k = (mel(f_k) - edge_0) / step - 1`` the weight of bin ``k`` in band ``j`` is
    ``max(0, 1 - |u_k - j|)``: bin ``k`` gives ``1 - alpha_k`` of its magnitude to band
    ``floor(u_k)`` and ``alpha_k = u_k - floor(u_k)`` to the next band. ``starts[j + 1]`` is the
    number of active bins with ``floor(u_k) < j``, i.e. below the frequency where ``u = j``
    (j = -1..64); bins are sorted by frequency, so the bins of each band are a contiguous range and
    each band is a difference of two cumulative sums. 301 numbers instead of a 235 x 64 matrix.
    ``starts`` comes from the inverse mel formula (1-D ops only: no [235, 66] comparison for an
    exporter to fold into the file); it agrees with ``floor(u_k)`` because no bin lies within 0.003
    band of a band centre (checked by the tests through the reconstructed matrix).
    """
    bin_hz = SAMPLE_RATE / FFT_SIZE
    k = torch.arange(FIRST_BIN, LAST_BIN + 1, dtype=torch.int64, device=device)
    lo, hi = float(hertz_to_mel(MEL_MIN_HZ)), float(hertz_to_mel(MEL_MAX_HZ))
    step = (hi - lo) / (NUM_MEL_BANDS + 1)
    u = (_MEL_HIGH_Q * torch.log(1.0 + k.to(torch.float64) * (bin_hz / _MEL_BREAK_HZ)) - lo) / step - 1.0
    centres = torch.arange(NUM_MEL_BANDS + 2, dtype=torch.int64, device=device).to(torch.float64)  # u = -1..64
    centre_hz = _MEL_BREAK_HZ * (torch.exp((lo + centres * step) / _MEL_HIGH_Q) - 1.0)
    starts = torch.clamp(torch.ceil(centre_hz / bin_hz) - FIRST_BIN, 0, LAST_BIN - FIRST_BIN + 1)
    return u - torch.floor(u), starts.to(torch.int64)


def apply_mel(magnitude: torch.Tensor) -> torch.Tensor:
    """FFT magnitudes of bins ``FIRST_BIN..LAST_BIN`` ``[..., K]`` -> mel energies ``[..., 64]``.

    Equal to ``magnitude @ mel_weight_matrix()[FIRST_BIN:LAST_BIN + 1]`` (see :func:`_mel_plan`), done
    as two cumulative sums in float64 (so their differences lose nothing) and gathers. Returns float64.
    """
    m = magnitude.to(torch.float64)
    alpha, starts = _mel_plan(m.device)
    zero = _zeros_like_columns(m, 1)
    low = torch.cat([zero, torch.cumsum(m * (1.0 - alpha), dim=-1)], dim=-1)  # to band floor(u_k)
    high = torch.cat([zero, torch.cumsum(m * alpha, dim=-1)], dim=-1)  # to band floor(u_k) + 1
    cur, prev, nxt = starts[1:-1], starts[:-2], starts[2:]
    return (low.index_select(-1, nxt) - low.index_select(-1, cur)) + (high.index_select(-1, cur) - high.index_select(-1, prev))


def _zeros_like_columns(x: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros shaped like ``x`` but with ``width`` entries in the last axis.

    Used instead of ``F.pad``: the dynamo exporter emits Pad-18, which onnx cannot convert to opset
    17, while Concat/ConstantOfShape convert everywhere.
    """
    return x.new_zeros((*x.shape[:-1], width))


def _frame(x: torch.Tensor, t: IntLike) -> torch.Tensor:
    """``[B, L]`` -> the first ``t`` frames ``[B, t, 400]``; needs ``L >= 160 t + 240``.

    Only reshapes and slices: row ``r`` of ``pairs`` holds samples ``[160 r, 160 r + 160)`` and row
    ``r`` of ``shifted`` holds ``[160 r + 80, 160 r + 240)``, so frame ``t`` is
    ``pairs[t] ++ pairs[t + 1] ++ shifted[t + 1][80:]``.
    """
    span = (t + 1) * HOP_SAMPLES  # both views cover t + 1 rows of 160 samples
    half = HOP_SAMPLES // 2
    pairs = x[:, :span].reshape(x.shape[0], -1, HOP_SAMPLES)
    shifted = x[:, half:half + span].reshape(x.shape[0], -1, HOP_SAMPLES)
    return torch.cat([pairs[:, :-1], pairs[:, 1:], shifted[:, 1:, half:]], dim=2)


class LogMelFrontend(nn.Module):
    """Waveform ``[B, N]`` float32 at 16 kHz -> YAMNet log-mel ``[B, num_frames(N), 64]``.

    No parameters and no buffers: the window, the factorised DFT and the mel weights are rebuilt
    from ``arange``/``sin`` in every call (microseconds; onnxruntime folds them into constants when
    it loads the model). The exported graph has no STFT/DFT operator and no large constant.

    ``compute_dtype``: float64 (default) meets 1e-4 parity with :func:`log_mel_reference` on any
    audio; float32 is ~2.5x faster in torch and differs by up to ~1e-3 in near-empty bands of loud
    clips. The output is float32 either way.

    ``lengths`` (optional ``[B]`` int tensor of true sample counts) is for batches of clips
    zero-padded to a common length: frames past ``num_frames(lengths[b])`` are set to
    :data:`SILENCE_LOG_MEL`, so each clip gets exactly the frames it would get alone, padded the
    way :func:`frames_to_patches` pads.
    """

    def __init__(self, compute_dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if compute_dtype not in (torch.float32, torch.float64):
            raise ValueError(f"compute_dtype must be torch.float32 or torch.float64, not {compute_dtype}.")
        self.compute_dtype = compute_dtype

    def extra_repr(self) -> str:
        return f"compute_dtype={self.compute_dtype}"

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if waveform.dim() != 2:
            raise ValueError(f"LogMelFrontend takes a waveform batch [B, N], got shape {tuple(waveform.shape)}.")
        dtype = self.compute_dtype
        x = waveform.to(dtype)
        t = num_frames(x.shape[1])
        # 400 zeros after every waveform: a clip shorter than one window is zero-padded to one
        # frame, and longer clips never read them (t is counted on the unpadded length).
        x = torch.cat([x, _zeros_like_columns(x, WINDOW_SAMPLES)], dim=1)
        window, stage1, tw_cos, tw_sin, stage2 = (m.to(dtype) for m in dft_stage_matrices(x.device))
        frames = _frame(x, t) * window  # [B, T, 400]
        y = torch.cat([frames, _zeros_like_columns(frames, _ROWS * _N2 - WINDOW_SAMPLES)], dim=2)
        y = y.reshape(y.shape[0], y.shape[1], _ROWS, _N2)  # [B, T, a, b]
        a = torch.matmul(stage1, y)  # [B, T, 2 * 16, 32]: DFT over a, real rows then imaginary rows
        re, im = a[:, :, :_N1], a[:, :, _N1:]
        tw_re = re * tw_cos + im * tw_sin  # times exp(-2 pi i b k1 / 512)
        tw_im = im * tw_cos - re * tw_sin
        spec = torch.matmul(torch.cat([tw_re, tw_im], dim=3), stage2)  # [B, T, k1, 2 * k2]
        xr, xi = spec[..., :_K2], spec[..., _K2:]
        magnitude = torch.sqrt(xr * xr + xi * xi).transpose(2, 3)  # [B, T, k2, k1]: bin k1 + 16 k2
        magnitude = magnitude.reshape(magnitude.shape[0], magnitude.shape[1], _K2 * _N1)[:, :, FIRST_BIN:LAST_BIN + 1]
        logmel = torch.log(apply_mel(magnitude) + LOG_OFFSET).to(torch.float32)
        if lengths is not None:
            valid = lengths_to_mask(num_frames(lengths.to(torch.int64)), logmel.shape[1])
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
