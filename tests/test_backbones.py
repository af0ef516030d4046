"""Frame backbones: YAMNet and transformers models (tiny random configs saved to tmp_path; no download).

The transformers tests are marked slow only because importing transformers takes several seconds;
the models themselves are tiny.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from export import backbones as bb
from export.audio.frontend import num_patches
from export.models.yamnet import YAMNet

torch.set_num_threads(1)

SHARED = Path(os.environ.get("INFANTCRY_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared"))
TFLITE = SHARED / "models" / "yamnet" / "yamnet.tflite"

TINY = dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
TINY_CONV = dict(conv_dim=(8, 8, 8), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), num_conv_pos_embeddings=8,
                 num_conv_pos_embedding_groups=2, vocab_size=8)


def _batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    rng = np.random.default_rng(seed)
    clips = [torch.from_numpy((rng.standard_normal(n) * 0.1).astype(np.float32)) for n in lengths]
    batch = torch.zeros(len(clips), max(lengths))
    for i, c in enumerate(clips):
        batch[i, : c.numel()] = c
    return batch, torch.tensor(lengths), clips


# ------------------------------------------------------------------------------------------------
# YAMNet
# ------------------------------------------------------------------------------------------------
def test_yamnet_backbone_shapes_and_mask() -> None:
    torch.manual_seed(0)
    backbone = bb.YAMNetBackbone(YAMNet().eval(), hop_frames=24)
    assert isinstance(backbone, bb.FrameBackbone)
    assert backbone.embedding_dim == 1024 and backbone.hop_seconds == pytest.approx(0.24)
    batch, lengths, _ = _batch([20000, 500])
    with torch.no_grad():
        frames, mask = backbone(batch, lengths)
    p = num_patches(20000, hop_frames=24)
    assert frames.shape == (2, p, 1024) and mask.shape == (2, p)
    assert mask.sum(1).tolist() == [p, num_patches(500, hop_frames=24)]
    with pytest.raises(ValueError):
        backbone(batch, torch.tensor([20001, 3]))


def test_make_backbone_yamnet_and_errors(tmp_path: Path) -> None:
    with pytest.raises(bb.BackboneError, match="yamnet_tflite"):
        bb.make_backbone("yamnet")
    with pytest.raises(bb.BackboneError, match="nothing is downloaded"):
        bb.make_backbone("facebook/wav2vec2-base")
    with pytest.raises(bb.BackboneError, match="config.json"):
        bb.HFBackbone(tmp_path)
    if not TFLITE.is_file():
        pytest.skip(f"needs ../shared data: {TFLITE} is absent")
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    backbone = bb.make_backbone("yamnet", yamnet_tflite=TFLITE, cache_dir=tmp_path, hop_frames=48)
    assert isinstance(backbone, bb.YAMNetBackbone) and backbone.hop_frames == 48
    assert bb.describe(backbone)["embedding_dim"] == 1024


# ------------------------------------------------------------------------------------------------
# transformers
# ------------------------------------------------------------------------------------------------
def _save_wav2vec2(path: Path, **extra) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(**TINY, **TINY_CONV, feat_extract_norm="layer", do_stable_layer_norm=True, **extra)
    Wav2Vec2Model(config).save_pretrained(path)
    return path


@pytest.mark.slow
def test_wav2vec2_shapes_masks_and_batch_equality(tmp_path: Path) -> None:
    backbone = bb.make_backbone(_save_wav2vec2(tmp_path / "w2v"))
    assert isinstance(backbone, bb.HFBackbone) and backbone.kind == "waveform"
    assert backbone.embedding_dim == 16 and backbone.hop_seconds == pytest.approx(20 / 16000)
    assert backbone.use_attention_mask and not backbone.normalize  # layer-norm encoder, no extractor saved
    assert backbone.min_samples == 10 + 5 * (2 + 2 * 2)  # receptive field of kernels 10,3,3 strides 5,2,2
    batch, lengths, clips = _batch([4000, 1200, 1])
    with torch.no_grad():
        frames, mask = backbone(batch, lengths)
        counts = backbone.model._get_feat_extract_output_lengths(lengths.clamp_min(backbone.min_samples))
        assert frames.shape == (3, int(counts[0]), 16)
        assert mask.sum(1).tolist() == counts.tolist()
        for i, clip in enumerate(clips):  # padding does not reach the real frames
            alone, alone_mask = backbone(clip[None], None)
            assert alone_mask.all()
            torch.testing.assert_close(frames[i, : alone.shape[1]], alone[0], atol=1e-4, rtol=1e-4)


@pytest.mark.slow
def test_hubert_with_normalizing_extractor(tmp_path: Path) -> None:
    from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

    path = tmp_path / "hubert"
    torch.manual_seed(0)
    HubertModel(HubertConfig(**TINY, **TINY_CONV, feat_extract_norm="group")).save_pretrained(path)
    Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(path)
    backbone = bb.make_backbone(path, hidden_layer=0)
    assert backbone.model_type == "hubert" and backbone.normalize and not backbone.use_attention_mask
    batch, lengths, clips = _batch([3000, 800])
    with torch.no_grad():
        frames, mask = backbone(batch, lengths)
        # Normalisation is per clip over its own samples: scaling a clip changes nothing.
        scaled, _ = backbone(batch * torch.tensor([[3.0], [0.5]]), lengths)
    torch.testing.assert_close(frames, scaled, atol=1e-4, rtol=1e-4)
    counts = backbone.model._get_feat_extract_output_lengths(lengths)
    assert frames.shape == (2, int(counts[0]), 16) and mask.sum(1).tolist() == counts.tolist()


@pytest.mark.slow
def test_ast_frames_over_time(tmp_path: Path) -> None:
    from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

    path = tmp_path / "ast"
    torch.manual_seed(0)
    config = ASTConfig(**TINY, num_mel_bins=32, max_length=100, frequency_stride=10, time_stride=10)
    ASTModel(config).save_pretrained(path)
    ASTFeatureExtractor(num_mel_bins=32, max_length=100).save_pretrained(path)
    backbone = bb.make_backbone(path)
    assert backbone.kind == "spectrogram" and backbone.hop_seconds == pytest.approx(0.1)
    batch, lengths, _ = _batch([16000, 4000, 10])
    with torch.no_grad():
        frames, mask = backbone(batch, lengths)
    t_dim = (100 - 16) // 10 + 1
    assert frames.shape == (3, t_dim, 16)
    # 16000 samples = 98 fbank frames -> all 9 time steps; 4000 -> 24 frames -> 3 steps; 10 -> 1.
    assert mask.sum(1).tolist() == [9, 3, 1]


@pytest.mark.slow
def test_unsupported_model_type(tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(**TINY, vocab_size=10)).save_pretrained(tmp_path / "bert")
    with pytest.raises(bb.BackboneError, match="not supported"):
        bb.make_backbone(tmp_path / "bert")
