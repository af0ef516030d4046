"""Stage ``loso``: leave one source of cries out, train without it, test on it.

The in-domain test split shares phones, apps and recording habits with training, so it cannot say
how the detector does in a home it never heard. Here the teacher's recipe (its saved pooling and
inputs, on the cached YAMNet features) is trained with one source of cries removed from training and
validation, its threshold chosen on the rest of validation, and tested on every clip of the held-out
source (they were never trained on) against the test side's negatives. Folds: ESC-50's
``crying_baby`` (other recordings, other babies), Donate-a-Cry's iOS uploads (16 kHz ADPCM) and its
Android uploads (8 kHz AMR).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from export.constants import YAMNET_TFLITE
from export.data.catalog import Clip, read_csv
from export.data.context import DataContext
from export.data.paths import DONATEACRY_MANIFEST
from export.models.teacher import TeacherConfig, teacher_config
from export.models.yamnet import load_yamnet
from export.pipeline import Run
from export.stages.teacher import TeacherSides, brief, teacher_sides
from export.training.features import FeatureExtractor


@dataclass
class LosoResult:
    path: Path
    worst_f1: float


def _platforms(run: Run) -> dict[str, str]:
    """Donate-a-Cry clip id -> the app's platform (android | ios), from the corpus manifest."""
    rows = read_csv(run.data_root / DONATEACRY_MANIFEST, ("file", "platform"))
    return {"donateacry/" + r["file"].removeprefix("audio/"): r["platform"] for r in rows}


def source_folds(run: Run) -> dict[str, Callable[[Clip], bool]]:
    platform = _platforms(run)
    return {
        "ESC-50 crying_baby": lambda c: c.source == "esc50" and bool(c.is_cry),
        "Donate-a-Cry iOS": lambda c: c.source == "donateacry" and bool(c.is_cry) and platform.get(c.clip_id) == "ios",
        "Donate-a-Cry Android": lambda c: c.source == "donateacry" and bool(c.is_cry) and platform.get(c.clip_id) == "android",
    }


def without_source(
    sides: TeacherSides, ctx: DataContext, held: Callable[[Clip], bool],
    measured_sides: tuple[str, ...] = ("train", "val", "test"), negatives_side: str = "test",
) -> tuple[TeacherSides, int]:
    """The teacher's sides with the ``held`` cries out of training and validation, and a test side of
    those of them on ``measured_sides`` (originals, not augmented copies) plus ``negatives_side``'s
    negatives; and how many held-out cries that test side has."""
    keep = lambda it: not held(ctx.by_id[it.clip_id.split("#")[0]])  # noqa: E731  (copies go with their clip)
    train, val = [it for it in sides.train if keep(it)], [it for it in sides.val if keep(it)]
    pool = [it for side in measured_sides for it in getattr(sides, side)]
    held_items = [it for it in pool if "#" not in it.clip_id and not keep(it)]
    test = held_items + [it for it in getattr(sides, negatives_side) if it.is_cry == 0]
    val_c = [ctx.by_id[it.clip_id] for it in val]
    test_c = [ctx.by_id[it.clip_id] for it in test]
    fold = replace(sides, train=train, val=val, test=test, ev_val=ctx.eval_set(val_c), ev_test=ctx.eval_set(test_c))
    return fold, len(held_items)


def _held_out_fold(sides: TeacherSides, ctx: DataContext, held: Callable[[Clip], bool], config) -> dict:
    """Train and validate without the held-out cries; test on all of them and the test negatives."""
    fold, n_held = without_source(sides, ctx, held)
    trained = fold.fit(config)  # threshold on the fold's validation side, measured on its test side
    return {**brief(trained.test), "held_out_cries": n_held, "test_negatives": len(fold.test) - n_held,
            "threshold": trained.threshold}


def teacher_recipe(run: Run, ctx: DataContext) -> tuple[TeacherSides, TeacherConfig]:
    """The run's teacher recipe (from ``teacher.pt``) and its sides on the cached YAMNet features."""
    config = teacher_config(run.require("teacher.pt", "teacher"))
    yamnet = load_yamnet(run.data_root / YAMNET_TFLITE, cache_dir=run.cache_dir)
    extractor = FeatureExtractor(yamnet, hop_frames=config.hop_frames, trainable_blocks=config.fine_tune_blocks,
                                 cache_dir=run.cache_dir, threads=run.config.threads)
    sides, _, _ = teacher_sides(run, ctx, extractor)
    return sides, config


def run(run: Run, ctx: DataContext) -> LosoResult:
    t0 = time.time()
    sides, config = teacher_recipe(run, ctx)
    folds = {name: _held_out_fold(sides, ctx, held, config) for name, held in source_folds(run).items()}
    folds = {k: v for k, v in folds.items() if v["held_out_cries"]}
    out = {"folds": folds, "recipe": f"teacher ({config.pooling} pooling, AudioSet context {config.audioset_context}), "
                                      "frozen YAMNet features; threshold on the remaining validation side"}
    path = run.write_json("loso.json", out)
    worst = min((f["detection"]["f1"] for f in folds.values()), default=float("nan"))
    run.record("loso", [path], time.time() - t0, {"worst_f1": worst})
    return LosoResult(path, worst)
