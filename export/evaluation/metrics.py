"""Evaluation metrics, numpy only: detection at a validation-chosen threshold, cause metrics that
do not hide behind the majority class, and cluster-bootstrap confidence intervals.

Conventions (stated once, used everywhere):
- A clip is predicted positive when ``p >= threshold``.
- The detection threshold is chosen on VALIDATION data only (:func:`choose_threshold`) and then
  applied unchanged to the test split.
- Balanced accuracy = mean recall over the classes present in ``y_true``; macro-F1 = mean F1 over
  the same classes (a class absent from the test set has no defined recall; predicting it still
  costs the other classes precision). With K classes present, always predicting one class gives
  balanced accuracy 1/K: the chance level.
- ECE: 10 equal-width bins of the top-class probability, weighted by bin size.
- Bootstrap CIs are percentile intervals; with ``groups`` the resampling unit is the group (an app
  install), because clips of one family are not independent.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np


def _binary(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(int).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y and p differ in length: {y.shape} vs {p.shape}.")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold only 0 and 1.")
    if not np.isfinite(p).all():
        raise ValueError("scores must be finite.")
    return y, p


def roc_curve(y, p) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds descending from +inf; tied scores form one point."""
    y, p = _binary(y, p)
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last = np.r_[np.nonzero(np.diff(ps))[0], ys.size - 1] if ys.size else np.array([], dtype=int)
    tp = np.cumsum(ys)[last]
    fp = (last + 1) - tp
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    tpr = np.r_[0.0, tp / n_pos] if n_pos else np.full(last.size + 1, np.nan)
    fpr = np.r_[0.0, fp / n_neg] if n_neg else np.full(last.size + 1, np.nan)
    return fpr, tpr, np.r_[np.inf, ps[last]]


def roc_auc(y, p) -> float:
    """Area under the ROC curve (ties count one half); NaN when one class is absent."""
    y, p = _binary(y, p)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _rankdata(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]] if x.size else np.zeros(0, dtype=bool)
    tie_id = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], x.size]
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = ((starts + ends + 1) / 2.0)[tie_id]
    return ranks


