"""Which negative categories the shipped file takes for a cry, on every side of the split, beside the
teacher: ``python -m export.evaluation.confusers --run-dir DIR [--model FILE] [--top N]``.

The report lists the loudest test negatives one by one; this counts per category (``source/category``)
and per side, training side included. Why: a category the student also calls a cry on the training
side was not learnt away, and when the teacher calls the same clips a cry, distillation passed the
teacher's error on. A category missing from the validation side is one the monitor's rules could not
be chosen against. Writes ``DIR/confusers.json`` and prints a markdown table, worst first.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path


SIDES = ("train", "val", "test")
#: The teacher's clip probability at or above which it counts as calling a clip a cry.
TEACHER_CRY = 0.5


def count_confusers(categories: dict[str, str], sides: dict[str, str], student: dict[str, float],
                    teacher: dict[str, float], stream_on: float) -> dict[str, dict[str, dict[str, int]]]:
    """Per category and side: negatives, how many the student scores at or above the stream's on
    threshold (its loudest window), how many of those the teacher also calls a cry, and how many the
    teacher calls a cry in all.
    ``categories`` / ``sides``: clip id -> category / side, negatives only."""
    out: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: {s: {"clips": 0, "student": 0, "both": 0, "teacher": 0} for s in SIDES})
    for clip_id, category in categories.items():
        cell = out[category][sides[clip_id]]
        cell["clips"] += 1
        loud, taught = student[clip_id] >= stream_on, teacher.get(clip_id, 0.0) >= TEACHER_CRY
        cell["student"] += int(loud)
        cell["both"] += int(loud and taught)
        cell["teacher"] += int(taught)
    return dict(out)


def worst_first(counts: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """Categories with any clip at or above the on threshold, most such clips first."""
    total = {c: sum(v["student"] for v in sides.values()) for c, sides in counts.items()}
    return sorted((c for c, n in total.items() if n), key=lambda c: (-total[c], c))


def to_markdown(counts: dict, stream_on: float, top: int) -> str:
    head = ("| category | " + " | ".join(f"{s}: student (teacher too) / clips" for s in SIDES) + " |\n"
            + "|---|" + "---|" * len(SIDES) + "\n")
    rows = [f"| {c} | " + " | ".join(f"{counts[c][s]['student']} ({counts[c][s]['both']}) / {counts[c][s]['clips']}"
                                    for s in SIDES) + " |" for c in worst_first(counts)[:top]]
    note = (f"\nNegatives whose loudest window the shipped file scores at or above the stream's on threshold "
            f"({stream_on:.3f}); in brackets, how many of them the teacher's clip probability also calls a cry "
            f"(>= {TEACHER_CRY}).\n")
    return head + "\n".join(rows) + "\n" + note


def _scores(ctx, clip_ids: list[str], model: Path, threads: int) -> dict[str, float]:
    """The shipped file's clip probability (loudest window) for ``clip_ids``, scored as an app would."""
    from export.evaluation.evaluate import sdk_scores

    scores = sdk_scores(model, clip_ids, ctx.waves([ctx.by_id[i] for i in clip_ids]), threads)
    return dict(zip(scores.clip_ids, map(float, scores.cry_probability)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.evaluation.confusers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", required=True, help="a run folder with the export stage done")
    p.add_argument("--model", default=None, help="the int8 file to score (default: DIR/student_int8.onnx)")
    p.add_argument("--top", type=int, default=15, help="rows in the printed table")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    args = p.parse_args(argv)
    from export.evaluation.home_report import teacher_clip_probabilities
    from export.training.sweep import open_run_folder
    from infantcry_sdk import CryClassifier

    run, ctx, config = open_run_folder(Path(args.run_dir), args.data_root)
    model = Path(args.model) if args.model else run.path("student_int8.onnx")
    stream_on = CryClassifier.load(model).metadata.stream_on_threshold
    negatives = {c.clip_id: side for side in SIDES for c in ctx.side(side) if c.is_cry is False}
    categories = {i: ctx.by_id[i].source_category for i in negatives}
    student = _scores(ctx, list(negatives), model, config.threads or 1)
    counts = count_confusers(categories, negatives, student, teacher_clip_probabilities(run), stream_on)
    result = {"model": str(model), "stream_on_threshold": float(stream_on), "teacher_cry": TEACHER_CRY,
              "categories": counts, "worst_first": worst_first(counts)}
    run.write_json("confusers.json", result)
    print(to_markdown(counts, stream_on, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
