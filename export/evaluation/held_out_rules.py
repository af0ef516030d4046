"""A monitor rule objective judged on streams it did not choose on:
``python -m export.evaluation.held_out_rules --run-dir DIR POINT [POINT ...] --draws 0 1 ... --slack 0 1 [--pool 1]``.

The export stage chooses the monitor's rules on one draw of validation streams and reports how they
did there, which flatters any objective: a rule choice that bends to its own streams looks best on
them. This command takes the calibrated students of release-check points
(``DIR/release_check/POINT/student_int8.onnx``), scores each draw of validation streams once, and
for each ``--slack`` (``ExportConfig.stream_long_bout_slack``) chooses the rules on one draw and scores
them on the next one in the ``--draws`` list (the last wraps round to the first): other streams of
the same validation clips, in another order, with other mixtures and SNRs. With ``--pool``
(``ExportConfig.stream_calibration_draws``) an objective chooses on ``pool`` consecutive draws of
the list, pooled; every objective is then scored on the draw the largest pool places after the
first of them, which none chose on. Positions, not draw numbers: ``--draws 0 5 9`` pairs 0 with 5,
5 with 9 and 9 with 0. ``--slack`` and ``--pool`` pair up by position (a single
value pairs with every one of the other). Validation only: no test clip is read.

Prints a markdown table (per objective: the mean held-out and in-sample figures over every point
and draw) and writes ``DIR/release_check/NAME.json`` (``--name``, default ``held_out_rules``) with
every row, the means and, where two objectives are given, the verdict of the rules in
``docs/decisions.md`` ("Delay in the monitor's rule choice", "Rules chosen on several draws"): the
second objective against the first.
"""
from __future__ import annotations

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
    pool: int
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


#: An objective: (long-bout slack, draws pooled).
Objective = tuple[int, int]


def point_rows(point_dir: Path, draws: Sequence[int], objectives: Sequence[Objective],
               data_root: str | None = None) -> list[HeldOutRow]:
    """Every (objective, draw) row of one point; each draw's streams are scored once."""
    from export.evaluation.monitor import choose_rules, model_context_seconds, sdk_scorer, validation_streams
    from export.evaluation.stream_rules import evaluate_rules
    from export.training.sweep import open_run_folder
    from infantcry_sdk import CryClassifier

    run, ctx, config = open_run_folder(point_dir, data_root)
    e = config.export
    clf = CryClassifier.load(run.path("student_int8.onnx"), threads=config.threads)
    context_s = model_context_seconds(clf)
    streams = {d: validation_streams(sdk_scorer(clf), ctx, run.data_root, e, d) for d in draws}
    offset = max(pool for _, pool in objectives)
    rows = []
    for slack, pool in objectives:
        for i, d in enumerate(draws):
            chosen_on = [s for j in range(pool) for s in streams[draws[(i + j) % len(draws)]]]
            nxt = draws[(i + offset) % len(draws)]
            cal = choose_rules(chosen_on, e, context_s, long_bout_slack=slack)
            held = evaluate_rules(streams[nxt], cal.rules, e.window_seconds, e.hop_seconds, context_s).summary()
            rows.append(HeldOutRow(
                Path(point_dir).name, slack, pool, d, nxt, float(held["event_recall_10s_or_more"]),
                int(held["bouts_10s_or_more"]), float(held["false_alarms_per_hour"]), float(held["median_delay_s"]),
                float(cal.validation["event_recall_10s_or_more"]), float(cal.validation["median_delay_s"]),
                float(cal.rules.on_threshold), int(cal.rules.smoothing_windows)))
    return rows


#: The figures averaged per objective.
AVERAGED = ("long_bout_recall", "false_alarms_per_hour", "median_delay_s", "in_sample_long_bout_recall", "in_sample_median_delay_s")


def means(rows: Sequence[HeldOutRow]) -> dict[Objective, dict[str, float]]:
    """Per objective, each figure's mean over every point and draw (a median delay of nan, no bout
    caught, is left out of its mean)."""
    out: dict[Objective, dict[str, float]] = {}
    for objective in dict.fromkeys((r.slack, r.pool) for r in rows):
        mine = [r for r in rows if (r.slack, r.pool) == objective]
        out[objective] = {f: float(np.nanmean([getattr(r, f) for r in mine])) for f in AVERAGED}
        out[objective]["pairs"] = len(mine)
    return out


