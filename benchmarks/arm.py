"""Emulated aarch64: does the int8 student give the same answers on ARM kernels, and what does it cost?

``python -m benchmarks arm [--run-dir DIR | --model student_int8.onnx] [--quick] [--out DIR] [--require]``

1. Runs :mod:`benchmarks.arm_worker` natively (x86 reference) and under ``qemu-aarch64-static`` in
   the aarch64 root that ``benchmarks/arm/build_root.sh`` builds (default
   ``~/.cache/infantcry/arm64-root``, or ``$INFANTCRY_ARM_ROOT``). The pure-Python SDK is copied from
   this working tree into a scratch folder for each run, never into the cached root.
2. Parity: for the int8 ``.onnx`` and ``.ort`` (and fp32 when present), every real clip's cry and
   cause probabilities through the SDK, and the raw outputs for one fixed window, must equal x86
   within ``--tolerance`` (1e-3): int8 kernels differ between architectures (MLAS NEON vs AVX2).
3. Latency under emulation, labelled EMULATED (QEMU), NOT A DEVICE TIMING: QEMU translates each
   NEON instruction, so only ratios inside the emulated run (int8 vs fp32 kernels) carry meaning.
4. What transfers to a phone regardless: MACs, parameter bytes, peak activation memory and the
   operator list with onnxruntime's mobile usability check (NNAPI / CoreML partitioning), on x86.

Without qemu or the root this prints why and exits 0 (``--require`` makes that exit 2), so CI can
run it everywhere and it measures only where the root is cached.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import arm_worker
from .clips import bench_audio, parity_clips, synthetic
from .machine import machine_info
from .report import portable_paths
from .subjects import FP32_ONNX, REPO, locate_int8, find_run_dir

DEFAULT_ROOT = Path.home() / ".cache" / "infantcry" / "arm64-root"
EMULATED = "EMULATED (QEMU), not a device timing"


def arm_root() -> Path:
    return Path(os.environ.get("INFANTCRY_ARM_ROOT", DEFAULT_ROOT))


def why_unavailable(root: Path) -> str | None:
    """None when the emulated run can go ahead, else the reason it cannot (and how to fix it)."""
    if shutil.which("qemu-aarch64-static") is None:
        return "qemu-aarch64-static is not installed; build the root with: bash benchmarks/arm/build_root.sh"
    if not (root / "usr" / "bin" / "python3.11").is_file() or not (root / ".stamp-wheels").is_file():
        return f"no aarch64 Python root at {root}; build it with: bash benchmarks/arm/build_root.sh (a few minutes, cached)"
    return None


def run_emulated(job: dict, root: Path, timeout_s: float) -> tuple[dict, float]:
    """Run the worker under QEMU with a fresh copy of the SDK; (its output, wall seconds)."""
    with tempfile.TemporaryDirectory(prefix="infantcry-arm-") as tmp:
        pkg = Path(tmp) / "pkg"
        shutil.copytree(REPO / "infantcry_sdk", pkg / "infantcry_sdk", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(Path(arm_worker.__file__), pkg / "arm_worker.py")
        job_path, out_path = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_path.write_text(json.dumps(job))
        cmd = ["qemu-aarch64-static", "-L", str(root), str(root / "usr" / "bin" / "python3.11"), "-s", "-E",
               str(pkg / "arm_worker.py"), str(job_path), str(out_path)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"emulated worker failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
        return json.loads(out_path.read_text()), wall


def mobile_usability(path: Path) -> dict:
    """The export pipeline's mobile usability verdict (:func:`export.modelfile.quantize.mobile_usability`),
    plus, per execution provider, the operators its checker reported as unsupported."""
    from export.modelfile.quantize import mobile_usability as verdict_of

    verdict = verdict_of(path)
    eps: dict[str, dict] = {}
    current = None
    for line in verdict.get("log", []):
        if m := re.match(r"Checking (NNAPI|CoreML \w+)$", line):
            current = eps.setdefault(m.group(1), {})
        elif current is not None and "Unsupported ops:" in line and "unsupported_ops" not in current:
            current["unsupported_ops"] = line.split("Unsupported ops:", 1)[1].strip().split(",")
    for ep, d in eps.items():
        key = ep.lower().replace(" ", "_")
        d["as_is"] = verdict.get(key, "?")
        d["with_fixed_shapes"] = verdict.get(key + "_fixed_shapes", "–")
    return {**verdict, "eps": eps}


def _max_diff(a: dict, b: dict) -> float:
    x = np.concatenate([[a["cry_probability"]], np.ravel(a["cause_probabilities"])])
    y = np.concatenate([[b["cry_probability"]], np.ravel(b["cause_probabilities"])])
    return float(np.max(np.abs(x - y)))


def parity(x86: dict, arm: dict, tolerance: float) -> dict:
    """Per model: the largest probability difference over clips and the raw window outputs."""
    out = {}
    for key, ref in x86["models"].items():
        got = arm["models"][key]
        per_clip = {Path(c).name: _max_diff(ref["predictions"][c], got["predictions"][c]) for c in ref["predictions"]}
        w_ref, w_got = ref["window_outputs"], got["window_outputs"]
        window = max(
            float(np.max(np.abs(np.asarray(w_ref["cry_probability"]) - np.asarray(w_got["cry_probability"])))),
            float(np.max(np.abs(np.asarray(w_ref["cause_probabilities"]) - np.asarray(w_got["cause_probabilities"])))),
        )
        worst = max([window, *per_clip.values()])
        out[key] = {"max_abs_diff": worst, "window_max_abs_diff": window, "per_clip": per_clip,
                    "clips": len(per_clip), "within_tolerance": worst <= tolerance}
    return out


def _models(args: argparse.Namespace, scratch: Path) -> tuple[dict[str, str], bool, str]:
    """Model files to run: int8 .onnx (+ .ort beside it) and the fp32 student when known."""
    if args.model:
        int8, source, toy = Path(args.model), f"--model {args.model}", False
        run_dir = None
    else:
        run_dir = find_run_dir(args.run_dir)
        int8, source, toy = locate_int8(run_dir, scratch)
    models = {"int8_onnx": str(int8)}
    if int8.with_suffix(".ort").is_file():
        models["int8_ort"] = str(int8.with_suffix(".ort"))
    fp32 = Path(args.fp32) if args.fp32 else (run_dir / FP32_ONNX if run_dir is not None else int8.parent / FP32_ONNX)
    if fp32.is_file():
        models["fp32_onnx"] = str(fp32)
    return models, toy, source


def _clips(scratch: Path, n: int) -> list[str]:
    """Real clips from ../shared, else three synthetic WAV files (so decoding runs on ARM too)."""
    real = parity_clips()[:n]
    if real:
        return [str(p) for p in real]
    import soundfile as sf

    out = []
    for i in range(3):
        p = scratch / f"synthetic_{i}.wav"
        sf.write(p, synthetic(2.0 + 2 * i, seed=i), 16000)
        out.append(str(p))
    return out


def markdown(res: dict) -> str:
    m, a = res["machine"], res["arm"]
    lines = [
        "# InfantCry on emulated aarch64 (ONNX Runtime, QEMU user mode)",
        "",
        f"`{res['command']}`: x86 {m['cpu_model']} vs aarch64 under qemu-aarch64-static "
        f"(Python {a['python']}, onnxruntime {a['onnxruntime']}, numpy {a['numpy']}; CPU features seen: "
        f"{', '.join(a['cpu_features'] or [])}); {res['created_utc']}. Models from {res['source']}.",
        "",
    ]
    if res.get("toy"):
        lines += ["**TOY MODEL: no trained model was found; these figures only exercise the harness.**", ""]
    lines += [
        f"## Parity: ARM vs x86 probabilities ({res['clips']} real clips + one raw window; tolerance {res['tolerance']:g})",
        "",
        "| model | max abs diff (all clips) | raw window max abs diff | within tolerance |",
        "|---|---|---|---|",
    ]
    for k, p in res["parity"].items():
        lines.append(f"| {k} | {p['max_abs_diff']:.2e} | {p['window_max_abs_diff']:.2e} | {'yes' if p['within_tolerance'] else '**NO**'} |")
    lines += [
        "",
        f"## Latency through the SDK, 1 thread: {EMULATED}",
        "",
        "| model | 1 s window p50 ms (ARM, emulated) | 7 s clip p50 ms (ARM, emulated) | 7 s clip p50 ms (x86 native) | emulation slowdown |",
        "|---|---|---|---|---|",
    ]
    for k, t in res["timing"].items():
        lines.append(f"| {k} | {t['arm_window_p50_ms']:.2f} | {t['arm_clip_p50_ms']:.2f} | {t['x86_clip_p50_ms']:.3f} | {t['emulation_slowdown']:.0f}× |")
    r = res.get("fp32_over_int8")
    lines += ["", "fp32 / int8 time (7 s clip): " + (
        f"{r['arm_emulated']:.2f}× on ARM kernels (emulated), {r['x86']:.2f}× on x86." if r else f"not measured: {res['fp32_skip']}")]
    g = res["graph"]
    lines += [
        "",
        "## What transfers to a phone (counted from the int8 graph, any machine)",
        "",
        f"- MACs per audio second: {g['macs_per_audio_second'] / 1e6:.2f} M (Conv/MatMul/Gemm); per 1 s window input: {g['window']['macs'] / 1e6:.2f} M",
        f"- parameters: {g['window']['parameters']:,} ({g['window']['parameter_bytes'] / 1000:.1f} KB as stored)",
        f"- peak activation memory (liveness estimate): {g['window']['peak_activation_bytes'] / 1000:.1f} KB for a 1 s input, "
        f"{g['clip']['peak_activation_bytes'] / 1000:.1f} KB for 7 s; constants folded at load: {g['window']['folded_constant_bytes'] / 1000:.1f} KB",
        f"- operators (opset {g['window']['opset']}): " + ", ".join(f"{k}×{v}" for k, v in g["window"]["operators"].items()),
    ]
    u = res["usability"]
    for ep, d in u["eps"].items():
        lines.append(f"- {ep}: as is {d.get('as_is', '?')}, with fixed shapes {d.get('with_fixed_shapes', '–')}; "
                     f"unsupported ops: {', '.join(d.get('unsupported_ops', [])) or 'none'}")
    if res.get("required_operators_config"):
        ops = [ln for ln in res["required_operators_config"].splitlines() if ln and not ln.startswith("#")]
        lines.append("- reduced-build operator config (`required_operators.config` beside the model): " + "; ".join(ops))
    lines += [
        "- CPU EP (what the SDK and the Android demo use): runs every operator above in the standard ORT Mobile "
        "packages; the `.ort` file loads and agrees on ARM (parity table).",
        "",
        f"Emulated run wall time: {res['emulated_wall_s']:.1f} s. Root: {res['root']}.",
        "",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks arm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run-dir", type=Path, help="pipeline run folder (default: runs/latest, else the SDK's bundled model, else a toy)")
    p.add_argument("--model", help="an int8 .onnx (its .ort is taken from beside it)")
    p.add_argument("--fp32", help="the fp32 student .onnx, for the int8/fp32 ratio")
    p.add_argument("--root", type=Path, default=None, help="aarch64 root (default $INFANTCRY_ARM_ROOT or ~/.cache/infantcry/arm64-root)")
    p.add_argument("--quick", action="store_true", help="fewer clips and repetitions")
    p.add_argument("--repeats", type=int)
    p.add_argument("--clips", type=int, help="how many real clips to compare (default 8, quick 4)")
    p.add_argument("--tolerance", type=float, default=1e-3)
    p.add_argument("--no-usability", action="store_true", help="skip onnxruntime's mobile usability check (slow)")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed for the emulated run")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--require", action="store_true", help="exit 2 (not 0) when qemu or the root is missing")
    return p


def emulated_timing(models: dict, x86: dict, arm: dict) -> dict[str, dict]:
    """Per model: the emulated aarch64 and the x86 p50 times, and how much slower emulation ran."""
    def one(k: str) -> dict:
        a, x = arm["models"][k], x86["models"][k]
        return {
            "arm_window_p50_ms": a["window"]["p50_ms"],
            "arm_clip_p50_ms": a["clip"]["p50_ms"],
            "arm_clip_p95_ms": a["clip"]["p95_ms"],
            "arm_load_ms": a["load_ms"],
            "x86_window_p50_ms": x["window"]["p50_ms"],
            "x86_clip_p50_ms": x["clip"]["p50_ms"],
            "emulation_slowdown": a["clip"]["p50_ms"] / max(x["clip"]["p50_ms"], 1e-9),
            "label": EMULATED,
        }

    return {k: one(k) for k in models}


def fp32_over_int8(timing: dict[str, dict]) -> dict | None:
    """How many times longer the fp32 file takes than the int8 one, emulated and on x86 (None
    without an fp32 file)."""
    if "fp32_onnx" not in timing:
        return None
    fp32, int8 = timing["fp32_onnx"], timing["int8_onnx"]
    return {"arm_emulated": fp32["arm_clip_p50_ms"] / int8["arm_clip_p50_ms"],
            "x86": fp32["x86_clip_p50_ms"] / int8["x86_clip_p50_ms"], "label": EMULATED}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = args.root or arm_root()
    if reason := why_unavailable(root):
        print(f"[bench arm] SKIPPED: {reason}", file=sys.stderr)
        return 2 if args.require else 0
    from .graph_stats import onnx_graph_stats

    with tempfile.TemporaryDirectory(prefix="infantcry-armjob-") as tmp:
        scratch = Path(tmp)
        models, toy, source = _models(args, scratch)
        audio = bench_audio()
        np.save(scratch / "window.npy", audio.window)
        np.save(scratch / "clip.npy", audio.clip)
        repeats = args.repeats or (3 if args.quick else 10)
        job = {"models": models, "clips": _clips(scratch, args.clips or (4 if args.quick else 8)),
               "window_npy": str(scratch / "window.npy"), "clip_npy": str(scratch / "clip.npy"),
               "warmup": 1, "repeats": repeats, "threads": 1}
        print(f"[bench arm] x86 reference: {', '.join(models)}", file=sys.stderr)
        x86 = arm_worker.run_job(job)
        print(f"[bench arm] aarch64 under QEMU ({root}) ...", file=sys.stderr)
        arm, wall = run_emulated(job, root, args.timeout)
        int8 = Path(models["int8_onnx"])  # counted while a toy's scratch folder still exists
        one, seven = onnx_graph_stats(int8, 16000), onnx_graph_stats(int8, len(audio.clip))
        usability = {"eps": {}, "log": [], "skipped": "--no-usability"} if args.no_usability else mobile_usability(int8)
        config = int8.parent / "required_operators.config"  # written by the .ort conversion
        required_ops = config.read_text() if config.is_file() else None
    par = parity(x86, arm, args.tolerance)
    timing = emulated_timing(models, x86, arm)
    ratio = fp32_over_int8(timing)
    res = {
        "schema": "infantcry-bench-arm/1",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m benchmarks arm " + " ".join(argv if argv is not None else sys.argv[2:]),
        "machine": machine_info(),
        "arm": {k: arm[k] for k in ("machine", "python", "numpy", "onnxruntime", "cpu_features")},
        "root": str(root),
        "root_build": json.loads((root / ".build_info.json").read_text()) if (root / ".build_info.json").is_file() else None,
        "source": source,
        "toy": toy,
        "models": models,
        "clips": len(job["clips"]),
        "clip_files": [Path(c).name for c in job["clips"]],
        "tolerance": args.tolerance,
        "parity": par,
        "timing": timing,
        "fp32_over_int8": ratio,
        "fp32_skip": None if ratio else f"no {FP32_ONNX} found (pass --fp32 or --run-dir)",
        "graph": {"window": one.to_dict(), "clip": seven.to_dict(), "macs_per_audio_second": seven.macs / audio.clip_seconds},
        "usability": usability,
        "required_operators_config": required_ops,
        "emulated_wall_s": wall,
        "x86_raw": x86,
        "arm_raw": arm,
    }
    return _write_results(res, args.out)


def _write_results(res: dict, out: Path) -> int:
    """``results_arm.json`` and ``.md`` under ``out``, the parity summary on stdout; the exit status
    (1 where any output is out of tolerance)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results_arm.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "results_arm.md").write_text(portable_paths(markdown(res)))
    par = res["parity"]
    ok = all(p["within_tolerance"] for p in par.values())
    summary = {k: {"max_abs_diff": p["max_abs_diff"], "within_tolerance": p["within_tolerance"]} for k, p in par.items()}
    print(json.dumps({"parity": summary, "ok": ok}, indent=2))
    print(f"[bench arm] wrote {out / 'results_arm.json'} and results_arm.md; parity {'OK' if ok else 'BROKEN'}", file=sys.stderr)
    return 0 if ok else 1
