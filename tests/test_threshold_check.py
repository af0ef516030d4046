"""The threshold-placement check's summary (its folds need a run folder: the shared-data run tests)."""
from export.evaluation.threshold_check import summary


def _row(top: float, middle: float) -> dict:
    return {"measured_on": "B", "top": {"threshold": 0.9, "f1": top}, "middle": {"threshold": 0.8, "f1": middle}}


def test_summary_counts_and_means() -> None:
    s = summary([_row(0.5, 0.6), _row(0.9, 0.9), _row(0.8, 0.7)])
    assert s["pairs"] == 3
    assert s["middle_better"] == 1 and s["top_better"] == 1
    assert s["mean_f1"]["top"] == round((0.5 + 0.9 + 0.8) / 3, 4)
    assert s["mean_f1"]["middle"] == round((0.6 + 0.9 + 0.7) / 3, 4)
    assert s["mean_f1_by_unseen_source"] == {"B": s["mean_f1"]}  # every row here is measured on "B"
