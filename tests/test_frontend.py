"""The log-mel front-end: float64 reference, torch module, librosa, yamnet.tflite, Coral, ONNX.

What each check pins down:
* torch module == float64 numpy reference within 1e-4 (random and real audio, any length, batches);
* librosa (an independent implementation) gives the same STFT exactly and nearly the same mel bank
  (librosa's HTK triangles are linear in Hz, TensorFlow's in mel: same support, weights within 0.005);
* yamnet.tflite's own log-mel output: its int8 DFT/mel weights and dynamically int8-quantized
  inputs make it differ from the float formula; a numpy model of exactly that quantization
  reproduces the tflite output, and on 16 kHz broadband clips the median error is <= 0.05;
* Coral's device test pair (audio x4) within 0.1 mean absolute error (measured 0.032);
* the factorised DFT == ``np.fft.rfft`` magnitudes, the in-graph mel matrix == TensorFlow's formula;
* ONNX export (dynamo, the shipping recipe): small file (constants computed in-graph), no STFT/DFT
  operator, onnxruntime == torch within 1e-4, dynamic batch and length; traced: the same numerics.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from export.audio import frontend as fe
from export.audio.frontend import (
    LogMelFrontend,
    frames_to_patches,
    lengths_to_mask,
    log_mel_reference,
    mel_weight_matrix,
    num_frames,
    num_patches,
    num_patches_from_frames,
)

torch.set_num_threads(1)

SHARED = Path(os.environ.get("INFANTCRY_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared"))
YAMNET_DIR = SHARED / "models" / "yamnet"
TFLITE = YAMNET_DIR / "yamnet.tflite"


def _torch_logmel(wave: np.ndarray) -> np.ndarray:
    return LogMelFrontend()(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None])[0].numpy()


def _need_shared(*paths: Path) -> None:
    for p in paths:
        if not p.exists():
            pytest.skip(f"needs ../shared data: {p} is absent")


def _load(path: Path) -> np.ndarray:
    from infantcry_sdk.audio import load

    return load(path, None, fe.SAMPLE_RATE)


def _real_clips(n_esc: int = 4, n_ios: int = 3, n_android: int = 0) -> list[tuple[str, np.ndarray]]:
    """A fixed handful of real clips (first rows of each manifest), digital silence skipped."""
    esc_csv = SHARED / "data" / "esc50" / "esc50.csv"
    dac_csv = SHARED / "data" / "donateacry" / "manifest.csv"
    _need_shared(esc_csv, dac_csv)
    out: list[tuple[str, np.ndarray]] = []
    with open(esc_csv) as f:
        rows = [r for r in csv.DictReader(f)]
    picked = 0
    for r in rows[::37]:  # spread over categories
        if picked == n_esc:
            break
        w = _load(SHARED / "data" / "esc50" / r["file"])
        if np.abs(w).max() > 0:
            out.append(("esc50:" + r["category"], w))
            picked += 1
    with open(dac_csv) as f:
        rows = list(csv.DictReader(f))
    for platform, n in (("ios", n_ios), ("android", n_android)):
        sel = [r for r in rows if (r["platform"] == "android") == (platform == "android")][:n]
        out += [(f"donateacry:{platform}", _load(SHARED / "data" / "donateacry" / r["file"])) for r in sel]
    return out


# ------------------------------------------------------------------------------------------------
# length rules
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 159, 160, 399, 400, 401, 559, 560, 15600, 15601, 16000, 123457])
def test_num_frames_rule(n: int) -> None:
    expected = 1 + (max(n, 400) - 400) // 160
    assert num_frames(n) == expected
    assert int(num_frames(torch.tensor([n]))[0]) == expected


@pytest.mark.parametrize("hop", [1, 7, 24, 48, 96])
def test_num_patches_rule(hop: int) -> None:
    for t in [1, 2, 95, 96, 97, 96 + hop - 1, 96 + hop, 96 + hop + 1, 500]:
        expected = 1 + -(-max(t - 96, 0) // hop)
        assert num_patches_from_frames(t, hop) == expected
        assert int(num_patches_from_frames(torch.tensor([t]), hop)[0]) == expected
    # YAMNet's own input (15600 samples) is exactly one patch; every further 48 frames one more.
    assert num_patches(fe.PATCH_SAMPLES) == 1
    assert num_patches(fe.PATCH_SAMPLES + 48 * 160) == 2
    assert num_patches(fe.PATCH_SAMPLES + 1) == 1  # a partial hop of samples adds no frame
    assert num_patches(fe.PATCH_SAMPLES + 160) == 2  # one more frame: the tail is padded, not dropped
    assert num_patches(1) == 1


def test_bad_hop_rejected() -> None:
    with pytest.raises(ValueError):
        num_patches(16000, hop_frames=0)
    with pytest.raises(ValueError):
        frames_to_patches(torch.zeros(1, 100, 64), hop_frames=97)


def test_lengths_to_mask() -> None:
    m = lengths_to_mask(torch.tensor([0, 2, 4]), 3)
    assert m.tolist() == [[False, False, False], [True, True, False], [True, True, True]]


# ------------------------------------------------------------------------------------------------
# reference and librosa
# ------------------------------------------------------------------------------------------------
def test_mel_matrix_follows_tf_convention() -> None:
    w = mel_weight_matrix()
    assert w.shape == (257, 64)
    assert np.all(w[0] == 0)  # DC bin zeroed
    assert np.all(w >= 0) and w.max() <= 1.0
    assert np.all(w.sum(axis=0) > 0)  # no empty band
    nonzero = np.flatnonzero(w.sum(axis=1))
    assert (nonzero[0], nonzero[-1]) == (fe.FIRST_BIN, fe.LAST_BIN)
    assert nonzero[0] * 31.25 > 125.0 and nonzero[-1] * 31.25 < 7500.0


def test_in_graph_mel_equals_matrix() -> None:
    got = fe.mel_matrix().numpy()
    assert got.shape == (fe.NUM_BINS, 64) and fe.NUM_BINS > fe.LAST_BIN
    ref = mel_weight_matrix()
    np.testing.assert_allclose(got, ref[: fe.NUM_BINS], rtol=0, atol=1e-12)
    assert np.all(ref[fe.NUM_BINS :] == 0)  # the bins the module does not compute carry no weight
    # The module multiplies band blocks with the bins they touch: together they hold every weight.
    blocks = np.zeros_like(got)
    for j0, j1, b0, b1 in fe._MEL_BLOCKS:
        blocks[b0:b1, j0:j1] = got[b0:b1, j0:j1]
    assert [b[:2] for b in fe._MEL_BLOCKS] == list(zip([0, *[b[1] for b in fe._MEL_BLOCKS[:-1]]], [b[1] for b in fe._MEL_BLOCKS]))
    assert fe._MEL_BLOCKS[-1][1] == 64
    np.testing.assert_allclose(blocks, ref[: fe.NUM_BINS], rtol=0, atol=1e-12)


def test_factorised_dft_is_the_rfft_magnitude() -> None:
    rng = np.random.default_rng(11)
    for n in (1, 400, 1201):
        wave = rng.standard_normal((2, n))
        got = fe.magnitude_spectrum(torch.from_numpy(wave)).numpy()  # float64 [B, 240, T]
        t = num_frames(n)
        assert got.shape == (2, fe.NUM_BINS, t)
        padded = np.pad(wave, ((0, 0), (0, max(0, 400 - n))))
        idx = np.arange(t)[:, None] * fe.HOP_SAMPLES + np.arange(fe.WINDOW_SAMPLES)[None, :]
        want = np.abs(np.fft.rfft(padded[:, idx] * fe.hann_window(), n=fe.FFT_SIZE, axis=-1))[..., : fe.NUM_BINS]
        np.testing.assert_allclose(got, want.transpose(0, 2, 1), rtol=0, atol=1e-11)


@pytest.mark.slow  # librosa's first mel-filter call takes a few seconds (lazy imports, numba)
def test_librosa_cross_check() -> None:
    librosa = pytest.importorskip("librosa")
    lib = librosa.filters.mel(sr=16000, n_fft=512, n_mels=64, fmin=125.0, fmax=7500.0, htk=True, norm=None).T
    ours = mel_weight_matrix()
    # librosa's triangles are linear in Hz, TensorFlow's linear in mel: same support and peaks.
    assert np.array_equal(lib > 0, ours > 0)
    assert np.array_equal(lib.argmax(axis=0), ours.argmax(axis=0))
    assert np.abs(lib - ours).max() < 0.01

    rng = np.random.default_rng(3)
    wave = (rng.standard_normal(8000) * np.linspace(0.01, 0.5, 8000)).astype(np.float64)
    # librosa centres the 400-sample window in the 512-point frame: shift by 56 to align frames.
    spec = np.abs(
        librosa.stft(np.pad(wave, (56, 56)), n_fft=512, hop_length=160, win_length=400, window="hann", center=False)
    ).T
    ref = log_mel_reference(wave)
    assert spec.shape[0] == ref.shape[0] == num_frames(wave.size)
    np.testing.assert_allclose(np.log(spec @ ours + fe.LOG_OFFSET), ref, atol=1e-9)  # the same STFT
    assert np.abs(np.log(spec @ lib + fe.LOG_OFFSET) - ref).mean() < 0.01  # the bank, nearly


def test_reference_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        log_mel_reference(np.zeros((2, 400)))
    with pytest.raises(ValueError):
        log_mel_reference(np.array([0.0, np.nan] * 300))


# ------------------------------------------------------------------------------------------------
# torch module
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 161, 399, 400, 401, 559, 560, 4001, 15600, 16000, 24017])
def test_module_matches_reference_any_length(n: int) -> None:
    rng = np.random.default_rng(n)
    wave = (rng.standard_normal(n) * 0.3).astype(np.float32)
    got = _torch_logmel(wave)
    assert got.shape == (num_frames(n), 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, log_mel_reference(wave), atol=1e-4, rtol=0)


@pytest.mark.parametrize("stride", [2, 3])
@pytest.mark.parametrize("n", [0, 1, 399, 400, 401, 719, 720, 721, 879, 880, 881, 1040, 4001, 16000, 24017])
def test_frame_stride_keeps_every_s_th_frame(n: int, stride: int) -> None:
    """The student's 20 / 30 ms front-end: exactly every s-th frame of YAMNet's, by the same rule."""
    rng = np.random.default_rng(n + 1)
    wave = (rng.standard_normal(n) * 0.3).astype(np.float32)
    ref = log_mel_reference(wave, frame_stride=stride)
    assert ref.shape == (num_frames(n, stride), 64) == log_mel_reference(wave)[::stride].shape
    np.testing.assert_allclose(ref, log_mel_reference(wave)[::stride], atol=1e-9, rtol=0)  # FFT batch rounding
    assert num_frames(n, stride) == 1 + (max(n, 400) - 400) // (160 * stride)
    assert int(num_frames(torch.tensor([n]), stride)[0]) == num_frames(n, stride)
    got = LogMelFrontend(torch.float64, frame_stride=stride)(torch.from_numpy(wave)[None])[0].numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)


def test_frame_stride_must_be_supported() -> None:
    with pytest.raises(ValueError, match="frame_stride"):
        LogMelFrontend(frame_stride=4)
    with pytest.raises(ValueError, match="frame_stride"):
        num_frames(1000, 4)


@pytest.mark.parametrize("level", [1e-5, 1e-3, 0.05, 1.0])
def test_module_matches_reference_levels_and_tones(level: float) -> None:
    t = np.arange(12000) / fe.SAMPLE_RATE
    rng = np.random.default_rng(1)
    # Tones, a chirp and silence gaps: the hard cases for a float32 DFT (large dynamic range).
    wave = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 3000 * t + 1) + np.sin(2 * np.pi * (200 + 3000 * t) * t)
    wave[4000:6000] = 0.0
    wave = (level * (wave / np.abs(wave).max() + 0.01 * rng.standard_normal(t.size))).astype(np.float32)
    np.testing.assert_allclose(_torch_logmel(wave), log_mel_reference(wave), atol=1e-4, rtol=0)


def test_float32_compute_matches_reference_on_noise() -> None:
    wave = (np.random.default_rng(5).standard_normal(9000) * 0.3).astype(np.float32)
    got = LogMelFrontend(torch.float32)(torch.from_numpy(wave)[None])[0].numpy()
    np.testing.assert_allclose(got, log_mel_reference(wave), atol=1e-4, rtol=0)
    with pytest.raises(ValueError):
        LogMelFrontend(torch.float16)


def test_module_digital_silence_is_log_offset() -> None:
    got = _torch_logmel(np.zeros(3000, np.float32))
    np.testing.assert_allclose(got, fe.SILENCE_LOG_MEL, atol=1e-6)


def test_module_rejects_wrong_rank() -> None:
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        LogMelFrontend()(torch.zeros(400))


def test_batch_with_lengths_equals_each_clip_alone() -> None:
    rng = np.random.default_rng(7)
    lengths = [16000, 1, 399, 5123, 15600]
    clips = [(rng.standard_normal(n) * 0.2).astype(np.float32) for n in lengths]
    batch = np.zeros((len(clips), max(lengths)), np.float32)
    for i, c in enumerate(clips):
        batch[i, : c.size] = c
    out = LogMelFrontend()(torch.from_numpy(batch), torch.tensor(lengths))
    assert out.shape == (len(clips), num_frames(max(lengths)), 64)
    for i, c in enumerate(clips):
        t = num_frames(c.size)
        np.testing.assert_allclose(out[i, :t].numpy(), _torch_logmel(c), atol=1e-5, rtol=0)
        assert torch.all(out[i, t:] == fe.SILENCE_LOG_MEL)


def test_module_matches_reference_on_real_clips() -> None:
    for name, wave in _real_clips(n_esc=2, n_ios=1, n_android=1):
        wave = wave[:40000]
        np.testing.assert_allclose(_torch_logmel(wave), log_mel_reference(wave), atol=1e-4, rtol=0, err_msg=name)


# ------------------------------------------------------------------------------------------------
# patches
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("t,hop", [(1, 48), (95, 48), (96, 48), (97, 48), (250, 48), (250, 96), (130, 10)])
def test_frames_to_patches(t: int, hop: int) -> None:
    logmel = torch.randn(2, t, 64)
    patches = frames_to_patches(logmel, hop_frames=hop)
    p = num_patches_from_frames(t, hop)
    assert patches.shape == (2, p, 96, 64)
    padded = torch.cat([logmel, torch.full((2, (p - 1) * hop + 96 - t, 64), fe.SILENCE_LOG_MEL)], dim=1)
    for i in range(p):
        assert torch.equal(patches[:, i], padded[:, i * hop : i * hop + 96])
    assert (p - 1) * hop < t  # every patch starts on a real frame


# ------------------------------------------------------------------------------------------------
# ONNX
# ------------------------------------------------------------------------------------------------
def _check_onnx(path: Path, module: LogMelFrontend, max_bytes: int | None = 100_000) -> None:
    """No STFT/DFT operator, onnxruntime == torch within 1e-4 for any batch and length; the file
    size (the front-end's constants must be computed in-graph) when ``max_bytes`` is given."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    model = onnx.load(str(path))
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"STFT", "DFT", "MelWeightMatrix", "HannWindow"}, ops
    if max_bytes is not None:
        size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + ".data"))
        assert size < max_bytes, f"front-end ONNX is {size} bytes"
        assert all(i.dims == [] or np.prod(i.dims) <= 4096 for i in model.graph.initializer)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch, n in [(1, 1), (3, 399), (1, 400), (2, 401), (1, 15600), (2, 16001), (1, 80017)]:
        x = (rng.standard_normal((batch, n)) * 0.3).astype(np.float32)
        got = session.run(None, {"waveform": x})[0]
        want = module(torch.from_numpy(x)).numpy()
        assert got.shape == want.shape == (batch, num_frames(n), 64)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_onnx_export_traced(tmp_path: Path) -> None:
    """The TorchScript exporter evaluates the in-graph constants while tracing (~250 KB stored), so
    only the graph's operators and numerics are checked here; the size is the dynamo test's."""
    path = tmp_path / "frontend.onnx"
    module = LogMelFrontend()
    torch.onnx.export(
        module, (torch.randn(2, 16000),), str(path), input_names=["waveform"], output_names=["logmel"],
        opset_version=17, dynamo=False, dynamic_axes={"waveform": {0: "batch", 1: "samples"}},
    )
    _check_onnx(path, module, max_bytes=None)


