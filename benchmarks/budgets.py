"""Budgets: the limits in ``benchmarks/budgets.toml`` checked against one run's results.

Each budget gives one :class:`BudgetResult`: ``ok``, ``broken`` (the check fails and names it),
``missed`` (a target not reached on this CPU class: reported with the figure, does not fail) or
``skipped`` (its input is missing: no model card, YAMNet not available, a subject that failed to
load), always with a message that says what was compared to what.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

BUDGETS_FILE = Path(__file__).resolve().parent / "budgets.toml"


@dataclass(frozen=True)
class BudgetResult:
    name: str
    status: str  # ok | broken | missed | skipped
    value: float | None
    limit: float | None
    message: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_budgets(path: Path = BUDGETS_FILE) -> dict:
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def _dotted(data: dict, key: str):
    cur = data
    for part in key.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _limit(name: str, value: float | None, limit: float, *, at_most: bool, unit: str, what: str, why_missing: str) -> BudgetResult:
    if value is None:
        return BudgetResult(name, "skipped", None, limit, f"skipped: {why_missing}")
    ok = value <= limit if at_most else value >= limit
    rel = "<=" if at_most else ">="
    verdict = "ok" if ok else "BROKEN"
    return BudgetResult(name, "ok" if ok else "broken", value, limit, f"{verdict}: {what} = {value:g}{unit} (budget {rel} {limit:g}{unit})")


def _subject_figure(results: dict, key: str, path: list[str]):
    sub = results.get("subjects", {}).get(key)
    if sub is None:
        return None, f"subject {key!r} was not part of this run"
    if sub.get("skip"):
        return None, f"subject {key!r} skipped: {sub['skip']}"
    if sub.get("error"):
        return None, f"subject {key!r} failed: {sub['error']}"
    value = _dotted(sub, ".".join(path))
    return value, f"{key}.{'.'.join(path)} not measured in this run"


def evaluate(results: dict, budgets: dict) -> list[BudgetResult]:
    """Check every budget in ``budgets`` (the parsed TOML) against ``results`` (results.json)."""
    out: list[BudgetResult] = []
    key = budgets["subject"]["key"]

    # size: every int8 student file measured in this run
    limit = budgets["size"]["max_int8_file_bytes"]
    files = {
        s["path"]: s.get("file_bytes")
        for s in results.get("subjects", {}).values()
        if s.get("role") == "student_int8" and s.get("path") and not s.get("skip")
    }
    if not files:
        out.append(BudgetResult("max_int8_file_bytes", "skipped", None, limit, "skipped: no int8 student measured"))
    for path, size in sorted(files.items()):
        suffix = Path(path).suffix
        out.append(_limit(f"max_int8_file_bytes[{suffix}]", size, limit, at_most=True, unit=" B",
                          what=f"{Path(path).name} size", why_missing=f"{path} size unknown"))

    # quality: the model card beside the int8 model
    q = budgets["quality"]
    card_path = results.get("model_card")
    card = json.loads(Path(card_path).read_text()) if card_path and Path(card_path).is_file() else None
    for name, k, lim in (
        ("min_detection_f1", q["detection_f1_key"], q["min_detection_f1"]),
        ("min_cause_balanced_accuracy", q["cause_balanced_accuracy_key"], q["min_cause_balanced_accuracy"]),
    ):
        if card is None:
            why = "no model_card.json beside the int8 model (toy or untrained model)"
            out.append(BudgetResult(name, "skipped", None, lim, f"skipped: {why}"))
            continue
        value = _dotted(card, k)
        why = f"model card {card_path} has no {k!r}"
        out.append(_limit(name, None if value is None else float(value), lim, at_most=False, unit="",
                          what=f"model card {k}", why_missing=why))

    # speed
    s = budgets["speed"]
    speedup, why = _subject_figure(results, key, ["threads", "1", "vs_yamnet", "clip", "median"])
    if speedup is None and results.get("subjects", {}).get("yamnet_tflite", {}).get("skip"):
        why = f"YAMNet not measured: {results['subjects']['yamnet_tflite']['skip']}"
    out += _speedup_results(speedup, s, results.get("machine", {}).get("cpu_class", "unknown"), key, why)
    ms, why = _subject_figure(results, key, ["threads", "1", "ms_per_audio_second"])
    out.append(_limit("max_ms_per_audio_second", ms, s["max_ms_per_audio_second"], at_most=True, unit=" ms",
                      what=f"{key} ms per audio second (7 s clip p50, 1 thread)", why_missing=why))

    # memory
    m = budgets["memory"]
    added, why = _subject_figure(results, key, ["memory", "model_rss_mb"])
    out.append(_limit("max_added_rss_mb", added, m["max_added_rss_mb"], at_most=True, unit=" MB",
                      what=f"{key} RSS added by load + 7 s clip over the import baseline", why_missing=why))
    peak, why = _subject_figure(results, key, ["memory", "peak_rss_mb"])
    out.append(_limit("max_process_peak_rss_mb", peak, m["max_process_peak_rss_mb"], at_most=True, unit=" MB",
                      what=f"{key} fresh-process peak RSS", why_missing=why))
    return out


def speed_floor(speed: dict, cpu_class: str) -> tuple[float, str]:
    """The regression floor for ``cpu_class`` and where it comes from (see budgets.toml [speed])."""
    measured = speed["measured_speedup_vs_yamnet"]
    keep = 1.0 - speed["floor_noise_margin"]
    if cpu_class in measured:
        return measured[cpu_class] * keep, f"{measured[cpu_class]:g}x measured on {cpu_class}, less {speed['floor_noise_margin']:.0%}"
    lowest = min(measured, key=measured.get)
    return measured[lowest] * keep, f"{cpu_class} never measured, so the lowest class floor ({lowest})"


def _speedup_results(speedup: float | None, speed: dict, cpu_class: str, key: str, why: str) -> list[BudgetResult]:
    """The per-class regression floor (fails CI) and the target (reported, never fails CI)."""
    what = f"{key} paired median speedup over YAMNet (7 s clip, 1 thread) on {cpu_class}"
    floor, basis = speed_floor(speed, cpu_class)
    gate = _limit("min_speedup_vs_yamnet", speedup, round(floor, 2), at_most=False, unit="x", what=what, why_missing=why)
    gate = dataclasses.replace(gate, message=f"{gate.message}; regression floor: {basis}")
    target = speed["target_speedup_vs_yamnet"]
    if speedup is None:
        return [gate, BudgetResult("target_speedup_vs_yamnet", "skipped", None, target, f"skipped: {why}")]
    met = speedup >= target
    verdict = "target met" if met else f"TARGET NOT MET on {cpu_class}"
    return [gate, BudgetResult("target_speedup_vs_yamnet", "ok" if met else "missed", speedup, target,
                               f"{verdict}: {what} = {speedup:.2f}x (target >= {target:g}x)")]


def missed(results: list[BudgetResult]) -> list[str]:
    return [r.name for r in results if r.status == "missed"]


def broken(results: list[BudgetResult]) -> list[str]:
    return [r.name for r in results if r.status == "broken"]
