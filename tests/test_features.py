"""The teacher's feature pass: onnxruntime and torch give the same features, clips batch independently."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from export.training.features import FeatureExtractor, extract_cached

TFLITE = Path(__file__).resolve().parents[2] / "shared" / "models" / "yamnet" / "yamnet.tflite"


@pytest.fixture(scope="module")
def yamnet(tmp_path_factory):
    if not TFLITE.is_file():
        pytest.skip(f"YAMNet weights absent ({TFLITE}): the feature pass needs ../shared")
    pytest.importorskip("ai_edge_litert")
    from export.models.yamnet import load_yamnet

    torch.set_num_threads(1)
    return load_yamnet(TFLITE, cache_dir=tmp_path_factory.mktemp("yamnet"))


@pytest.mark.parametrize("blocks", [0, 1])
def test_onnxruntime_pass_equals_torch(yamnet, tmp_path, blocks) -> None:
    rng = np.random.default_rng(0)
    waves = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (300, 16000, 40000)]
    fast = FeatureExtractor(yamnet, hop_frames=96, trainable_blocks=blocks, cache_dir=tmp_path, threads=1).extract(waves)
    ref = FeatureExtractor(yamnet, hop_frames=96, trainable_blocks=blocks, use_onnxruntime=False).extract(waves)
    for a, b in zip(fast, ref):
        assert a.features.shape == b.features.shape and a.features.shape[0] >= 1
        np.testing.assert_allclose(a.features.astype(np.float32), b.features.astype(np.float32), atol=2e-3)
        np.testing.assert_allclose(a.cry_scores, b.cry_scores, atol=1e-4)
    # one clip alone gets what it got in the batch
    alone = FeatureExtractor(yamnet, hop_frames=96, trainable_blocks=blocks, cache_dir=tmp_path, threads=1).extract(waves[1:2])
    np.testing.assert_array_equal(alone[0].embeddings, fast[1].embeddings)


def test_feature_cache_round_trip(yamnet, tmp_path) -> None:
    ex = FeatureExtractor(yamnet, hop_frames=96, cache_dir=tmp_path, threads=1)
    waves = [np.zeros(8000, np.float32), 0.05 * np.ones(20000, np.float32)]
    first = extract_cached(ex, ["a", "b"], waves, tmp_path, "t", progress=False)
    again = extract_cached(ex, ["a", "b"], [np.zeros(1, np.float32)] * 2, tmp_path, "t", progress=False)  # from disk
    for k in ("a", "b"):
        np.testing.assert_array_equal(first[k].features, again[k].features)
        np.testing.assert_array_equal(first[k].cry_scores, again[k].cry_scores)


def test_feature_cache_key_follows_the_sdk_resampling_recipe(yamnet, tmp_path, monkeypatch) -> None:
    """Features come from waveforms the SDK resampled: another recipe must not reuse them."""
    from export.training.features import cache_key
    from infantcry_sdk import audio as sdk_audio

    ex = FeatureExtractor(yamnet, hop_frames=96, cache_dir=tmp_path, threads=1)
    before = cache_key(["a", "b"], ex, "t")
    monkeypatch.setattr(sdk_audio, "RESAMPLE_QUALITY", "HQ")
    assert cache_key(["a", "b"], ex, "t") != before
