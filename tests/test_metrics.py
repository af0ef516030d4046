"""export.evaluation.metrics against hand-computed examples."""
from __future__ import annotations

import math

import numpy as np
import pytest

from export.evaluation import metrics as M

LABELS = ("hungry", "tired", "discomfort")


def _onehot(idx, k=3, p=1.0):
    out = np.full((len(idx), k), (1 - p) / (k - 1))
    out[np.arange(len(idx)), idx] = p
    return out


def test_roc_and_auc_hand_computed() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    fpr, tpr, thr = M.roc_curve(y, p)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert thr[0] == np.inf and list(thr[1:]) == [0.8, 0.4, 0.35, 0.1]
    assert M.roc_auc(y, p) == pytest.approx(0.75)
    assert M.roc_auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # ties count one half
    assert math.isnan(M.roc_auc([1, 1], [0.2, 0.3]))
    # AUC equals the trapezoid area under the curve
    rng = np.random.default_rng(0)
    y2 = rng.integers(0, 2, 300)
    p2 = np.round(rng.random(300) + 0.3 * y2, 2)
    f, t, _ = M.roc_curve(y2, p2)
    assert M.roc_auc(y2, p2) == pytest.approx(np.trapezoid(t, f), abs=1e-12)


def test_detection_metrics_hand_computed() -> None:
    y = [1, 1, 1, 0, 0, 0, 0]
    p = [0.9, 0.8, 0.2, 0.7, 0.1, 0.1, 0.0]
    m = M.detection_metrics(y, p, 0.5, neg_durations_s=[3600, 1800, 1800, 0])
    assert (m["n_pos"], m["n_neg"]) == (3, 4)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["fpr"] == pytest.approx(0.25)
    assert m["false_alarms_per_hour"] == pytest.approx(0.5)  # 1 false alarm in 2 h of negatives
    assert m["threshold"] == 0.5
    assert M.detection_metrics(y, p, 0.5)["false_alarms_per_hour"] is None
    with pytest.raises(ValueError):
        M.detection_metrics(y, p, 0.5, neg_durations_s=[1.0])
    with pytest.raises(ValueError):
        M.detection_metrics([0, 2], [0.1, 0.2], 0.5)


def test_perfect_detection() -> None:
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.8, 0.9]
    t = M.choose_threshold(y, p)
    m = M.detection_metrics(y, p, t)
    assert (m["f1"], m["recall"], m["fpr"], m["auc"]) == (1.0, 1.0, 0.0, 1.0)
    assert 0.2 < t <= 0.8


def test_threshold_respects_fpr_cap() -> None:
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(60, int), np.zeros(400, int)]
    p = np.round(np.r_[rng.normal(2.0, 1.0, 60), rng.normal(0.0, 1.0, 400)], 1)  # ties included
    for cap in (0.0, 0.01, 0.05):
        t = M.choose_threshold(y, p, max_fpr=cap)
        m = M.detection_metrics(y, p, t)
        assert m["fpr"] <= cap + 1e-12
        # it is the best F1 among thresholds that meet the cap
        for cand in np.unique(p):
            mc = M.detection_metrics(y, p, cand)
            if mc["fpr"] <= cap:
                assert mc["f1"] <= m["f1"] + 1e-12
    # without a binding cap it maximises F1 outright
    t = M.choose_threshold(y, p, max_fpr=1.0)
    best = max(M.detection_metrics(y, p, c)["f1"] for c in np.unique(p))
    assert M.detection_metrics(y, p, t)["f1"] == pytest.approx(best)
    # no positives: a threshold above every score
    t = M.choose_threshold([0, 0], [0.3, 0.6])
    assert t > 0.6


def test_threshold_sits_in_the_middle_of_the_gap() -> None:
    # the weakest detected cry scores 0.8 and the loudest negative below it 0.2: every threshold in
    # (0.2, 0.8] counts the same, "top" keeps 0.8, "middle" the logit midpoint 0.5
    y = [0, 0, 1, 1]
    p = [0.1, 0.2, 0.8, 0.9]
    assert M.choose_threshold(y, p, placement="top") == pytest.approx(0.8)
    assert M.choose_threshold(y, p) == pytest.approx(0.5)
    # unequal gap: the midpoint is taken in logit space, not in probability
    p = [0.1, 0.5, 0.99, 0.999]
    mid = M.choose_threshold(y, p)
    assert np.log(mid / (1 - mid)) == pytest.approx(0.5 * np.log(0.99 / 0.01))
    with pytest.raises(ValueError, match="placement"):
        M.choose_threshold(y, p, placement="bottom")


