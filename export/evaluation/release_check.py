"""A student recipe change judged against the current recipe on validation streams, by the rule every
such change has been judged by: ``python -m export.evaluation.release_check --run-dir DIR NAME 'JSON'``.

``JSON`` holds what the variant changes in the student stage, as ``python -m export.training.sweep``
takes it (:class:`~export.training.distill.DistillConfig` fields, ``"student": {...}``). For each seed
(``--seeds``, default 0 1 2) it

1. trains the baseline (``base_sN``, no overrides: the recipe of ``DIR/config.json``) and the variant
   (``NAME_sN``) with the sweep on ``DIR``'s data and teacher, one thread each, ``--jobs`` at a time;
2. runs the export stage on a copy of ``DIR`` (``DIR/release_check/POINT``) that holds the checkpoint
   as its student: int8, thresholds, and the monitor's rules chosen on validation home-day streams
   for the false-alarm budget, whose validation figures are what the rule reads;
3. judges the variant on validation. It becomes the default if, over the seeds,
   - its mean long-bout recall is not lower than the baseline's by more than one bout (one over the
     most long bouts of any seed's streams: 1/27 with the default streams, the margin of every
     earlier check),
   - its mean median detection delay is not higher, and
   - its mean selection score is at least the baseline's lowest.

With ``--draws D ...`` the monitor figures are each point's means over those draws of validation
streams (:mod:`export.evaluation.stream_draws`, ``DIR/release_check/POINT_draws.json``) instead of the
export stage's one draw, which for one student varies more than most recipe changes do
(``docs/decisions.md``, "One draw of validation streams decides little"); one bout is then one over
the most long bouts of any draw.

A step whose output is already there is not run again, so a rerun collects what earlier runs made.
``--baseline LABEL`` names the baseline's points ``LABEL_sN`` instead of ``base_sN``: when the
defaults change, a run folder's ``config.json`` and ``base_sN`` points hold the old recipe, and the
points of the variant that became the default (trained with overrides equal to today's defaults)
stand for the current one without training it again; the variant's overrides then carry that
variant's too. A label with no points trains them with no overrides.
Prints a markdown table and the verdict and writes ``DIR/release_check/NAME.json``. Test figures (the
sweep's fp32 scores) are in the table for the record only. Why a command: the figures that decide a
recipe must come from something anyone can rerun, and the seeds' spread is as wide as most effects,
so one seed decides nothing (``docs/decisions.md``).

The variant must change the student stage only: a change to the data, teacher or augmentation chain
needs its own run folder (the sweep trains on the folder's teacher and chain).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

BASELINE = "base"
#: Runs one command (an argv list) to completion; raises on failure.
Runner = Callable[[list[str]], None]


@dataclass(frozen=True)
class Point:
    """One student to train and calibrate: the baseline or the variant at one seed."""

    name: str
    seed: int
    overrides: dict  # sweep overrides without the seed

    def sweep_overrides(self) -> dict:
        return {**self.overrides, "seed": self.seed}

    def export_overrides(self) -> dict:
        """The export stage's config overrides: the seed (the home-day streams it draws), one thread, and
        the variant's fields recorded in the copy's config (the export stage reads the student's own
        config from its checkpoint)."""
        distill = {k: v for k, v in self.overrides.items() if k not in ("student", "distill")}
        out = {"seed": self.seed, "threads": 1, "distill": distill}
        if self.overrides.get("student"):
            out["student"] = self.overrides["student"]
        return out


@dataclass
class Measured:
    """What the rule reads of one point (validation), and its test figures for the record."""

    name: str
    seed: int
    selection_score: float
    long_bout_recall: float
    long_bouts: int
    all_bout_recall: float
    false_alarms_per_hour: float
    median_delay_s: float
    test_f1: float
    test_auc: float


def points(name: str, overrides: dict, seeds: Sequence[int], baseline: str = BASELINE) -> tuple[list[Point], list[Point]]:
    """(the variant's points, the baseline's, labelled ``baseline``)."""
    if name == baseline:
        raise ValueError(f"{baseline!r} names the baseline: give the variant another name")
    return [Point(f"{name}_s{s}", s, dict(overrides)) for s in seeds], [Point(f"{baseline}_s{s}", s, {}) for s in seeds]


def copy_dir(run_dir: Path, point: Point) -> Path:
    """Where a point's export stage runs: ``DIR/release_check/POINT``."""
    return Path(run_dir) / "release_check" / point.name