def judge(rows: Sequence[HeldOutRow], today: Objective, variant: Objective, budget: float = 0.5,
          delay_allowance_s: float = 0.0) -> dict:
    """The rules written before measuring: the variant's held-out long-bout recall at most one bout
    below today's (one over the most long bouts of any draw), its held-out median delay lower than
    today's (``delay_allowance_s`` 0) or at most that much above it, and its held-out false alarms
    within the budget."""
    m = means(rows)
    one_bout = 1.0 / max(r.long_bouts for r in rows)
    v, t = m[variant], m[today]
    delay_ok = v["median_delay_s"] < t["median_delay_s"] if delay_allowance_s == 0 else (
        v["median_delay_s"] <= t["median_delay_s"] + delay_allowance_s)
    conditions = {
        "long_bout_recall_within_one_bout": v["long_bout_recall"] >= t["long_bout_recall"] - one_bout,
        ("median_delay_lower" if delay_allowance_s == 0 else f"median_delay_within_{delay_allowance_s:g}_s"): delay_ok,
        "false_alarms_within_budget": v["false_alarms_per_hour"] <= budget,
    }
    return {"today": list(today), "variant": list(variant), "one_bout": one_bout, "delay_allowance_s": delay_allowance_s,
            "conditions": conditions, "adopt": all(conditions.values())}


def to_markdown(rows: Sequence[HeldOutRow], verdict: dict | None) -> str:
    lines = ["| slack | draws pooled | pairs | held-out long-bout recall | held-out FA / h | held-out median delay | "
             "in-sample long-bout recall | in-sample median delay |", "|" + " --- |" * 8]
    for (slack, pool), m in means(rows).items():
        lines.append(f"| {slack} | {pool} | {m['pairs']} | {m['long_bout_recall']:.3f} | {m['false_alarms_per_hour']:.2f} | "
                     f"{m['median_delay_s']:.2f} s | {m['in_sample_long_bout_recall']:.3f} | {m['in_sample_median_delay_s']:.2f} s |")
    if verdict:
        said = ", ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in verdict["conditions"].items())
        lines += ["", f"(slack, pool) {tuple(verdict['variant'])} against {tuple(verdict['today'])}: {said}. **{'adopt' if verdict['adopt'] else 'reject'}**."]
    return "\n".join(lines) + "\n"


def pair_up(slacks: Sequence[int], pools: Sequence[int]) -> list[Objective]:
    """The objectives ``--slack`` and ``--pool`` name, paired by position (one value pairs with all)."""
    if len(slacks) != len(pools) and 1 not in (len(slacks), len(pools)):
        raise SystemExit(f"--slack and --pool pair up by position: {len(slacks)} against {len(pools)} values")
    n = max(len(slacks), len(pools))
    objectives = [(slacks[i if len(slacks) > 1 else 0], pools[i if len(pools) > 1 else 0]) for i in range(n)]
    if any(slack < 0 or pool < 1 for slack, pool in objectives):
        raise SystemExit("a slack is >= 0 and a pool >= 1")
    return objectives


def main(argv: list[str] | None = None) -> int:
    from export.evaluation.stream_draws import calibrated_points, points_parser

    p = points_parser("python -m export.evaluation.held_out_rules", __doc__, "held_out_rules")
    p.add_argument("--slack", type=int, nargs="+", default=[0, 1], help="long-bout slacks; the first objective is today's")
    p.add_argument("--pool", type=int, nargs="+", default=[1], help="draws each objective chooses on, pooled")
    p.add_argument("--delay-allowance", type=float, default=0.0,
                   help="seconds the variant's held-out median delay may exceed today's (0: it must be lower)")
    p.add_argument("--jobs", type=int, default=1, help="points scored side by side")
    args = p.parse_args(argv)
    objectives = pair_up(args.slack, args.pool)
    if len(args.draws) < max(pool for _, pool in objectives) + 1:
        raise SystemExit("give more draws than the largest pool: the rules are scored on a draw they were not chosen on")
    points = calibrated_points(args.run_dir, args.points)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as executor:
        per_point = executor.map(point_rows, points, [args.draws] * len(points), [objectives] * len(points),
                             [args.data_root] * len(points))
        rows = [r for got in per_point for r in got]
    verdict = judge(rows, objectives[0], objectives[1], delay_allowance_s=args.delay_allowance) if len(objectives) > 1 else None
    out = Path(args.run_dir) / "release_check" / f"{args.name}.json"
    out.write_text(json.dumps({"draws": args.draws, "objectives": objectives, "rows": [asdict(r) for r in rows],
                               "means": {f"slack {k[0]}, pool {k[1]}": v for k, v in means(rows).items()},
                               "verdict": verdict}, indent=2))
    print(to_markdown(rows, verdict), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
