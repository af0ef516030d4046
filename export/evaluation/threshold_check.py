"""Where in the gap of equally good thresholds to put the detection threshold, judged on the dev side only:
``python -m export.evaluation.threshold_check --run-dir DIR``.

The ``loso`` stage measures a source of cries the model never heard on the TEST side, so it cannot be
what a threshold rule is chosen on. Here the same question is asked one level down: for each ordered
pair (A, B) of the ``loso`` stage's cry sources, the teacher recipe trains without A's and B's cries,
chooses its threshold on the rest of the validation side with each placement of
:func:`export.evaluation.metrics.choose_threshold`, and is measured on B's training- and
validation-side cries (never trained on in this fold) against the validation side's negatives. No
test-side clip is read. The negatives are the ones the threshold was chosen on, so the false-positive
side is in-sample for both placements alike; what differs between them is how many unseen cries
they catch.

Prints one JSON line per pair and a summary line; figures in ``docs/decisions.md``, "Detection
threshold in the middle of the gap".
"""
from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from export.evaluation import metrics
from export.evaluation.evaluate import choose_detection_threshold
from export.evaluation.metrics import THRESHOLD_PLACEMENTS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.evaluation.threshold_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a run folder with the data and teacher stages done")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    p.add_argument("--config", default=None,
                   help="JSON file of config overrides on the run's own config.json, to check a recipe change the "
                        "same way (for example {\"augment\": {\"p_codec\": 0.5}}; features of changed copies are "
                        "computed and cached anew)")
    return p


def pair_rows(run, ctx) -> list[dict]:
    """One row per ordered pair of cry sources: each placement's threshold and F1 on the unseen source."""
    from export.stages.loso import source_folds, teacher_recipe, without_source

    sides, config = teacher_recipe(run, ctx)
    folds = source_folds(run)
    rows = []
    for a, b in itertools.permutations(folds, 2):
        held = lambda c, a=a, b=b: folds[a](c) or folds[b](c)  # noqa: E731
        fold, _ = without_source(sides, ctx, held, ("train", "val"), "val")
        measured = [it for it in fold.test if it.is_cry == 0 or folds[b](ctx.by_id[it.clip_id])]  # A's cries out
        cries = sum(it.is_cry for it in measured)
        if not cries:
            continue
        fold = replace(fold, test=measured, ev_test=ctx.eval_set([ctx.by_id[it.clip_id] for it in measured]))
        trained = fold.fit(config)
        y = [it.is_cry for it in measured]
        row = {"trained_without": [a, b], "measured_on": b, "cries": cries, "negatives": len(measured) - cries}
        for placement in THRESHOLD_PLACEMENTS:
            thr = choose_detection_threshold(fold.ev_val, trained.val_scores, placement=placement)
            f1 = metrics.detection_metrics(y, trained.test_scores.cry_probability, thr)["f1"]
            row[placement] = {"threshold": round(thr, 4), "f1": round(f1, 4)}
        rows.append(row)
    return rows


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else float("nan")


def summary(rows: list[dict]) -> dict:
    """Mean F1 of each placement over the pairs and per unseen source, and how often each placement
    is the better."""
    n = len(rows)
    mean = {p: _mean([r[p]["f1"] for r in rows]) for p in THRESHOLD_PLACEMENTS}
    by_source = {b: {p: _mean([r[p]["f1"] for r in rows if r["measured_on"] == b]) for p in THRESHOLD_PLACEMENTS}
                 for b in dict.fromkeys(r["measured_on"] for r in rows)}
    return {"pairs": n, "mean_f1": mean, "mean_f1_by_unseen_source": by_source,
            "middle_better": sum(r["middle"]["f1"] > r["top"]["f1"] for r in rows),
            "top_better": sum(r["top"]["f1"] > r["middle"]["f1"] for r in rows)}


def main(argv: list[str] | None = None) -> int:
    from export.config import merge_overrides
    from export.training.sweep import open_run_folder

    args = _parser().parse_args(argv)
    run, ctx, _ = open_run_folder(Path(args.run_dir), args.data_root)
    if args.config:
        run.config = merge_overrides(run.config, json.loads(Path(args.config).read_text()))
    rows = pair_rows(run, ctx)
    for r in rows:
        print(json.dumps(r))
    print(json.dumps({"summary": summary(rows)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
