"""Stage ``export``: fp32 ONNX of each student -> static int8 (calibration methods compared on
validation) and dynamic int8 -> thresholds chosen on validation through the SDK -> sealed files ->
``.ort`` for ONNX Runtime Mobile."""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from infantcry_sdk import contract

from export.constants import SAMPLE_RATE
from export.data.context import DataContext, LabelledSide
from export.evaluation import metrics
from export.evaluation.cause_test import CauseTest, cause_chance_test
from export.evaluation.evaluate import Scores, choose_cause_min_confidence, choose_detection_threshold
from export.evaluation.stream_rules import rules_metadata
from export.evaluation.monitor import Calibrated, calibrate_model
from export.modelfile.metadata import metadata_for, rewrite_metadata
from export.modelfile.onnx_export import export_student_onnx
from export.modelfile.quantize import QuantizeError, quantize_dynamic_int8, quantize_static_int8, to_ort
from export.models.student import load_student
from export.pipeline import Run

STUDENTS = ("distilled", "plain", "distilled_attention")


@dataclass
class ExportOutputs:
    calibration_chosen: str
    calibration: dict  # method -> {"val_detection_auc", "bytes"} or {"error"}
    thresholds: dict  # shipped file -> {"detection_threshold", "cause_min_confidence"}
    monitor: dict  # stream rules chosen on validation streams
    cause_test: dict  # the cause head's chance test on validation
    ort: dict
    files: list[Path] = field(default_factory=list)

    def info(self) -> dict:
        return {"calibration": self.calibration, "calibration_chosen": self.calibration_chosen,
                "thresholds": self.thresholds, "monitor": self.monitor, "cause_test": self.cause_test, "ort": self.ort}


def _metadata(run: Run, labels: Sequence[str], threshold: float, conf: float, summary: dict) -> dict[str, str]:
    e = run.config.export
    return metadata_for(labels, threshold, conf, e.window_seconds, e.hop_seconds, int(round(e.min_seconds * SAMPLE_RATE)),
                        e.model_version, summary)


def _summary(run: Run) -> dict:
    teacher = run.read_json("teacher_report.json", "teacher")
    data = run.read_json("data.json", "data")
    return {
        "data": "Donate-a-Cry (curated labels) cries; " + ", ".join(data.get("sources", [])) + " negatives; grouped splits",
        "licences": "; ".join(data.get("licences", {}).values()) + "; YAMNet teacher Apache-2.0",
        "teacher_test_detection_f1": round(float(teacher["detection"]["f1"]), 4),
        "labels_note": "cause labels are parents' guesses; weakly predictable",
    }


def _static_int8(run: Run, ctx: DataContext, val: LabelledSide) -> tuple[str, dict, dict[str, Scores], list[Path]]:
    """Static int8 with each calibration method; the best validation AUC wins (failures are reported)."""
    cfg, e = run.config, run.config.export
    calib = ctx.waves([c for c in ctx.side("train") if c.is_cry is not None])
    best, best_score, report, scores, files = None, -np.inf, {}, {}, []
    for method in e.calibration_methods:
        path = run.path(f"student_distilled_int8_{method}.onnx")
        try:
            quantize_static_int8(run.path("student_distilled_fp32.onnx"), path, calib, method,
                                 window_seconds=e.window_seconds, max_windows=e.calibration_windows, seed=cfg.seed,
                                 reduce_range=e.reduce_range, keep_float=e.keep_float, op_types=e.quantized_ops)
        except QuantizeError as exc:  # reported, and the other methods still compete
            report[method] = {"error": str(exc)}
            continue
        s = scores[method] = val.scores(path, cfg.threads)
        auc = float(np.nan_to_num(metrics.roc_auc(val.ev.det_y, s.select(val.ev.det_ids).cry_probability)))
        report[method] = {"val_detection_auc": auc, "bytes": path.stat().st_size}
        files.append(path)
        if auc > best_score + 1e-9:
            best, best_score = method, auc
    if best is None:
        raise QuantizeError(f"every calibration method failed: {report}")
    return best, report, scores, files


