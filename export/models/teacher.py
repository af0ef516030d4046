"""The teacher: YAMNet (AudioSet prior) -> frame embeddings -> pooling -> cry and cause heads.

Why this shape: labelled cries are scarce (372 curated clips, 7 burping), so the backbone's AudioSet
knowledge does the heavy lifting and only a small head (plus, optionally, the last backbone blocks)
is trained. The frozen part of the backbone runs once per clip and its output is cached, which makes
training, grouped cross-validation and the pooling ablation cheap enough for a 2-core CPU.

Cause is hard: the labels are parents' guesses. Two things are tried honestly, both reported:
auxiliary 9-way parent tags on every cry clip, and cry-gated pooling (frames the backbone itself hears
as crying carry the cause; frames of silence or talking do not).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from export.models.pooling import make_pooling
from export.models.yamnet import CONTEXT_CLASSES

from export.data.catalog import TAG_LABELS as PARENT_TAGS


@dataclass
class TeacherConfig:
    """Teacher knobs; the defaults are the pipeline's embedded defaults."""

    pooling: str = "auto"  # "auto": the pooling of the ablation with the best validation score
    weak_label_weight: float = 0.0  # >0: teacher-scored uncurated cries join training at this weight (docs/decisions.md)
    attention_heads: int = 4
    hop_frames: int = 96  # patch hop: 96 frames = 0.96 s, non-overlapping (YAMNet's own 0.48 s doubles the cost)
    fine_tune_blocks: int = 0  # 0: frozen backbone (cached embeddings); k: also train the last k blocks (~100 s/epoch on 2 cores for k=1)
    hidden_dim: int = 256
    dropout: float = 0.3
    epochs: int = 12
    batch_size: int = 64
    lr: float = 1e-3
    backbone_lr: float = 1e-4
    weight_decay: float = 1e-3
    cause_loss_weight: float = 1.0
    tag_loss_weight: float = 0.3  # auxiliary 9-way parent tags; 0 turns them off
    cry_gate: float = 0.0  # >0: pool only frames whose YAMNet cry score >= this (fallback: all frames)
    augment_copies: int = 1  # home-augmented copies of each training cry whose features are cached too
    negative_augment_copies: int = 0  # the same for each training negative (the student augments every negative on the fly)
    hard_negative_weight: float = 2.0  # loss weight of baby-like negatives (laughter, children, child speech)
    # Pitch-shifted (+3 to +7 semitones) training-side laughter and child speech as stand-ins for baby
    # laughter and babble; kept only if the VALIDATION score improves (the report says what they did).
    baby_like_stand_ins: bool = True
    patience: int = 4  # epochs without a better validation score before stopping
    grad_clip: float = 5.0
    # The head also reads YAMNet's AudioSet scores of the cries and the baby-like sounds (pooled mean and
    # max), which separate crying from baby laughter and babble that our data barely holds.
    audioset_context: bool = True


@dataclass
class ClipFeatures:
    """What the frozen backbone part produced for one clip (cached once, reused by every head)."""

    features: np.ndarray  # [P, ...] float16: what the trainable part reads (embeddings, or block activations)
    embeddings: np.ndarray  # [P, 1024] float16: the frozen backbone's embeddings (baselines, ablation)
    cry_scores: np.ndarray  # [P] float32: max of YAMNet's "Baby cry" and "Crying, sobbing" (also the zero-shot baseline)
    context_scores: np.ndarray  # [P, C] float16: YAMNet's AudioSet scores of export.models.yamnet.CONTEXT_CLASSES


@dataclass
class TrainItem:
    """A training or evaluation record over cached features."""

    clip_id: str
    feats: ClipFeatures
    is_cry: int  # 1 / 0, or -1 when unverified (uncurated upload: only its parent tag is used)
    cause: int = -1  # index into the cause labels, -1 when unknown
    tag: int = -1  # index into PARENT_TAGS, -1 when not a donateacry clip
    weight: float = 1.0  # sample weight (weak labels get less)
    group: str = ""