@pytest.mark.slow  # torch.export tracing: ~5 s
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch.export internals (LeafSpec deprecation)
def test_onnx_export_dynamo_keeps_constants_in_graph(tmp_path: Path) -> None:
    """The shipping recipe (export.modelfile.onnx_export): dynamo exporter without its optimizer, then the
    onnxscript optimizer folding only outputs up to FOLD_OUTPUT_LIMIT elements. The DFT factors and
    the mel matrix stay Range/Sin/... nodes, so the file is small; float32, as the student runs it."""
    onnx = pytest.importorskip("onnx")
    optimizer = pytest.importorskip("onnxscript.optimizer")
    from export.modelfile.onnx_export import DEFAULT_OPSET, FOLD_OUTPUT_LIMIT

    module = LogMelFrontend(torch.float32).eval()
    dim = torch.export.Dim.DYNAMIC
    program = torch.onnx.export(
        module, (torch.randn(2, 16000),), input_names=["waveform"], output_names=["logmel"],
        opset_version=DEFAULT_OPSET, dynamo=True, optimize=False, dynamic_shapes={"waveform": {0: dim, 1: dim}},
    )
    optimizer.optimize(program.model, output_size_limit=FOLD_OUTPUT_LIMIT)
    model = program.model_proto
    for node in model.graph.node:  # the exporter's per-node debug metadata (stack traces) is not model
        del node.metadata_props[:]
    path = tmp_path / "frontend.onnx"
    onnx.save(model, str(path))
    assert model.opset_import[0].version >= 17
    _check_onnx(path, module)


