"""Stage ``student``: the distilled student and, for the comparison, the same student trained without
the teacher (and a distilled student with attention pooling, when that is not already the default)."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from export.audio.home_augment import training_augmenter
from export.constants import SAMPLE_RATE, YAMNET_TFLITE
from export.data.context import DataContext
from export.evaluation import monitor
from export.evaluation.evaluate import selection_score
from export.evaluation.stream_rules import calibrate, choice_value
from export.models.student import StudentConfig, count_parameters, save_student
from export.pipeline import Run
from export.training.distill import (Item, TeacherScorer, predict_windows, stream_window_scores, student_grid,
                                     train_student)


@dataclass
class StudentInfo:
    path: Path
    parameters: int
    epochs: int
    best_epoch: int
    best_val_score: float
    seconds: float
    pooling: str


@dataclass
class StudentResult:
    variants: dict[str, StudentInfo]


def student_items(ctx: DataContext, side: str) -> list[Item]:
    """(clip_id, waveform, is_cry, cause index or -1) for every clip with a verified cry label."""
    index = {lab: i for i, lab in enumerate(ctx.labels)}
    clips = [c for c in ctx.side(side) if c.is_cry is not None]
    return [(c.clip_id, w, int(c.is_cry), index.get(c.cause, -1) if c.cause else -1) for c, w in zip(clips, ctx.waves(clips))]


def window_val_score(labels: Sequence[str], window_seconds: float, hop_seconds: float):
    """Early stopping on validation, as for the teacher (:func:`export.evaluation.evaluate.selection_score`),
    on clip scores aggregated over windows as the SDK aggregates them (:func:`predict_windows`)."""

    def score(model, items: Sequence[Item]) -> float:
        cry, causes = predict_windows(model, [it[1] for it in items], window_seconds, hop_seconds)
        return clip_selection_score(labels, items, cry, causes)

    return score


def clip_selection_score(labels: Sequence[str], items: Sequence[Item], cry: np.ndarray, causes: np.ndarray) -> float:
    """The selection score of clip predictions (:func:`predict_windows`'s) on ``items``."""
    has_cause = np.array([it[3] >= 0 for it in items], dtype=bool)
    cause_y = np.array([it[3] for it in items])[has_cause]
    return selection_score(np.array([it[2] for it in items]), cry, cause_y, causes[has_cause], labels)


#: The draws of validation home-day streams a student's epoch is chosen on with
#: ``DistillConfig.select_on = "streams"``: seeds that no check, export stage or report draws.
SELECTION_STREAM_DRAWS = (1000, 1001, 1002)


def stream_val_score(ctx: DataContext, data_root: Path, export_config, student_config: StudentConfig,
                     draws: Sequence[int] = SELECTION_STREAM_DRAWS):
    """Early stopping on what the monitor does: the student scores every window of the validation
    home-day streams of ``draws`` (:func:`stream_window_scores`, the SDK's grid), the monitor's
    rules are chosen on them as the export stage chooses them (:func:`calibrate`, no slack), and
    the epoch's score is that choice's order as one number (:func:`choice_value`).
    The streams are built on the first call (under torchrun only the writer scores)."""
    e = export_config
    context_s = student_grid(student_config, e.window_seconds, e.hop_seconds).context_after / SAMPLE_RATE
    built: list = []

    def score(model, items: Sequence[Item]) -> float:
        if not built:
            built.extend(s for d in draws for s in monitor.side_streams(ctx, data_root, "val", monitor.home_day_config(e, d)))
        window_scores = functools.partial(stream_window_scores, model, window_seconds=e.window_seconds,
                                          hop_seconds=e.hop_seconds)
        scored = monitor.labelled(built, window_scores)
        _, chosen, met = calibrate(scored, e.window_seconds, e.hop_seconds, e.max_false_alarms_per_hour,
                                   context_s=context_s)
        return choice_value(chosen, met)

    return score


def epoch_score(cfg, ctx: DataContext, data_root: Path | None, student_config: StudentConfig):
    """What the student's kept epoch is chosen on, by ``cfg.distill.select_on``."""
    e = cfg.export
    if cfg.distill.select_on == "clips":
        return window_val_score(ctx.labels, e.window_seconds, e.hop_seconds)
    if data_root is None:
        raise ValueError("select_on='streams' needs the data root (validation room tone for the streams)")
    return stream_val_score(ctx, data_root, e, student_config)


def teacher_targets(run: Run) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The teacher's scores on every window of every development clip (``teacher_windows.npz``):
    clip id -> (cry logits [W], cause logits [W, K]), windows in order."""
    z = np.load(run.require("teacher_windows.npz", "teacher"))
    rows: dict[str, list[int]] = {}
    for i, clip in enumerate(z["clip_ids"]):
        rows.setdefault(str(clip), []).append(i)
    out = {}
    for clip, idx in rows.items():
        idx = np.asarray(idx)[np.argsort(z["window"][idx])]
        out[clip] = (z["cry_logit"][idx], z["cause_logits"][idx])
    return out


def _variants(run: Run, n_causes: int) -> dict[str, tuple[StudentConfig, bool]]:
    scfg = StudentConfig(**{**run.config.student.to_dict(), "n_causes": n_causes})
    variants = {"distilled": (scfg, True), "plain": (scfg, False)}
    if run.config.attention_student and scfg.pooling != "attention":
        variants["distilled_attention"] = (StudentConfig(**{**scfg.to_dict(), "pooling": "attention"}), True)
    return variants


def hard_negative_ids(ctx: DataContext, side: str = "train") -> set[str]:
    """The baby-like negatives of a side (laughter, children, child speech), which the teacher and,
    with ``DistillConfig.hard_negative_weight``, the student weigh more in their loss."""
    return {c.clip_id for c in ctx.side(side) if c.hard_negative}  # the catalog flags non-cries only


def teacher_scorer(run: Run, cfg) -> TeacherScorer | None:
    """The run's teacher on raw audio (YAMNet's pass and ``teacher.pt``'s head) when ``cfg.distill``
    asks for a consistent teacher, else None (nothing is loaded)."""
    if not cfg.distill.consistent_teacher:
        return None
    from export.models.teacher import score_waves
    from export.training.features import load_teacher_pass

    extractor, saved = load_teacher_pass(run.require("teacher.pt", "teacher"), run.data_root / YAMNET_TFLITE,
                                         cache_dir=run.cache_dir, threads=cfg.threads or 1)

    def score(waves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        out = score_waves(extractor, saved.head, saved.config, waves)
        return out.cry_logit, out.cause_logits

    return score


def train_variant(cfg, ctx: DataContext, train: Sequence[Item], val: Sequence[Item], targets, augmenter,
                  student_config: StudentConfig, distill: bool, scorer: TeacherScorer | None = None,
                  data_root: Path | None = None):
    """One student as this stage trains it, from the pipeline config ``cfg`` (its ``distill``, ``seed``,
    ``threads`` and scoring windows) and the data context (labels, hard negatives); ``scorer``: the
    teacher on raw audio (:func:`teacher_scorer`) for a consistent teacher; ``data_root``: the data
    folder, which choosing the epoch on streams needs (:func:`epoch_score`).
    ``python -m export.training.sweep`` trains its points through this too, so a sweep point and the
    stage cannot drift apart."""
    return train_student(
        train, val, targets, cfg.distill, student_config=student_config, distill=distill, augmenter=augmenter,
        val_score=epoch_score(cfg, ctx, data_root, student_config), seed=cfg.seed,
        threads=cfg.threads, hard_negatives=hard_negative_ids(ctx), teacher_scorer=scorer,
    )


def run(run: Run, ctx: DataContext) -> StudentResult:
    t0 = time.time()
    cfg = run.config
    train, val = student_items(ctx, "train"), student_items(ctx, "val")
    targets = teacher_targets(run)
    augmenter = training_augmenter(ctx, run.data_root, cfg.seed, cfg.augment)
    scorer = teacher_scorer(run, cfg)
    outputs, infos = [], {}
    for name, (sc, distill) in _variants(run, len(ctx.labels)).items():
        model, history = train_variant(cfg, ctx, train, val, targets, augmenter, sc, distill, scorer, run.data_root)
        path = save_student(model, run.path(f"student_{name}.pt"))
        outputs += [path, run.write_json(f"student_{name}_history.json", history.to_dict())]
        infos[name] = StudentInfo(path, count_parameters(model), len(history.epochs), history.best_epoch,
                                  history.best_score, round(history.seconds, 1), sc.pooling)
    run.record("student", outputs, time.time() - t0,
               {k: {f: v for f, v in vars(i).items() if f != "path"} for k, i in infos.items()})
    return StudentResult(infos)
