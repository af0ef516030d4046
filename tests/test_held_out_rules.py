"""The held-out judgement of a monitor rule objective (export.evaluation.held_out_rules)."""
from __future__ import annotations

import math

import pytest

from export.evaluation.held_out_rules import HeldOutRow, judge, means, pair_up, to_markdown


def _row(slack: int, draw: int, recall: float, delay: float, fa: float = 0.3, bouts: int = 30) -> HeldOutRow:
    return HeldOutRow("p_s0", slack, 1, draw, draw + 1, recall, bouts, fa, delay, recall + 0.05, delay - 1.0, 0.8, 2)


def test_means_are_per_slack_and_skip_a_draw_with_no_bout_caught() -> None:
    rows = [_row(0, 0, 0.9, 5.0), _row(0, 1, 0.8, math.nan), _row(1, 0, 0.85, 3.0), _row(1, 1, 0.85, 4.0)]
    m = means(rows)
    assert m[(0, 1)]["long_bout_recall"] == pytest.approx(0.85) and m[(0, 1)]["median_delay_s"] == pytest.approx(5.0)
    assert m[(1, 1)]["median_delay_s"] == pytest.approx(3.5) and m[(1, 1)]["pairs"] == 2


def test_the_rule_needs_recall_within_a_bout_a_lower_delay_and_the_budget() -> None:
    today = [_row(0, d, 0.90, 5.0) for d in range(3)]
    assert judge(today + [_row(1, d, 0.88, 4.0) for d in range(3)], (0, 1), (1, 1))["adopt"] is True  # 0.02 < 1/30
    assert judge(today + [_row(1, d, 0.85, 4.0) for d in range(3)], (0, 1), (1, 1))["adopt"] is False  # more than a bout
    assert judge(today + [_row(1, d, 0.90, 5.0) for d in range(3)], (0, 1), (1, 1))["adopt"] is False  # not earlier
    over = judge(today + [_row(1, d, 0.90, 4.0, fa=0.6) for d in range(3)], (0, 1), (1, 1))
    assert over["adopt"] is False and over["conditions"]["false_alarms_within_budget"] is False
    assert "**reject**" in to_markdown(today + [_row(1, d, 0.90, 4.0, fa=0.6) for d in range(3)], over)


def test_a_delay_allowance_lets_the_variant_wait_that_much_longer() -> None:
    today = [_row(0, d, 0.90, 5.0, fa=1.0) for d in range(3)]
    later = today + [_row(1, d, 0.90, 5.5, fa=0.4) for d in range(3)]
    assert judge(later, (0, 1), (1, 1))["adopt"] is False
    allowed = judge(later, (0, 1), (1, 1), delay_allowance_s=0.96)
    assert allowed["adopt"] is True and "median_delay_within_0.96_s" in allowed["conditions"]
    assert judge(today + [_row(1, d, 0.90, 6.0, fa=0.4) for d in range(3)], (0, 1), (1, 1), delay_allowance_s=0.96)["adopt"] is False


def test_slack_and_pool_pair_up_by_position() -> None:
    assert pair_up([0, 0], [1, 3]) == [(0, 1), (0, 3)]
    assert pair_up([0, 1], [1]) == [(0, 1), (1, 1)]
    with pytest.raises(SystemExit, match="pair up"):
        pair_up([0, 1, 2], [1, 3])
    with pytest.raises(SystemExit, match="pool >= 1"):
        pair_up([0], [0])
