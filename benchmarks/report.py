"""results.json -> results.md (tables) and results.png (one figure, matplotlib Agg)."""
from __future__ import annotations

import math
from pathlib import Path

from .subjects import REPO


def portable_paths(text: str) -> str:
    """``text`` with this checkout's and this user's absolute paths written as ``.`` and ``~``, so a
    committed table names no folder of the machine that made it."""
    return text.replace(str(REPO), ".").replace(str(Path.home()), "~")


def _f(x, fmt: str = "{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def _measured(results: dict) -> list[tuple[str, dict]]:
    return [(k, s) for k, s in results["subjects"].items() if not s.get("skip") and not s.get("error")]


def _header(results: dict) -> list[str]:
    m = results["machine"]
    lines = [
        "# InfantCry benchmarks: desktop CPU",
        "",
        f"`{results['command']}` ({results['profile']['name']} profile: {results['profile']['repeats']} timed runs "
        f"after {results['profile']['warmup']} warm-up) on {m['cpu_model']} (CPU class {m.get('cpu_class', 'unknown')}: "
        f"{', '.join(m.get('isa_flags', [])) or 'no ISA flags read'}), {m['usable_cores']} usable cores, "
        f"Python {m['python']}, onnxruntime {m['onnxruntime']}, numpy {m['numpy']}, ai-edge-litert "
        f"{m['ai_edge_litert']}; commit {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''}, "
        f"{results['created_utc']}.",
        f"Audio: {results['audio']['source']}.",
        "",
    ]
    if results.get("toy"):
        lines += ["**TOY MODEL: no trained model was found; these figures only exercise the harness.**", ""]
    return lines


def _speed(results: dict) -> list[str]:
    lines = [
        "## Speed (1 thread)",
        "",
        "| subject | 1 s window p50 / p95 ms | 7 s clip p50 / p95 ms | ms per audio s | RTF | speed-up vs YAMNet, 7 s clip (median [p25–p75]) | load ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, s in _measured(results):
        t = s["threads"].get("1") or next(iter(s["threads"].values()))
        vs = t.get("vs_yamnet", {}).get("clip")
        speed = "reference" if s["role"] == "yamnet" else (
            f"{vs['median']:.1f}× [{vs['p25']:.1f}–{vs['p75']:.1f}]" if vs else "–")
        lines.append(
            f"| {s['label']} | {t['window']['p50_ms']:.3f} / {t['window']['p95_ms']:.3f} | "
            f"{t['clip']['p50_ms']:.3f} / {t['clip']['p95_ms']:.3f} | {t['ms_per_audio_second']:.3f} | "
            f"{t['rtf']:.5f} | {speed} | {s['load_ms']['p50_ms']:.1f} |"
        )
    threads = [str(t) for t in results["profile"]["threads"]]
    if len(threads) > 1:
        lines += ["", "## 7 s clip p50 ms by intra-op threads", "",
                  "| subject | " + " | ".join(f"{t} thread(s)" for t in threads) + " |",
                  "|---|" + "---|" * len(threads)]
        for key, s in _measured(results):
            cells = [_f(s["threads"].get(t, {}).get("clip", {}).get("p50_ms"), "{:.3f}") for t in threads]
            lines.append(f"| {s['label']} | " + " | ".join(cells) + " |")
    return lines


def _size(results: dict) -> list[str]:
    lines = [
        "",
        "## Size, arithmetic and memory",
        "",
        "| subject | file KB | parameters | parameter KB | MACs per audio s (M) | peak activations KB (1 s input) | fresh-process peak RSS MB | added by model MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, s in _measured(results):
        g = s["graph"]["window"]
        mem = s.get("memory") or {}
        macs = s["graph"].get("macs_per_audio_second")
        peak = g.get("peak_activation_bytes")
        lines.append(
            f"| {s['label']} | {s['file_bytes'] / 1000:.1f} | {g['parameters']:,} | {g['parameter_bytes'] / 1000:.1f} | "
            f"{_f(None if macs is None else macs / 1e6)} | {_f(None if peak is None else peak / 1000, '{:.1f}')} | "
            f"{_f(mem.get('peak_rss_mb'), '{:.1f}')} | {_f(mem.get('model_rss_mb'), '{:.1f}')} |"
        )
    for _, s in [(k, s) for k, s in _measured(results) if s.get("engine") == "torch"]:
        why = (s["graph"].get("skip") or {}).get("macs", "no graph file")
        lines += ["", f"{s['label']}: MACs and peak activations not counted: {why}. File KB: {s.get('file_bytes_how', 'the model files')}; "
                      "parameters counted from the torch modules (float32 bytes)."]
    return lines


def _profile_and_budgets(results: dict) -> list[str]:
    lines: list[str] = []
    profiled = [(k, s) for k, s in _measured(results) if s.get("op_profile")]
    if profiled:
        lines += ["", "## Where the time goes (onnxruntime profiler, bare session, 7 s clip, 1 thread)", "",
                  "| subject | kernel ms per run | largest op types (share of kernel time) |", "|---|---|---|"]
        for _, s in profiled:
            p = s["op_profile"]
            ops = ", ".join(f"{o['op']} {o['share'] * 100:.0f}%" for o in p["by_op"][:6])
            lines.append(f"| {s['label']} | {p['kernel_ms_per_run']:.2f} | {ops} |")
    skipped = [(k, s) for k, s in results["subjects"].items() if s.get("skip") or s.get("error")]
    if skipped:
        lines += ["", "Not measured:", ""]
        lines += [f"- {s['label']}: {s.get('skip') or 'FAILED: ' + s['error']}" for _, s in skipped]
    if results.get("budgets"):
        lines += ["", "## Budgets (`benchmarks/budgets.toml`)", "", "| budget | status | detail |", "|---|---|---|"]
        lines += [f"| {b['name']} | {b['status']} | {b['message']} |" for b in results["budgets"]]
    return lines


_NOTES = (
    "Notes: ms per audio s and RTF use the 7 s clip p50 (RTF < 1 is faster than real time). The SDK scores a "
    "long clip in one run when the model has window outputs (the trained student has; a model without them "
    "is run once per window), with its input checks and aggregation; bare ORT runs the whole clip once; YAMNet's fixed-size TFLite is "
    "invoked once per 0.975 s patch every 0.48 s (13 for 7 s). A torch teacher (no ONNX export) runs the "
    "toolchain's path: YAMNet's torch port on 0.96 s patches every 0.96 s (8 for 7 s), then its pooling head. Speed-ups are YAMNet time / subject time per "
    "interleaved pair in this run. MACs count Conv/MatMul/Gemm-like ops from the graph's real shapes. "
    "Peak RSS: a fresh process that loads and scores one 7 s clip, read from outside (VmHWM in /proc/PID/status); "
    "'added by model' subtracts a process that imports the same modules only."
)


def markdown(results: dict) -> str:
    """The tables a README can quote as they are."""
    lines = _header(results) + _speed(results) + _size(results) + _profile_and_budgets(results) + ["", _NOTES, ""]
    return "\n".join(lines)


def plot(results: dict, path: Path) -> Path:
    """Four panels: ms per audio second, paired speed-up over YAMNet, file size, memory."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subs = _measured(results)
    labels = [s["label"].replace(" (", "\n(").replace("student ", "") for _, s in subs]
    threads = [str(t) for t in results["profile"]["threads"]]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    _time_panel(axes[0][0], subs, labels, threads)
    _speedup_panel(axes[0][1], subs)
    _size_panel(axes[1][0], subs, labels)
    _memory_panel(axes[1][1], subs, labels)
    m = results["machine"]
    title = f"InfantCry benchmarks: {m['cpu_model']} ({m['usable_cores']} cores), {results['created_utc']}"
    if results.get("toy"):
        title += "  [TOY MODEL]"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plain_log_ticks(axis) -> None:
    """Label a log axis as 0.2, 0.5, 1, 2, 5, 10 rather than 2x10^-1: the powers of ten and the
    minor ticks at 2 and 5 of each decade (every minor tick labelled would overlap)."""
    from matplotlib.ticker import FormatStrFormatter, FuncFormatter

    def two_and_five(value: float, _position) -> str:
        lead = round(value / 10 ** math.floor(math.log10(value))) if value > 0 else 0
        return f"{value:g}" if lead in (2, 5) else ""

    axis.set_major_formatter(FormatStrFormatter("%g"))
    axis.set_minor_formatter(FuncFormatter(two_and_five))


def _time_panel(ax, subs, labels: list[str], threads: list[str]) -> None:
    width = 0.8 / max(len(threads), 1)
    for i, t in enumerate(threads):
        vals = [s["threads"].get(t, {}).get("ms_per_audio_second", float("nan")) for _, s in subs]
        ax.bar([x + i * width for x in range(len(subs))], vals, width, label=f"{t} thread(s)")
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_ylabel("ms per second of audio (7 s clip, p50; log)")
    ax.set_xticks([x + width * (len(threads) - 1) / 2 for x in range(len(subs))], labels, fontsize=7, rotation=20)
    ax.legend(fontsize=8)
    ax.set_title("Compute time per audio second")


def _speedup_panel(ax, subs) -> None:
    ratios = [(s["label"], s["threads"].get("1", {}).get("vs_yamnet", {}).get("clip")) for _, s in subs]
    ratios = [(lab, r) for lab, r in ratios if r]
    if ratios:
        ax.barh(range(len(ratios)), [r["median"] for _, r in ratios],
                xerr=[[r["median"] - r["p25"] for _, r in ratios], [r["p75"] - r["median"] for _, r in ratios]], color="tab:green")
        ax.set_yticks(range(len(ratios)), [lab for lab, _ in ratios], fontsize=7)
        ax.axvline(10, color="tab:red", ls="--", label="target: 10×")
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "YAMNet not measured", ha="center", va="center")
    ax.set_xlabel("speed-up over YAMNet, paired (median, p25–p75; log)")
    ax.set_title("Paired speed-up vs YAMNet (7 s clip, 1 thread)")


def _size_panel(ax, subs, labels: list[str]) -> None:
    ax.bar(range(len(subs)), [s["file_bytes"] / 1000 for _, s in subs], color="tab:purple")
    ax.axhline(400, color="tab:red", ls="--", label="int8 budget: 400 KB")
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis)
    ax.set_xticks(range(len(subs)), labels, fontsize=7, rotation=20)
    ax.set_ylabel("file KB (log)")
    ax.legend(fontsize=8)
    ax.set_title("Model file size")


def _memory_panel(ax, subs, labels: list[str]) -> None:
    base = [(s.get("memory") or {}).get("baseline_rss_mb", 0.0) for _, s in subs]
    added = [(s.get("memory") or {}).get("model_rss_mb", 0.0) for _, s in subs]
    ax.bar(range(len(subs)), base, color="lightgray", label="imports only (baseline)")
    ax.bar(range(len(subs)), added, bottom=base, color="tab:orange", label="added by load + 7 s clip")
    ax.set_xticks(range(len(subs)), labels, fontsize=7, rotation=20)
    ax.set_ylabel("peak RSS of a fresh process, MB")
    ax.legend(fontsize=8)
    ax.set_title("Memory")