class TeacherHead(nn.Module):
    """Trainable part: optional last backbone blocks, pooling, and the two (three) heads."""

    def __init__(
        self,
        in_dim: int,
        n_causes: int,
        config: TeacherConfig,
        trainable_blocks: nn.Module | None = None,
        pooling: str | None = None,
    ) -> None:
        super().__init__()
        self.blocks = trainable_blocks if trainable_blocks is not None else nn.Identity()
        if config.hidden_dim > 0:
            # Frames are projected to hidden_dim before pooling: 4x less compute for every pooling and
            # far fewer weights to fit on a few hundred labelled cries.
            self.project = nn.Sequential(nn.LayerNorm(in_dim), nn.Dropout(config.dropout), nn.Linear(in_dim, config.hidden_dim), nn.GELU())
            d = config.hidden_dim
        else:  # hidden_dim 0: a linear probe on the pooled embedding (the baseline)
            self.project = nn.Identity()
            d = in_dim
        self.pool = make_pooling(pooling or config.pooling, d, heads=config.attention_heads)
        d = self.pool.out_dim
        self.trunk = nn.Dropout(config.dropout) if config.hidden_dim > 0 else nn.Identity()
        self.context_dim = 2 * len(CONTEXT_CLASSES) if config.audioset_context else 0
        d += self.context_dim
        self.cry = nn.Linear(d, 1)
        self.cause = nn.Linear(d, n_causes)
        self.tag = nn.Linear(d, len(PARENT_TAGS))

    def embed_frames(self, feats: torch.Tensor) -> torch.Tensor:
        """[B, P, ...] cached features -> [B, P, D] frame embeddings."""
        b, p = feats.shape[:2]
        out = self.blocks(feats.reshape(b * p, *feats.shape[2:]))
        return out.reshape(b, p, -1)

    def forward(
        self, feats: torch.Tensor, mask: torch.Tensor, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.trunk(self.pool(self.project(self.embed_frames(feats)), mask))
        if self.context_dim:
            h = torch.cat([h, pooled_context(context, mask)], dim=-1)
        return self.cry(h).squeeze(-1), self.cause(h), self.tag(h)


def pooled_context(context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[B, P, C] AudioSet scores -> [B, 2C]: their mean and max over the clip's real patches."""
    m = mask.unsqueeze(-1).to(context.dtype)
    mean = (context * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)
    top = context.masked_fill(~mask.unsqueeze(-1), 0.0).amax(dim=1)
    return torch.cat([mean, top], dim=-1)


def collate(items: Sequence[TrainItem], cry_gate: float = 0.0) -> dict[str, torch.Tensor]:
    """Pad a list of variable-length items into a batch with a frame mask.

    With ``cry_gate`` > 0 the mask also drops frames the backbone does not hear as crying, unless
    that would leave a clip with no frame at all (then every real frame is kept).
    """
    p_max = max(len(it.feats.features) for it in items)
    shape = items[0].feats.features.shape[1:]
    feats = np.zeros((len(items), p_max, *shape), dtype=np.float32)
    context = np.zeros((len(items), p_max, items[0].feats.context_scores.shape[1]), dtype=np.float32)
    mask = np.zeros((len(items), p_max), dtype=bool)
    for i, it in enumerate(items):
        n = len(it.feats.features)
        feats[i, :n] = it.feats.features
        context[i, :n] = it.feats.context_scores
        keep = np.ones(n, dtype=bool)
        if cry_gate > 0:
            gated = it.feats.cry_scores >= cry_gate
            if gated.any():
                keep = gated
        mask[i, :n] = keep
    return {
        "feats": torch.from_numpy(feats),
        "context": torch.from_numpy(context),
        "mask": torch.from_numpy(mask),
        "is_cry": torch.tensor([it.is_cry for it in items], dtype=torch.float32),
        "cause": torch.tensor([it.cause for it in items], dtype=torch.long),
        "tag": torch.tensor([it.tag for it in items], dtype=torch.long),
        "weight": torch.tensor([it.weight for it in items], dtype=torch.float32),
    }


def class_weights(labels: Sequence[int], n_classes: int) -> torch.Tensor:
    """Inverse-frequency weights (normalised to mean 1 over present classes); absent classes get 0."""
    counts = np.bincount([l for l in labels if l >= 0], minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / max((counts > 0).sum(), 1), 0.0)
    return torch.tensor(w, dtype=torch.float32)


@dataclass
class TeacherOutputs:
    """Per-clip outputs of a trained head: logits for distillation, probabilities for metrics."""

    clip_ids: list[str]
    cry_logit: np.ndarray  # [n]
    cause_logits: np.ndarray  # [n, K]

    @property
    def cry_probability(self) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.cry_logit))

    @property
    def cause_probabilities(self) -> np.ndarray:
        z = self.cause_logits - self.cause_logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


