"""The run-to-run spread: ``python -m export.evaluation.seed_spread RUN_DIR [RUN_DIR ...] [--out FILE.md]``.

Reads the ``report.json`` of runs that differ only in their seed (for example the student, export
and report stages rerun with ``--config`` ``{"seed": N}`` on one split and teacher) and prints, per
run and as min / mean / max / spread, the figures a release is judged on: the shipped int8 file's
test F1 and AUC, the plain student's F1, the home-day monitor's recall, false alarms and delay, and
the baby-like false alarms. Why: one run's figure says little when seeds alone move it by points;
the spread says how far a second run of the same command may land from the first.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np

#: (column, how to read it from report.json)
FIGURES: tuple[tuple[str, Callable[[dict], float]], ...] = (
    ("shipped int8 F1", lambda r: r["compression"]["distilled_quantized_static_int8"]["detection"]["f1"]),
    ("shipped int8 AUC", lambda r: r["compression"]["distilled_quantized_static_int8"]["detection"]["auc"]),
    ("clip threshold", lambda r: r["compression"]["distilled_quantized_static_int8"]["detection"]["threshold"]),
    ("plain student F1", lambda r: r["compression"]["student"]["detection"]["f1"]),
    ("home-day recall, bouts >= 10 s", lambda r: r["home"]["monitor"]["student_int8"]["all"]["event_recall_10s_or_more"]),
    ("home-day recall, all bouts", lambda r: r["home"]["monitor"]["student_int8"]["all"]["event_recall"]),
    ("false alarms / h", lambda r: r["home"]["monitor"]["student_int8"]["all"]["false_alarms_per_hour"]),
    ("median delay s", lambda r: r["home"]["monitor"]["student_int8"]["all"]["median_delay_s"]),
    ("children_playing FA", lambda r: r["home"]["hard_negatives"]["UrbanSound8K children_playing"]["student_int8_false_alarm_rate"]),
)


def _seed(report: dict) -> object:
    return report.get("config", {}).get("seed", "?")


def spread(run_dirs: list[Path]) -> dict:
    """Per run and summary figures; ``ValueError`` when a run has no report."""
    rows = {}
    for d in run_dirs:
        path = Path(d) / "report.json"
        if not path.is_file():
            raise ValueError(f"{path} is missing: run the report stage on {d} first")
        report = json.loads(path.read_text())
        rows[str(d)] = {"seed": _seed(report), **{name: float(read(report)) for name, read in FIGURES}}
    summary = {}
    for name, _ in FIGURES:
        v = np.array([r[name] for r in rows.values()])
        summary[name] = {"min": float(v.min()), "mean": float(v.mean()), "max": float(v.max()), "spread": float(v.max() - v.min())}
    return {"runs": rows, "summary": summary}


def to_markdown(result: dict) -> str:
    names = [n for n, _ in FIGURES]
    lines = ["| run | seed | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for d, r in result["runs"].items():
        lines.append(f"| {Path(d).name} | {r['seed']} | " + " | ".join(f"{r[n]:.3f}" for n in names) + " |")
    for stat in ("min", "mean", "max", "spread"):
        lines.append(f"| **{stat}** | | " + " | ".join(f"{result['summary'][n][stat]:.3f}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.evaluation.seed_spread", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dirs", nargs="+", type=Path)
    p.add_argument("--out", type=Path, default=None, help="also write the table (and FILE.json) here")
    args = p.parse_args(argv)
    result = spread(args.run_dirs)
    table = to_markdown(result)
    print(table, end="")
    if args.out is not None:
        args.out.write_text(table)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
