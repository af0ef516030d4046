"""A monitor rule objective judged on streams it did not choose on:
``python -m export.evaluation.held_out_rules --run-dir DIR POINT [POINT ...] --draws 0 1 ... --slack 0 1``.

The export stage chooses the monitor's rules on one draw of validation streams and reports how they
did there, which flatters any objective: a rule choice that bends to its own streams looks best on
them. This command takes the calibrated students of release-check points
(``DIR/release_check/POINT/student_int8.onnx``), scores each draw of validation streams once, and
for each ``--slack`` (``ExportConfig.stream_long_bout_slack``) chooses the rules on draw d and scores
them on draw d + 1 (mod the number of draws): other streams of the same validation clips, in another
order, with other mixtures and SNRs. Validation only: no test clip is read.

Prints a markdown table (per slack: the mean held-out and in-sample figures over every point and
draw) and writes ``DIR/release_check/NAME.json`` (``--name``, default ``held_out_rules``) with every
row, the means and, where two slacks are given, the verdict of the rule in ``docs/decisions.md``
("Delay in the monitor's rule choice"): the second slack against the first.
"""
from __future__ import annotations

import argparse
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class HeldOutRow:
    """One point's rules chosen on one draw with one slack: figures on that draw and on the next."""

    point: str
    slack: int
    chosen_on: int
    scored_on: int
    long_bout_recall: float
    long_bouts: int
    false_alarms_per_hour: float
    median_delay_s: float
    in_sample_long_bout_recall: float
    in_sample_median_delay_s: float
    on_threshold: float
    smoothing_windows: int


def point_rows(point_dir: Path, draws: Sequence[int], slacks: Sequence[int], data_root: str | None = None) -> list[HeldOutRow]:
    """Every (slack, draw) row of one point; each draw's streams are scored once."""
    from export.evaluation.monitor import choose_rules, model_context_seconds, sdk_window_scores, validation_streams
    from export.evaluation.stream_rules import evaluate_rules
    from export.training.sweep import open_run_folder
    from infantcry_sdk import CryClassifier

    run, ctx, config = open_run_folder(point_dir, data_root)
    e = config.export
    clf = CryClassifier.load(run.path("student_int8.onnx"), threads=config.threads)
    context_s = model_context_seconds(clf)
    streams = {d: validation_streams(lambda audio: sdk_window_scores(clf, audio), ctx, run.data_root, e, d) for d in draws}
    rows = []
    for slack in slacks:
        for i, d in enumerate(draws):
            nxt = draws[(i + 1) % len(draws)]
            cal = choose_rules(streams[d], e, context_s, long_bout_slack=slack)
            held = evaluate_rules(streams[nxt], cal.rules, e.window_seconds, e.hop_seconds, context_s).summary()
            rows.append(HeldOutRow(
                Path(point_dir).name, slack, d, nxt, float(held["event_recall_10s_or_more"]), int(held["bouts_10s_or_more"]),
                float(held["false_alarms_per_hour"]), float(held["median_delay_s"]),
                float(cal.validation["event_recall_10s_or_more"]), float(cal.validation["median_delay_s"]),
                float(cal.rules.on_threshold), int(cal.rules.smoothing_windows)))
    return rows


#: The figures averaged per slack.
AVERAGED = ("long_bout_recall", "false_alarms_per_hour", "median_delay_s", "in_sample_long_bout_recall", "in_sample_median_delay_s")


def means(rows: Sequence[HeldOutRow]) -> dict[int, dict[str, float]]:
    """Per slack, each figure's mean over every point and draw (a median delay of nan, no bout
    caught, is left out of its mean)."""
    out: dict[int, dict[str, float]] = {}
    for slack in dict.fromkeys(r.slack for r in rows):
        mine = [r for r in rows if r.slack == slack]
        out[slack] = {f: float(np.nanmean([getattr(r, f) for r in mine])) for f in AVERAGED}
        out[slack]["pairs"] = len(mine)
    return out


def judge(rows: Sequence[HeldOutRow], today: int, variant: int, budget: float = 0.5) -> dict:
    """The rule written before measuring: the variant's held-out long-bout recall at most one bout
    below today's (one over the most long bouts of any draw), a lower held-out median delay, and
    held-out false alarms within the budget."""
    m = means(rows)
    one_bout = 1.0 / max(r.long_bouts for r in rows)
    conditions = {
        "long_bout_recall_within_one_bout": m[variant]["long_bout_recall"] >= m[today]["long_bout_recall"] - one_bout,
        "median_delay_lower": m[variant]["median_delay_s"] < m[today]["median_delay_s"],
        "false_alarms_within_budget": m[variant]["false_alarms_per_hour"] <= budget,
    }
    return {"today": today, "variant": variant, "one_bout": one_bout, "conditions": conditions, "adopt": all(conditions.values())}


def to_markdown(rows: Sequence[HeldOutRow], verdict: dict | None) -> str:
    lines = ["| slack | pairs | held-out long-bout recall | held-out FA / h | held-out median delay | "
             "in-sample long-bout recall | in-sample median delay |", "|" + " --- |" * 7]
    for slack, m in means(rows).items():
        lines.append(f"| {slack} | {m['pairs']} | {m['long_bout_recall']:.3f} | {m['false_alarms_per_hour']:.2f} | "
                     f"{m['median_delay_s']:.2f} s | {m['in_sample_long_bout_recall']:.3f} | {m['in_sample_median_delay_s']:.2f} s |")
    if verdict:
        said = ", ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in verdict["conditions"].items())
        lines += ["", f"Slack {verdict['variant']} against {verdict['today']}: {said}. **{'adopt' if verdict['adopt'] else 'reject'}**."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.evaluation.held_out_rules", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("points", nargs="+", help="release-check points (folders under DIR/release_check)")
    p.add_argument("--run-dir", required=True, help="the run folder the release check ran on")
    p.add_argument("--draws", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="stream seeds (at least two)")
    p.add_argument("--slack", type=int, nargs="+", default=[0, 1], help="long-bout slacks; the first is today's")
    p.add_argument("--jobs", type=int, default=1, help="points scored side by side")
    p.add_argument("--name", default="held_out_rules", help="the output's name: DIR/release_check/NAME.json")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    args = p.parse_args(argv)
    if len(args.draws) < 2:
        raise SystemExit("give at least two draws: rules chosen on one are scored on the next")
    base = Path(args.run_dir) / "release_check"
    missing = [name for name in args.points if not (base / name / "student_int8.onnx").is_file()]
    if missing:
        raise SystemExit(f"no calibrated student under {base} for: {', '.join(missing)} (run the release check first)")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_point = pool.map(point_rows, [base / n for n in args.points], [args.draws] * len(args.points),
                             [args.slack] * len(args.points), [args.data_root] * len(args.points))
        rows = [r for got in per_point for r in got]
    verdict = judge(rows, args.slack[0], args.slack[1]) if len(args.slack) > 1 else None
    out = base / f"{args.name}.json"
    out.write_text(json.dumps({"draws": args.draws, "slacks": args.slack, "rows": [asdict(r) for r in rows],
                               "means": {str(k): v for k, v in means(rows).items()}, "verdict": verdict}, indent=2))
    print(to_markdown(rows, verdict), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