@torch.no_grad()
def predict(head: TeacherHead, items: Sequence[TrainItem], config: TeacherConfig, batch_size: int = 64) -> TeacherOutputs:
    head.eval()
    cry, cause = [], []
    for i in range(0, len(items), batch_size):
        b = collate(items[i : i + batch_size], config.cry_gate)
        c, k, _ = head(b["feats"], b["mask"], b["context"])
        cry.append(c.numpy())
        cause.append(k.numpy())
    n_causes = head.cause.out_features
    return TeacherOutputs(
        [it.clip_id for it in items],
        np.concatenate(cry) if cry else np.zeros(0),
        np.concatenate(cause) if cause else np.zeros((0, n_causes)),
    )


def score_waves(extractor, head: TeacherHead, config: TeacherConfig, waves: Sequence[np.ndarray]) -> TeacherOutputs:
    """The teacher on raw audio: backbone features (``extractor``, an ``export.training.features.FeatureExtractor``)
    then the head. Used for the recall-vs-SNR mixes and by the benchmarks' torch teacher."""
    feats = extractor.extract(list(waves))
    return predict(head, [TrainItem(clip_id=str(i), feats=f, is_cry=1) for i, f in enumerate(feats)], config)


def parameter_counts(yamnet: nn.Module, head: TeacherHead, fine_tuned: nn.Module | None) -> dict[str, int]:
    """The teacher's parameters: YAMNet without its AudioSet classifier (not part of the teacher; only
    its cry scores feed a baseline) and without the blocks the head fine-tunes (``fine_tuned``: the
    head holds its own copy), plus the whole head."""
    backbone = sum(p.numel() for p in yamnet.parameters()) - sum(p.numel() for p in yamnet.classifier.parameters())
    if fine_tuned is not None:
        backbone -= sum(p.numel() for p in fine_tuned.parameters())
    head_params = sum(p.numel() for p in head.parameters())
    return {"backbone": int(backbone), "head": int(head_params), "total": int(backbone + head_params)}


@dataclass
class SavedTeacher:
    """What ``teacher.pt`` holds: the head (eval mode), its config, labels and validation-chosen thresholds."""

    head: TeacherHead
    config: TeacherConfig
    labels: tuple[str, ...]
    threshold: float
    cause_min_confidence: float


def save_teacher(path: str | Path, head: TeacherHead, config: TeacherConfig, labels: Sequence[str],
                 threshold: float, cause_min_confidence: float) -> Path:
    """Write ``teacher.pt``: the head's weights and what rebuilds it (the backbone is YAMNet's file)."""
    torch.save({"head": head.state_dict(), "config": vars(config), "labels": list(labels),
                "threshold": threshold, "cause_min_confidence": cause_min_confidence}, path)
    return Path(path)


def _config_from(saved: dict) -> TeacherConfig:
    known = {f.name for f in dataclasses.fields(TeacherConfig)}  # a file may predate a field
    values = {k: v for k, v in saved["config"].items() if k in known}
    values.setdefault("audioset_context", False)  # files from before the context inputs have none
    return TeacherConfig(**values)


def teacher_config(path: str | Path) -> TeacherConfig:
    """The config saved in ``teacher.pt``: what the backbone pass must match before the head loads."""
    return _config_from(torch.load(Path(path), map_location="cpu", weights_only=True))


def load_teacher(path: str | Path, fine_tuned: nn.Module | None = None, in_dim: int = 1024) -> SavedTeacher:
    """Rebuild a :func:`save_teacher` file. ``fine_tuned``: the backbone blocks the head fine-tunes
    (a copy is made), required when its config has ``fine_tune_blocks > 0``."""
    saved = torch.load(Path(path), map_location="cpu", weights_only=True)
    config = _config_from(saved)
    if config.fine_tune_blocks > 0 and fine_tuned is None:
        raise ValueError(f"{path}: the head fine-tunes {config.fine_tune_blocks} backbone blocks; pass them")
    blocks = copy.deepcopy(fine_tuned) if config.fine_tune_blocks > 0 else None
    labels = tuple(saved["labels"])
    head = TeacherHead(in_dim, len(labels), config, blocks)
    head.load_state_dict(saved["head"])
    head.eval()
    return SavedTeacher(head, config, labels, float(saved["threshold"]), float(saved["cause_min_confidence"]))
