"""Desktop (x86-64) benchmark: every subject, side by side with YAMNet, in one run.

``python -m benchmarks [--run-dir DIR] [--quick] [--out benchmarks/results] [--check]``

Per subject: latency of a 1 s window and of a 7 s clip (p50/p95 after warm-up) at each thread count,
ms per second of audio, real-time factor, session load time, peak RSS of a fresh process, file bytes,
and the graph's parameters, MACs and peak activation memory (:mod:`benchmarks.graph_stats`).
The teacher runs in torch when it was not exported to ONNX (``teacher.pt``): it is timed, paired and
memory-probed like the others, its parameters are counted from the torch modules, and the figures
that need a graph file (MACs, peak activations, an operator profile) are None with a reason.
When YAMNet is available every timed call of a subject is paired with a YAMNet call (alternating
order) and the per-pair speed ratios are reported (:mod:`benchmarks.timing`).
Writes ``results.json``, ``results.md`` and ``results.png`` to ``--out``; with ``--check`` also
checks ``budgets.toml`` and exits 1 naming each broken budget.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from . import budgets as _budgets
from .clips import BenchAudio, bench_audio
from .graph_stats import onnx_graph_stats, tflite_graph_stats
from .machine import machine_info
from .memory import fresh_process_memory
from .op_profile import op_time_profile
from .runners import YAMNET_SAMPLES, open_runner, yamnet_starts
from .subjects import REPO, YAMNET_TFLITE, Subject, discover, find_run_dir, model_card_for
from .timing import Latency, Ratio, time_calls, time_load, time_paired

DEFAULT_OUT = REPO / "benchmarks" / "results"


@dataclass(frozen=True)
class Profile:
    """How much to measure. ``full``: the published figures; ``quick``: CI (a minute or two)."""

    name: str
    warmup: int
    repeats: int
    threads: tuple[int, ...]
    load_repeats: int
    memory_runs: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PROFILES = {
    "full": Profile("full", warmup=5, repeats=50, threads=(1, 2), load_repeats=10, memory_runs=3),
    "quick": Profile("quick", warmup=2, repeats=12, threads=(1,), load_repeats=3, memory_runs=1),
}


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


TORCH_NO_GRAPH = (
    "the teacher runs in torch (teacher.pt, no ONNX export), and MACs and peak activations are counted "
    "from an ONNX/TFLite graph (benchmarks/graph_stats.py)"
)


def _torch_graph(subject: Subject) -> dict:
    """The torch teacher's counted costs: parameters from its modules; no graph, so no MACs."""
    from .runners import load_torch_teacher

    teacher = load_torch_teacher(subject.path)
    counts = teacher.parameter_counts()
    window = {
        "format": "torch",
        "input_samples": None,
        "parameters": counts["parameters"],
        "parameter_bytes": counts["parameter_bytes"],
        "macs": None,
        "macs_by_op": None,
        "peak_activation_bytes": None,
        "folded_constant_bytes": None,
        "operators": None,
        "opset": None,
        "notes": [
            f"parameters counted from the torch modules: YAMNet backbone {counts['backbone_parameters']:,} + saved head "
            f"{counts['head_parameters']:,}; YAMNet's AudioSet classifier ({counts['classifier_parameters_excluded']:,}) "
            "excluded, as teacher_report.json counts it",
            "parameter_bytes: float32 as held in torch",
        ],
    }
    return {
        "window": window,
        "macs_per_audio_second": None,
        "skip": {"macs": TORCH_NO_GRAPH, "peak_activation_bytes": TORCH_NO_GRAPH},
        "how": f"teacher patches every {teacher.config.hop_frames} frames ({teacher.config.hop_frames / 100:g} s), "
               f"{teacher.config.pooling} pooling over patches",
    }


def _graph(subject: Subject, clip_samples: int) -> dict:
    """Counted costs: for a 1 s input and for the whole clip (ONNX), or per YAMNet patch."""
    if subject.engine == "torch":
        return _torch_graph(subject)
    if subject.engine == "tflite":
        g = tflite_graph_stats(subject.graph_path)
        patches = len(yamnet_starts(clip_samples))
        return {
            "window": g.to_dict(),
            "macs_per_audio_second": g.macs * patches / (clip_samples / 16000),
            "how": f"{patches} patches of {YAMNET_SAMPLES} samples for a {clip_samples / 16000:g} s clip",
        }
    one = onnx_graph_stats(subject.graph_path, 16000)
    clip = onnx_graph_stats(subject.graph_path, clip_samples)
    return {
        "window": one.to_dict(),
        "clip": clip.to_dict(),
        "macs_per_audio_second": clip.macs / (clip_samples / 16000),
        "how": "one graph run on the whole clip (the SDK scores windows instead: see its window count)",
    }