def _ship(run: Run, labels: list[str], val: LabelledSide, shipped: dict[str, Scores], summary: dict) -> dict:
    """Thresholds chosen on validation through the SDK, written into each shipped file (re-sealed)."""
    thresholds = {}
    for name, s in shipped.items():
        path = run.path(name)
        thr = choose_detection_threshold(val.ev, s, run.config.export.max_fpr)
        conf = choose_cause_min_confidence(val.ev, s)
        rewrite_metadata(path, path, _metadata(run, labels, thr, conf, summary))
        thresholds[name] = {"detection_threshold": thr, "cause_min_confidence": conf}
    return thresholds


def _monitor_rules(run: Run, ctx: DataContext, model: Path) -> Calibrated:
    """Stream rules for the false-alarm budget, chosen on validation home-day streams."""
    from infantcry_sdk import CryClassifier

    clf = CryClassifier.load(model, threads=run.config.threads)  # one load for every stream
    return calibrate_model(clf, ctx, run.data_root, run.config.export, run.config.seed)


def _cause_test(run: Run, ctx: DataContext, val: LabelledSide, scores: Scores) -> CauseTest:
    """The shipped file's cause answers on validation cries against chance (grouped by family)."""
    s = scores.select(val.ev.cause_ids)
    groups = [ctx.by_id[i].group for i in val.ev.cause_ids]
    return cause_chance_test(val.ev.cause_y, s.cause_probabilities.argmax(axis=1), groups,
                             evaluated_on="the validation side's curated cries", n_boot=run.config.n_boot,
                             alpha=run.config.export.cause_test_alpha, seed=run.config.seed)


def _runtime_rules(monitor: Calibrated, cause: CauseTest) -> dict[str, str]:
    """The metadata the runtime reads for the monitor and for whether it may name a cause."""
    status = contract.CAUSE_SUPPORTED if cause.supported else contract.CAUSE_UNSUPPORTED
    return {**rules_metadata(monitor.rules), contract.KEY_CAUSE_STATUS: status, contract.KEY_CAUSE_STATUS_REASON: cause.reason}


def run(run: Run, ctx: DataContext) -> ExportOutputs:
    t0 = time.time()
    labels, val, summary = list(ctx.labels), ctx.labelled("val"), _summary(run)
    provisional = _metadata(run, labels, 0.5, 0.5, summary)
    files = []
    for name in STUDENTS:
        pt = run.path(f"student_{name}.pt")
        if pt.is_file():
            files.append(export_student_onnx(load_student(pt), run.path(f"student_{name}_fp32.onnx"), provisional,
                                             opset=run.config.export.opset).path)
    best, calibration, val_scores, int8_files = _static_int8(run, ctx, val)
    files += int8_files
    for name in ("distilled", "plain"):  # dynamic int8: the paper's variant
        files.append(quantize_dynamic_int8(run.path(f"student_{name}_fp32.onnx"), run.path(f"student_{name}_int8_dynamic.onnx")).path)
    shutil.copyfile(run.path(f"student_distilled_int8_{best}.onnx"), run.path("student_int8.onnx"))
    shutil.copyfile(run.path("student_distilled_fp32.onnx"), run.path("student_fp32.onnx"))
    # student_int8.onnx is a byte copy of the chosen method's file: its validation scores are known.
    shipped = {"student_int8.onnx": val_scores[best], "student_fp32.onnx": val.scores(run.path("student_fp32.onnx"), run.config.threads)}
    thresholds = _ship(run, labels, val, shipped, summary)
    monitor = _monitor_rules(run, ctx, run.path("student_int8.onnx"))
    cause = _cause_test(run, ctx, val, val_scores[best])
    for name in shipped:
        rewrite_metadata(run.path(name), run.path(name), _runtime_rules(monitor, cause))
    files += [run.path(n) for n in shipped]
    ort = to_ort(run.path("student_int8.onnx"), run.path("student_int8.ort"))
    out = ExportOutputs(best, calibration, thresholds, monitor.to_dict(), cause.to_dict(),
                        {"bytes": ort.size_bytes, "metadata_survives": ort.metadata_survives, "usability": ort.usability},
                        files + [ort.path, ort.required_operators])
    run.record("export", out.files, time.time() - t0, out.info())
    run.write_json("export_info.json", out.info())
    return out
