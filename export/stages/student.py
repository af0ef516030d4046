"""Stages ``student``, ``export``, ``report`` and ``install``: from the teacher to the shipped file.

    student   the distilled student and, for the comparison, the same student trained without the teacher
    export    fp32 ONNX -> static int8 (calibration methods compared on validation) and dynamic int8
              -> thresholds chosen on validation -> sealed files -> .ort for ONNX Runtime Mobile
    report    every variant measured on the same grouped test split through the SDK itself
    install   the int8 model and its card into infantcry_sdk/models, the Android asset, golden vectors
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch

from infantcry_sdk import CryClassifier

from export.evaluation import metrics
from export.audio.augment import Augmenter
from export.data.catalog import background_clips
from export.training.distill import Item, predict as student_predict, train_student
from export.evaluation.evaluate import EvalSet, Scores, choose_cause_min_confidence, choose_detection_threshold, evaluate, selection_score
from export.modelfile.onnx_export import export_student_onnx, metadata_for, read_metadata
from export.modelfile.toy import rewrite_metadata
from export.pipeline import REPO, Run
from export.modelfile.quantize import QuantizeError, quantize_dynamic_int8, quantize_static_int8, to_ort
from export.evaluation.report import validate_report, write_report
from export.stages.teacher import DataContext
from export.models.student import StudentConfig, count_parameters, load_student, save_student

SDK_MODELS = REPO / "infantcry_sdk" / "models"
LICENCES = {
    "Donate-a-Cry corpus": "Open Database License 1.0 (contents: Database Contents License 1.0)",
    "ESC-50": "CC BY-NC 3.0 (ESC-10 subset CC BY 3.0): non-commercial",
    "Speech negatives": "FSDD CC BY-SA 4.0; LibriSpeech CC BY 4.0; speechocean762 CC BY 4.0",
    "YAMNet (teacher backbone)": "Apache-2.0",
}


# ---------------------------------------------------------------------------------------- student
def _student_items(ctx: DataContext, side: str) -> list[Item]:
    """(clip_id, waveform, is_cry, cause index or -1) for every clip with a verified cry label."""
    index = {lab: i for i, lab in enumerate(ctx.labels)}
    clips = [c for c in ctx.side(side) if c.is_cry is not None]
    return [(c.clip_id, w, int(c.is_cry), index.get(c.cause, -1) if c.cause else -1) for c, w in zip(clips, ctx.waves(clips))]


def _val_score(labels: Sequence[str]):
    """Early stopping on validation, as for the teacher: :func:`export.evaluation.evaluate.selection_score`."""

    def score(model, items: Sequence[Item]) -> float:
        cry, causes = student_predict(model, [it[1] for it in items])
        has_cause = np.array([it[3] >= 0 for it in items], dtype=bool)
        cause_y = np.array([it[3] for it in items])[has_cause]
        return selection_score(np.array([it[2] for it in items]), cry, cause_y, causes[has_cause], labels)

    return score


def _teacher_targets(run: Run) -> dict[str, tuple[float, np.ndarray]]:
    z = np.load(run.require("teacher_logits.npz", "teacher"))
    return {str(i): (float(c), k) for i, c, k in zip(z["clip_ids"], z["cry_logit"], z["cause_logits"])}


def stage_student(run: Run, ctx: DataContext) -> dict:
    t0 = time.time()
    cfg = run.config
    torch.set_num_threads(cfg.threads)
    train, val = _student_items(ctx, "train"), _student_items(ctx, "val")
    targets = _teacher_targets(run)
    noise = ctx.waves(background_clips(ctx.clips, ctx.splits.train))
    scfg = StudentConfig(**{**cfg.student.to_dict(), "n_causes": len(ctx.labels)})
    outputs, info = [], {}
    variants = {"distilled": (scfg, True), "plain": (scfg, False)}
    if scfg.pooling != "attention":
        variants["distilled_attention"] = (StudentConfig(**{**scfg.to_dict(), "pooling": "attention"}), True)
    for name, (sc, distill) in variants.items():
        aug = Augmenter(noise, seed=cfg.distill.seed)
        model, history = train_student(
            train, val, targets, cfg.distill, student_config=sc, distill=distill, augmenter=aug, val_score=_val_score(ctx.labels)
        )
        path = save_student(model, run.path(f"student_{name}.pt"))
        outputs += [path, run.write_json(f"student_{name}_history.json", history.to_dict())]
        info[name] = {"parameters": count_parameters(model), "epochs": len(history.epochs), "best_epoch": history.best_epoch,
                      "best_val_score": history.best_score, "seconds": round(history.seconds, 1), "pooling": sc.pooling}
    run.record("student", outputs, time.time() - t0, info)
    return info


# ----------------------------------------------------------------------------------------- export
def _sdk_scores(path: Path, ids: Sequence[str], waves: Sequence[np.ndarray], threads: int) -> Scores:
    """Score clips through the SDK exactly as an app would (windows, aggregation)."""
    clf = CryClassifier.load(path, threads=threads)
    preds = clf.predict_batch(list(waves), sample_rate=16000)
    return Scores(
        list(ids),
        np.array([p.cry_probability for p in preds]),
        np.array([[p.cause_probabilities[l] for l in clf.labels] for p in preds]),
    )


class _Side:
    """Clips of one side with their ground truth, decoded once."""

    def __init__(self, ctx: DataContext, side: str) -> None:
        clips = [c for c in ctx.side(side) if c.is_cry is not None]
        self.ev: EvalSet = ctx.eval_set(clips)
        self.ids = [c.clip_id for c in clips]
        self.waves = ctx.waves(clips)

    def scores(self, path: Path, threads: int) -> Scores:
        return _sdk_scores(path, self.ids, self.waves, threads)


def _metadata(run: Run, labels: Sequence[str], threshold: float, conf: float, summary: dict) -> dict[str, str]:
    e = run.config.export
    return metadata_for(
        labels, threshold, conf, e.window_seconds, e.hop_seconds, int(round(e.min_seconds * 16000)), e.model_version, summary
    )


def _summary(run: Run) -> dict:
    teacher = run.read_json("teacher_report.json", "teacher")
    return {
        "data": "Donate-a-Cry (curated labels), ESC-50 folds 1-4, FSDD/LibriSpeech/speechocean762 speech; grouped splits",
        "licences": "Donate-a-Cry ODbL 1.0; ESC-50 CC BY-NC 3.0 (non-commercial); YAMNet teacher Apache-2.0",
        "teacher_test_detection_f1": round(float(teacher["detection"]["f1"]), 4),
        "labels_note": "cause labels are parents' guesses; weakly predictable",
    }


def stage_export(run: Run, ctx: DataContext) -> dict:
    t0 = time.time()
    cfg = run.config
    e = cfg.export
    labels = list(ctx.labels)
    val = _Side(ctx, "val")
    summary = _summary(run)
    provisional = _metadata(run, labels, 0.5, 0.5, summary)
    info: dict = {"calibration": {}}
    outputs = []
    # fp32 exports of each trained student
    for name in ("distilled", "plain", "distilled_attention"):
        pt = run.path(f"student_{name}.pt")
        if pt.is_file():
            res = export_student_onnx(load_student(pt), run.path(f"student_{name}_fp32.onnx"), provisional, opset=e.opset)
            outputs.append(res.path)
    # int8: static with each calibration method (chosen on validation), dynamic (the paper's variant)
    calib_clips = [c for c in ctx.side("train") if c.is_cry is not None]
    calib = ctx.waves(calib_clips)
    best, best_score, val_scores = None, -np.inf, {}
    for method in e.calibration_methods:
        path = run.path(f"student_distilled_int8_{method}.onnx")
        try:
            quantize_static_int8(
                run.path("student_distilled_fp32.onnx"), path, calib, method,
                window_seconds=e.window_seconds, max_windows=e.calibration_windows, seed=cfg.data.seed,
                reduce_range=e.reduce_range, keep_float=e.keep_float,
            )
        except QuantizeError as exc:  # reported, and the other methods still compete
            info["calibration"][method] = {"error": str(exc)}
            continue
        s = val_scores[method] = val.scores(path, cfg.threads)
        auc = float(np.nan_to_num(metrics.roc_auc(val.ev.det_y, s.select(val.ev.det_ids).cry_probability)))
        info["calibration"][method] = {"val_detection_auc": auc, "bytes": path.stat().st_size}
        outputs.append(path)
        if auc > best_score + 1e-9:
            best, best_score = method, auc
    if best is None:
        raise QuantizeError(f"every calibration method failed: {info['calibration']}")
    info["calibration_chosen"] = best
    for name in ("distilled", "plain"):
        res = quantize_dynamic_int8(run.path(f"student_{name}_fp32.onnx"), run.path(f"student_{name}_int8_dynamic.onnx"))
        outputs.append(res.path)
    # the shipped pair: thresholds chosen on validation through the SDK, written into the files
    shutil.copyfile(run.path(f"student_distilled_int8_{best}.onnx"), run.path("student_int8.onnx"))
    shutil.copyfile(run.path("student_distilled_fp32.onnx"), run.path("student_fp32.onnx"))
    thresholds = {}
    # student_int8.onnx is a byte copy of the chosen method's file: its validation scores are known.
    shipped = {"student_int8.onnx": val_scores[best], "student_fp32.onnx": val.scores(run.path("student_fp32.onnx"), cfg.threads)}
    for name, s in shipped.items():
        path = run.path(name)
        thr = choose_detection_threshold(val.ev, s, e.max_fpr)
        conf = choose_cause_min_confidence(val.ev, s)
        rewrite_metadata(path, path, _metadata(run, labels, thr, conf, summary))  # re-sealed
        thresholds[name] = {"detection_threshold": thr, "cause_min_confidence": conf}
        outputs.append(path)
    info["thresholds"] = thresholds
    ort = to_ort(run.path("student_int8.onnx"), run.path("student_int8.ort"))
    info["ort"] = {"bytes": ort.size_bytes, "metadata_survives": ort.metadata_survives, "usability": ort.usability}
    outputs += [ort.path, ort.required_operators]
    run.record("export", outputs, time.time() - t0, info)
    run.write_json("export_info.json", info)
    return info


# ----------------------------------------------------------------------------------------- report
#: Compression-table rows: (report key, ONNX file or None for the teacher, trained with the teacher?).
VARIANTS = (
    ("student", "student_plain_fp32.onnx"),
    ("distilled_student", "student_fp32.onnx"),
    ("quantized_dynamic", "student_plain_int8_dynamic.onnx"),
    ("distilled_quantized_dynamic", "student_distilled_int8_dynamic.onnx"),
    ("distilled_quantized_static_int8", "student_int8.onnx"),
    ("distilled_student_attention_pooling", "student_distilled_attention_fp32.onnx"),
)


def _row(section: dict, params: int, nbytes: int, **extra) -> dict:
    d, c = section["detection"], section["cause"]
    return {
        "params": int(params), "bytes": int(nbytes),
        "detection": {k: d[k] for k in ("f1", "recall", "fpr", "auc", "threshold")},
        "cause": {k: c[k] for k in ("balanced_accuracy", "macro_f1", "accuracy")}, **extra,
    }


def _onnx_params(path: Path) -> int:
    """Learned parameters in an ONNX file: initializer elements, int8 weights and float alike."""
    proto = onnx.load(str(path))
    return int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer if len(t.dims) > 0 and np.prod(t.dims) > 1))


def stage_report(run: Run, ctx: DataContext) -> dict:
    t0 = time.time()
    cfg = run.config
    teacher = run.read_json("teacher_report.json", "teacher")
    val, test = _Side(ctx, "val"), _Side(ctx, "test")
    t = teacher["teacher"]
    table = {"teacher": {**_row(teacher, t["parameters"], t["fp32_bytes"]), "bytes_note": "fp32 parameter bytes (4 x parameters)"}}
    sections = {}
    for key, name in VARIANTS:
        path = run.path(name)
        if not path.is_file():
            continue
        thr = choose_detection_threshold(val.ev, val.scores(path, cfg.threads), cfg.export.max_fpr)
        sec = evaluate(test.ev, test.scores(path, cfg.threads), thr, ctx.labels, cfg.n_boot, cfg.data.seed)
        sections[key] = sec
        pt = {"student": "plain", "quantized_dynamic": "plain", "distilled_student_attention_pooling": "distilled_attention"}.get(key, "distilled")
        params = count_parameters(load_student(run.path(f"student_{pt}.pt")))
        table[key] = _row(sec, params, path.stat().st_size)
    ort = run.path("student_int8.ort")
    if ort.is_file() and "distilled_quantized_static_int8" in table:
        table["distilled_quantized_static_int8"]["ort_bytes"] = ort.stat().st_size
    shipped = sections.get("distilled_quantized_static_int8")
    targets = _targets(teacher, table)
    comp = {"compression": table, "student_int8": shipped, "targets": targets,
            "student_fp32": sections.get("distilled_student")}
    path = run.write_json("compression.json", comp)
    report_paths = write_full_report(run)
    card = write_model_card(run, ctx, teacher, table, shipped)
    run.record("report", [path, *report_paths, *card], time.time() - t0, {"targets_met": {k: v["met"] for k, v in targets.items()}})
    return comp


def _targets(teacher: dict, table: dict) -> dict:
    """Issue 2/3 targets, each with the measured value and whether it is met (never adjusted)."""
    out: dict = {}
    d = teacher["detection"]
    out["teacher detection F1 >= 0.97 at FPR <= 1%"] = {"value": d["f1"], "target": 0.97, "met": bool(d["f1"] >= 0.97 and d["fpr"] <= 0.01)}
    zs = teacher["baselines"]["yamnet_zero_shot"]["detection"]["f1"]
    out["teacher detection F1 above YAMNet zero-shot"] = {"value": d["f1"] - zs, "target": 0.0, "met": bool(d["f1"] > zs)}
    lo = teacher["cause"]["ci95"]["balanced_accuracy"][0]
    out["teacher cause balanced accuracy CI95 excludes chance (0.20)"] = {"value": lo, "target": 0.2, "met": bool(lo is not None and lo > 0.2)}
    probe = teacher["baselines"]["yamnet_linear_probe"]["cause"]["balanced_accuracy"]
    out["teacher cause balanced accuracy above linear probe"] = {"value": teacher["cause"]["balanced_accuracy"] - probe, "target": 0.0,
                                                                  "met": bool(teacher["cause"]["balanced_accuracy"] > probe)}
    q = table.get("distilled_quantized_static_int8")
    f = table.get("distilled_student")
    if q:
        out["int8 file <= 400 KB"] = {"value": q["bytes"], "target": 400_000, "met": q["bytes"] <= 400_000}
        ratio = table["teacher"]["bytes"] / q["bytes"]
        out["int8 file <= 1/30 of teacher fp32"] = {"value": ratio, "target": 30, "met": ratio >= 30}
        gap = (table["teacher"]["detection"]["f1"] - q["detection"]["f1"]) * 100
        out["int8 detection F1 within 1 point of teacher"] = {"value": gap, "target": 1.0, "met": gap <= 1.0}
        if f:
            g2 = (f["detection"]["f1"] - q["detection"]["f1"]) * 100
            out["int8 detection F1 within 0.5 point of fp32"] = {"value": g2, "target": 0.5, "met": g2 <= 0.5}
    return out


def write_full_report(run: Run) -> tuple[Path, Path]:
    """report.json + report.md from whatever stages have run (the teacher's part stands alone)."""
    report = dict(run.read_json("teacher_report.json", "teacher"))
    report["command"] = run.manifest().get("command") or run.command
    report["model"] = {"name": f"teacher (YAMNet + {report['teacher']['pooling']} pooling)"}
    if run.path("data.json").is_file():
        report["data"] = run.read_json("data.json", "data")
    if run.path("compression.json").is_file():
        report.update(run.read_json("compression.json", "report"))
    if run.path("export_info.json").is_file():
        report["export"] = run.read_json("export_info.json", "export")
    report["config"] = run.config.to_dict()
    missing = validate_report(report)
    if missing:
        report.setdefault("notes", []).append(f"missing report keys: {missing}")
    return write_report(run.run_dir, report)


def write_model_card(run: Run, ctx: DataContext, teacher: dict, table: dict, shipped: dict | None) -> list[Path]:
    int8 = run.path("student_int8.onnx")
    meta = read_metadata(onnx.load(str(int8))) if int8.is_file() else {}
    card = {
        "name": "InfantCry cry detector and cause estimator (distilled student, int8)",
        "model_version": run.config.export.model_version,
        "files": {p.name: p.stat().st_size for p in (int8, run.path("student_int8.ort"), run.path("student_fp32.onnx")) if p.is_file()},
        "labels": list(ctx.labels),
        "thresholds": {
            "detection_threshold": float(meta.get("infantcry.detection_threshold", "nan")),
            "cause_min_confidence": float(meta.get("infantcry.cause_min_confidence", "nan")),
            "chosen_on": "validation side of the development split (never the test split)",
        },
        "metrics": {
            "split": "grouped test split (no app install, ESC-50 source recording or speaker shared with training)",
            "detection": {k: shipped["detection"][k] for k in ("f1", "precision", "recall", "fpr", "auc", "false_alarms_per_hour")} if shipped else {},
            "cause": {k: shipped["cause"][k] for k in ("balanced_accuracy", "macro_f1", "accuracy", "recall_per_class", "ci95")} if shipped else {},
        },
        "compression": table,
        "licences": LICENCES,
        "intended_use": "Detecting infant crying in home audio on the device, and a tentative, abstaining guess at its cause.",
        "limitations": [
            "Cause labels are parents' guesses (Donate-a-Cry), a few dozen clips per minority class: cause estimates are weakly "
            "predictable and must never be presented as a diagnosis.",
            "Trained on 2015 phone recordings (8 kHz AMR-NB Android, 16 kHz iOS) and ESC-50 / read-speech negatives; other microphones, "
            "languages and rooms may behave differently.",
            "ESC-50 is CC BY-NC: a model trained on it inherits a non-commercial restriction.",
        ],
        "command": run.manifest().get("command") or run.command,
    }
    jpath = run.write_json("model_card.json", card)
    lines = [f"# {card['name']}", "", f"Version {card['model_version']}. Built by `{card['command']}`.", "",
             "## Files", *[f"- `{k}`: {v:,} bytes" for k, v in card["files"].items()], "",
             "## Labels and thresholds", f"- labels: {', '.join(card['labels'])}",
             f"- detection threshold {card['thresholds']['detection_threshold']:.4f}, cause minimum confidence "
             f"{card['thresholds']['cause_min_confidence']:.2f} ({card['thresholds']['chosen_on']})", "",
             "## Metrics (grouped test split)"]
    if shipped:
        d, c = shipped["detection"], shipped["cause"]
        lines += [f"- detection: F1 {d['f1']:.3f}, recall {d['recall']:.3f}, FPR {d['fpr']:.4f}, AUC {d['auc']:.3f}, "
                  f"false alarms/hour {d['false_alarms_per_hour'] if d['false_alarms_per_hour'] is None else round(d['false_alarms_per_hour'], 2)}",
                  f"- cause: balanced accuracy {c['balanced_accuracy']:.3f} (CI95 {c['ci95']['balanced_accuracy']}), macro-F1 "
                  f"{c['macro_f1']:.3f}, accuracy {c['accuracy']:.3f} (majority class ~84%: read the first two)"]
    lines += ["", "## Data and licences", *[f"- {k}: {v}" for k, v in LICENCES.items()], "",
              "## Intended use", card["intended_use"], "", "## Limitations", *[f"- {x}" for x in card["limitations"]], ""]
    mpath = run.path("model_card.md")
    mpath.write_text("\n".join(lines))
    return [jpath, mpath]


# ---------------------------------------------------------------------------------------- install
def stage_install(run: Run) -> list[Path]:
    """Copy the shipped model and its card into the SDK package (regenerated, never hand-edited)."""
    t0 = time.time()
    SDK_MODELS.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("student_int8.onnx", "model_card.md", "model_card.json"):
        src = run.require(name, "report")
        dst = SDK_MODELS / name
        shutil.copyfile(src, dst)
        out.append(dst)
    from export.golden import copy_model_asset, write_golden

    asset = copy_model_asset(run.path("student_int8.ort") if run.path("student_int8.ort").is_file() else SDK_MODELS / "student_int8.onnx")
    out.append(asset)
    write_golden(data_root=run.data_root)
    run.record("install", out, time.time() - t0, {"installed": [str(p) for p in out]})
    return out
