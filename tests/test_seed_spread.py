"""The seed-spread table reads each run's report.json and summarises it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.evaluation.seed_spread import FIGURES, main, spread


def _report(seed: int, f1: float, fa: float) -> dict:
    det = {"f1": f1, "auc": 0.99, "threshold": 0.9}
    monitor = {"event_recall_10s_or_more": 0.9, "event_recall": 0.8, "false_alarms_per_hour": fa, "median_delay_s": 5.0}
    return {
        "config": {"seed": seed},
        "compression": {"distilled_quantized_static_int8": {"detection": det}, "student": {"detection": {"f1": f1 - 0.1}}},
        "home": {"monitor": {"student_int8": {"all": monitor}},
                 "hard_negatives": {"UrbanSound8K children_playing": {"student_int8_false_alarm_rate": 0.02}}},
    }


def test_spread_per_run_and_summary(tmp_path: Path, capsys) -> None:
    runs = []
    for seed, f1, fa in ((0, 0.90, 1.0), (1, 0.86, 3.0), (2, 0.88, 2.0)):
        d = tmp_path / f"s{seed}"
        d.mkdir()
        (d / "report.json").write_text(json.dumps(_report(seed, f1, fa)))
        runs.append(d)
    result = spread(runs)
    assert [r["seed"] for r in result["runs"].values()] == [0, 1, 2]
    f1 = result["summary"]["shipped int8 F1"]
    assert f1["min"] == pytest.approx(0.86) and f1["max"] == pytest.approx(0.90) and f1["spread"] == pytest.approx(0.04)
    assert result["summary"]["false alarms / h"]["mean"] == pytest.approx(2.0)
    assert set(result["summary"]) == {name for name, _ in FIGURES}
    assert main([str(d) for d in runs] + ["--out", str(tmp_path / "spread.md")]) == 0
    table = (tmp_path / "spread.md").read_text()
    assert "| **spread** |" in table and "| s1 | 1 |" in table and table == capsys.readouterr().out
    assert json.loads((tmp_path / "spread.json").read_text())["summary"]["median delay s"]["spread"] == 0.0


def test_a_run_without_report_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run the report stage"):
        spread([tmp_path])


def test_the_report_shows_the_spread_when_the_run_has_one(tmp_path: Path) -> None:
    from export.evaluation.report import render_markdown

    d = tmp_path / "s0"
    d.mkdir()
    (d / "report.json").write_text(json.dumps(_report(0, 0.9, 1.0)))
    with_spread = render_markdown({"seed_spread": spread([d])})
    assert "### Run-to-run spread (seeds)" in with_spread and "| s0 | 0 |" in with_spread
    assert "Run-to-run spread" not in render_markdown({})