# ------------------------------------------------------------------------------------------------
# yamnet.tflite and Coral
# ------------------------------------------------------------------------------------------------
def _tflite_quantized_model(interp) -> callable:
    """yamnet.tflite's front-end in numpy: int8 weights and asymmetric per-row int8 inputs.

    The two FULLY_CONNECTED layers (DFT, mel) run as hybrid kernels: each input row is quantized
    to int8 with its own scale and zero point, the weights are int8 per output channel.
    """
    details = interp.get_tensor_details()

    def weights(name: str) -> np.ndarray:
        d = next(t for t in details if t["name"].endswith(name))
        q = d["quantization_parameters"]
        return interp.get_tensor(d["index"]).astype(np.float64) * q["scales"][:, None]

    dft_re, dft_im, mel = weights("MatMul/MatMul"), weights("MatMul_1/MatMul_1"), weights("MatMul_2/MatMul_2")

    def quantize_rows(x: np.ndarray) -> np.ndarray:
        lo, hi = np.minimum(x.min(1, keepdims=True), 0), np.maximum(x.max(1, keepdims=True), 0)
        scale = np.where(hi > lo, (hi - lo) / 255, 1.0)
        zero = np.round(-128 - lo / scale)
        return (np.clip(np.round(x / scale) + zero, -128, 127) - zero) * scale

    def run(wave: np.ndarray) -> np.ndarray:
        idx = np.arange(96)[:, None] * 160 + np.arange(400)[None, :]
        frames = np.pad(wave.astype(np.float64)[idx] * fe.hann_window(), ((0, 0), (56, 56)))
        q = quantize_rows(frames)
        magnitude = np.sqrt((q @ dft_re.T) ** 2 + (q @ dft_im.T) ** 2)
        return np.log(quantize_rows(magnitude) @ mel.T + fe.LOG_OFFSET)

    return run