def _counts(y: np.ndarray, p: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    pred = p >= threshold
    tp = int((pred & (y == 1)).sum())
    fp = int((pred & (y == 0)).sum())
    fn = int((~pred & (y == 1)).sum())
    tn = int((~pred & (y == 0)).sum())
    return tp, fp, fn, tn


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


#: Where in the gap of equally good thresholds :func:`choose_threshold` puts the threshold.
THRESHOLD_PLACEMENTS = ("middle", "top")


def choose_threshold(y, p, max_fpr: float = 0.01, placement: str = "middle") -> float:
    """The threshold maximising F1 subject to FPR <= ``max_fpr``. Call it on VALIDATION data only.

    Candidates are the observed scores (plus one just above the maximum, which always meets the FPR
    bound); the best one is the score of the weakest cry it detects. Every threshold between that
    score and the next lower one counts the same on validation, so the middle of that gap (in logit
    space) is returned: the widest margin on both sides. Why: the gap's top edge (``placement="top"``,
    the rule up to 0.6.0) misses any unseen cry that scores a little below the weakest validation cry,
    which is most of what differs in a home the data never held (docs/decisions.md, "Detection
    threshold in the middle of the gap"; :mod:`export.evaluation.threshold_check` measures both).
    """
    if placement not in THRESHOLD_PLACEMENTS:
        raise ValueError(f"placement must be one of {THRESHOLD_PLACEMENTS}, got {placement!r}")
    y, p = _binary(y, p)
    if y.size == 0:
        raise ValueError("cannot choose a threshold on no data.")
    fpr, tpr, thr = roc_curve(y, p)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    thr = thr.copy()
    thr[0] = np.nextafter(p.max(), np.inf)
    tp = np.rint(tpr * n_pos) if n_pos else np.zeros_like(thr)
    fp = np.rint(fpr * n_neg) if n_neg else np.zeros_like(thr)
    fn = n_pos - tp
    denom = 2 * tp + fp + fn
    f1 = np.where(tp > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    ok = (fp / n_neg <= max_fpr + 1e-12) if n_neg else np.ones_like(thr, dtype=bool)
    f1 = np.where(ok, f1, -1.0)
    best = np.flatnonzero(f1 == f1.max())[0]  # thresholds descend: the first is the highest
    return _middle_of_gap(p, float(thr[best])) if placement == "middle" else float(thr[best])


def _middle_of_gap(p: np.ndarray, threshold: float) -> float:
    """The logit midpoint between ``threshold`` (an observed score, or just above the maximum) and the
    highest score below it; ``threshold`` itself when no score lies below it."""
    below = p[p < threshold]
    if below.size == 0:
        return threshold
    lo = float(below.max())
    eps = 1e-7
    hi_c, lo_c = min(max(threshold, eps), 1 - eps), min(max(lo, eps), 1 - eps)
    mid = 0.5 * (math.log(hi_c / (1 - hi_c)) + math.log(lo_c / (1 - lo_c)))
    out = 1.0 / (1.0 + math.exp(-mid))
    return out if lo < out <= threshold else threshold  # scores outside (0, 1) or a gap too narrow to split


def detection_metrics(y, p, threshold: float, neg_durations_s=None) -> dict:
    """F1, precision, recall, FPR, AUC at ``threshold``; false alarms per hour of negative audio when
    the negatives' durations are given (each negative clip counts at most one false alarm)."""
    y, p = _binary(y, p)
    tp, fp, fn, tn = _counts(y, p, threshold)
    fa_per_hour = None
    if neg_durations_s is not None:
        d = np.asarray(neg_durations_s, dtype=np.float64).ravel()
        if d.size != int((y == 0).sum()):
            raise ValueError(f"neg_durations_s has {d.size} entries for {(y == 0).sum()} negatives.")
        hours = d.sum() / 3600.0
        fa_per_hour = fp / hours if hours > 0 else None
    return {
        "f1": _f1(tp, fp, fn),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else float("nan"),
        "fpr": fp / (fp + tn) if fp + tn else float("nan"),
        "auc": roc_auc(y, p),
        "threshold": float(threshold),
        "false_alarms_per_hour": fa_per_hour,
        "n_pos": tp + fn,
        "n_neg": fp + tn,
    }


def confusion_matrix(y_idx, pred_idx, n_classes: int) -> np.ndarray:
    """Rows = true class, columns = predicted class."""
    y = np.asarray(y_idx, dtype=int).ravel()
    q = np.asarray(pred_idx, dtype=int).ravel()
    if y.size and (y.min() < 0 or y.max() >= n_classes or q.min() < 0 or q.max() >= n_classes):
        raise ValueError(f"class indices must be in 0..{n_classes - 1}.")
    return np.bincount(y * n_classes + q, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def expected_calibration_error(y_idx, probs, n_bins: int = 10) -> float:
    """Top-class ECE over ``n_bins`` equal-width confidence bins."""
    y = np.asarray(y_idx, dtype=int).ravel()
    probs = np.asarray(probs, dtype=np.float64)
    if y.size == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def cause_metrics(y_idx, probs, labels: Sequence[str]) -> dict:
    """Balanced accuracy and macro-F1 (over classes present in ``y_idx``), accuracy, per-class
    recall (None for absent classes), the confusion matrix and ECE, from ``probs [n, K]``."""
    y = np.asarray(y_idx, dtype=int).ravel()
    probs = np.asarray(probs, dtype=np.float64)
    k = len(labels)
    if probs.ndim != 2 or probs.shape != (y.size, k):
        raise ValueError(f"probs must be [n, {k}] for {y.size} labels, got {probs.shape}.")
    pred = probs.argmax(axis=1) if y.size else np.zeros(0, dtype=int)
    cm = confusion_matrix(y, pred, k)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    present = support > 0
    tp = np.diag(cm).astype(np.float64)
    recall = np.divide(tp, support, out=np.zeros(k), where=present)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    nan = float("nan")
    return {
        "balanced_accuracy": float(recall[present].mean()) if present.any() else nan,
        "macro_f1": float(f1[present].mean()) if present.any() else nan,
        "accuracy": float(tp.sum() / y.size) if y.size else nan,
        "recall_per_class": {lab: (float(recall[i]) if present[i] else None) for i, lab in enumerate(labels)},
        "f1_per_class": {lab: (float(f1[i]) if present[i] else None) for i, lab in enumerate(labels)},
        "support": {lab: int(support[i]) for i, lab in enumerate(labels)},
        "confusion": cm.tolist(),
        "labels": list(labels),
        "ece": expected_calibration_error(y, probs),
        "macro_over": "classes present in y_true",
        "n": int(y.size),
    }


def bootstrap_ci(
    fn: Callable[..., float],
    *arrays,
    groups=None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> list[float]:
    """Percentile ``1 - alpha`` interval of ``fn(*arrays)`` over resamples of the rows.

    With ``groups`` (one id per row) whole groups are resampled with replacement (a cluster
    bootstrap): the interval then reflects how many independent families were measured, not how
    many clips. Resamples where ``fn`` is NaN (e.g. no positives drawn) are ignored.
    """
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        raise ValueError("bootstrap_ci needs at least one array.")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("all arrays must have the same length.")
    if n == 0:
        return [float("nan"), float("nan")]
    rng = np.random.default_rng(seed)
    if groups is None:
        inv, m = np.arange(n), n
    else:
        g = np.asarray(groups).ravel()
        if g.size != n:
            raise ValueError(f"groups has {g.size} entries for {n} rows.")
        _, inv = np.unique(g, return_inverse=True)
        m = int(inv.max()) + 1
    rows = np.arange(n)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        # each row is repeated as often as its group was drawn
        times = np.bincount(rng.integers(0, m, size=m), minlength=m)[inv]
        idx = np.repeat(rows, times)
        stats[b] = fn(*(a[idx] for a in arrays))
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return [float("nan"), float("nan")]
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def summarize_folds(results: Sequence[Mapping]) -> dict:
    """``{key: {"mean", "std", "n"}}`` over folds for every numeric value (nested dicts recurse;
    std is the sample standard deviation, 0 for one fold; None/NaN values are skipped)."""
    out: dict = {}
    keys: list = []
    for r in results:
        for k in r:
            if k not in keys:
                keys.append(k)
    for k in keys:
        vals = [r.get(k) for r in results if k in r]
        if all(isinstance(v, Mapping) for v in vals):
            sub = summarize_folds(vals)
            if sub:
                out[k] = sub
            continue
        present = [v for v in vals if v is not None]
        numeric = [float(v) for v in present
                   if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)]
        nums = [v for v in numeric if np.isfinite(v)]
        if nums and len(numeric) == len(present):
            a = np.asarray(nums)
            out[k] = {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if a.size > 1 else 0.0, "n": int(a.size)}
    return out
