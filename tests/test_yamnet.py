"""YAMNet in torch against the TFLite interpreter, plus its split, batching, padding and cache.

Parity is checked two ways on real clips (../shared: donateacry, ESC-50):
* the network alone: our YAMNet on the log-mel patch the tflite computed itself (its second
  output) -> the 521 scores within 0.05 on >= 95% of patches and the same top-1 on >= 95%;
* end to end on 16 kHz clips: our float front-end + network vs the tflite on the waveform. The
  tflite's int8 front-end (see test_frontend.py) moves some scores further, so the bound is looser.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from export.models import yamnet as ym
from export.audio.frontend import PATCH_SAMPLES, LogMelFrontend, frames_to_patches, num_patches

torch.set_num_threads(1)

SHARED = Path(os.environ.get("INFANTCRY_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared"))
TFLITE = SHARED / "models" / "yamnet" / "yamnet.tflite"


def _need(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"needs ../shared data: {path} is absent")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ym.YAMNet:
    _need(TFLITE)
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    return ym.load_yamnet(TFLITE, cache_dir=tmp_path_factory.mktemp("yamnet_cache"))


@pytest.fixture(scope="module")
def random_model() -> ym.YAMNet:
    """Random weights: for the tests of shapes, split and batching that need no ../shared."""
    torch.manual_seed(0)
    return ym.YAMNet().eval()


def _windows(kind: str, n_clips: int, per_clip: int = 3) -> list[np.ndarray]:
    """0.975 s windows (hop 0.48 s) from the first clips of a fixed, spread-out selection."""
    from infantcry_sdk.audio import load

    if kind == "esc50":
        table = SHARED / "data" / "esc50" / "esc50.csv"
        _need(table)
        rows = list(csv.DictReader(open(table)))[::53]
    else:
        table = SHARED / "data" / "donateacry" / "manifest.csv"
        _need(table)
        rows = [r for r in csv.DictReader(open(table)) if (r["platform"] == "android") == (kind == "android")][::17]
    out = []
    for r in rows[:n_clips]:
        wave = load(table.parent / r["file"], None, 16000)
        for start in range(0, max(1, wave.size - PATCH_SAMPLES + 1), 7680)[:per_clip]:
            seg = np.zeros(PATCH_SAMPLES, np.float32)
            chunk = wave[start : start + PATCH_SAMPLES]
            seg[: chunk.size] = chunk
            if np.abs(seg).max() > 0:
                out.append(seg)
    return out


# ------------------------------------------------------------------------------------------------
# parity with the TFLite interpreter
# ------------------------------------------------------------------------------------------------
def test_network_matches_tflite_on_its_own_patches(model: ym.YAMNet, yamnet_tflite) -> None:
    windows = _windows("esc50", 6) + _windows("ios", 4) + _windows("android", 4)
    ref_scores, patches = zip(*(yamnet_tflite.run(w) for w in windows))
    with torch.no_grad():
        scores, emb = model(torch.from_numpy(np.stack(patches)))
    err = np.abs(scores.numpy() - np.stack(ref_scores))
    within = (err.max(axis=1) <= 0.05).mean()
    top1 = (scores.numpy().argmax(1) == np.stack(ref_scores).argmax(1)).mean()
    assert emb.shape == (len(windows), 1024)
    assert within >= 0.95, f"patches with all scores within 0.05: {within:.3f}"
    assert top1 >= 0.95, f"top-1 agreement {top1:.3f}"
    assert err.max() < 0.1 and err.mean() < 0.002


def test_end_to_end_matches_tflite_on_16k_clips(model: ym.YAMNet, yamnet_tflite) -> None:
    windows = _windows("esc50", 6) + _windows("ios", 4)
    ref = np.stack([yamnet_tflite.run(w)[0] for w in windows])
    with torch.no_grad():
        scores, _ = model(LogMelFrontend()(torch.from_numpy(np.stack(windows))))
    err = np.abs(scores.numpy() - ref)
    assert (scores.numpy().argmax(1) == ref.argmax(1)).mean() >= 0.9
    assert np.median(err.max(axis=1)) <= 0.05


def test_class_names_and_cry_classes(model: ym.YAMNet) -> None:
    assert model.class_names is not None and len(model.class_names) == ym.NUM_CLASSES
    assert model.class_names[ym.BABY_CRY] == "Baby cry, infant cry"
    assert model.class_names[ym.CRYING_SOBBING] == "Crying, sobbing"
    assert ym.CRY_CLASSES == (20, 19)


def test_cache_is_written_and_reused(tmp_path: Path) -> None:
    _need(TFLITE)
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    first = ym.load_yamnet(TFLITE, cache_dir=tmp_path)
    cache = tmp_path / ym.CACHE_NAME
    assert cache.is_file()
    saved = torch.load(cache, weights_only=True)
    # A cache made from another file is ignored and rewritten.
    torch.save({**saved, "source_sha256": "0" * 64}, cache)
    second = ym.load_yamnet(TFLITE, cache_dir=tmp_path)
    assert torch.load(cache, weights_only=True)["source_sha256"] == saved["source_sha256"]
    for (k, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), k


def test_dequantized_weights_are_sane(model: ym.YAMNet) -> None:
    state = model.state_dict()
    # Keras counts 3,751,369 including the 21,888 batch-norm moving means and variances folded away here.
    assert sum(p.numel() for p in model.parameters()) == 3_729_481
    for name, t in state.items():
        assert torch.isfinite(t).all(), name
        if name.endswith("weight"):
            assert t.abs().max() < 50 and t.abs().max() > 0, name


def test_missing_or_bad_file(tmp_path: Path) -> None:
    with pytest.raises(ym.YAMNetError, match="not found"):
        ym.load_yamnet(tmp_path / "nope.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    with pytest.raises(ym.YAMNetError):
        ym.load_yamnet(bad)


# ------------------------------------------------------------------------------------------------
# structure (random weights: no ../shared needed)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,stride,pads", [(96, 2, (0, 1)), (64, 2, (0, 1)), (6, 2, (0, 1)), (5, 2, (1, 1)), (48, 1, (1, 1)), (3, 1, (1, 1))])
def test_tf_same_padding(n: int, stride: int, pads: tuple[int, int]) -> None:
    pad = ym.TFSamePad2d(3, stride)
    assert pad._pads(n) == pads
    assert pad(torch.zeros(1, 1, n, n)).shape[-1] == n + sum(pads)


def test_shapes_follow_yamnet(random_model: ym.YAMNet) -> None:
    x = torch.randn(2, 1, 96, 64)
    sizes = []
    for block in random_model.blocks:
        x = block(x)
        sizes.append(tuple(x.shape[1:]))
    assert sizes[0] == (32, 48, 32) and sizes[2] == (128, 24, 16) and sizes[-1] == (1024, 3, 2)
    scores, emb = random_model(torch.randn(3, 96, 64))
    assert scores.shape == (3, 521) and emb.shape == (3, 1024)
    assert ((scores > 0) & (scores < 1)).all()
    with pytest.raises(ValueError):
        random_model(torch.randn(3, 95, 64))


@pytest.mark.parametrize("k", [0, 1, 3, 14])
def test_split_composes_to_embed(random_model: ym.YAMNet, k: int) -> None:
    patches = torch.randn(2, 96, 64)
    frozen, trainable = random_model.split(k)
    with torch.no_grad():
        torch.testing.assert_close(trainable(frozen(patches)), random_model.embed(patches))
    assert all(not p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in trainable.parameters())
    # depthwise + pointwise weight and bias per separable block; layer 1 is one conv
    assert sum(1 for _ in trainable.parameters()) == (4 * k if k < 14 else 4 * 13 + 2)
    # Shared, not copied: the split modules hold this model's own tensors.
    ids = {id(p) for p in random_model.parameters()}
    assert all(id(p) in ids for p in [*frozen.parameters(), *trainable.parameters()])


def test_split_rejects_bad_counts(random_model: ym.YAMNet) -> None:
    for k in (-1, 15, 2.0, True):
        with pytest.raises(ValueError):
            random_model.split(k)


def test_fine_tuning_changes_only_the_tail(random_model: ym.YAMNet) -> None:
    model = ym.YAMNet()
    model.load_state_dict(random_model.state_dict())
    frozen, trainable = model.split(2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(trainable.parameters(), lr=0.1)
    trainable(frozen(torch.randn(2, 96, 64))).pow(2).mean().backward()
    opt.step()
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(("blocks.12.", "blocks.13.")) for k in changed)


def test_embed_waveform_batch_equals_single(random_model: ym.YAMNet) -> None:
    rng = np.random.default_rng(0)
    lengths = [30000, 100, 15600, 20000]
    clips = [torch.from_numpy((rng.standard_normal(n) * 0.1).astype(np.float32)) for n in lengths]
    batch = torch.zeros(len(clips), max(lengths))
    for i, c in enumerate(clips):
        batch[i, : c.numel()] = c
    with torch.no_grad():
        emb, mask = random_model.embed_waveform(batch, torch.tensor(lengths), hop_frames=48)
        p = num_patches(max(lengths))
        assert emb.shape == (4, p, 1024) and mask.shape == (4, p)
        for i, c in enumerate(clips):
            n = num_patches(c.numel())
            assert mask[i].tolist() == [True] * n + [False] * (p - n)
            alone, alone_mask = random_model.embed_waveform(c[None])
            assert alone_mask.all() and alone.shape[1] == n
            torch.testing.assert_close(emb[i, :n], alone[0], atol=1e-5, rtol=1e-4)
            # The same as running the pieces by hand.
            patches = frames_to_patches(LogMelFrontend()(c[None]))[0]
            torch.testing.assert_close(alone[0], random_model.embed(patches), atol=1e-5, rtol=1e-4)


def test_embed_waveform_validates(random_model: ym.YAMNet) -> None:
    with pytest.raises(ValueError):
        random_model.embed_waveform(torch.zeros(16000))
    with pytest.raises(ValueError):
        random_model.embed_waveform(torch.zeros(2, 16000), torch.tensor([16001, 3]))
    with torch.no_grad():
        emb, mask = random_model.embed_waveform(torch.zeros(1, 40000), hop_frames=96)
    assert emb.shape[1] == num_patches(40000, hop_frames=96) == mask.shape[1]