def _measure_threads(subject: Subject, yamnet: Subject | None, threads: int, audio: BenchAudio, prof: Profile, yam_pool: dict) -> dict:
    """Window and clip latency at ``threads``, paired with YAMNet when it is available."""
    runner = open_runner(subject, threads, audio)
    seconds = audio.clip_seconds
    out: dict = {}
    if yamnet is not None:
        ref = open_runner(yamnet, threads, audio)
        w_s, w_y = time_paired(runner.window, ref.window, prof.warmup, prof.repeats)
        c_s, c_y = time_paired(runner.clip, ref.clip, prof.warmup, prof.repeats)
        yam_pool.setdefault("window", []).extend(w_y)
        yam_pool.setdefault("clip", []).extend(c_y)
        out["vs_yamnet"] = {"window": Ratio.of(w_s, w_y).to_dict(), "clip": Ratio.of(c_s, c_y).to_dict()}
    else:
        w_s = time_calls(runner.window, prof.warmup, prof.repeats)
        c_s = time_calls(runner.clip, prof.warmup, prof.repeats)
    clip = Latency.of(c_s)
    out.update(
        window=Latency.of(w_s).to_dict(),
        clip=clip.to_dict(),
        ms_per_audio_second=clip.p50_ms / seconds,
        rtf=clip.p50_ms / (seconds * 1000.0),
        x_realtime=(seconds * 1000.0) / max(clip.p50_ms, 1e-9),
    )
    windows = getattr(runner.clip(), "windows", None)  # the SDK says how many windows it scored
    if windows is not None:
        out["clip_windows"] = int(windows)
    return out


def _measure_subject(subject: Subject, yamnet: Subject | None, audio: BenchAudio, prof: Profile, yam_pools: dict) -> dict:
    entry = subject.to_dict()
    entry["file_bytes"] = subject.path.stat().st_size
    if subject.engine == "torch":  # the head alone is not the model: its backbone weights ship too
        files = {str(subject.path): subject.path.stat().st_size, str(YAMNET_TFLITE): YAMNET_TFLITE.stat().st_size}
        entry["files"] = files
        entry["file_bytes"] = sum(files.values())
        entry["file_bytes_how"] = f"{subject.path.name} (saved head) + {YAMNET_TFLITE.name} (backbone weights, int8)"
    entry["graph"] = _graph(subject, len(audio.clip))
    entry["load_ms"] = time_load(lambda: open_runner(subject, 1, audio), prof.load_repeats).to_dict()
    if prof.memory_runs:
        entry["memory"] = fresh_process_memory(subject, runs=prof.memory_runs).to_dict()
    if subject.engine == "ort":
        entry["op_profile"] = op_time_profile(subject.path, audio.clip, runs=3 if prof.name == "quick" else 10)
    elif subject.engine == "torch":
        entry["op_profile"] = None
        entry["op_profile_skip"] = "onnxruntime's kernel profiler needs an ONNX graph; the teacher runs in torch"
    entry["threads"] = {}
    for t in prof.threads:
        _log(f"  {subject.key}: {t} thread(s)")
        pool = yam_pools.setdefault(str(t), {})
        entry["threads"][str(t)] = _measure_threads(subject, yamnet, t, audio, prof, pool)
    return entry


def _finish_yamnet(entry: dict, yam: Subject, yam_pools: dict, audio: BenchAudio, prof: Profile) -> None:
    """YAMNet's own latency rows: its samples pooled over all the pairs at each thread count (or
    timed alone when no subject ran)."""
    entry["threads"] = {}
    seconds = audio.clip_seconds
    for t in prof.threads:
        pool = yam_pools.get(str(t), {})
        if not pool:
            runner = open_runner(yam, t, audio)
            pool = {"window": time_calls(runner.window, prof.warmup, prof.repeats), "clip": time_calls(runner.clip, prof.warmup, prof.repeats)}
        clip = Latency.of(pool["clip"])
        entry["threads"][str(t)] = {
            "window": Latency.of(pool["window"]).to_dict(),
            "clip": clip.to_dict(),
            "ms_per_audio_second": clip.p50_ms / seconds,
            "rtf": clip.p50_ms / (seconds * 1000.0),
            "x_realtime": (seconds * 1000.0) / max(clip.p50_ms, 1e-9),
            "clip_windows": len(yamnet_starts(len(audio.clip))),
            "pooled_from_pairs": True,
        }


def run(run_dir: Path | None, prof: Profile, *, yamnet: bool = True, only: Sequence[str] = (), toy_dir: Path | None = None) -> dict:
    """Measure everything; returns the results dict (what results.json holds)."""
    with tempfile.TemporaryDirectory(prefix="infantcry-bench-") as scratch:  # a toy model lives here
        return _run(find_run_dir(run_dir), prof, yamnet=yamnet, only=only, toy_dir=toy_dir or Path(scratch))


