"""Frame-level backbones behind one small interface, so the teacher can swap YAMNet for another model.

A :class:`FrameBackbone` maps a batch of zero-padded 16 kHz waveforms and their true lengths to a
sequence of frame embeddings and a mask of the real frames:

    frames, mask = backbone(waveform [B, N] float32, lengths [B] int)  # [B, P, D], [B, P] bool

so pooling (``export.models.pooling``) and the heads never need to know which model produced the frames.

* :class:`YAMNetBackbone`: YAMNet patch embeddings (1024-d per 0.96 s patch, configurable hop).
* :class:`HFBackbone`: a transformers model saved on disk (``save_pretrained``), loaded with
  ``AutoModel.from_pretrained(local_path, local_files_only=True)``; nothing is ever downloaded.
  Raw-waveform models (wav2vec2, HuBERT, WavLM, data2vec-audio, ...: anything with a convolutional
  feature encoder, i.e. ``_get_feat_extract_output_lengths``) get the waveform, normalized the way
  their saved feature extractor says; the Audio Spectrogram Transformer gets the Kaldi fbank of its
  own feature extractor, and its patch tokens are averaged over frequency into time frames.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.audio.frontend import HOP_SAMPLES, PATCH_HOP_FRAMES, SAMPLE_RATE, WINDOW_SAMPLES, lengths_to_mask, num_frames
from export.models.yamnet import EMBEDDING_DIM, YAMNet, load_yamnet


class BackboneError(ValueError):
    """A backbone name or path that cannot be used (not found, unsupported model type, wrong rate)."""


class FrameBackbone(nn.Module):
    """Waveforms -> frame embeddings. Subclasses set ``embedding_dim`` and ``hop_seconds``.

    ``forward(waveform [B, N] float32 at 16 kHz, lengths [B] int samples) -> (frames [B, P, D],
    mask [B, P] bool)``. ``mask`` is True on frames computed from a clip's own samples; frames
    produced only by the batch's zero padding are False. Every clip gets at least one frame.
    """

    embedding_dim: int
    hop_seconds: float

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    @staticmethod
    def _check(waveform: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if waveform.dim() != 2:
            raise ValueError(f"backbones take waveforms [B, N], got shape {tuple(waveform.shape)}.")
        if lengths is None:
            return torch.full((waveform.shape[0],), waveform.shape[1], dtype=torch.int64, device=waveform.device)
        lengths = torch.as_tensor(lengths, dtype=torch.int64, device=waveform.device)
        if lengths.shape != (waveform.shape[0],) or bool((lengths < 0).any()) or bool((lengths > waveform.shape[1]).any()):
            raise ValueError(f"lengths must be [B] ints in 0..{waveform.shape[1]}, got {lengths.tolist()}.")
        return lengths


class YAMNetBackbone(FrameBackbone):
    """YAMNet embeddings, one per 96-frame patch every ``hop_frames`` frames (48 = 0.48 s)."""

    def __init__(self, yamnet: YAMNet, hop_frames: int = PATCH_HOP_FRAMES) -> None:
        super().__init__()
        self.yamnet = yamnet
        self.hop_frames = hop_frames
        self.embedding_dim = EMBEDDING_DIM
        self.hop_seconds = hop_frames * HOP_SAMPLES / SAMPLE_RATE

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.yamnet.embed_waveform(waveform, self._check(waveform, lengths), self.hop_frames)


def _min_samples(kernels: tuple[int, ...], strides: tuple[int, ...]) -> int:
    """Fewest input samples for which a stack of valid (unpadded) 1-D convolutions yields one frame."""
    need = 1
    for k, s in zip(reversed(kernels), reversed(strides)):
        need = (need - 1) * s + k
    return need


class HFBackbone(FrameBackbone):
    """A transformers audio model from a local folder; frames are ``last_hidden_state`` (or ``hidden_layer``).

    ``hidden_layer``: index into ``hidden_states`` (0 = the feature projection, -1 = the last
    layer, the default) for models whose middle layers transfer better.
    """

    def __init__(self, local_path: str | Path, hidden_layer: int | None = None) -> None:
        super().__init__()
        path = Path(local_path)
        if not (path / "config.json").is_file():
            raise BackboneError(
                f"{path} is not a saved transformers model (no config.json). Pass a local folder written by "
                "save_pretrained; nothing is downloaded."
            )
        from transformers import AutoFeatureExtractor, AutoModel  # heavy: imported only when used

        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        config = self.model.config
        self.model_type = config.model_type
        self.hidden_layer = hidden_layer
        self.embedding_dim = int(config.hidden_size)
        self.extractor = (
            AutoFeatureExtractor.from_pretrained(path, local_files_only=True)
            if (path / "preprocessor_config.json").is_file()
            else None
        )
        rate = getattr(self.extractor, "sampling_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise BackboneError(f"{path}: the model expects {rate} Hz audio; this toolchain feeds {SAMPLE_RATE} Hz.")
        if self.model_type == "audio-spectrogram-transformer":
            if self.extractor is None:
                raise BackboneError(f"{path}: an AST model needs its preprocessor_config.json (the fbank settings).")
            self.kind = "spectrogram"
            self.time_stride = int(config.time_stride)
            self.max_frames = int(config.max_length)
            self.hop_seconds = self.time_stride * HOP_SAMPLES / SAMPLE_RATE
        elif hasattr(self.model, "_get_feat_extract_output_lengths") and hasattr(config, "conv_stride"):
            self.kind = "waveform"
            # Without a saved feature extractor: raw samples, and an attention mask only for the
            # models trained with one (layer-norm feature encoders), as transformers recommends.
            self.normalize = bool(getattr(self.extractor, "do_normalize", False))
            self.use_attention_mask = bool(
                getattr(self.extractor, "return_attention_mask", getattr(config, "feat_extract_norm", "") == "layer")
            )
            self.min_samples = _min_samples(tuple(config.conv_kernel), tuple(config.conv_stride))
            self.hop_seconds = math.prod(config.conv_stride) / SAMPLE_RATE
        else:
            raise BackboneError(
                f"{path}: model type {self.model_type!r} is not supported: use a raw-waveform model "
                "(wav2vec2, HuBERT, WavLM, ...) or an Audio Spectrogram Transformer."
            )

    def _frames(self, **inputs) -> torch.Tensor:
        if self.hidden_layer is None:
            return self.model(**inputs).last_hidden_state
        return self.model(**inputs, output_hidden_states=True).hidden_states[self.hidden_layer]

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = self._check(waveform, lengths)
        if self.kind == "waveform":
            return self._forward_waveform(waveform.to(torch.float32), lengths)
        return self._forward_spectrogram(waveform.to(torch.float32), lengths)

    def _forward_waveform(self, x: torch.Tensor, true_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] < self.min_samples:  # the convolutional encoder needs one receptive field
            x = torch.cat([x, x.new_zeros(x.shape[0], self.min_samples - x.shape[1])], dim=1)
        # A clip shorter than the receptive field is zero-padded to it (like the log-mel rule).
        lengths = true_lengths.clamp_min(self.min_samples)
        if self.normalize:  # zero mean, unit variance over each clip's own samples (transformers' rule)
            w = lengths_to_mask(true_lengths, x.shape[1]).to(x.dtype)
            count = w.sum(1, keepdim=True).clamp_min(1.0)
            mean = (x * w).sum(1, keepdim=True) / count
            var = ((x - mean) ** 2 * w).sum(1, keepdim=True) / count
            x = (x - mean) / torch.sqrt(var + 1e-7) * w
        inputs = {"input_values": x}
        if self.use_attention_mask:
            inputs["attention_mask"] = lengths_to_mask(lengths, x.shape[1]).to(torch.long)
        frames = self._frames(**inputs)
        counts = self.model._get_feat_extract_output_lengths(lengths)
        return frames, lengths_to_mask(counts.to(torch.int64).clamp(1, frames.shape[1]), frames.shape[1])

    def _forward_spectrogram(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        clips = []
        for wave, n in zip(x.cpu().numpy(), lengths.tolist()):
            clip = wave[:n]
            clips.append(np.pad(clip, (0, max(0, WINDOW_SAMPLES - clip.size))))  # at least one fbank frame
        feats = self.extractor(clips, sampling_rate=SAMPLE_RATE, return_tensors="pt")["input_values"].to(x.device)
        tokens = self._frames(input_values=feats)
        f_dim, t_dim = self.model.embeddings.get_shape(self.model.config)
        patches = tokens[:, -f_dim * t_dim :].reshape(tokens.shape[0], f_dim, t_dim, -1)  # after the CLS/distill tokens
        frames = patches.mean(dim=1)  # [B, t_dim, D]: average the frequency patches of each time step
        fbank = num_frames(lengths).clamp(max=self.max_frames)
        counts = torch.div(fbank + self.time_stride - 1, self.time_stride, rounding_mode="floor")
        return frames, lengths_to_mask(counts.clamp(1, t_dim), t_dim)


def make_backbone(
    name_or_path: str | Path,
    *,
    yamnet_tflite: str | Path | None = None,
    cache_dir: str | Path | None = None,
    hop_frames: int = PATCH_HOP_FRAMES,
    hidden_layer: int | None = None,
) -> FrameBackbone:
    """A backbone by name or local path.

    * ``"yamnet"``: YAMNet from ``yamnet_tflite`` (cached in ``cache_dir``), patch hop ``hop_frames``;
    * a ``.tflite`` file: YAMNet from that file;
    * a folder holding a transformers ``config.json``: :class:`HFBackbone`.
    """
    text = str(name_or_path)
    if text.lower() == "yamnet":
        if yamnet_tflite is None:
            raise BackboneError("make_backbone('yamnet') needs yamnet_tflite=<path to yamnet.tflite>.")
        return YAMNetBackbone(load_yamnet(yamnet_tflite, cache_dir), hop_frames)
    path = Path(name_or_path)
    if path.suffix == ".tflite":
        return YAMNetBackbone(load_yamnet(path, cache_dir), hop_frames)
    if path.is_dir():
        return HFBackbone(path, hidden_layer=hidden_layer)
    raise BackboneError(
        f"unknown backbone {text!r}: use 'yamnet', a yamnet .tflite file, or a local folder saved by "
        "transformers' save_pretrained (nothing is downloaded)."
    )


def describe(backbone: FrameBackbone) -> dict:
    """A JSON-able summary for run manifests and model cards."""
    info = {"class": type(backbone).__name__, "embedding_dim": backbone.embedding_dim, "hop_seconds": backbone.hop_seconds}
    if isinstance(backbone, HFBackbone):
        info.update(model_type=backbone.model_type, kind=backbone.kind, hidden_layer=backbone.hidden_layer)
    if isinstance(backbone, YAMNetBackbone):
        info.update(hop_frames=backbone.hop_frames)
    return info
