"""The per-category confuser count (``python -m export.evaluation.confusers``): pure counting, no model."""
from __future__ import annotations

from export.evaluation.confusers import count_confusers, to_markdown, worst_first


def _example():
    categories = {"c1": "esc50/cat", "c2": "esc50/cat", "c3": "esc50/cat", "d1": "esc50/dog", "s1": "speech/x"}
    sides = {"c1": "train", "c2": "train", "c3": "test", "d1": "val", "s1": "test"}
    student = {"c1": 0.9, "c2": 0.2, "c3": 0.8, "d1": 0.75, "s1": 0.1}
    teacher = {"c1": 0.95, "c3": 0.1, "d1": 0.6}  # s1 and c2 unscored by the teacher: counted as no cry
    return count_confusers(categories, sides, student, teacher, stream_on=0.74)


def test_counts_per_category_and_side_with_the_teacher_beside() -> None:
    counts = _example()
    assert counts["esc50/cat"]["train"] == {"clips": 2, "student": 1, "both": 1, "teacher": 1}
    assert counts["esc50/cat"]["test"] == {"clips": 1, "student": 1, "both": 0, "teacher": 0}
    assert counts["esc50/cat"]["val"] == {"clips": 0, "student": 0, "both": 0, "teacher": 0}
    assert counts["esc50/dog"]["val"] == {"clips": 1, "student": 1, "both": 1, "teacher": 1}
    assert counts["speech/x"]["test"] == {"clips": 1, "student": 0, "both": 0, "teacher": 0}


def test_worst_first_leaves_out_categories_never_called_a_cry() -> None:
    counts = _example()
    assert worst_first(counts) == ["esc50/cat", "esc50/dog"]
    table = to_markdown(counts, 0.74, top=1)
    assert "| esc50/cat | 1 (1) / 2 | 0 (0) / 0 | 1 (0) / 1 |" in table and "esc50/dog" not in table
