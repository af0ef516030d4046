"""One point of a student sweep: ``python -m export.training.sweep NAME '{"overrides": ...}' --run-dir DIR``.

Trains the distilled student exactly as the ``student`` stage does (same items, teacher windows,
augmenter and early stopping) with :class:`~export.training.distill.DistillConfig` overrides, plus
``"student": {...}`` for :class:`~export.models.student.StudentConfig`, ``"distill": false`` for the
plain student and ``"seed": N``. It scores clips as the SDK does (max over windows, torch fp32) and
appends one JSON line to ``DIR/sweeps/results.jsonl``:

* validation: the clip selection score of the kept epoch (``val_selection_score``, whatever chose
  the epoch: ``val_epoch_score`` is the score that did, by ``select_on``), ROC AUC and F1 at the
  threshold chosen there (FPR <= 1 %): what a choice is made on;
* test: the same threshold's F1, recall, FPR and AUC, for the record only.

``--score CHECKPOINT`` skips the training and scores a saved student (a stage's
``student_distilled.pt``, another run's) the same way, so a sweep point can be compared with a model
that was trained elsewhere; its line says ``"scored": CHECKPOINT``.

Why a separate entry point: a sweep needs the stage's inputs without overwriting the stage's outputs,
and its figures (``docs/decisions.md``) must come from a command anyone can rerun.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from export.evaluation import metrics


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.training.sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="a label for this point (the checkpoint is DIR/sweeps/NAME.pt)")
    p.add_argument("overrides", nargs="?", default="{}", help="JSON: DistillConfig fields, 'student', 'distill', 'seed'")
    p.add_argument("--run-dir", required=True, help="a run folder with the data and teacher stages done")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: the config's)")
    p.add_argument("--score", default=None, metavar="CHECKPOINT",
                   help="score this saved student instead of training one (overrides are then not allowed)")
    return p


def _evaluate(model, val, test, labels, window_s: float, hop_s: float, max_fpr: float) -> dict:
    from export.stages.student import clip_selection_score
    from export.training.distill import predict_windows

    (pv, causes_v), (pt, _) = (predict_windows(model, [it[1] for it in side], window_s, hop_s) for side in (val, test))
    yv, yt = (np.array([it[2] for it in side]) for side in (val, test))
    thr = metrics.choose_threshold(yv, pv, max_fpr)
    on_test = metrics.detection_metrics(yt, pt, thr)
    return {
        "val_selection_score": round(float(clip_selection_score(labels, val, pv, causes_v)), 4),
        "threshold": round(float(thr), 4),
        "val_auc": round(float(metrics.roc_auc(yv, pv)), 4),
        "val_f1": round(float(metrics.detection_metrics(yv, pv, thr)["f1"]), 4),
        "test_auc": round(float(metrics.roc_auc(yt, pt)), 4),
        "test_f1": round(float(on_test["f1"]), 4),
        "test_recall": round(float(on_test["recall"]), 4),
        "test_fpr": round(float(on_test["fpr"]), 4),
    }


def open_run_folder(run_dir: Path, data_root: str | None):
    """(run, its data context, its config): the run's own ``config.json`` is the base, so rewriting
    it changes nothing."""
    from export.config import load_config
    from export.data.context import load_context
    from export.data.paths import resolve_data_root
    from export.pipeline import Run

    saved = Path(run_dir) / "config.json"
    config = load_config(saved if saved.is_file() else None)
    run = Run(Path(run_dir), resolve_data_root(data_root), config, command="sweep")
    return run, load_context(run), config


def _record(run_dir: Path, result: dict) -> dict:
    """Append ``result`` to ``DIR/sweeps/results.jsonl``."""
    out_dir = Path(run_dir) / "sweeps"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "results.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


def sweep_point(run_dir: Path, name: str, overrides: dict, data_root: str | None = None, threads: int | None = None) -> dict:
    """Train one variant on ``run_dir``'s data and teacher; returns (and appends) its result line."""
    from export.audio.home_augment import training_augmenter
    from export.models.student import StudentConfig, save_student
    from export.stages.student import student_items, teacher_scorer, teacher_targets, train_variant
    from export.training.distill import DistillConfig

    run, ctx, config = open_run_folder(run_dir, data_root)
    overrides = dict(overrides)
    distill, student = overrides.pop("distill", True), overrides.pop("student", {})
    seed = int(overrides.pop("seed", config.seed))
    train, val, test = (student_items(ctx, side) for side in ("train", "val", "test"))
    point = replace(config, seed=seed, threads=threads if threads is not None else config.threads,
                    distill=DistillConfig(**{**config.distill.to_dict(), **overrides, "progress": False}))
    sc = StudentConfig(**{**config.student.to_dict(), **student, "n_causes": len(ctx.labels)})
    e = config.export
    t0 = time.time()
    model, history = train_variant(point, ctx, train, val, teacher_targets(run) if distill else None,
                                   training_augmenter(ctx, run.data_root, seed, config.augment), sc, distill,
                                   teacher_scorer(run, point) if distill else None, run.data_root)
    save_student(model, Path(run_dir) / "sweeps" / f"{name}.pt")
    return _record(run_dir, {
        "name": name, "overrides": {**overrides, "distill": distill, "seed": seed, "student": student},
        "best_epoch": history.best_epoch, "val_epoch_score": round(float(history.best_score), 4),
        "epochs": len(history.epochs), "seconds": round(time.time() - t0),
        **_evaluate(model, val, test, ctx.labels, e.window_seconds, e.hop_seconds, e.max_fpr)})


def score_checkpoint(run_dir: Path, name: str, checkpoint: Path, data_root: str | None = None) -> dict:
    """Score a saved student on ``run_dir``'s validation and test sides as :func:`sweep_point` scores
    its own; returns (and appends) the result line."""
    from export.models.student import load_student
    from export.stages.student import student_items

    _, ctx, config = open_run_folder(run_dir, data_root)
    val, test = (student_items(ctx, side) for side in ("val", "test"))
    e = config.export
    return _record(run_dir, {"name": name, "scored": str(checkpoint),
                             **_evaluate(load_student(checkpoint), val, test, ctx.labels, e.window_seconds,
                                         e.hop_seconds, e.max_fpr)})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = json.loads(args.overrides)
    if args.score is not None:
        if overrides:
            raise SystemExit("--score scores a saved student as it is: give no overrides")
        result = score_checkpoint(Path(args.run_dir), args.name, Path(args.score), args.data_root)
    else:
        result = sweep_point(Path(args.run_dir), args.name, overrides, args.data_root, args.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
