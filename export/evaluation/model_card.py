"""The model card (``model_card.json`` and ``model_card.md``): what the shipped file is, how it scored
on the grouped test split, what data (and licences) it was trained on, and what it must not be used for."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import onnx

from infantcry_sdk import contract

from export.modelfile.metadata import read_metadata

if TYPE_CHECKING:
    from export.pipeline import Run

TEACHER_LICENCE = {"YAMNet (teacher backbone)": "Apache-2.0"}


def write_model_card(run: "Run", labels: Sequence[str], table: dict, shipped: dict | None, licences: Mapping[str, str]) -> list[Path]:
    """Write both card files from the shipped int8 file's metadata and the report's test sections."""
    licences = {**licences, **TEACHER_LICENCE}
    int8 = run.path("student_int8.onnx")
    meta = read_metadata(onnx.load(str(int8))) if int8.is_file() else {}
    card = {
        "name": "InfantCry cry detector and cause estimator (distilled student, int8)",
        "model_version": run.config.export.model_version,
        "files": {p.name: p.stat().st_size for p in (int8, run.path("student_int8.ort"), run.path("student_fp32.onnx")) if p.is_file()},
        "labels": list(labels),
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
        "cause_status": {"status": meta.get(contract.KEY_CAUSE_STATUS, contract.CAUSE_UNSUPPORTED),
                         "reason": meta.get(contract.KEY_CAUSE_STATUS_REASON, contract.DEFAULT_CAUSE_STATUS_REASON)},
        "stream_rules": {k.removeprefix("infantcry.stream_"): meta[k] for k in sorted(meta) if k.startswith("infantcry.stream_")},
        "compression": table,
        "licences": licences,
        "intended_use": "Detecting infant crying in home audio on the device. A cause is given only when the model's "
                        "cause head passed the toolchain's test against chance (cause_status above); otherwise none.",
        "limitations": [
            "Cause labels are parents' guesses (Donate-a-Cry), a few dozen clips per minority class: cause estimates are weakly "
            "predictable and must never be presented as a diagnosis.",
            "Trained on 2015 phone recordings (8 kHz AMR-NB Android, 16 kHz iOS) and ESC-50 / UrbanSound8K / read-speech negatives; other microphones, "
            "languages and rooms may behave differently.",
            "ESC-50 and UrbanSound8K are CC BY-NC: a model trained on them inherits a non-commercial restriction.",
        ],
        "command": run.manifest().get("command") or run.command,
    }
    jpath = run.write_json("model_card.json", card)
    lines = [f"# {card['name']}", "", f"Version {card['model_version']}. Built by `{card['command']}`.", "",
             "## Files", *[f"- `{k}`: {v:,} bytes" for k, v in card["files"].items()], "",
             "## Labels and thresholds", f"- labels: {', '.join(card['labels'])}",
             f"- detection threshold {card['thresholds']['detection_threshold']:.4f}, cause minimum confidence "
             f"{card['thresholds']['cause_min_confidence']:.2f} ({card['thresholds']['chosen_on']})", "",
             f"- monitor rules (chosen on validation home-day streams): {card['stream_rules']}",
             f"- cause status: {card['cause_status']['status']}: {card['cause_status']['reason']}", "",
             "## Metrics (grouped test split)"]
    if shipped:
        d, c = shipped["detection"], shipped["cause"]
        lines += [f"- detection: F1 {d['f1']:.3f}, recall {d['recall']:.3f}, FPR {d['fpr']:.4f}, AUC {d['auc']:.3f}, "
                  f"false alarms/hour {d['false_alarms_per_hour'] if d['false_alarms_per_hour'] is None else round(d['false_alarms_per_hour'], 2)}",
                  f"- cause: balanced accuracy {c['balanced_accuracy']:.3f} (CI95 {c['ci95']['balanced_accuracy']}), macro-F1 "
                  f"{c['macro_f1']:.3f}, accuracy {c['accuracy']:.3f} (majority class ~84%: read the first two)"]
    lines += ["", "## Data and licences", *[f"- {k}: {v}" for k, v in licences.items()], "",
              "## Intended use", card["intended_use"], "", "## Limitations", *[f"- {x}" for x in card["limitations"]], ""]
    mpath = run.path("model_card.md")
    mpath.write_text("\n".join(lines))
    return [jpath, mpath]