def _run(run_dir: Path | None, prof: Profile, *, yamnet: bool, only: Sequence[str], toy_dir: Path) -> dict:
    t0 = time.perf_counter()
    subjects = discover(run_dir, toy_dir, yamnet=yamnet)
    card = model_card_for(subjects[0].path)  # subjects[0]: the int8 .onnx, whatever --only says
    if only:
        subjects = [s for s in subjects if s.key in only or s.role == "yamnet"]
    audio = bench_audio()
    yam = next(s for s in subjects if s.role == "yamnet")
    yam_ok = yam if yam.skip is None else None
    results: dict = {
        "schema": "infantcry-bench/1",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "profile": prof.to_dict(),
        "machine": machine_info(),
        "audio": {"source": audio.source, "window_seconds": len(audio.window) / audio.rate, "clip_seconds": audio.clip_seconds},
        "run_dir": None if run_dir is None else str(run_dir),
        "toy": any(s.toy for s in subjects),
        "model_card": None if card is None else str(card),
        "notes": [
            "latencies are wall-clock ms on this machine; ratios vs YAMNet are per pair in this run",
            "ms_per_audio_second and rtf use the 7 s clip p50; x_realtime = audio seconds per compute second",
            "MACs count Conv/MatMul/Gemm-like ops only (see benchmarks/graph_stats.py)",
            "a torch subject (the teacher without an ONNX export) has no graph: MACs and peak activations are None, "
            "parameters are counted from its torch modules",
        ],
        "subjects": {},
    }
    yam_pools: dict = {}
    for s in subjects:
        if s.role == "yamnet":
            continue
        if s.skip:
            _log(f"{s.key}: skipped ({s.skip})")
            results["subjects"][s.key] = s.to_dict()
            continue
        _log(f"{s.key}: {s.path}")
        try:
            results["subjects"][s.key] = _measure_subject(s, yam_ok, audio, prof, yam_pools)
        except Exception as exc:  # one broken subject must not hide the others' figures
            results["subjects"][s.key] = {**s.to_dict(), "error": f"{type(exc).__name__}: {exc}"}
            _log(f"{s.key}: FAILED {exc}")
    entry = yam.to_dict()
    if yam_ok is not None:
        _log(f"{yam.key}: {yam.path}")
        entry["file_bytes"] = yam.path.stat().st_size
        entry["graph"] = _graph(yam, len(audio.clip))
        entry["load_ms"] = time_load(lambda: open_runner(yam, 1, audio), prof.load_repeats).to_dict()
        if prof.memory_runs:
            entry["memory"] = fresh_process_memory(yam, runs=prof.memory_runs).to_dict()
        _finish_yamnet(entry, yam, yam_pools, audio, prof)
    results["subjects"][yam.key] = entry
    results["elapsed_s"] = round(time.perf_counter() - t0, 1)
    return results


def write_outputs(results: dict, out: Path) -> list[Path]:
    """results.json, results.md and results.png in ``out``."""
    from .report import markdown, plot, portable_paths

    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "results.json", out / "results.md", out / "results.png"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n")
    paths[1].write_text(portable_paths(markdown(results)))
    plot(results, paths[2])
    return paths


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", type=Path, help="pipeline run folder (default: runs/latest, else the SDK's bundled model, else a toy)")
    p.add_argument("--quick", action="store_true", help="quick profile (CI): fewer repetitions, 1 thread")
    p.add_argument("--repeats", type=int, help="override the profile's timed repetitions")
    p.add_argument("--warmup", type=int, help="override the profile's warm-up calls")
    p.add_argument("--threads", type=int, nargs="+", help="override the thread counts, e.g. --threads 1 2")
    p.add_argument("--no-yamnet", action="store_true", help="skip the YAMNet peer (and its budget)")
    p.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory probes (and their budgets)")
    p.add_argument("--only", nargs="+", default=(), metavar="KEY",
                   help="measure only these subjects (int8_onnx_sdk int8_onnx_ort int8_ort_sdk int8_ort_ort fp32_onnx_ort teacher_onnx_ort teacher_torch)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default benchmarks/results)")
    p.add_argument("--check", action="store_true", help="check budgets.toml; exit 1 naming each broken budget")
    p.add_argument("--budgets", type=Path, default=_budgets.BUDGETS_FILE, help="budget file (default benchmarks/budgets.toml)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    prof = PROFILES["quick" if args.quick else "full"]
    prof = dataclasses.replace(
        prof,
        repeats=args.repeats or prof.repeats,
        warmup=prof.warmup if args.warmup is None else args.warmup,
        threads=tuple(args.threads) if args.threads else prof.threads,
        memory_runs=0 if args.no_memory else prof.memory_runs,
    )
    results = run(args.run_dir, prof, yamnet=not args.no_yamnet, only=args.only)
    if results["toy"]:
        _log("WARNING: no trained model found: these figures are for a TOY model (export.modelfile.toy)")
    code = 0
    if args.check:
        checked = _budgets.evaluate(results, _budgets.load_budgets(args.budgets))
        results["budgets"] = [b.to_dict() for b in checked]
        print(json.dumps({"budgets": results["budgets"], "broken": _budgets.broken(checked),
                          "missed_targets": _budgets.missed(checked)}, indent=2))
        for b in checked:
            _log(f"budget {b.name}: {b.message}")
        if _budgets.missed(checked):
            _log("targets NOT MET on this CPU class (reported, not failing): " + ", ".join(_budgets.missed(checked)))
        if _budgets.broken(checked):
            _log("BROKEN budgets: " + ", ".join(_budgets.broken(checked)))
            code = 1
    paths = write_outputs(results, args.out)
    _log(f"wrote {', '.join(str(p) for p in paths)} in {results['elapsed_s']} s")
    return code
