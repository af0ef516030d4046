"""Evaluation: turn a model's scores on the grouped splits into the report's sections.

Model-agnostic on purpose: the teacher (torch, cached features), the baselines and the exported ONNX
students (through the SDK) all hand in probabilities, so every row of every table is computed by the
same code on the same clips. Thresholds come from validation scores only; the test split is touched
once, to measure.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from export.audio.augment import mix_at_snr
from export.constants import SAMPLE_RATE
from export.evaluation import metrics

SNRS_DB = (-5.0, 0.0, 5.0, 10.0, 20.0)


@dataclass
class Scores:
    """One model's outputs on one side of the split, aligned with the clips it was given."""

    clip_ids: list[str]
    cry_probability: np.ndarray  # [n]
    cause_probabilities: np.ndarray  # [n, K]

    def select(self, ids: Sequence[str]) -> "Scores":
        pos = {c: i for i, c in enumerate(self.clip_ids)}
        idx = np.array([pos[c] for c in ids], dtype=int)
        return Scores(list(ids), self.cry_probability[idx], self.cause_probabilities[idx])


@dataclass
class EvalSet:
    """Ground truth for one side: detection labels, cause labels (curated cries), groups, durations."""

    det_ids: list[str]
    det_y: np.ndarray
    det_groups: np.ndarray
    det_durations: np.ndarray
    cause_ids: list[str]
    cause_y: np.ndarray
    cause_groups: np.ndarray


#: Weight of cause balanced accuracy in :func:`selection_score`: the validation side's cause figure
#: rests on a handful of minority-cause clips, so detection leads (docs/decisions.md).
CAUSE_SELECTION_WEIGHT = 0.25


def selection_score(
    det_y: np.ndarray, cry_p: np.ndarray, cause_y: np.ndarray, cause_p: np.ndarray, labels: Sequence[str], max_fpr: float = 0.01
) -> float:
    """Model selection and early stopping on validation, for teacher and student alike.

    Detection first, as the product: ROC AUC plus F1 at the F1-best threshold with FPR <= ``max_fpr``
    (the operating point that ships), plus :data:`CAUSE_SELECTION_WEIGHT` x cause balanced accuracy.
    """
    score = 0.0
    if len(det_y) and 0 < det_y.sum() < len(det_y):
        thr = metrics.choose_threshold(det_y, cry_p, max_fpr)
        score += float(np.nan_to_num(metrics.roc_auc(det_y, cry_p))) + metrics.detection_metrics(det_y, cry_p, thr)["f1"]
    if len(cause_y):
        ba = metrics.cause_metrics(cause_y, cause_p, labels)["balanced_accuracy"]
        score += CAUSE_SELECTION_WEIGHT * float(np.nan_to_num(ba))
    return score


def choose_detection_threshold(val: EvalSet, val_scores: Scores, max_fpr: float = 0.01, placement: str = "middle") -> float:
    """F1-best threshold with FPR <= ``max_fpr`` on validation clips (:func:`metrics.choose_threshold`)."""
    return metrics.choose_threshold(val.det_y, val_scores.select(val.det_ids).cry_probability, max_fpr, placement)


def choose_cause_min_confidence(val: EvalSet, val_scores: Scores, grid: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7)) -> float:
    """The lowest confidence on ``grid`` whose confident validation predictions are right at least
    as often as all predictions are, while still covering half the clips: below it, say nothing.

    Rationale: the cause labels are parents' guesses and weakly predictable, so the SDK should
    abstain when the model is unsure rather than print a coin-flip as an answer.
    """
    s = val_scores.select(val.cause_ids).cause_probabilities
    if len(s) == 0:
        return float(grid[len(grid) // 2])
    conf, pred = s.max(axis=1), s.argmax(axis=1)
    base = float((pred == val.cause_y).mean())
    for c in grid:
        keep = conf >= c
        if keep.mean() >= 0.5 and keep.any() and float((pred[keep] == val.cause_y[keep]).mean()) >= base:
            return float(c)
    return float(grid[0])


def detection_section(ev: EvalSet, scores: Scores, threshold: float, n_boot: int = 1000, seed: int = 0) -> dict:
    p = scores.select(ev.det_ids).cry_probability
    neg = ev.det_y == 0
    out = metrics.detection_metrics(ev.det_y, p, threshold, neg_durations_s=ev.det_durations[neg])
    f1 = lambda y, q: metrics.detection_metrics(y, q, threshold)["f1"]  # noqa: E731
    out["ci95"] = {"f1": metrics.bootstrap_ci(f1, ev.det_y, p, groups=ev.det_groups, n_boot=n_boot, seed=seed)}
    fpr, tpr, _ = metrics.roc_curve(ev.det_y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))  # enough points for a plot
    out["roc"] = {"fpr": fpr[keep].tolist(), "tpr": tpr[keep].tolist()}
    return out


def cause_section(ev: EvalSet, scores: Scores, labels: Sequence[str], n_boot: int = 1000, seed: int = 0) -> dict:
    probs = scores.select(ev.cause_ids).cause_probabilities
    out = metrics.cause_metrics(ev.cause_y, probs, labels)

    def stat(key: str) -> Callable[[np.ndarray, np.ndarray], float]:
        return lambda y, q: metrics.cause_metrics(y, q, labels)[key]

    out["ci95"] = {
        k: metrics.bootstrap_ci(stat(k), ev.cause_y, probs, groups=ev.cause_groups, n_boot=n_boot, seed=seed)
        for k in ("balanced_accuracy", "macro_f1")
    }
    out["chance_balanced_accuracy"] = 1.0 / max(1, len(set(ev.cause_y.tolist())))
    return out


def evaluate(ev: EvalSet, scores: Scores, threshold: float, labels: Sequence[str], n_boot: int = 1000, seed: int = 0) -> dict:
    """Detection and cause sections for one model on one side of the split."""
    return {
        "detection": detection_section(ev, scores, threshold, n_boot, seed),
        "cause": cause_section(ev, scores, labels, n_boot, seed),
    }


def recall_vs_snr(
    score_waves: Callable[[list[np.ndarray]], np.ndarray],
    cries: Sequence[np.ndarray],
    backgrounds: Sequence[np.ndarray],
    threshold: float,
    snrs_db: Sequence[float] = SNRS_DB,
    seed: int = 0,
) -> dict[str, float]:
    """Detection recall of test cries mixed into test-side backgrounds at each SNR.

    Each cry gets one background drawn with a fixed seed, the same pairing at every SNR, so the curve
    shows the effect of the SNR alone. ``score_waves`` maps waveforms to cry probabilities.
    """
    if not cries or not backgrounds:
        return {}
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(backgrounds), size=len(cries))
    out = {}
    for snr in snrs_db:
        mixed = [np.clip(mix_at_snr(c, backgrounds[j], snr), -1.0, 1.0) for c, j in zip(cries, pick)]
        p = np.asarray(score_waves(mixed), dtype=np.float64)
        out[f"{snr:g}"] = float((p >= threshold).mean())
    return out


def sdk_scores(path: Path, ids: Sequence[str], waves: Sequence[np.ndarray], threads: int) -> Scores:
    """Score clips through the SDK exactly as an app would (windows, aggregation)."""
    from infantcry_sdk import CryClassifier

    clf = CryClassifier.load(path, threads=threads)
    preds = clf.predict_batch(list(waves), sample_rate=SAMPLE_RATE)
    return Scores(
        list(ids),
        np.array([p.cry_probability for p in preds]),
        np.array([[p.cause_probabilities[l] for l in clf.labels] for p in preds]),
    )
