"""Is the cause head better than chance? The test that decides whether a model may answer causes.

A cause head trained on a few dozen minority-cause clips from a handful of families can look skilled
on one split by luck. Before the toolchain lets a model return causes, its cause predictions on data
it was not trained on (grouped validation, or grouped cross-validation folds) must pass two checks:

* a **group permutation test**: balanced accuracy against the distribution obtained by shuffling the
  true labels between whole families (groups of equal size trade label vectors, so the correlation
  between clips of one family stays in the null); the head passes when ``p < alpha``;
* a **cluster-bootstrap confidence interval** of balanced accuracy whose lower end is above chance
  (``1 / number of classes present``).

Both must hold, otherwise the model file records the cause as unsupported and the runtime returns no
cause at all (see ``infantcry_sdk.contract.KEY_CAUSE_STATUS``).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from .metrics import bootstrap_ci


@dataclass(frozen=True)
class CauseTest:
    """The outcome of :func:`cause_chance_test`; ``supported`` is what the model file records."""

    supported: bool
    balanced_accuracy: float
    chance: float
    ci95: tuple[float, float]
    p_value: float
    n_clips: int
    n_groups: int
    n_permutations: int
    alpha: float
    evaluated_on: str

    @property
    def reason(self) -> str:
        """One line for the model metadata and the card: the test and its result."""
        verdict = "passes" if self.supported else "fails"
        return (
            f"cause head {verdict} the chance test on {self.evaluated_on} ({self.n_clips} clips, {self.n_groups} groups): "
            f"balanced accuracy {self.balanced_accuracy:.3f} (CI95 {self.ci95[0]:.3f}-{self.ci95[1]:.3f}), chance "
            f"{self.chance:.3f}, group-permutation p = {self.p_value:.3f}; needs p < {self.alpha} and CI above chance"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "ci95": list(self.ci95), "reason": self.reason}


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (NaN when it is empty)."""
    classes = np.unique(y_true)
    if classes.size == 0:
        return float("nan")
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def _group_blocks(groups: Sequence[str]) -> dict[int, list[np.ndarray]]:
    """Row indices of each group, bucketed by group size (groups trade labels only within a bucket)."""
    rows: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        rows[str(g)].append(i)
    by_size: dict[int, list[np.ndarray]] = defaultdict(list)
    for idx in rows.values():
        by_size[len(idx)].append(np.asarray(idx))
    return by_size


def group_permutation_p(
    y_true: np.ndarray, y_pred: np.ndarray, groups: Sequence[str], n_permutations: int, seed: int
) -> float:
    """P(balanced accuracy >= observed) when whole groups of equal size swap their true labels."""
    observed = balanced_accuracy(y_true, y_pred)
    blocks = _group_blocks(groups)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_permutations):
        shuffled = y_true.copy()
        for same_size in blocks.values():
            order = rng.permutation(len(same_size))
            for dst, src in zip(same_size, order):
                shuffled[dst] = y_true[same_size[src]]
        hits += balanced_accuracy(shuffled, y_pred) >= observed - 1e-12
    return (hits + 1) / (n_permutations + 1)


def cause_chance_test(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    groups: Sequence[str],
    *,
    evaluated_on: str,
    n_permutations: int = 1000,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CauseTest:
    """Test cause predictions ``y_pred`` (class indices) against ``y_true`` on held-out clips."""
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    if y_true.shape != y_pred.shape or len(groups) != y_true.size:
        raise ValueError("y_true, y_pred and groups must have one entry per clip.")
    n_classes = np.unique(y_true).size
    if n_classes < 2:
        bacc = balanced_accuracy(y_true, y_pred)
        return CauseTest(False, bacc, 1.0, (bacc, bacc), 1.0, int(y_true.size), len(set(groups)), 0, alpha, evaluated_on)
    bacc = balanced_accuracy(y_true, y_pred)
    lo, hi = bootstrap_ci(balanced_accuracy, y_true, y_pred, groups=np.asarray(groups), n_boot=n_boot, seed=seed)
    p = group_permutation_p(y_true, y_pred, groups, n_permutations, seed)
    chance = 1.0 / n_classes
    supported = bool(p < alpha and lo > chance)
    return CauseTest(supported, bacc, chance, (lo, hi), p, int(y_true.size), len(set(groups)), n_permutations, alpha, evaluated_on)
