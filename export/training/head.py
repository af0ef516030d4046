"""Training the teacher head on cached backbone features, through the one loop (:func:`export.training.fit.fit`).

Losses: BCE for cry (positives re-weighted to balance the negatives), class-weighted cross-entropy
for the cause on clips that carry one, and the auxiliary parent-tag loss, each weighted per item
(weak labels count less). Uncurated clips carry a tag but no verified cry label: the cry term skips them.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from export.data.catalog import TAG_LABELS as PARENT_TAGS
from export.models.teacher import TeacherConfig, TeacherHead, TeacherOutputs, TrainItem, class_weights, collate, predict
from export.training.fit import FitHistory, FitSettings, fit


class _HeadLoss:
    """The head's loss on one collated batch; weights come from the training items."""

    def __init__(self, train: Sequence[TrainItem], n_causes: int, config: TeacherConfig) -> None:
        n_pos = sum(it.is_cry == 1 for it in train)
        n_neg = sum(it.is_cry == 0 for it in train)
        self.bce = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(max(n_neg, 1) / max(n_pos, 1)), reduction="none")
        cause_w = class_weights([it.cause for it in train], n_causes)
        tag_w = class_weights([it.tag for it in train], len(PARENT_TAGS))
        self.ce_cause = nn.CrossEntropyLoss(weight=cause_w, ignore_index=-1, reduction="none")
        self.ce_tag = nn.CrossEntropyLoss(weight=tag_w, ignore_index=-1, reduction="none")
        self.config = config

    def __call__(self, head: TeacherHead, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        cry, cause, tag = head(b["feats"], b["mask"], b["context"])
        w = b["weight"]
        loss = _masked_mean(self.bce(cry, b["is_cry"].clamp_min(0)) * w, b["is_cry"] >= 0, b["counts"][0, 1], b["counts"][0, 0])
        if cfg.cause_loss_weight > 0:
            loss = loss + cfg.cause_loss_weight * _masked_mean(self.ce_cause(cause, b["cause"]) * w, b["cause"] >= 0,
                                                               b["counts"][0, 2], b["counts"][0, 0])
        if cfg.tag_loss_weight > 0:
            loss = loss + cfg.tag_loss_weight * _masked_mean(self.ce_tag(tag, b["tag"]) * w, b["tag"] >= 0,
                                                             b["counts"][0, 3], b["counts"][0, 0])
        return loss, {}


def batch_counts(b: dict[str, torch.Tensor]) -> torch.Tensor:
    """Rows, rows with a cry label, with a cause, with a tag: of the WHOLE batch, taken before a
    torchrun rank keeps its share, so every term stays the whole batch's mean on any number of ranks."""
    counts = [len(b["is_cry"]), int((b["is_cry"] >= 0).sum()), int((b["cause"] >= 0).sum()), int((b["tag"] >= 0).sum())]
    return torch.tensor([counts], dtype=torch.float64)  # [1, 4]: one row, so no rank cuts it


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, n_masked: torch.Tensor, n_rows: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the batch's masked rows, written as a mean over this rank's rows (what
    ``fit`` scales by its share), so the ranks' average is exactly the one-process value."""
    if n_masked <= 0:
        return values.sum() * 0.0
    rows_here = max(len(values), 1)
    return (values * mask).sum() * float(n_rows / n_masked) / rows_here


def _optimizer(config: TeacherConfig, steps_per_epoch: int):
    """AdamW with the backbone blocks the head fine-tunes at their own (lower) rate, one-cycle schedule."""

    def make(head: TeacherHead):
        backbone = list(head.blocks.parameters())
        other = [p for n, p in head.named_parameters() if not n.startswith("blocks.")]
        groups = [{"params": other, "lr": config.lr}]
        if backbone:
            groups.append({"params": backbone, "lr": config.backbone_lr})
        opt = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=[g["lr"] for g in groups], total_steps=config.epochs * steps_per_epoch, pct_start=0.1
        )
        return opt, sched

    return make


def train_head(
    make_head: Callable[[], TeacherHead],
    train: Sequence[TrainItem],
    val: Sequence[TrainItem],
    config: TeacherConfig,
    score: Callable[[TeacherOutputs, Sequence[TrainItem]], float],
    *,
    seed: int = 0,
    threads: int | None = None,
    progress: bool = True,
) -> tuple[TeacherHead, FitHistory]:
    """Train a head on cached features; keep the epoch with the best ``score`` on ``val`` (with no
    ``val``: the lowest training loss)."""
    steps = max(1, math.ceil(len(train) / config.batch_size))

    def batches(rng: np.random.Generator):
        order = rng.permutation(len(train))
        for s in range(steps):
            idx = order[s * config.batch_size : (s + 1) * config.batch_size]
            if len(idx):
                b = collate([train[i] for i in idx], config.cry_gate)
                yield {**b, "counts": batch_counts(b)}

    val_score = (lambda head: score(predict(head, val, config), val)) if val else None
    settings = FitSettings(config.epochs, config.patience, config.grad_clip, seed, threads, progress,
                           f"teacher head ({config.pooling})")
    probe = make_head()
    loss = _HeadLoss(train, probe.cause.out_features, config)
    return fit(make_head, _optimizer(config, steps), batches, loss, val_score, settings)
