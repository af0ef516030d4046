"""The cause head's chance test: skill passes, chance and majority-class answers fail."""
from __future__ import annotations

import numpy as np
import pytest

from export.evaluation.cause_test import balanced_accuracy, cause_chance_test, group_permutation_p


def _families(n_groups: int, per_group: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = np.repeat(rng.integers(0, n_classes, size=n_groups), per_group)  # one cause per family
    return y, [f"g{i // per_group}" for i in range(y.size)]


def test_a_skilled_head_passes() -> None:
    y, groups = _families(60, 3, 3)
    pred = y.copy()
    pred[::7] = (pred[::7] + 1) % 3  # mostly right
    res = cause_chance_test(y, pred, groups, evaluated_on="synthetic", n_permutations=200, n_boot=200)
    assert res.supported and res.p_value < 0.05 and res.ci95[0] > res.chance
    assert "passes" in res.reason and "p = " in res.reason


def test_majority_answers_fail_at_chance() -> None:
    y, groups = _families(60, 3, 3)
    pred = np.zeros_like(y)  # "hungry" for everything: balanced accuracy is exactly chance
    res = cause_chance_test(y, pred, groups, evaluated_on="synthetic", n_permutations=200, n_boot=200)
    assert res.balanced_accuracy == pytest.approx(1 / 3)
    assert not res.supported and res.p_value > 0.05 and "fails" in res.reason


def test_random_answers_fail() -> None:
    y, groups = _families(40, 4, 4, seed=1)
    pred = np.random.default_rng(2).integers(0, 4, size=y.size)
    res = cause_chance_test(y, pred, groups, evaluated_on="synthetic", n_permutations=300, n_boot=200)
    assert not res.supported


def test_permutation_keeps_families_together() -> None:
    """A head that only tells families apart (one lucky family-sized block) is not rewarded by a
    clip-level shuffle: with whole families trading labels, a perfect score on few families is not
    significant."""
    y = np.array([0, 0, 0, 1, 1, 1])
    groups = ["a", "a", "a", "b", "b", "b"]
    # two families, two arrangements: half of all group permutations score as well as the truth
    assert group_permutation_p(y, y.copy(), groups, 400, seed=0) > 0.3


def test_one_class_is_never_supported() -> None:
    res = cause_chance_test([1, 1, 1], [1, 1, 1], ["a", "b", "c"], evaluated_on="x", n_permutations=10, n_boot=10)
    assert not res.supported


def test_balanced_accuracy_is_mean_recall() -> None:
    assert balanced_accuracy(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])) == pytest.approx(0.75)
    with pytest.raises(ValueError):
        cause_chance_test([0, 1], [0], ["a", "b"], evaluated_on="x")