def prepare_copy(run_dir: Path, point: Point) -> Path:
    """:func:`copy_dir`: the run folder's files (not its subfolders), the point's checkpoint as both
    students, and ``config.json`` = the run's config with the point's export overrides, merged as
    ``--config`` merges (:func:`export.config.merge_overrides`: an unknown key is an error)."""
    from export.config import load_config, merge_overrides

    run_dir = Path(run_dir)
    copy = copy_dir(run_dir, point)
    copy.mkdir(parents=True, exist_ok=True)
    for f in run_dir.iterdir():
        if f.is_file():
            shutil.copy2(f, copy / f.name)
    checkpoint = run_dir / "sweeps" / f"{point.name}.pt"
    for student in ("student_distilled.pt", "student_plain.pt"):  # the plain one's rows are not read
        shutil.copy2(checkpoint, copy / student)
    merge_overrides(load_config(run_dir / "config.json"), point.export_overrides()).save(copy / "config.json")
    return copy


def _sweep_line(run_dir: Path, name: str) -> dict | None:
    """The last line ``python -m export.training.sweep`` wrote for ``name``, if any."""
    path = Path(run_dir) / "sweeps" / "results.jsonl"
    lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()] if path.is_file() else []
    found = [line for line in lines if line.get("name") == name and "scored" not in line]
    return found[-1] if found else None


def run_point(run_dir: Path, point: Point, runner: Runner, data_root: str | None = None) -> None:
    """Train the point's student and calibrate its monitor, skipping what is already there."""
    py, root = [sys.executable, "-m"], ["--data-root", data_root] if data_root else []
    if _sweep_line(run_dir, point.name) is None or not (Path(run_dir) / "sweeps" / f"{point.name}.pt").is_file():
        runner(py + ["export.training.sweep", point.name, json.dumps(point.sweep_overrides()),
                     "--run-dir", str(run_dir), "--threads", "1"] + root)
    if not (copy_dir(run_dir, point) / "export_info.json").is_file():
        copy = prepare_copy(run_dir, point)
        runner(py + ["export", "export", "--run-dir", str(copy), "--config", str(copy / "config.json")] + root)


def draws_path(run_dir: Path, point: Point) -> Path:
    """Where ``python -m export.evaluation.stream_draws`` leaves one point's figures per draw."""
    return Path(run_dir) / "release_check" / f"{point.name}_draws.json"


def run_draws(run_dir: Path, point: Point, draws: Sequence[int], runner: Runner, data_root: str | None = None) -> None:
    """The point's monitor recalibrated on each draw of validation streams, unless already measured
    for these draws."""
    path = draws_path(run_dir, point)
    if path.is_file() and json.loads(path.read_text())["draws"] == list(draws):
        return
    runner([sys.executable, "-m", "export.evaluation.stream_draws", point.name, "--run-dir", str(run_dir),
            "--draws", *map(str, draws), "--name", path.stem] + (["--data-root", data_root] if data_root else []))


def _monitor_figures(run_dir: Path, point: Point, draws: Sequence[int] | None) -> tuple[float, int, float, float, float]:
    """(long-bout recall, long bouts, all-bout recall, false alarms / h, median delay): the export
    stage's own draw, or with ``draws`` the means over those draws (long bouts: the most of any)."""
    if draws:
        kept = json.loads(draws_path(run_dir, point).read_text())
        if kept["draws"] != list(draws):
            raise ValueError(f"{point.name}: {draws_path(run_dir, point)} holds draws {kept['draws']}, not {list(draws)}")
        rows = kept["rows"]
        mean = lambda f: float(np.mean([r[f] for r in rows]))  # noqa: E731
        return (mean("long_bout_recall"), max(int(r["long_bouts"]) for r in rows), mean("all_bout_recall"),
                mean("false_alarms_per_hour"), mean("median_delay_s"))
    val = json.loads((copy_dir(run_dir, point) / "export_info.json").read_text())["monitor"]["validation"]
    return (float(val["event_recall_10s_or_more"]), int(val["bouts_10s_or_more"]), float(val["event_recall"]),
            float(val["false_alarms_per_hour"]), float(val["median_delay_s"]))


def measure(run_dir: Path, point: Point, draws: Sequence[int] | None = None) -> Measured:
    """The point's validation figures (selection score from the sweep, monitor from the export stage's
    draw of validation streams, or the mean over ``draws``)."""
    line = _sweep_line(run_dir, point.name)
    if line is None or not (copy_dir(run_dir, point) / "export_info.json").is_file():
        raise ValueError(f"{point.name}: no sweep line or no export_info.json under {run_dir}: run it first")
    return Measured(point.name, point.seed, float(line["val_selection_score"]), *_monitor_figures(run_dir, point, draws),
                    float(line["test_f1"]), float(line["test_auc"]))


