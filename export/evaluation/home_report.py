"""The report's "as the product is used" part: the monitor on test home-day streams, false alarms on
baby-like sounds, recall against SNR for the model users run, and where student and teacher disagree.

Everything is measured on the grouped test side (test clips, test room tone); every rule and threshold
comes from the validation side. YAMNet's zero-shot cry score is measured beside the shipped student
the same way, as the baseline a user could have had for free.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from export.constants import SAMPLE_RATE, YAMNET_TFLITE
from export.data.catalog import Clip, background_clips
from export.data.context import DataContext, LabelledSide
from export.evaluation.evaluate import Scores, choose_detection_threshold, recall_vs_snr
from export.evaluation.monitor import (
    calibrate_scorer,
    home_day_config,
    labelled,
    model_context_seconds,
    monitor_report,
    replay_report,
    side_streams,
    yamnet_window_scores,
)
from export.pipeline import Run
from infantcry_sdk import CryClassifier

#: Baby-like negatives reported one by one (name -> which test clips).
HARD_NEGATIVE_GROUPS: dict[str, Callable[[Clip], bool]] = {
    "ESC-50 laughing": lambda c: c.source == "esc50" and c.category == "laughing",
    "UrbanSound8K children_playing": lambda c: c.source == "urbansound8k" and c.category == "children_playing",
    "child and teen speech": lambda c: c.source == "speech" and c.hard_negative,
    "every hard negative": lambda c: c.hard_negative,
    "every negative": lambda c: c.is_cry is False,
}


def yamnet_extractor(run: Run):
    """YAMNet's backbone pass with 0.96 s patches, for its zero-shot cry score."""
    from export.models.yamnet import load_yamnet
    from export.training.features import FeatureExtractor

    yamnet = load_yamnet(run.data_root / YAMNET_TFLITE, cache_dir=run.cache_dir)
    return FeatureExtractor(yamnet, hop_frames=96, cache_dir=run.cache_dir, threads=run.config.threads)