def test_middle_placement_counts_the_same_on_the_data_it_was_chosen_on() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(40, int), np.zeros(300, int)]
    p = 1.0 / (1.0 + np.exp(-np.r_[rng.normal(2.5, 1.0, 40), rng.normal(-1.0, 1.0, 300)]))
    for cap in (0.0, 0.01, 0.05):
        top, mid = M.choose_threshold(y, p, cap, "top"), M.choose_threshold(y, p, cap, "middle")
        assert mid <= top
        counts = lambda t: {k: v for k, v in M.detection_metrics(y, p, t).items() if k != "threshold"}  # noqa: E731
        assert counts(mid) == counts(top)
        assert not ((p >= mid) & (p < top)).any()  # no score lies between the two


def test_cause_metrics_perfect() -> None:
    y = [0, 1, 2, 0, 1]
    m = M.cause_metrics(y, _onehot(y), LABELS)
    assert m["balanced_accuracy"] == m["macro_f1"] == m["accuracy"] == 1.0
    assert m["ece"] == pytest.approx(0.0)
    assert m["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 1]]
    assert m["n"] == 5


def test_cause_metrics_all_majority_is_chance() -> None:
    y = [0] * 8 + [1, 2]
    probs = np.tile([0.6, 0.3, 0.1], (10, 1))
    m = M.cause_metrics(y, probs, LABELS)
    assert m["balanced_accuracy"] == pytest.approx(1 / 3)
    assert m["accuracy"] == pytest.approx(0.8)
    # F1 hungry = 2*0.8*1/(1.8) = 0.888..; others 0
    assert m["macro_f1"] == pytest.approx((16 / 18) / 3)
    assert m["recall_per_class"] == {"hungry": 1.0, "tired": 0.0, "discomfort": 0.0}
    # confidence 0.6 everywhere, accuracy 0.8: ECE = 0.2
    assert m["ece"] == pytest.approx(0.2)


def test_cause_metrics_known_confusion_and_absent_class() -> None:
    y = [0, 0, 0, 0, 1, 1]
    pred = [0, 0, 0, 1, 1, 0]
    m = M.cause_metrics(y, _onehot(pred, p=0.9), LABELS)
    assert m["confusion"] == [[3, 1, 0], [1, 1, 0], [0, 0, 0]]
    assert m["balanced_accuracy"] == pytest.approx((3 / 4 + 1 / 2) / 2)  # over the 2 present classes
    f1_0 = 2 * (3 / 4) * (3 / 4) / (3 / 2)
    f1_1 = 2 * (1 / 2) * (1 / 2) / 1
    assert m["macro_f1"] == pytest.approx((f1_0 + f1_1) / 2)
    assert m["recall_per_class"]["discomfort"] is None
    assert m["accuracy"] == pytest.approx(4 / 6)
    with pytest.raises(ValueError):
        M.cause_metrics(y, np.ones((6, 2)), LABELS)


def test_bootstrap_ci_contains_point_and_is_grouped() -> None:
    rng = np.random.default_rng(0)
    n_groups = 40
    groups = np.repeat(np.arange(n_groups), 10)
    # strongly clustered correctness: whole groups right or wrong
    group_ok = rng.random(n_groups) < 0.7
    correct = group_ok[groups].astype(float)

    def acc(c):
        return float(np.mean(c))

    point = acc(correct)
    lo, hi = M.bootstrap_ci(acc, correct, n_boot=400, seed=1)
    glo, ghi = M.bootstrap_ci(acc, correct, groups=groups, n_boot=400, seed=1)
    assert lo <= point <= hi and glo <= point <= ghi
    # resampling families (not clips) admits the clustering: a much wider interval
    assert (ghi - glo) > 2 * (hi - lo)
    assert M.bootstrap_ci(acc, correct, groups=groups, n_boot=50, seed=3) == \
        M.bootstrap_ci(acc, correct, groups=groups, n_boot=50, seed=3)


def test_bootstrap_ci_with_cause_metrics() -> None:
    y = np.array([0] * 30 + [1] * 10 + [2] * 10)
    pred = y.copy()
    pred[::4] = 0
    probs = _onehot(pred, p=0.8)
    groups = np.arange(50) // 2

    def ba(yy, pp):
        return M.cause_metrics(yy, pp, LABELS)["balanced_accuracy"]

    point = ba(y, probs)
    lo, hi = M.bootstrap_ci(ba, y, probs, groups=groups, n_boot=200, seed=0)
    assert lo <= point <= hi < 1.0


def test_summarize_folds() -> None:
    folds = [{"f1": 0.9, "auc": 0.95, "cause": {"ba": 0.3}, "name": "a", "fa": None},
             {"f1": 0.8, "auc": 0.97, "cause": {"ba": 0.5}, "name": "b", "fa": 2.0}]
    s = M.summarize_folds(folds)
    assert s["f1"]["mean"] == pytest.approx(0.85)
    assert s["f1"]["std"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert s["cause"]["ba"]["mean"] == pytest.approx(0.4)
    assert "name" not in s
    assert s["fa"] == {"mean": 2.0, "std": 0.0, "n": 1}
