"""``python -m export STAGE``: the release engineer's one entry point.

    python -m export all        every stage below except golden, in order (install skipped with --tiny)
    python -m export STAGE      one stage on an existing run folder; earlier stages' artifacts are read
                                from the run folder

Under ``torchrun`` (``torchrun --nproc_per_node 2 -m export all ...``; the README) the teacher and
student stages run on every rank together (DDP, sharded feature pass) and the other stages on rank 0
alone, which writes every file; each rank reads torchrun's WORLD_SIZE/RANK/LOCAL_RANK.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from export.stages import BY_NAME, STAGES, pipeline_stages
from export.training import distributed


def _epilog() -> str:
    width = max(len(s.name) for s in STAGES)
    lines = ["stages (in order):"] + [f"  {s.name:<{width}}  {s.help}" for s in STAGES]
    lines += ["", "--data-root (or $INFANTCRY_DATA_ROOT; default ../shared), --extra-data DIR (your own clips,",
              "see the README), --config overrides.json, --tiny (CI's smoke profile)."]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m export", description=__doc__, epilog=_epilog(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("stage", choices=("all",) + tuple(BY_NAME), help="what to run")
    p.add_argument("--run-dir", default=None, help="run folder (default runs/latest, or runs/tiny with --tiny)")
    p.add_argument("--data-root", default=None, help="folder holding data/ and models/ (default: $INFANTCRY_DATA_ROOT or ../shared)")
    p.add_argument("--extra-data", action="append", default=[], metavar="DIR",
                   help="a folder of your own clips with a manifest.csv (repeatable; README: 'Your own data')")
    p.add_argument("--config", default=None, help="JSON file of config overrides")
    p.add_argument("--tiny", action="store_true", help="CI smoke profile: a handful of clips, every stage, no install")
    p.add_argument("--no-install", action="store_true", help="with 'all': leave the SDK's bundled model untouched")
    return p


def _make_run(args, argv: list[str] | None):
    from dataclasses import replace

    from export.config import load_config
    from export.data.paths import resolve_data_root
    from export.pipeline import REPO, open_run

    data_root = resolve_data_root(args.data_root)
    config = load_config(args.config, tiny=args.tiny, extra_data=args.extra_data)
    config = replace(config, threads=distributed.threads_per_process(config.threads))  # torchrun: cores shared
    run_dir = Path(args.run_dir) if args.run_dir else REPO / "runs" / ("tiny" if args.tiny else "latest")
    command = "python -m export " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    return open_run(run_dir, data_root, config, command=command)


def _say(message: str) -> None:
    if distributed.is_writer():
        print(f"[export] {message}", flush=True)


def _run_stage(run, stage, ctx):
    """One stage; returns the data context for the next (loaded here the first time a stage needs it)."""
    from export.data.context import load_context

    _say(f"stage {stage.name} ...")
    ts = time.time()
    if stage.uses_clips and ctx is None:
        ctx = load_context(run)
    out = stage.run(run, ctx)
    _say(f"stage {stage.name} done in {time.time() - ts:.0f} s")
    return getattr(out, "context", ctx)


def _run_stages(run, stages) -> None:
    """Every stage in order. Under torchrun the ``distributed`` stages run on every rank together; rank 0
    runs the others alone while the other ranks wait at a barrier, or leave once no shared stage is left."""
    t0, ctx = time.time(), None
    last_shared = max((i for i, s in enumerate(stages) if s.distributed), default=-1)
    for i, stage in enumerate(stages):
        if stage.distributed:
            run.refresh()
            with distributed.together():
                ctx = _run_stage(run, stage, ctx)
            continue
        if distributed.is_writer():
            ctx = _run_stage(run, stage, ctx)
        if i < last_shared:
            distributed.barrier()
    _say(f"finished in {time.time() - t0:.0f} s; run folder: {run.run_dir}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.stage == "golden":
        from export.golden import main as golden_main

        return golden_main(["--data-root", args.data_root] if args.data_root else [])
    from export.data.paths import DataError

    with distributed.session():
        try:
            run = _make_run(args, argv)
            stages = pipeline_stages(args.stage)
            if run.config.tiny or args.no_install:
                stages = tuple(s for s in stages if s.name != "install")
            try:
                _run_stages(run, stages)
            finally:
                run.close()
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