def test_tflite_logmel_agreement(yamnet_tflite) -> None:
    quantized = _tflite_quantized_model(yamnet_tflite.interpreter)
    clips = _real_clips(n_esc=6, n_ios=3, n_android=1)
    maes = []
    for name, wave in clips:
        seg = np.zeros(fe.PATCH_SAMPLES, np.float32)
        seg[: min(wave.size, seg.size)] = wave[: seg.size]
        got = yamnet_tflite.run(seg)[1]
        ours = _torch_logmel(seg)
        assert ours.shape == got.shape == (96, 64)
        # The whole difference is TFLite's int8 arithmetic: modelling it reproduces its output.
        assert np.abs(quantized(seg) - got).mean() < 2e-3, name
        if not name.endswith("android"):  # 8 kHz uploads: empty upper bands, int8 noise dominates
            maes.append(np.abs(ours - got).mean())
    assert np.median(maes) <= 0.05, maes


def test_coral_pair_loose() -> None:
    audio_path, spectra_path = YAMNET_DIR / "yamnet_test_audio.bin", YAMNET_DIR / "yamnet_test_spectra.bin"
    _need_shared(audio_path, spectra_path)
    audio = np.fromfile(audio_path, dtype="<i2").astype(np.float32) / 8192.0  # the device scaled audio x4
    spectra = np.fromfile(spectra_path, dtype="<f4").reshape(96, 64)
    ours = _torch_logmel(audio)
    assert ours.shape == (96, 64)
    assert np.abs(ours - spectra).mean() < 0.1
