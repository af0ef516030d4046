"""``python -m export STAGE``: the release engineer's one entry point.

    python -m export all        data -> teacher -> student -> export -> report -> install
    python -m export teacher    data -> teacher (with its report)
    python -m export STAGE      one stage on an existing run folder (data, teacher, student, export,
                                report, install); earlier stages' artifacts are read from the run folder
    python -m export golden     Android parity vectors from the installed model

Common flags: --run-dir (default runs/latest), --data-root (or INFANTCRY_DATA_ROOT; default ../shared),
--config overrides.json, --tiny (CI's smoke profile: a handful of clips, one epoch, no install).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

STAGES = ("data", "teacher", "student", "export", "report", "install")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=("all",) + STAGES + ("golden",), help="what to run")
    p.add_argument("--run-dir", default=None, help="run folder (default runs/latest, or runs/tiny with --tiny)")
    p.add_argument("--data-root", default=None, help="folder holding data/ and models/ (default: $INFANTCRY_DATA_ROOT or ../shared)")
    p.add_argument("--config", default=None, help="JSON file of config overrides")
    p.add_argument("--tiny", action="store_true", help="CI smoke profile: a handful of clips, every stage, no install")
    p.add_argument("--no-install", action="store_true", help="with 'all': leave the SDK's bundled model untouched")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.stage == "golden":
        from export.golden import main as golden_main

        return golden_main(["--data-root", args.data_root] if args.data_root else [])

    from export.config import load_config
    from export.data.catalog import DataError, resolve_data_root
    from export.pipeline import REPO, Run

    try:
        data_root = resolve_data_root(args.data_root)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = load_config(args.config, tiny=args.tiny)
    run_dir = Path(args.run_dir) if args.run_dir else REPO / "runs" / ("tiny" if args.tiny else "latest")
    command = "python -m export " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    run = Run(run_dir, data_root, config, command=command)

    from . import stage_student, stage_teacher

    todo = {
        "all": STAGES, "teacher": ("data", "teacher"),
    }.get(args.stage, (args.stage,))
    if config.tiny or args.no_install:
        todo = tuple(s for s in todo if s != "install")
    t0 = time.time()
    ctx = None
    for stage in todo:
        print(f"[export] stage {stage} ...", flush=True)
        ts = time.time()
        if stage == "data":
            ctx = stage_teacher.stage_data(run)
        else:
            ctx = ctx or stage_teacher.load_data(run)
            if stage == "teacher":
                stage_teacher.stage_teacher(run, ctx)
                stage_student.write_full_report(run)  # the teacher's report stands on its own
            elif stage == "student":
                stage_student.stage_student(run, ctx)
            elif stage == "export":
                stage_student.stage_export(run, ctx)
            elif stage == "report":
                stage_student.stage_report(run, ctx)
            elif stage == "install":
                stage_student.stage_install(run)
        print(f"[export] stage {stage} done in {time.time() - ts:.0f} s", flush=True)
    print(f"[export] finished in {time.time() - t0:.0f} s; run folder: {run.run_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
