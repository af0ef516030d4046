"""The release check: which commands it runs for each point, what it skips on a rerun, how the copy a
point is calibrated in is made, and the rule it judges by. The sweep and the export stage are stood in
for by a runner that writes what they would (they are tested on their own and in the tiny pipeline)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from export.evaluation.release_check import Measured, Point, judge, points, release_check, to_markdown


def _row(name: str, seed: int, score: float, recall: float, delay: float, bouts: int = 20) -> Measured:
    return Measured(name, seed, score, recall, bouts, recall - 0.2, 0.5, delay, 0.9, 0.99)


def _sides(variant_recall: list[float], variant_delay: list[float], variant_score: list[float]):
    base = [_row(f"base_s{s}", s, sc, r, d) for s, (sc, r, d) in enumerate(zip((1.96, 1.98, 1.97), (0.8, 0.9, 0.7), (5.0, 4.0, 6.0)))]
    var = [_row(f"v_s{s}", s, sc, r, d) for s, (sc, r, d) in enumerate(zip(variant_score, variant_recall, variant_delay))]
    return base, var


def test_the_rule_adopts_only_when_all_three_conditions_hold() -> None:
    base, var = _sides([0.79, 0.8, 0.67], [5.0, 4.0, 5.9], [1.97, 1.97, 1.96])  # recall 0.047 lower: one bout is 0.05
    verdict = judge(base, var)
    assert verdict["one_bout"] == pytest.approx(0.05) and verdict["adopt"] is True
    assert verdict["means"]["baseline"]["long_bout_recall"] == pytest.approx(0.8)
    base, var = _sides([0.74, 0.8, 0.66], [5.0, 4.0, 5.9], [1.97, 1.97, 1.96])  # 0.067 lower: more than a bout
    assert judge(base, var)["conditions"] == {"long_bout_recall_within_one_bout": False, "median_delay_not_higher": True,
                                              "selection_score_at_least_baseline_min": True}
    base, var = _sides([0.9, 0.9, 0.9], [5.0, 4.0, 6.1], [1.97, 1.97, 1.96])  # a longer mean delay
    assert judge(base, var)["conditions"]["median_delay_not_higher"] is False
    base, var = _sides([0.9, 0.9, 0.9], [4.0, 4.0, 4.0], [1.95, 1.95, 1.96])  # below the baseline's lowest score
    verdict = judge(base, var)
    assert verdict["conditions"]["selection_score_at_least_baseline_min"] is False and verdict["adopt"] is False
    assert "**reject**" in to_markdown(base + var, verdict) and "median_delay_not_higher: yes" in to_markdown(base + var, verdict)
    with pytest.raises(ValueError, match="same"):
        judge(base, var[:2])


def test_points_and_their_overrides() -> None:
    variant, baseline = points("cons", {"consistent_teacher": True, "student": {"causal": True}}, [0, 2])
    got = variant + baseline
    assert [p.name for p in got] == ["cons_s0", "cons_s2", "base_s0", "base_s2"]
    assert got[1].sweep_overrides() == {"consistent_teacher": True, "student": {"causal": True}, "seed": 2}
    assert got[1].export_overrides() == {"seed": 2, "threads": 1, "distill": {"consistent_teacher": True},
                                         "student": {"causal": True}}
    assert got[2].export_overrides() == {"seed": 0, "threads": 1, "distill": {}}
    with pytest.raises(ValueError, match="baseline"):
        points("base", {}, [0])
    _, named = points("cap", {"negative_target_cap": 0.5}, [3], baseline="cons")
    assert [p.name for p in named] == ["cons_s3"] and named[0].sweep_overrides() == {"seed": 3}
    with pytest.raises(ValueError, match="baseline"):
        points("cons", {}, [0], baseline="cons")


class FakeStages:
    """Writes what the sweep and the export stage would write, and records each command."""

    def __init__(self, run_dir: Path, recall: dict[str, float]) -> None:
        self.run_dir, self.recall, self.calls = run_dir, recall, []

    def __call__(self, argv: list[str]) -> None:
        self.calls.append(argv)
        module = argv[2]
        if module == "export.training.sweep":
            name, overrides = argv[3], json.loads(argv[4])
            assert argv[argv.index("--threads") + 1] == "1" and argv[argv.index("--run-dir") + 1] == str(self.run_dir)
            sweeps = self.run_dir / "sweeps"
            sweeps.mkdir(exist_ok=True)
            (sweeps / f"{name}.pt").write_bytes(name.encode())
            with open(sweeps / "results.jsonl", "a") as f:
                f.write(json.dumps({"name": name, "overrides": overrides, "val_selection_score": 1.97,
                                    "test_f1": 0.9, "test_auc": 0.99}) + "\n")
        elif module == "export.evaluation.stream_draws":
            point, draws = argv[3], [int(d) for d in argv[argv.index("--draws") + 1:argv.index("--name")]]
            assert (self.run_dir / "release_check" / point / "export_info.json").is_file()  # after its export stage
            base = self.recall[point.split("_s")[0]]
            rows = [{"point": point, "draw": d, "long_bout_recall": base + 0.1 * (d % 2), "long_bouts": 20 + d,
                     "all_bout_recall": 0.5, "false_alarms_per_hour": 0.5, "median_delay_s": 5.0 + d, "on_threshold": 0.9}
                    for d in draws]
            out = self.run_dir / "release_check" / f"{argv[argv.index('--name') + 1]}.json"
            out.write_text(json.dumps({"draws": draws, "rows": rows}))
        else:
            assert argv[2:4] == ["export", "export"]
            copy = Path(argv[argv.index("--run-dir") + 1])
            config = json.loads(Path(argv[argv.index("--config") + 1]).read_text())
            assert (copy / "student_distilled.pt").read_bytes() == copy.name.encode()
            assert config["seed"] == int(copy.name[-1]) and config["threads"] == 1 and config["teacher"]["epochs"] == 7
            validation = {"event_recall_10s_or_more": self.recall[copy.name.split("_s")[0]], "bouts_10s_or_more": 20,
                          "event_recall": 0.5, "false_alarms_per_hour": 0.5, "median_delay_s": 5.0}
            (copy / "export_info.json").write_text(json.dumps({"monitor": {"validation": validation}}))


def test_release_check_runs_each_point_once_and_collects_on_a_rerun(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"seed": 0, "threads": 2, "teacher": {"epochs": 7}}))
    (run_dir / "teacher.pt").write_bytes(b"teacher")
    stages = FakeStages(run_dir, {"cons": 0.9, "base": 0.8, "cap": 0.85})
    result = release_check(run_dir, "cons", {"consistent_teacher": True}, [0, 1], jobs=2, runner=stages)
    assert len(stages.calls) == 8  # a sweep and an export for each of four points
    copy = run_dir / "release_check" / "cons_s1"
    assert (copy / "teacher.pt").read_bytes() == b"teacher"
    assert json.loads((copy / "config.json").read_text())["distill"]["consistent_teacher"] is True
    assert result["verdict"]["adopt"] is True and result["verdict"]["means"]["variant"]["long_bout_recall"] == 0.9
    assert json.loads((run_dir / "release_check" / "cons.json").read_text())["verdict"]["adopt"] is True
    stages.calls.clear()
    again = release_check(run_dir, "cons", {"consistent_teacher": True}, [0, 1], runner=stages)
    assert stages.calls == [] and again["rows"] == result["rows"]
    # a named baseline: the variant's points that are already there stand for it, nothing is retrained
    # one job: the sweeps then run in the points' order, not in the order two threads happen to start them
    third = release_check(run_dir, "cap", {"negative_target_cap": 0.5}, [0, 1], jobs=1, runner=stages, baseline_label="cons")
    assert [c[3] for c in stages.calls if c[2] == "export.training.sweep"] == ["cap_s0", "cap_s1"]
    assert third["baseline"] == "cons" and [r["name"] for r in third["rows"]][2:] == ["cons_s0", "cons_s1"]


def test_draws_judge_each_point_by_its_mean_over_draws(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"seed": 0, "threads": 2, "teacher": {"epochs": 7}}))
    stages = FakeStages(run_dir, {"cons": 0.7, "base": 0.8})
    result = release_check(run_dir, "cons", {}, [3], runner=stages, draws=[0, 1, 2, 3])
    assert [c[2] for c in stages.calls].count("export.evaluation.stream_draws") == 2
    rows = {r["name"]: r for r in result["rows"]}
    assert rows["cons_s3"]["long_bout_recall"] == pytest.approx(0.75) and rows["base_s3"]["long_bout_recall"] == pytest.approx(0.85)
    assert rows["base_s3"]["median_delay_s"] == pytest.approx(6.5) and rows["base_s3"]["long_bouts"] == 23  # the most of any draw
    assert result["draws"] == [0, 1, 2, 3] and result["verdict"]["one_bout"] == pytest.approx(1 / 23)
    assert result["verdict"]["adopt"] is False  # 0.1 lower: more than a bout
    assert "means over draws 0 1 2 3" in to_markdown([Measured(**r) for r in result["rows"]], result["verdict"], result["draws"])
    stages.calls.clear()
    release_check(run_dir, "cons", {}, [3], runner=stages, draws=[0, 1, 2, 3])
    assert stages.calls == []  # every step kept
    release_check(run_dir, "cons", {}, [3], runner=stages, draws=[0, 1])
    assert [c[2] for c in stages.calls] == ["export.evaluation.stream_draws"] * 2  # other draws: measured again


def test_a_failed_step_stops_the_check(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("{}")

    def failing(argv: list[str]) -> None:
        raise RuntimeError("sweep failed")

    with pytest.raises(RuntimeError, match="sweep failed"):
        release_check(run_dir, "cons", {}, [0], runner=failing)
    assert not (run_dir / "release_check" / "cons.json").exists()
    assert Point("x_s0", 0, {}).export_overrides()["seed"] == 0


def test_a_copy_refuses_an_unknown_config_key_and_sides_do_not_depend_on_names(tmp_path: Path) -> None:
    from export.evaluation.release_check import prepare_copy

    run_dir = tmp_path / "run"
    (run_dir / "sweeps").mkdir(parents=True)
    (run_dir / "config.json").write_text("{}")
    (run_dir / "sweeps" / "x_s0.pt").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown config key 'no_such_field'"):
        prepare_copy(run_dir, Point("x_s0", 0, {"no_such_field": 1}))
    variant, baseline = points("base_like", {}, [0])
    assert [p.name for p in variant] == ["base_like_s0"] and [p.name for p in baseline] == ["base_s0"]


def test_stream_draws_summary_and_table() -> None:
    from export.evaluation.stream_draws import DrawFigures, summary, to_markdown

    rows = [DrawFigures("a", 0, 0.8, 20, 0.6, 0.5, 4.0, 0.9), DrawFigures("a", 1, 0.6, 25, 0.4, 0.0, 6.0, 0.95),
            DrawFigures("b", 0, 0.9, 20, 0.7, 0.5, 3.0, 0.8)]
    s = summary(rows)
    assert s["a"]["long_bout_recall_mean"] == pytest.approx(0.7) and s["a"]["long_bout_recall_sd"] == pytest.approx(0.1414, abs=1e-4)
    assert s["a"]["median_delay_s_mean"] == 5.0 and s["b"]["median_delay_s_sd"] == 0.0  # one draw: no spread
    md = to_markdown(rows)
    assert "| a | 1 | 0.600 (25) | 0.400 | 0.00 | 6.00 s | 0.950 |" in md
    assert "| **a** | mean ± sd | 0.700 ± 0.141 |" in md