def judge(baseline: Sequence[Measured], variant: Sequence[Measured]) -> dict:
    """The rule (module docstring) on the two sides' validation figures."""
    if not baseline or len(baseline) != len(variant):
        raise ValueError("the baseline and the variant need the same, non-empty set of seeds")
    mean = lambda rows, f: float(np.mean([getattr(r, f) for r in rows]))  # noqa: E731
    one_bout = 1.0 / max(r.long_bouts for r in list(baseline) + list(variant))
    baseline_min = min(r.selection_score for r in baseline)
    means = {side: {f: mean(rows, f) for f in ("selection_score", "long_bout_recall", "median_delay_s",
                                                 "false_alarms_per_hour", "test_f1")}
             for side, rows in (("baseline", baseline), ("variant", variant))}
    b, v = means["baseline"], means["variant"]
    conditions = {
        "long_bout_recall_within_one_bout": v["long_bout_recall"] >= b["long_bout_recall"] - one_bout,
        "median_delay_not_higher": v["median_delay_s"] <= b["median_delay_s"],
        "selection_score_at_least_baseline_min": v["selection_score"] >= baseline_min,
    }
    return {"means": means, "one_bout": one_bout, "baseline_min_selection_score": baseline_min,
            "conditions": conditions, "adopt": all(conditions.values())}


def to_markdown(rows: Sequence[Measured], verdict: dict, draws: Sequence[int] = ()) -> str:
    head = ("| point | val selection score | val long-bout recall (bouts) | val all bouts | val FA / h | "
            "val median delay | test F1 (fp32, record) | test AUC |")
    lines = [head, "|" + " --- |" * 8]
    for r in rows:
        lines.append(f"| {r.name} | {r.selection_score:.4f} | {r.long_bout_recall:.3f} ({r.long_bouts}) | "
                     f"{r.all_bout_recall:.3f} | {r.false_alarms_per_hour:.1f} | {r.median_delay_s:.2f} s | "
                     f"{r.test_f1:.3f} | {r.test_auc:.4f} |")
    for side, m in verdict["means"].items():
        lines.append(f"| **{side} mean** | {m['selection_score']:.4f} | {m['long_bout_recall']:.3f} | | "
                     f"{m['false_alarms_per_hour']:.2f} | {m['median_delay_s']:.2f} s | {m['test_f1']:.3f} | |")
    said = ", ".join(f"{k}: {'yes' if ok else 'NO'}" for k, ok in verdict["conditions"].items())
    lines += ["", f"Rule: {said}. **{'adopt' if verdict['adopt'] else 'reject'}**."]
    if draws:
        lines.insert(0, f"Monitor figures: means over draws {' '.join(map(str, draws))} of validation streams.\n")
    return "\n".join(lines) + "\n"


def _subprocess_runner(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def release_check(run_dir: Path, name: str, overrides: dict, seeds: Sequence[int], jobs: int = 2,
                  runner: Runner = _subprocess_runner, data_root: str | None = None,
                  draws: Sequence[int] | None = None, baseline_label: str = BASELINE) -> dict:
    """Run every point (``jobs`` at a time), measure them (on ``draws`` of validation streams, when
    given) and judge; writes ``DIR/release_check/NAME.json``."""
    variant_points, baseline_points = points(name, overrides, seeds, baseline_label)  # the variant's first: they may train longer
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(lambda p: run_point(run_dir, p, runner, data_root), variant_points + baseline_points))
        if draws:
            list(pool.map(lambda p: run_draws(run_dir, p, draws, runner, data_root), variant_points + baseline_points))
    variant = [measure(run_dir, p, draws) for p in variant_points]
    baseline = [measure(run_dir, p, draws) for p in baseline_points]
    result = {"name": name, "overrides": overrides, "baseline": baseline_label, "seeds": list(seeds), "draws": list(draws or []),
              "rows": [asdict(m) for m in variant + baseline], "verdict": judge(baseline, variant)}
    out = Path(run_dir) / "release_check" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return result


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export.evaluation.release_check", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="the variant's label (its points are NAME_sN; the baseline's base_sN)")
    p.add_argument("overrides", help="JSON: what the variant changes, as the sweep takes it")
    p.add_argument("--run-dir", required=True, help="a run folder with the data and teacher stages done")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--jobs", type=int, default=2, help="points trained side by side (one thread each)")
    p.add_argument("--draws", type=int, nargs="+", default=None,
                   help="judge each point's monitor by its mean over these draws of validation streams "
                        "(python -m export.evaluation.stream_draws) instead of the export stage's one draw")
    p.add_argument("--baseline", default=BASELINE,
                   help="label of the baseline's points (LABEL_sN), trained with no overrides where missing")
    p.add_argument("--data-root", default=None, help="as for python -m export")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = json.loads(args.overrides)
    if "seed" in overrides:
        raise SystemExit("give the seeds with --seeds, not in the overrides")
    result = release_check(Path(args.run_dir), args.name, overrides, args.seeds, args.jobs, data_root=args.data_root,
                           draws=args.draws, baseline_label=args.baseline)
    rows = [Measured(**r) for r in result["rows"]]
    print(to_markdown(rows, result["verdict"], result["draws"]), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
