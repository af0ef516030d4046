"""The evaluation report: ``report.json`` (the numbers, exactly), ``report.md`` (for a sceptical
reader) and PNG plots, written into the run folder.

The markdown puts the honest numbers first: detection at the validation-chosen threshold, then the
cause head's balanced accuracy and macro-F1 with cluster-bootstrap CIs, accuracy last (always
predicting "hungry" already scores ~84% accuracy). Baselines and the pooling ablation sit beside the
model's own row so a gain (or its absence) is visible at a glance. Optional sections are skipped
when absent; :func:`validate_report` lists the required keys that are missing.

Expected shape (only the ``REQUIRED_KEYS`` are mandatory)::

    {"command": "python -m export teacher ...",
     "model": {"name": "teacher (statistic pooling)", ...},
     "detection": {"f1", "precision", "recall", "fpr", "auc", "threshold", "false_alarms_per_hour",
                   "n_pos", "n_neg", "recall_vs_snr": {snr_db: recall}, "roc": {"fpr": [], "tpr": []},
                   "ci95": {"f1": [lo, hi], ...}},
     "cause": {... as export.evaluation.metrics.cause_metrics ..., "ci95": {"balanced_accuracy": [lo, hi],
               "macro_f1": [lo, hi]}},
     "baselines": {"majority" | "yamnet_zero_shot" | "yamnet_linear_probe":
                   {"detection": {...}, "cause": {...}}},
     "pooling_ablation": {"mean" | "max" | "mean_max" | "statistic" | "attention": {"detection", "cause"}},
     "cv": {"n_folds": 5, "detection": {key: {"mean", "std"}}, "cause": {...}},
     "compression": {"teacher" | "student" | "distilled_student" | "quantized_dynamic" |
                     "distilled_quantized_static_int8": {"params", "bytes", "detection": {f1, recall,
                     fpr}, "cause": {balanced_accuracy, macro_f1}}},
     "targets": {name: {"value", "target", "met"}},
     "data": {"description": str, "catalog": {...}, "splits": Splits.summary(...), ...},
     "notes": [str, ...]}
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    from export.pipeline import Run

REQUIRED_KEYS: tuple[str, ...] = (
    "command",
    "detection.f1", "detection.recall", "detection.fpr", "detection.auc",
    "detection.false_alarms_per_hour", "detection.recall_vs_snr",
    "cause.balanced_accuracy", "cause.macro_f1", "cause.accuracy", "cause.recall_per_class",
    "cause.confusion", "cause.ece", "cause.ci95.balanced_accuracy", "cause.ci95.macro_f1",
    "baselines.majority", "baselines.yamnet_zero_shot", "baselines.yamnet_linear_probe",
    "pooling_ablation.mean", "pooling_ablation.max", "pooling_ablation.mean_max",
    "pooling_ablation.statistic", "pooling_ablation.attention",
)

COMPRESSION_ROWS = {
    "teacher": "teacher",
    "student": "student",
    "distilled_student": "distilled student",
    "quantized_dynamic": "quantized (dynamic)",
    "distilled_quantized_static_int8": "distilled + quantized (static int8)",
    "distilled_quantized_dynamic": "distilled + quantized (dynamic)",
    "distilled_student_attention_pooling": "distilled student, attention pooling (fp32)",
}

_MISSING = object()


# ------------------------------------------------------------------------------------------ helpers
def to_jsonable(obj: Any) -> Any:
    """numpy, Path, tuples, dataclasses and non-string keys to plain JSON; NaN/inf to None."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def _key(k: Any) -> str:
    if isinstance(k, (float, np.floating)) and float(k).is_integer():
        return str(int(k))
    if isinstance(k, (np.integer, np.floating, np.bool_)):
        return str(k.item())
    return str(k)


def _get(d: Any, *paths: str, default: Any = None) -> Any:
    """The first of the dotted ``paths`` present in ``d``."""
    for path in paths:
        cur = d
        for part in path.split("."):
            if isinstance(cur, Mapping) and part in cur:
                cur = cur[part]
            else:
                cur = _MISSING
                break
        if cur is not _MISSING:
            return cur
    return default


