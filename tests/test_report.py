"""export.evaluation.report: files, section order, JSON safety, tolerance of missing optional sections."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from export.evaluation import report as R

LABELS = ["hungry", "tired", "discomfort", "belly_pain", "burping"]


def _model(f1: float, ba: float) -> dict:
    return {"detection": {"f1": f1, "recall": f1, "fpr": 0.01, "auc": 0.99},
            "cause": {"balanced_accuracy": ba, "macro_f1": ba - 0.05, "accuracy": 0.8}}


def synthetic_report() -> dict:
    cm = np.array([[60, 3, 4, 2, 1], [2, 2, 1, 0, 0], [3, 1, 4, 0, 0], [1, 0, 0, 1, 0], [1, 0, 0, 0, 0]])
    return {
        "command": "python -m export teacher --data-root ../shared --seed 0",
        "model": {"name": "teacher (statistic)"},
        "detection": {
            "f1": np.float32(0.975), "precision": 0.98, "recall": np.float64(0.97), "fpr": 0.008, "auc": 0.998,
            "threshold": 0.61, "false_alarms_per_hour": 1.25, "n_pos": np.int64(92), "n_neg": 609,
            "recall_vs_snr": {-5: 0.6, 0.0: 0.8, 5: 0.9, 10.0: 0.95, 20: 0.97},
            "roc": {"fpr": np.array([0.0, 0.01, 0.2, 1.0]), "tpr": np.array([0.0, 0.9, 0.99, 1.0])},
            "ci95": {"f1": [0.95, 0.99]},
        },
        "cause": {
            "balanced_accuracy": 0.41, "macro_f1": 0.36, "accuracy": 0.74,
            "recall_per_class": {"hungry": 0.857, "tired": 0.4, "discomfort": 0.5, "belly_pain": 0.5, "burping": 0.0},
            "confusion": cm, "labels": LABELS, "ece": 0.12, "n": int(cm.sum()),
            "support": dict(zip(LABELS, cm.sum(1).tolist())),
            "ci95": {"balanced_accuracy": (0.3, 0.52), "macro_f1": [0.25, 0.45]},
        },
        "baselines": {
            "majority": _model(0.0, 0.2),
            "yamnet_zero_shot": {**_model(0.8, float("nan")),
                                 "detection": {**_model(0.8, 0.2)["detection"], "recall_vs_snr": {"0": 0.5, "10": 0.7}}},
            "yamnet_linear_probe": _model(0.95, 0.22),
        },
        "pooling_ablation": {k: _model(0.96, 0.3 + i / 100)
                             for i, k in enumerate(["mean", "max", "mean_max", "statistic", "attention"])},
        "cv": {"n_folds": 5, "detection": {"f1": {"mean": 0.97, "std": 0.01}},
               "cause": {"balanced_accuracy": {"mean": 0.38, "std": 0.05}}},
        "compression": {
            "teacher": {"params": 3_700_000, "bytes": 15_000_000, **_model(0.975, 0.41)},
            "student": {"params": 200_000, "bytes": 800_000, **_model(0.95, 0.3)},
            "distilled_student": {"params": 200_000, "bytes": 800_000, **_model(0.97, 0.38)},
            "quantized_dynamic": {"params": 200_000, "bytes": 250_000, **_model(0.968, 0.37)},
            "distilled_quantized_static_int8": {"params": 200_000, "bytes": 230_000, **_model(0.965, 0.37)},
        },
        "data": {"description": "Grouped by app install / ESC-50 source / speaker.",
                 "splits": {"train": {"clips": 2582, "groups": 1213, "cry_positives": 261,
                                      "causes": {"hungry": 203, "burping": 5}},
                            "test": {"clips": 845, "groups": 454, "cry_positives": 92, "causes": {"hungry": 70}}},
                 "uncurated": "excluded", "root": Path("/x/shared")},
    }


def test_validate_report() -> None:
    rep = synthetic_report()
    assert R.validate_report(rep) == []
    del rep["cause"]["ci95"]["macro_f1"]
    del rep["baselines"]
    missing = R.validate_report(rep)
    assert "cause.ci95.macro_f1" in missing and "baselines.majority" in missing
    rep = synthetic_report()
    rep["detection"]["false_alarms_per_hour"] = None  # present but unknown: still counts
    assert R.validate_report(rep) == []


def test_write_report_full(tmp_path: Path) -> None:
    rep = synthetic_report()
    original = copy.deepcopy(rep)
    jp, mp = R.write_report(tmp_path / "run", rep)
    assert jp.name == "report.json" and mp.name == "report.md"
    for png in ("confusion.png", "roc.png", "recall_vs_snr.png"):
        p = tmp_path / "run" / png
        assert p.is_file() and p.read_bytes()[:4] == b"\x89PNG"
    loaded = json.loads(jp.read_text())
    assert loaded == R.to_jsonable(original)
    assert loaded["detection"]["recall_vs_snr"]["-5"] == 0.6
    assert loaded["cause"]["confusion"][0] == [60, 3, 4, 2, 1]
    assert loaded["baselines"]["yamnet_zero_shot"]["cause"]["balanced_accuracy"] is None  # NaN -> null
    assert loaded["data"]["root"] == "/x/shared"

    md = mp.read_text()
    order = ["## Headline", "## Cause: per-class recall", "## Baselines", "## Pooling ablation",
             "## Grouped cross-validation", "## Compression", "## Data and split", "## Command"]
    pos = [md.index(h) for h in order]
    assert pos == sorted(pos)
    headline = md[pos[0]:pos[1]]
    assert headline.index("balanced accuracy") < headline.index("macro-F1") < headline.index("| accuracy")
    assert "[0.300, 0.520]" in headline and "[0.250, 0.450]" in headline
    assert "false alarms per hour" in headline and "1.25" in headline
    for name in ("majority", "yamnet_zero_shot", "yamnet_linear_probe", "teacher (statistic)"):
        assert name in md
    for key in rep["compression"]:
        assert f"| {R.COMPRESSION_ROWS[key]} |" in md
    assert "0.970 ± 0.010" in md
    assert rep["command"] in md.split("## Command")[1]
    assert "![confusion matrix](confusion.png)" in md and "recall_vs_snr.png" in md
    assert "Incomplete report" not in md


def test_monitor_section_says_what_the_false_alarms_heard() -> None:
    stream = {"hours": 0.5, "bouts": 12, "event_recall": 0.75, "false_alarms_per_hour": 4.0}
    home = {"monitor": {"student_int8": {"test:esc50": stream, "all": stream},
                        "false_alarm_categories": {"urbansound8k/car_horn": 3, "esc50/cat": 1}}}
    md = "\n".join(R._monitor_section(home))
    assert "heard (test streams" in md and "urbansound8k/car_horn 3, esc50/cat 1." in md
    home["monitor"]["false_alarm_categories"] = {}
    assert "heard (test streams" not in "\n".join(R._monitor_section(home))


def test_write_report_minimal_tolerates_missing_sections(tmp_path: Path) -> None:
    rep = {"detection": {"f1": 0.5}, "cause": {"balanced_accuracy": 0.25}}
    jp, mp = R.write_report(tmp_path, rep)
    md = mp.read_text()
    assert "Incomplete report" in md and "command" in md
    assert "## Compression" not in md and "## Baselines" not in md
    assert not (tmp_path / "roc.png").exists() and not (tmp_path / "confusion.png").exists()
    assert json.loads(jp.read_text()) == rep


def test_to_jsonable() -> None:
    out = R.to_jsonable({1.0: np.float32(0.5), "a": (np.int64(2), float("inf")), "b": np.array([[1, 2]]),
                         "c": np.bool_(True)})
    assert out == {"1": 0.5, "a": [2, None], "b": [[1, 2]], "c": True}
    json.dumps(out, allow_nan=False)


def test_built_on_line_names_each_stage_and_flags_mixed_classes() -> None:
    same = R._built_on({"data": "x86-avx2", "teacher": "x86-avx2"})
    assert same[0] == "Built on (CPU class per stage): data x86-avx2, teacher x86-avx2."
    mixed = R._built_on({"teacher": "x86-avx512-vnni", "student": "x86-avx512-vnni-amx", "loso": None})
    assert "different CPU classes" in mixed[0] and "loso" not in mixed[0]
    assert R._built_on({"data": None}) == []
    one = R._built_on({"data": "x86-avx2"}, {"data": "family 25 model 17 stepping 1, flags abc"})
    assert "CPU signature family 25 model 17 stepping 1, flags abc" in one[0] and "byte for byte" in one[0]
    two = R._built_on({"data": "x86-avx2", "student": "x86-avx2"}, {"data": "flags a", "student": "flags b"})
    assert "different CPU signatures" in two[0] and "different CPU classes" not in two[0]


def test_cpu_signature_names_family_model_stepping_and_a_flag_digest() -> None:
    from export.machine import cpu_signature

    info = "processor\t: 0\ncpu family\t: 25\nmodel\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\nflags\t\t: sse avx2\n"
    sig = cpu_signature(info)
    assert sig.startswith("family 25 model 17 stepping 1, flags ")
    assert sig == cpu_signature(info.replace("sse avx2", "avx2 sse"))  # the order of flags does not matter
    assert sig != cpu_signature(info.replace("sse avx2", "sse avx2 avx512f"))
    assert cpu_signature("processor\t: 0\n") is None
