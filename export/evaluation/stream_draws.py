"""How much of a student's monitor figures is the draw of its validation streams:
``python -m export.evaluation.stream_draws --run-dir DIR POINT [POINT ...] [--draws 0 1 2 3 4]``.

The export stage draws one set of validation home-day streams (the seed of the run picks which
negatives play when, which cries make each bout, at what SNR) and chooses the monitor's rules on it;
the release check reads the figures of that one draw. This command takes the calibrated students of
release-check points (``DIR/release_check/POINT/student_int8.onnx``) and, for each draw seed, builds
that draw's validation streams from the same validation clips and room tone, chooses the rules on
them exactly as the export stage does, and records the validation figures. The draw whose seed is
the point's own reproduces its ``export_info.json``. Spread across draws, for one student, is
measurement noise that a rule reading one draw cannot tell from a recipe's effect.

Prints a markdown table (per point: each draw, then mean and standard deviation) and writes
``DIR/release_check/NAME.json`` (``--name``, default ``stream_draws``). Validation only: no test clip is read.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class DrawFigures:
    """One point's monitor on one draw of validation streams, with rules chosen on that draw."""

    point: str
    draw: int
    long_bout_recall: float
    long_bouts: int
    all_bout_recall: float
    false_alarms_per_hour: float
    median_delay_s: float
    on_threshold: float


def point_figures(point_dir: Path, draws: Sequence[int], data_root: str | None = None) -> list[DrawFigures]:
    """Calibrate the point's shipped student on each draw of its run's validation streams."""
    from export.evaluation.monitor import calibrate_model
    from export.training.sweep import open_run_folder
    from infantcry_sdk import CryClassifier

    run, ctx, config = open_run_folder(point_dir, data_root)
    clf = CryClassifier.load(run.path("student_int8.onnx"), threads=config.threads)
    out = []
    for draw in draws:
        cal = calibrate_model(clf, ctx, run.data_root, config.export, draw)
        v = cal.validation
        out.append(DrawFigures(Path(point_dir).name, draw, float(v["event_recall_10s_or_more"]), int(v["bouts_10s_or_more"]),
                               float(v["event_recall"]), float(v["false_alarms_per_hour"]), float(v["median_delay_s"]),
                               float(cal.rules.on_threshold)))
    return out


#: The figures a table summarises per point.
SUMMARISED = ("long_bout_recall", "all_bout_recall", "false_alarms_per_hour", "median_delay_s")


def summary(rows: Sequence[DrawFigures]) -> dict[str, dict[str, float]]:
    """Per point and figure: mean and standard deviation over the draws (ddof 1; 0 for one draw)."""
    out: dict[str, dict[str, float]] = {}
    for point in dict.fromkeys(r.point for r in rows):
        mine = [r for r in rows if r.point == point]
        for f in SUMMARISED:
            x = np.array([getattr(r, f) for r in mine], dtype=np.float64)
            out.setdefault(point, {})[f"{f}_mean"] = float(x.mean())
            out[point][f"{f}_sd"] = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return out


def to_markdown(rows: Sequence[DrawFigures]) -> str:
    lines = ["| point | draw | val long-bout recall (bouts) | val all bouts | val FA / h | val median delay | on threshold |",
             "|" + " --- |" * 7]
    for r in rows:
        lines.append(f"| {r.point} | {r.draw} | {r.long_bout_recall:.3f} ({r.long_bouts}) | {r.all_bout_recall:.3f} | "
                     f"{r.false_alarms_per_hour:.2f} | {r.median_delay_s:.2f} s | {r.on_threshold:.3f} |")
    for point, s in summary(rows).items():
        lines.append(f"| **{point}** | mean ± sd | {s['long_bout_recall_mean']:.3f} ± {s['long_bout_recall_sd']:.3f} | "
                     f"{s['all_bout_recall_mean']:.3f} ± {s['all_bout_recall_sd']:.3f} | "
                     f"{s['false_alarms_per_hour_mean']:.2f} ± {s['false_alarms_per_hour_sd']:.2f} | "
                     f"{s['median_delay_s_mean']:.2f} ± {s['median_delay_s_sd']:.2f} s | |")
    return "\n".join(lines) + "\n"


def points_parser(prog: str, doc: str, name: str) -> argparse.ArgumentParser:
    """The arguments every command over calibrated release-check points takes (points, run folder,
    draws of validation streams, output name, data root); a command adds its own."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("points", nargs="+", help="release-check points (folders under DIR/release_check)")
    p.add_argument("--run-dir", required=True, help="the run folder the release check ran on")
    p.add_argument("--draws", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="stream seeds")
    p.add_argument("--name", default=name, help="the output's name: DIR/release_check/NAME.json")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    return p


def calibrated_points(run_dir: str | Path, names: Sequence[str]) -> list[Path]:
    """The points' folders under ``DIR/release_check``; exits naming any without a calibrated student."""
    base = Path(run_dir) / "release_check"
    missing = [name for name in names if not (base / name / "student_int8.onnx").is_file()]
    if missing:
        raise SystemExit(f"no calibrated student under {base} for: {', '.join(missing)} (run the release check first)")
    return [base / name for name in names]


def main(argv: list[str] | None = None) -> int:
    args = points_parser("python -m export.evaluation.stream_draws", __doc__, "stream_draws").parse_args(argv)
    rows = [r for point in calibrated_points(args.run_dir, args.points) for r in point_figures(point, args.draws, args.data_root)]
    out = Path(args.run_dir) / "release_check" / f"{args.name}.json"
    out.write_text(json.dumps({"draws": args.draws, "rows": [asdict(r) for r in rows], "summary": summary(rows)}, indent=2))
    print(to_markdown(rows), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