def validate_report(report: Mapping) -> list[str]:
    """The dotted ``REQUIRED_KEYS`` missing from ``report`` (empty when complete). A key whose value
    is None (e.g. false alarms per hour when no durations were known) counts as present."""
    missing = []
    for key in REQUIRED_KEYS:
        cur: Any = report
        for part in key.split("."):
            if isinstance(cur, Mapping) and part in cur:
                cur = cur[part]
            else:
                missing.append(key)
                break
    return missing


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        return f"{v:.{digits}f}"
    return str(v)


def _ci(ci: Any) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(isinstance(x, (int, float)) for x in ci):
        return f"[{ci[0]:.3f}, {ci[1]:.3f}]"
    return ""


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _model_row_cells(m: Mapping) -> list[str]:
    return [
        _fmt(_get(m, "detection.f1", "detection_f1")),
        _fmt(_get(m, "detection.recall", "detection_recall")),
        _fmt(_get(m, "detection.fpr", "detection_fpr"), 4),
        _fmt(_get(m, "detection.auc", "detection_auc"), 4),
        _fmt(_get(m, "cause.balanced_accuracy", "cause_balanced_accuracy", "balanced_accuracy")),
        _fmt(_get(m, "cause.macro_f1", "cause_macro_f1", "macro_f1")),
        _fmt(_get(m, "cause.accuracy", "cause_accuracy", "accuracy")),
    ]


_MODEL_HEADER = ["Model", "Det. F1", "Det. recall", "Det. FPR", "Det. AUC", "Cause bal. acc.", "Cause macro-F1",
                 "Cause acc."]


def _cause_labels(cause: Mapping) -> list[str]:
    labels = cause.get("labels") or list((cause.get("recall_per_class") or {}).keys())
    if not labels and cause.get("confusion"):
        labels = [str(i) for i in range(len(cause["confusion"]))]
    return [str(x) for x in labels]


def _flatten_cv(d: Mapping, prefix: str = "") -> list[tuple[str, Mapping]]:
    out = []
    for k, v in d.items():
        if isinstance(v, Mapping) and "mean" in v:
            out.append((prefix + k, v))
        elif isinstance(v, Mapping):
            out.extend(_flatten_cv(v, prefix + k + "."))
    return out