def _zero_shot(extractor, waves: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([float(f.cry_scores.max()) for f in extractor.extract(list(waves))])


def monitor_section(run: Run, ctx: DataContext, model: Path, extractor) -> dict:
    """Test home-day streams through the shipped file's CryStream, and YAMNet zero-shot beside it."""
    e, seed = run.config.export, run.config.seed
    cfg = home_day_config(e, seed)
    test = side_streams(ctx, run.data_root, "test", cfg)
    yam = lambda audio: yamnet_window_scores(extractor, audio)  # noqa: E731
    yam_rules = calibrate_scorer(yam, ctx, run.data_root, e, seed)
    clf = CryClassifier.load(model, threads=run.config.threads)  # one load for the streams and the context
    student = monitor_report(clf, test, cfg.chunk_ms)
    return {
        "config": asdict(cfg),
        "streams": {s.name: {"hours": s.hours, "bouts": len(s.bouts)} for s in test},
        "student_int8": student,
        "false_alarm_categories": false_alarm_categories(ctx, student),
        "student_context_s": model_context_seconds(clf),
        "yamnet_zero_shot": {**yam_rules.to_dict(),
                             "test": replay_report(labelled(test, yam), yam_rules.rules, e.window_seconds, e.hop_seconds)},
        "note": "bouts of 2-60 s (log-uniform) of test cries at 0-20 dB over test negatives of one source and "
                "test-side room tone; events from CryStream in 100 ms chunks with the rules in the model file",
    }


def false_alarm_categories(ctx: DataContext, report: dict) -> dict[str, int]:
    """How many of the monitor's false alarms heard each negative category (``source/category``; a
    window that spans two clips counts for both), most first: which sounds wake the parents."""
    counts: dict[str, int] = {}
    for stream in report.values():
        for alarm in stream.get("false_alarms_heard", []):
            for key in {ctx.by_id[c].source_category for c in alarm["clips"]}:
                counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def hard_negative_section(ctx: DataContext, test: LabelledSide, student: Scores, threshold: float,
                          teacher: dict[str, float], teacher_threshold: float) -> dict:
    """Clip-level false-alarm rate on each group of baby-like test negatives, student and teacher."""
    out = {}
    for name, pick in HARD_NEGATIVE_GROUPS.items():
        ids = [i for i in test.ids if pick(ctx.by_id[i])]
        if not ids:
            continue
        p = student.select(ids).cry_probability
        t = np.array([teacher[i] for i in ids if i in teacher])
        out[name] = {"n": len(ids), "student_int8_false_alarm_rate": float((p >= threshold).mean()),
                     "teacher_false_alarm_rate": float((t >= teacher_threshold).mean()) if t.size else None}
    return out


#: How many of the highest-scoring test negatives the report lists.
LOUDEST_NEGATIVES = 10


def loudest_negatives_section(ctx: DataContext, side: LabelledSide, student: Scores, stream_on: float,
                              teacher: dict[str, float], n: int = LOUDEST_NEGATIVES) -> dict:
    """The negatives the shipped student scores highest (its loudest window), with the teacher's
    score, and how many of the side's negatives reach the stream's on threshold ``stream_on``: where a
    monitor's false alarms come from, and whether the teacher already rejects them (a student error)
    or not (a teacher error)."""
    negatives = [i for i in side.ids if ctx.by_id[i].is_cry is False]
    p = student.select(negatives).cry_probability
    clips = []
    for k in np.argsort(-p, kind="stable")[:n]:
        clip = ctx.by_id[negatives[k]]
        clips.append({"clip_id": clip.clip_id, "source": clip.source, "category": clip.category,
                      "student_int8": float(p[k]), "teacher": teacher.get(clip.clip_id)})
    return {"negatives": len(negatives), "reaching_stream_on_threshold": int((p >= stream_on).sum()),
            "stream_on_threshold": float(stream_on), "clips": clips}


def agreement_section(ctx: DataContext, test: LabelledSide, student: Scores, threshold: float,
                      teacher: dict[str, float], teacher_threshold: float) -> dict:
    """Per source: how often the shipped student and the teacher make the same call, and how far apart
    their probabilities are."""
    out = {}
    for source in sorted({ctx.by_id[i].source for i in test.ids}):
        ids = [i for i in test.ids if ctx.by_id[i].source == source and i in teacher]
        if not ids:
            continue
        p = student.select(ids).cry_probability
        t = np.array([teacher[i] for i in ids])
        out[source] = {"n": len(ids), "same_decision": float(((p >= threshold) == (t >= teacher_threshold)).mean()),
                       "mean_abs_probability_gap": float(np.abs(p - t).mean())}
    return out


def snr_section(run: Run, ctx: DataContext, model: Path, threshold: float, extractor, val: LabelledSide) -> dict:
    """Recall of test cries mixed into test backgrounds at each SNR, for the shipped int8 student and
    YAMNet zero-shot (threshold chosen on validation clips), with the same pairing as the teacher's curve."""
    test_c = ctx.side("test")
    cries = ctx.waves([c for c in test_c if c.is_cry])
    backgrounds = ctx.waves(background_clips(ctx.clips, [c.clip_id for c in test_c]))
    clf = CryClassifier.load(model, threads=run.config.threads)
    student = lambda waves: np.array([p.cry_probability for p in clf.predict_batch(waves, sample_rate=SAMPLE_RATE)])  # noqa: E731
    uniform = np.full((len(val.ids), len(ctx.labels)), 1.0 / len(ctx.labels))
    zs_thr = choose_detection_threshold(val.ev, Scores(val.ids, _zero_shot(extractor, val.waves), uniform))
    return {
        "student_int8": recall_vs_snr(student, cries, backgrounds, threshold, seed=run.config.seed),
        "yamnet_zero_shot": recall_vs_snr(lambda w: _zero_shot(extractor, w), cries, backgrounds, zs_thr, seed=run.config.seed),
        "yamnet_zero_shot_threshold": zs_thr,
    }


def teacher_clip_probabilities(run: Run) -> dict[str, float]:
    """The teacher's cry probability for every clip it scored (every side), by clip id."""
    z = np.load(run.require("teacher_logits.npz", "teacher"))
    return {str(i): float(1.0 / (1.0 + np.exp(-c))) for i, c in zip(z["clip_ids"], z["cry_logit"])}


def home_sections(run: Run, ctx: DataContext, model: Path, student: Scores, val_student: Scores, threshold: float,
                  stream_on: float, teacher_report: dict) -> dict:
    """Every "as used" section of the report for the shipped file ``model``: its test and validation
    scores (``student``, ``val_student``), clip threshold and stream on threshold."""
    test, val = ctx.labelled("test"), ctx.labelled("val")
    teacher, t_thr = teacher_clip_probabilities(run), float(teacher_report["thresholds"]["detection_threshold"])
    extractor = yamnet_extractor(run)
    return {
        "monitor": monitor_section(run, ctx, model, extractor),
        "hard_negatives": hard_negative_section(ctx, test, student, threshold, teacher, t_thr),
        "loudest_negatives": {
            "test": loudest_negatives_section(ctx, test, student, stream_on, teacher),
            # the side the stream rules were chosen on, for comparison (no teacher score: not needed)
            "val": loudest_negatives_section(ctx, val, val_student, stream_on, {}),
        },
        "student_teacher_agreement": agreement_section(ctx, test, student, threshold, teacher, t_thr),
        "recall_vs_snr": snr_section(run, ctx, model, threshold, extractor, val),
    }