# -------------------------------------------------------------------------------------------- plots
def _confusion_plot(plt, run_dir: Path, rep: Mapping) -> str | None:
    """The cause confusion matrix (counts; colour = row recall)."""
    cause = rep.get("cause") or {}
    cm = cause.get("confusion")
    if cm:
        a = np.asarray(cm, dtype=float)
        labels = _cause_labels(cause)
        rows = a.sum(axis=1, keepdims=True)
        norm = np.divide(a, rows, out=np.zeros_like(a), where=rows > 0)
        fig, ax = plt.subplots(figsize=(1.1 * len(labels) + 2.5, 1.0 * len(labels) + 2))
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(a.shape[0]):
            for j in range(a.shape[1]):
                ax.text(j, i, f"{int(a[i, j])}", ha="center", va="center",
                        color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
        ax.set_title("Cause confusion (counts; colour = row recall)")
        fig.colorbar(im, ax=ax, fraction=0.046)
        fig.tight_layout()
        fig.savefig(run_dir / "confusion.png", dpi=120)
        plt.close(fig)
        return "confusion.png"

    return None


def _with_baselines(rep: Mapping, key: str, usable) -> list[tuple[str, Any, Mapping]]:
    """(name, detection[key], detection section) for the model and each baseline whose value is usable."""
    model = (_get(rep, "model.name", default="model"), rep.get("detection") or {})
    rows = [model] + [(name, _get(b, "detection") or {}) for name, b in (rep.get("baselines") or {}).items()]
    return [(str(name), d.get(key), d) for name, d in rows if isinstance(d, Mapping) and usable(d.get(key))]


def _roc_plot(plt, run_dir: Path, rep: Mapping) -> str | None:
    """ROC curves of the model and the baselines that have one, with the operating point."""
    det = rep.get("detection") or {}
    curves = _with_baselines(rep, "roc", lambda roc: isinstance(roc, Mapping) and roc.get("fpr") is not None)
    if curves:
        fig, ax = plt.subplots(figsize=(5.5, 5))
        for name, roc, d in curves:
            auc = d.get("auc")
            label = f"{name} (AUC {auc:.3f})" if isinstance(auc, (int, float)) else str(name)
            ax.plot(roc["fpr"], roc["tpr"], label=label)
        ax.plot([0, 1], [0, 1], ":", color="grey")
        fpr_pt, rec_pt = det.get("fpr"), det.get("recall")
        if isinstance(fpr_pt, (int, float)) and isinstance(rec_pt, (int, float)):
            ax.plot([fpr_pt], [rec_pt], "o", color="black", label="operating point")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("recall")
        ax.set_title("Cry detection ROC (test split)")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(run_dir / "roc.png", dpi=120)
        plt.close(fig)
        return "roc.png"

    return None


def _snr_plot(plt, run_dir: Path, rep: Mapping) -> str | None:
    """Recall vs SNR of the model and the baselines that have one."""
    series = _with_baselines(rep, "recall_vs_snr", lambda rv: isinstance(rv, Mapping) and bool(rv))
    if series:
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, rv, _ in series:
            pts = sorted((float(k), v) for k, v in rv.items() if isinstance(v, (int, float)))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=str(name))
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("recall at the chosen threshold")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title("Cry recall vs SNR (test cries mixed into test backgrounds)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(run_dir / "recall_vs_snr.png", dpi=120)
        plt.close(fig)
        return "recall_vs_snr.png"
    return None


def _plots(run_dir: Path, rep: Mapping) -> dict[str, str]:
    """Write the plots the data allows; returns {kind: file name}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = {kind: draw(plt, run_dir, rep) for kind, draw in
            (("confusion", _confusion_plot), ("roc", _roc_plot), ("recall_vs_snr", _snr_plot))}
    return {k: v for k, v in made.items() if v}


# ---------------------------------------------------------------------------------------- markdown
def _headline(rep: Mapping) -> list[str]:
    """The headline table (detection first, accuracy last), its notes and the targets."""
    det = rep.get("detection") or {}
    cause = rep.get("cause") or {}
    lines: list[str] = []
    lines += ["## Headline (grouped test split)", ""]
    dci = det.get("ci95") or {}
    cci = cause.get("ci95") or {}
    thr = det.get("threshold")
    rows = [
        ["Detection", "F1", _fmt(det.get("f1")), _ci(dci.get("f1"))],
        ["Detection", "recall", _fmt(det.get("recall")), _ci(dci.get("recall"))],
        ["Detection", "false-positive rate", _fmt(det.get("fpr"), 4), _ci(dci.get("fpr"))],
        ["Detection", "ROC AUC", _fmt(det.get("auc"), 4), _ci(dci.get("auc"))],
        ["Detection", "false alarms per hour", _fmt(det.get("false_alarms_per_hour"), 2), ""],
        ["Cause", "balanced accuracy", _fmt(cause.get("balanced_accuracy")), _ci(cci.get("balanced_accuracy"))],
        ["Cause", "macro-F1", _fmt(cause.get("macro_f1")), _ci(cci.get("macro_f1"))],
        ["Cause", "ECE (10 bins)", _fmt(cause.get("ece")), ""],
        ["Cause", "accuracy", _fmt(cause.get("accuracy")), _ci(cci.get("accuracy"))],
    ]
    lines += _table(["Task", "Metric", "Value", "CI95"], rows)
    notes = []
    if thr is not None:
        notes.append(f"detection threshold {_fmt(thr, 4)}, chosen on the validation split (max F1 at FPR ≤ 1%, in the middle of the gap of equally good thresholds)")
    if det.get("n_pos") is not None:
        notes.append(f"detection test clips: {_fmt(det.get('n_pos'))} cries, {_fmt(det.get('n_neg'))} non-cries")
    if cause.get("n") is not None:
        k = sum(1 for v in (cause.get("recall_per_class") or {}).values() if v is not None)
        chance = f"; chance balanced accuracy 1/{k} = {1 / k:.3f}" if k else ""
        notes.append(f"cause test clips: {_fmt(cause.get('n'))}{chance}")
    notes.append("CI95: cluster bootstrap over app installs; macro-F1 and balanced accuracy over the classes "
                 "present in the test split; accuracy is listed last because the majority class dominates")
    lines += [""] + [f"- {n}" for n in notes] + [""]
    targets = rep.get("targets")
    if isinstance(targets, Mapping) and targets:
        lines += ["### Targets", ""]
        lines += _table(["Target", "Value", "Required", "Met"], [
            [str(k), _fmt(_get(v, "value")), _fmt(_get(v, "target")), _fmt(_get(v, "met"))]
            for k, v in targets.items()])
        lines.append("")

    return lines


def _cause_section(rep: Mapping, plots: Mapping[str, str]) -> list[str]:
    """Per-class recall and the confusion matrix, then the detection curves."""
    det = rep.get("detection") or {}
    cause = rep.get("cause") or {}
    lines: list[str] = []
    if cause.get("recall_per_class") or cause.get("confusion"):
        lines += ["## Cause: per-class recall and confusion", ""]
        labels = _cause_labels(cause)
        rpc = cause.get("recall_per_class") or {}
        f1pc = cause.get("f1_per_class") or {}
        sup = cause.get("support") or {}
        if rpc:
            lines += _table(["Class", "Test clips", "Recall", "F1"], [
                [lab, _fmt(sup.get(lab)), _fmt(rpc.get(lab)), _fmt(f1pc.get(lab))] for lab in labels])
            lines.append("")
        cm = cause.get("confusion")
        if cm:
            lines += ["Confusion matrix (rows true, columns predicted):", ""]
            lines += _table(["true \\ pred"] + labels, [[labels[i]] + [str(x) for x in row] for i, row in enumerate(cm)])
            lines.append("")
        if "confusion" in plots:
            lines += [f"![confusion matrix]({plots['confusion']})", ""]

    plot_lines = [f"![{k}]({plots[k]})" for k in ("roc", "recall_vs_snr") if k in plots]
    if plot_lines:
        lines += ["## Detection curves", ""] + plot_lines + [""]
    rvs = det.get("recall_vs_snr")
    if isinstance(rvs, Mapping) and rvs:
        pts = sorted(((float(k), v) for k, v in rvs.items()), key=lambda t: t[0])
        lines += _table(["SNR (dB)"] + [_fmt(p[0], 0) if p[0].is_integer() else _fmt(p[0], 1) for p in pts],
                        [["recall"] + [_fmt(p[1]) for p in pts]])
        lines.append("")

    return lines


def _comparisons(rep: Mapping) -> list[str]:
    """Baselines, the pooling ablation and grouped cross-validation."""
    det = rep.get("detection") or {}
    cause = rep.get("cause") or {}
    lines: list[str] = []
    model_name = str(_get(rep, "model.name", default="this model"))
    own = [model_name] + _model_row_cells({"detection": det, "cause": cause})

    base = rep.get("baselines")
    if isinstance(base, Mapping) and base:
        lines += ["## Baselines (same test split)", ""]
        lines += _table(_MODEL_HEADER, [own] + [[str(k)] + _model_row_cells(v) for k, v in base.items()])
        lines.append("")

    pool = rep.get("pooling_ablation")
    if isinstance(pool, Mapping) and pool:
        lines += ["## Pooling ablation", ""]
        lines += _table(["Pooling"] + _MODEL_HEADER[1:], [[str(k)] + _model_row_cells(v) for k, v in pool.items()])
        lines.append("")

    cv = rep.get("cv")
    if isinstance(cv, Mapping) and cv:
        flat = _flatten_cv(cv)
        if flat:
            n = cv.get("n_folds")
            lines += [f"## Grouped cross-validation on the development split{f' ({n} folds)' if n else ''}", ""]
            lines += _table(["Metric", "Mean ± std"], [[k, f"{_fmt(v.get('mean'))} ± {_fmt(v.get('std'))}"] for k, v in flat])
            lines.append("")

    return lines


def _compression(rep: Mapping) -> list[str]:
    lines: list[str] = []
    comp = rep.get("compression")
    if isinstance(comp, Mapping) and comp:
        lines += ["## Compression", ""]
        order = [k for k in COMPRESSION_ROWS if k in comp] + [k for k in comp if k not in COMPRESSION_ROWS]
        rows = []
        for k in order:
            v = comp[k]
            b = _get(v, "bytes")
            rows.append([
                COMPRESSION_ROWS.get(k, str(k)), _fmt(_get(v, "params")),
                f"{b / 2**20:.2f} MiB" if isinstance(b, (int, float)) else "—",
                _fmt(_get(v, "detection.f1", "detection_f1")), _fmt(_get(v, "detection.recall", "detection_recall")),
                _fmt(_get(v, "detection.fpr", "detection_fpr"), 4),
                _fmt(_get(v, "cause.balanced_accuracy", "cause_balanced_accuracy")),
                _fmt(_get(v, "cause.macro_f1", "cause_macro_f1")),
            ])
        lines += _table(["Model", "Params", "Size", "Det. F1", "Det. recall", "Det. FPR", "Cause bal. acc.",
                         "Cause macro-F1"], rows)
        lines.append("")
    for key, why in (rep.get("variants_refused_by_the_sdk") or {}).items():
        lines.append(f"- {COMPRESSION_ROWS.get(key, key)}: not scored, the SDK refuses the file: {why}")
    return lines + ([""] if rep.get("variants_refused_by_the_sdk") else [])


def _split_rows(splits: Mapping) -> list[list[str]]:
    rows = []
    for side in ("train", "val", "dev", "test"):
        s = splits.get(side)
        if isinstance(s, Mapping):
            causes = ", ".join(f"{k} {v}" for k, v in (s.get("causes") or {}).items())
            rows.append([side, _fmt(s.get("clips")), _fmt(s.get("groups")), _fmt(s.get("cry_positives")),
                         _fmt(s.get("hard_negatives")), causes or "—"])
    return rows


def _data_section(rep: Mapping) -> list[str]:
    lines: list[str] = []
    data = rep.get("data")
    if not (isinstance(data, Mapping) and data):
        return lines
    lines += ["## Data and split", ""]
    if data.get("description"):
        lines += [str(data["description"]), ""]
    splits = data.get("splits")
    if isinstance(splits, Mapping) and any(s in splits for s in ("train", "val", "test")):
        lines += _table(["Side", "Clips", "Groups", "Cry positives", "Hard negatives", "Curated causes"], _split_rows(splits))
        lines.append("")
    for k, v in data.items():
        if k in ("description", "splits"):
            continue
        lines.append(f"- **{k}**: {v if isinstance(v, str) else json.dumps(v)}")
    lines.append("")
    return lines


_MONITOR_COLS = ["stream", "hours", "bouts", "event recall", "recall, bouts >= 10 s", "false alarms / h",
                 "median delay s", "p95 delay s"]


def _monitor_rows(table: Mapping, who: str) -> list[list[str]]:
    return [[f"{who}: {name}", _fmt(r.get("hours"), 2), _fmt(r.get("bouts")), _fmt(r.get("event_recall")),
             _fmt(r.get("event_recall_10s_or_more")), _fmt(r.get("false_alarms_per_hour"), 2),
             _fmt(r.get("median_delay_s"), 2), _fmt(r.get("p95_delay_s"), 2)] for name, r in table.items()]


def _monitor_section(home: Mapping) -> list[str]:
    mon = home.get("monitor") or {}
    if not mon:
        return []
    lines = ["### Home-day streams (test side), through `CryStream` in 100 ms chunks", ""]
    yam = mon.get("yamnet_zero_shot") or {}
    rows = _monitor_rows(mon.get("student_int8") or {}, "shipped int8") + _monitor_rows(yam.get("test") or {}, "YAMNet zero-shot")
    lines += _table(_MONITOR_COLS, rows)
    note = mon.get("note", "")
    rules = yam.get("rules")
    heard = mon.get("false_alarm_categories") or {}
    if heard:
        lines += ["", "What the windows that opened the shipped student's false alarms heard (test streams; a window "
                  "spanning two clips counts for both): " + ", ".join(f"{k} {v}" for k, v in heard.items()) + "."]
    lines += ["", f"- {note}.", f"- the student's stream waits {_fmt(mon.get('student_context_s'), 2)} s after each "
              "window for the context its score needs (that is what makes stream = predict exact).",
              f"- YAMNet zero-shot: max of its two 0.96 s patches per window, rules chosen on the same validation "
              f"streams: {rules}." if rules else "", ""]
    return lines


def _home_section(rep: Mapping) -> list[str]:
    """The shipped student as parents use it: streams, baby-like sounds, SNR, unseen sources."""
    home, loso = rep.get("home") or {}, rep.get("loso") or {}
    if not home and not loso:
        return []
    lines = ["## As the product is used", ""] + _monitor_section(home)
    hard = home.get("hard_negatives") or {}
    if hard:
        lines += ["### Baby-like negatives (test clips, clip threshold)", ""]
        lines += _table(["group", "clips", "shipped int8 false alarms", "teacher false alarms"], [
            [k, _fmt(v.get("n")), _fmt(v.get("student_int8_false_alarm_rate")), _fmt(v.get("teacher_false_alarm_rate"))]
            for k, v in hard.items()]) + [""]
    loudest = home.get("loudest_negatives") or {}
    test_loud, val_loud = loudest.get("test") or {}, loudest.get("val") or {}
    if test_loud.get("clips"):
        lines += ["### The test negatives the shipped student scores highest", "",
                  "Its loudest window's probability beside the teacher's clip probability: a negative the teacher "
                  "rejects is the student's error. A negative at or above the stream's on threshold "
                  f"({_fmt(test_loud.get('stream_on_threshold'))}) can raise a monitor's false alarm wherever it plays.", ""]
        lines += _table(["clip", "category", "shipped int8", "teacher"], [
            [v.get("clip_id"), v.get("category"), _fmt(v.get("student_int8")), _fmt(v.get("teacher"))]
            for v in test_loud["clips"]]) + [""]
        lines += [f"At or above the on threshold: {_fmt(test_loud.get('reaching_stream_on_threshold'))} of "
                  f"{_fmt(test_loud.get('negatives'))} test negatives, and {_fmt(val_loud.get('reaching_stream_on_threshold'))} "
                  f"of {_fmt(val_loud.get('negatives'))} on the validation side, where the stream rules were chosen.", ""]
    snr = home.get("recall_vs_snr") or {}
    teacher_snr = _get(rep, "detection.recall_vs_snr") or {}
    if snr:
        levels = list((snr.get("student_int8") or teacher_snr).keys())
        lines += ["### Recall of test cries mixed into test backgrounds", ""]
        rows = [[who] + [_fmt((curve or {}).get(k)) for k in levels] for who, curve in (
            ("teacher", teacher_snr), ("shipped int8 student", snr.get("student_int8")), ("YAMNet zero-shot", snr.get("yamnet_zero_shot")))]
        lines += _table(["model"] + [f"{k} dB" for k in levels], rows) + [""]
    if loso.get("folds"):
        lines += ["### Leave one source of cries out (unseen homes)", "", f"Recipe: {loso.get('recipe', '')}.", ""]
        lines += _table(["held-out cries", "cries", "negatives", "F1", "recall", "FPR", "AUC"], [
            [k, _fmt(v.get("held_out_cries")), _fmt(v.get("test_negatives")), _fmt(_get(v, "detection.f1")),
             _fmt(_get(v, "detection.recall")), _fmt(_get(v, "detection.fpr"), 4), _fmt(_get(v, "detection.auc"), 4)]
            for k, v in loso["folds"].items()]) + [""]
    agree = home.get("student_teacher_agreement") or {}
    if agree:
        lines += ["### Shipped student vs teacher, per source (test clips)", ""]
        lines += _table(["source", "clips", "same decision", "mean absolute probability gap"], [
            [k, _fmt(v.get("n")), _fmt(v.get("same_decision")), _fmt(v.get("mean_abs_probability_gap"))] for k, v in agree.items()]) + [""]
    return lines + _choices_section(rep)


def _choices_section(rep: Mapping) -> list[str]:
    """What each home-data choice did on validation, and the cause head's test."""
    lines = []
    hd = _get(rep, "teacher.home_data") or rep.get("home_data") or {}
    rows = [[k.replace("_", " "), str(v.get("what", "")), _fmt(v.get("kept")), _fmt(v.get("val_score_without")),
             _fmt(v.get("val_score_with"))] for k, v in hd.items() if isinstance(v, Mapping) and "kept" in v]
    if rows:
        lines += ["### What each teacher choice did (validation selection score; kept only if higher)", ""]
        lines += _table(["choice", "what", "kept", "validation without", "validation with"], rows) + [""]
    cause = _get(rep, "export.cause_test")
    if cause:
        lines += ["### Cause head against chance", "", f"- {cause.get('reason')}.",
                  f"- the shipped file's cause status: {'supported' if cause.get('supported') else 'unsupported (the SDK returns no cause)'}.", ""]
    return lines


def _seed_spread_section(rep: Mapping) -> list[str]:
    """Runs that differ only in their seed (``seed_spread.json`` in the run folder, written by
    ``python -m export.evaluation.seed_spread ... --out RUN/seed_spread.md``)."""
    spread = rep.get("seed_spread")
    if not spread:
        return []
    from export.evaluation.seed_spread import to_markdown

    return ["### Run-to-run spread (seeds)", "",
            "Runs that differ only in their seed (`python -m export.evaluation.seed_spread`); the home-day "
            "streams are drawn from the seed too.", "", to_markdown(spread)]


def render_markdown(rep: Mapping, plots: Mapping[str, str] | None = None) -> str:
    """The report as markdown (``rep`` already JSON-safe), section by section."""
    plots = plots or {}
    title = rep.get("title") or "InfantCry evaluation report"
    lines = [f"# {title}", ""]
    missing = validate_report(rep)
    if missing:
        lines += [f"> Incomplete report: missing {', '.join(missing)}.", ""]
    lines += _headline(rep) + _seed_spread_section(rep) + _home_section(rep) + _cause_section(rep, plots) + _comparisons(rep) + _compression(rep) + _data_section(rep)
    extra = rep.get("notes")
    if extra:
        lines += ["## Notes", ""] + [f"- {n}" for n in (extra if isinstance(extra, list) else [extra])] + [""]
    lines += ["## Command", "", "```", str(rep.get("command") or "(not recorded)"), "```", ""]
    return "\n".join(lines + _built_on(rep.get("built_on") or {}, rep.get("built_on_signature") or {}))


def _built_on(classes: Mapping[str, str | None], signatures: Mapping[str, str | None] | None = None) -> list[str]:
    """Which CPU class and signature ran each stage: a rerun reproduces a stage's files only on the
    same signature (and thread count), not merely the same class."""
    known = {stage: c for stage, c in classes.items() if c}
    if not known:
        return []
    line = ", ".join(f"{stage} {c}" for stage, c in known.items())
    mixed = len(set(known.values())) > 1
    out = "Built on (CPU class per stage): " + line + (
        ". **Stages ran on different CPU classes**: the same recipe and seed train another draw on another "
        "class, so this folder is not what one machine would build." if mixed else ".")
    seen = sorted({s for s in (signatures or {}).values() if s})
    if len(seen) == 1:
        out += (f" CPU signature {seen[0]}: a rerun rebuilds these files byte for byte only on that signature "
                "with the same thread count.")
    elif len(seen) > 1:
        out += " **Stages ran on different CPU signatures** (" + "; ".join(seen) + ")."
    return [out, ""]


def write_report(run_dir: str | os.PathLike, report: Mapping) -> tuple[Path, Path]:
    """Write ``report.json``, the plots and ``report.md`` into ``run_dir``; returns the two paths."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rep = to_jsonable(report)
    json_path = run_dir / "report.json"
    json_path.write_text(json.dumps(rep, indent=2, allow_nan=False) + "\n")
    plots = _plots(run_dir, rep)
    md_path = run_dir / "report.md"
    md_path.write_text(render_markdown(rep, plots))
    return json_path, md_path


def write_full_report(run: "Run") -> tuple[Path, Path]:
    """report.json + report.md from whatever stages have run (the teacher's part stands alone)."""
    report = dict(run.read_json("teacher_report.json", "teacher"))
    report["command"] = run.manifest().get("command") or run.command
    stages = run.manifest()["stages"]
    report["built_on"] = {stage: (e.get("built_on") or {}).get("cpu_class") for stage, e in stages.items()}
    report["built_on_signature"] = {stage: (e.get("built_on") or {}).get("cpu_signature") for stage, e in stages.items()}
    report["model"] = {"name": f"teacher (YAMNet + {report['teacher']['pooling']} pooling)"}
    if run.path("data.json").is_file():
        report["data"] = run.read_json("data.json", "data")
    if run.path("compression.json").is_file():
        report.update(run.read_json("compression.json", "report"))
    if run.path("export_info.json").is_file():
        report["export"] = run.read_json("export_info.json", "export")
    if run.path("seed_spread.json").is_file():
        report["seed_spread"] = run.read_json("seed_spread.json", "seed spread")
    report["config"] = run.config.to_dict()
    missing = validate_report(report)
    if missing:
        report.setdefault("notes", []).append(f"missing report keys: {missing}")
    return write_report(run.run_dir, report)
