"""The benchmark harness: graph counting, paired timing, budgets, and the --check exit code on a toy
model and on a planted size regression. Tiny profiles only: speed is measured, never asserted."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")  # the harness counts graphs with the toolchain's onnx package

from benchmarks import budgets as B
from benchmarks.desktop import main as bench_main
from benchmarks.graph_stats import onnx_graph_stats, tflite_graph_stats
from benchmarks.runners import yamnet_starts
from benchmarks.subjects import REPO, YAMNET_TFLITE, discover
from benchmarks.timing import Ratio, time_paired
from benchmarks.toys import build_toy_pair

TINY = ["--quick", "--repeats", "3", "--warmup", "1", "--only", "int8_onnx_sdk"]


def _has_yamnet() -> str | None:
    if not YAMNET_TFLITE.is_file():
        return f"{YAMNET_TFLITE} absent (../shared not mounted)"
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return "ai_edge_litert not installed"
    return None


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    build_toy_pair(run, ort=False)  # .onnx only: every test here measures int8_onnx_sdk
    return run


def _check(run: Path, out: Path, capsys, *extra: str) -> tuple[int, dict, dict]:
    code = bench_main(["--run-dir", str(run), *TINY, "--out", str(out), "--check", *extra])
    printed = json.loads(capsys.readouterr().out)
    return code, printed, json.loads((out / "results.json").read_text())


# ------------------------------------------------------------------------------ graph counting


@pytest.mark.parametrize("n", [16000, 32000])
def test_graph_stats_counts_the_toy_band_matmuls_exactly(toy_run: Path, n: int) -> None:
    g = onnx_graph_stats(toy_run / "student_int8.onnx", n)
    # band toy: frames of 256 samples x a [256, 24] DFT basis, then a [1, 4] x [4, 5] cause map
    assert g.macs_by_op == {"MatMul": (n // 256) * 256 * 24 + 4 * 5}
    assert 256 * 24 + 20 <= g.parameters < 256 * 24 + 20 + 32  # the weights plus a few scalar constants
    assert g.peak_activation_bytes >= n * 4  # the input itself is live
    assert g.operators["MatMul"] == 2 and g.opset == 17


def test_graph_stats_ignores_unused_bloat(tmp_path: Path, toy_run: Path) -> None:
    onnx_path, _ = build_toy_pair(tmp_path, bloat_bytes=50_000, ort=False)
    assert onnx_path.stat().st_size > 50_000
    plain = onnx_graph_stats(toy_run / "student_int8.onnx")
    bloated = onnx_graph_stats(onnx_path)
    assert bloated.parameters == plain.parameters and bloated.macs == plain.macs


@pytest.mark.shared_data
def test_yamnet_tflite_stats_match_its_published_size() -> None:
    if why := _has_yamnet():
        pytest.skip(why)
    g = tflite_graph_stats(YAMNET_TFLITE)
    conv = g.macs_by_op["CONV_2D"] + g.macs_by_op["DEPTHWISE_CONV_2D"]
    assert 60e6 < conv < 75e6  # MobileNetV1 body: ~69 M multiply-adds per 0.96 s patch
    assert 3.7e6 < g.parameters < 4.3e6  # 3.7 M weights + the front-end's DFT and mel matrices
    assert g.input_samples == 15600


def test_yamnet_clip_uses_yamnets_own_patch_count() -> None:
    assert len(yamnet_starts(112000)) == 13  # 7 s: 1 + (698 frames - 96) // 48
    assert yamnet_starts(15600) == [0] and yamnet_starts(1000) == [0]


def test_op_profile_attributes_kernel_time_to_op_types(toy_run: Path) -> None:
    from benchmarks.op_profile import op_time_profile

    prof = op_time_profile(toy_run / "student_int8.onnx", np.zeros(16000, np.float32), runs=2, top=50)
    ops = {o["op"]: o for o in prof["by_op"]}
    assert prof["runs"] == 2 and prof["kernel_ms_per_run"] > 0
    assert ops["MatMul"]["nodes"] == 2  # per run, the warm-up run excluded
    assert sum(o["share"] for o in prof["by_op"]) == pytest.approx(1.0, abs=1e-3)


# ------------------------------------------------------------------------------ timing helpers


def test_paired_timing_alternates_order() -> None:
    calls: list[str] = []
    s, r = time_paired(lambda: calls.append("s"), lambda: calls.append("r"), warmup=1, repeats=4)
    assert calls == ["s", "r", "s", "r", "r", "s", "s", "r", "r", "s"]
    assert len(s) == len(r) == 4


def test_ratio_is_reference_over_subject() -> None:
    r = Ratio.of([1.0, 2.0, 4.0], [10.0, 10.0, 10.0])
    assert r.median == pytest.approx(5.0) and r.max == pytest.approx(10.0) and r.min == pytest.approx(2.5)


# ------------------------------------------------------------------------------ budgets


def _fake_results(card: Path | None, *, int8_bytes=300_000, speedup=20.0, ms=1.0, added=30.0, peak=90.0) -> dict:
    sub = {
        "role": "student_int8", "path": "/x/student_int8.onnx", "file_bytes": int8_bytes,
        "threads": {"1": {"ms_per_audio_second": ms, "vs_yamnet": {"clip": {"median": speedup}}}},
        "memory": {"model_rss_mb": added, "peak_rss_mb": peak},
    }
    return {"subjects": {"int8_onnx_sdk": sub, "yamnet_tflite": {"role": "yamnet"}}, "model_card": None if card is None else str(card)}


def _card(tmp_path: Path, f1: float, bacc: float) -> Path:
    p = tmp_path / "model_card.json"
    p.write_text(json.dumps({"metrics": {"detection": {"f1": f1}, "cause": {"balanced_accuracy": bacc}}}))
    return p


def test_budgets_all_ok_with_a_good_card(tmp_path: Path) -> None:
    res = B.evaluate(_fake_results(_card(tmp_path, 0.93, 0.4)), B.load_budgets())
    assert {r.status for r in res} == {"ok"}, [r.message for r in res]


def test_budgets_name_each_broken_limit(tmp_path: Path) -> None:
    res = B.evaluate(
        _fake_results(_card(tmp_path, 0.5, 0.1), int8_bytes=500_000, speedup=1.5, ms=99.0, added=80.0, peak=500.0),
        B.load_budgets(),
    )
    assert set(B.broken(res)) == {
        "max_int8_file_bytes[.onnx]", "min_detection_f1", "min_cause_balanced_accuracy",
        "min_speedup_vs_yamnet", "max_ms_per_audio_second", "max_added_rss_mb", "max_process_peak_rss_mb",
    }


def test_missing_card_and_yamnet_skip_with_reasons() -> None:
    results = _fake_results(None)
    results["subjects"]["yamnet_tflite"]["skip"] = "disabled (--no-yamnet)"
    del results["subjects"]["int8_onnx_sdk"]["threads"]["1"]["vs_yamnet"]
    res = {r.name: r for r in B.evaluate(results, B.load_budgets())}
    assert res["min_detection_f1"].status == "skipped" and "model_card.json" in res["min_detection_f1"].message
    assert res["min_speedup_vs_yamnet"].status == "skipped" and "--no-yamnet" in res["min_speedup_vs_yamnet"].message
    assert not B.broken(list(res.values()))


# ------------------------------------------------------------------------------ end to end


def test_quick_check_passes_on_a_toy_model(toy_run: Path, tmp_path: Path, capsys) -> None:
    code, printed, results = _check(toy_run, tmp_path / "out", capsys, "--no-yamnet")
    assert code == 0, printed
    assert printed["broken"] == []
    sub = results["subjects"]["int8_onnx_sdk"]
    assert sub["file_bytes"] == (toy_run / "student_int8.onnx").stat().st_size
    assert sub["threads"]["1"]["clip"]["n"] == 3 and sub["threads"]["1"]["clip_windows"] == 13
    assert sub["memory"]["peak_rss_mb"] > sub["memory"]["baseline_rss_mb"] > 10
    assert results["machine"]["onnxruntime"] and results["machine"]["cpu_model"]
    md = (tmp_path / "out" / "results.md").read_text()
    assert "student int8 .onnx (SDK)" in md and "max_int8_file_bytes[.onnx]" in md
    assert (tmp_path / "out" / "results.png").stat().st_size > 10_000


def test_quick_check_fails_on_a_bloated_model_naming_the_size_budget(tmp_path: Path, capsys) -> None:
    run = tmp_path / "bloated"
    build_toy_pair(run, bloat_bytes=450_000, ort=False)
    code, printed, _ = _check(run, tmp_path / "out", capsys, "--no-yamnet", "--no-memory")
    assert code == 1
    assert printed["broken"] == ["max_int8_file_bytes[.onnx]"]
    assert capsys.readouterr().out == ""  # everything was printed once, as JSON


@pytest.mark.shared_data
def test_yamnet_subject_is_paired_with_the_student(toy_run: Path, tmp_path: Path, capsys) -> None:
    if why := _has_yamnet():
        pytest.skip(why)
    code, printed, results = _check(toy_run, tmp_path / "out", capsys, "--no-memory")
    yam = results["subjects"]["yamnet_tflite"]
    assert yam["threads"]["1"]["clip_windows"] == 13 and yam["graph"]["window"]["macs"] > 90e6
    ratio = results["subjects"]["int8_onnx_sdk"]["threads"]["1"]["vs_yamnet"]["clip"]
    assert ratio["n"] == 3 and ratio["median"] > 0
    speed = next(b for b in printed["budgets"] if b["name"] == "min_speedup_vs_yamnet")
    assert speed["status"] in ("ok", "broken") and speed["value"] == pytest.approx(ratio["median"])


# ------------------------------------------------------------------------------ the teacher in torch

LATEST_TEACHER = REPO / "runs" / "latest" / "teacher.pt"


def _torch_teacher_missing() -> str | None:
    """Why the torch teacher cannot run here, or None."""
    if not LATEST_TEACHER.is_file():
        return f"{LATEST_TEACHER} absent (run the pipeline's teacher stage first)"
    if not YAMNET_TFLITE.is_file():
        return f"{YAMNET_TFLITE} absent (../shared not mounted): the teacher's backbone weights"
    try:
        import ai_edge_litert.interpreter  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} not installed"
    return None


def _teacher(run: Path, tmp_path: Path):
    subjects = discover(run, tmp_path / "toy")
    teachers = [s for s in subjects if s.role == "teacher"]
    assert len(teachers) == 1  # one teacher row, whichever form it was found in
    assert subjects[-1].role == "yamnet"  # still last
    return teachers[0]


def test_teacher_pt_without_onnx_is_a_torch_subject(tmp_path: Path) -> None:
    run = tmp_path / "run"
    build_toy_pair(run, ort=False)
    (run / "teacher.pt").write_bytes(b"")  # discovery only looks at file names
    t = _teacher(run, tmp_path)
    assert (t.key, t.label, t.engine, t.path, t.graph_path) == ("teacher_torch", "teacher (torch)", "torch", run / "teacher.pt", None)
    if not YAMNET_TFLITE.is_file():  # measurable only with its backbone weights, and the skip says so
        assert t.skip and "yamnet.tflite" in t.skip
    elif _has_yamnet() is None:
        assert t.skip is None


def test_no_teacher_is_skipped_with_the_reason(tmp_path: Path) -> None:
    run = tmp_path / "run"
    build_toy_pair(run, ort=False)
    t = _teacher(run, tmp_path)
    assert t.key == "teacher_torch" and t.path is None
    assert "teacher.pt" in t.skip and "teacher.onnx" in t.skip and str(run) in t.skip


def test_teacher_onnx_is_preferred_over_torch(tmp_path: Path) -> None:
    run = tmp_path / "run"
    build_toy_pair(run, ort=False)
    (run / "teacher.pt").write_bytes(b"")
    (run / "teacher.onnx").write_bytes(b"")
    t = _teacher(run, tmp_path)
    assert (t.key, t.engine, t.path, t.skip) == ("teacher_onnx_ort", "ort", run / "teacher.onnx", None)


@pytest.mark.shared_data
def test_torch_teacher_runner_scores_a_window_and_a_clip() -> None:
    if why := _torch_teacher_missing():
        pytest.skip(why)
    from benchmarks.clips import CLIP_S, RATE, BenchAudio, synthetic
    from benchmarks.runners import TorchTeacherRunner

    clip = synthetic(CLIP_S)
    runner = TorchTeacherRunner(LATEST_TEACHER, 1, BenchAudio(clip[:RATE].copy(), clip, "synthetic"))
    window, whole = runner.window(), runner.clip()
    for out in (window, whole):
        assert isinstance(out.cry_probability, float) and 0.0 <= out.cry_probability <= 1.0
        assert len(out.cause_probabilities) == len(runner.teacher.labels)
    # the teacher's own patching: 0.96 s patches every 0.96 s, the tail padded (1 s -> 2, 7 s -> 8)
    assert (window.windows, whole.windows) == (2, 8)
    assert runner.clip().cry_probability == whole.cry_probability  # deterministic (eval mode)
    counts = runner.teacher.parameter_counts()
    assert 3.0e6 < counts["parameters"] < 4.5e6 and counts["parameter_bytes"] == 4 * counts["parameters"]


@pytest.mark.shared_data
@pytest.mark.slow
def test_torch_teacher_end_to_end_reports_none_for_graph_figures(tmp_path: Path, capsys) -> None:
    if why := _torch_teacher_missing():
        pytest.skip(why)
    run = tmp_path / "run"
    build_toy_pair(run, ort=False)
    shutil.copy(LATEST_TEACHER, run / "teacher.pt")
    out = tmp_path / "out"
    code = bench_main(["--run-dir", str(run), "--quick", "--repeats", "2", "--warmup", "1", "--only", "teacher_torch",
                       "--no-yamnet", "--no-memory", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    t = results["subjects"]["teacher_torch"]
    assert "error" not in t and not t.get("skip"), t
    assert t["threads"]["1"]["clip"]["n"] == 2 and t["threads"]["1"]["clip_windows"] == 8
    assert t["graph"]["macs_per_audio_second"] is None and "torch" in t["graph"]["skip"]["macs"]
    assert t["graph"]["window"]["parameters"] > 3e6
    assert t["file_bytes"] == (run / "teacher.pt").stat().st_size + YAMNET_TFLITE.stat().st_size
    md = (out / "results.md").read_text()
    assert "| teacher (torch) |" in md and "MACs and peak activations not counted: the teacher runs in torch" in md


# ------------------------------------------------------------------------------ emulated ARM


def test_arm_parity_flags_a_difference_above_tolerance() -> None:
    from benchmarks.arm import parity

    def side(cry: float) -> dict:
        pred = {"cry_probability": cry, "cause_probabilities": [0.5, 0.5]}
        return {"models": {"int8_onnx": {"predictions": {"/a.flac": pred},
                                         "window_outputs": {"cry_probability": [cry], "cause_probabilities": [[0.5, 0.5]]}}}}

    assert parity(side(0.5), side(0.5004), 1e-3)["int8_onnx"]["within_tolerance"]
    bad = parity(side(0.5), side(0.51), 1e-3)["int8_onnx"]
    assert not bad["within_tolerance"] and bad["max_abs_diff"] == pytest.approx(0.01)


def test_arm_without_a_root_skips_with_the_reason(tmp_path: Path, capsys) -> None:
    from benchmarks.arm import main as arm_main

    missing = tmp_path / "no-root"
    assert arm_main(["--root", str(missing)]) == 0
    err = capsys.readouterr().err
    assert "SKIPPED" in err and "build_root.sh" in err
    assert arm_main(["--root", str(missing), "--require"]) == 2


@pytest.mark.slow
def test_arm_emulated_int8_matches_x86(tmp_path: Path, capsys) -> None:
    """The SDK under qemu-aarch64 (onnxruntime 1.26.0 aarch64 wheel) gives x86's probabilities for an
    int8 QDQ CNN (QLinearConv kernels: MLAS NEON vs AVX2), its .ort twin and its fp32 original."""
    from benchmarks.arm import arm_root, main as arm_main, why_unavailable
    from benchmarks.toys import build_cnn_run

    if why := why_unavailable(arm_root()):
        pytest.skip(f"emulated ARM check not run here: {why}")
    run = build_cnn_run(tmp_path / "run")
    code = arm_main(["--run-dir", str(run), "--quick", "--repeats", "1", "--clips", "2",
                     "--no-usability", "--out", str(tmp_path / "out")])
    assert code == 0
    res = json.loads((tmp_path / "out" / "results_arm.json").read_text())
    assert res["arm"]["machine"] == "aarch64" and res["arm"]["onnxruntime"] == "1.26.0"
    assert set(res["parity"]) == {"int8_onnx", "int8_ort", "fp32_onnx"}
    assert all(p["max_abs_diff"] <= 1e-3 for p in res["parity"].values())
    assert res["fp32_over_int8"]["arm_emulated"] > 0
    assert "EMULATED" in (tmp_path / "out" / "results_arm.md").read_text()


# ------------------------------------------------------------------------------ speed gate per CPU class

_XEON_FLAGS = "flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_vnni amx_tile amx_int8\n"
_EPYC_ROME_FLAGS = "flags\t\t: fpu sse2 avx avx2 fma\n"


def test_cpu_class_from_isa_flags() -> None:
    from benchmarks.machine import cpu_class, isa_flags

    assert cpu_class("x86_64", isa_flags(_XEON_FLAGS)) == "x86-avx512-vnni-amx"
    assert cpu_class("x86_64", isa_flags(_XEON_FLAGS.replace(" amx_tile amx_int8", ""))) == "x86-avx512-vnni"
    assert cpu_class("x86_64", isa_flags(_EPYC_ROME_FLAGS)) == "x86-avx2"
    assert cpu_class("x86_64", []) == "x86-other"
    assert cpu_class("aarch64", isa_flags("Features\t: fp asimd asimddp\n")) == "arm64"
    assert isa_flags("Features\t: fp asimd asimddp\n") == ["asimd", "asimddp"]


def _with_class(results: dict, cpu_class: str) -> dict:
    results["machine"] = {"cpu_class": cpu_class}
    return results


def test_speed_floor_is_per_class_and_target_is_reported_not_failed(tmp_path: Path) -> None:
    budgets = B.load_budgets()
    speed = budgets["speed"]
    measured = speed["measured_speedup_vs_yamnet"]
    keep = 1 - speed["floor_noise_margin"]
    for cls, figure in measured.items():
        # just above the class floor but below the target: passes CI, target reported as missed
        value = figure * keep + 0.01
        res = {r.name: r for r in B.evaluate(_with_class(_fake_results(_card(tmp_path, 0.93, 0.4), speedup=value), cls), budgets)}
        assert res["min_speedup_vs_yamnet"].status == "ok", res["min_speedup_vs_yamnet"].message
        assert res["target_speedup_vs_yamnet"].status == ("ok" if value >= speed["target_speedup_vs_yamnet"] else "missed")
        assert cls in res["min_speedup_vs_yamnet"].message
        # just below: a regression on that class fails
        res = {r.name: r for r in B.evaluate(_with_class(_fake_results(None, speedup=figure * keep - 0.01), cls), budgets)}
        assert B.broken(list(res.values())) == ["min_speedup_vs_yamnet"]


def test_unmeasured_cpu_class_gets_the_lowest_floor_and_says_so(tmp_path: Path) -> None:
    budgets = B.load_budgets()
    lowest = min(budgets["speed"]["measured_speedup_vs_yamnet"].values()) * (1 - budgets["speed"]["floor_noise_margin"])
    floor, basis = B.speed_floor(budgets["speed"], "riscv64")
    assert floor == pytest.approx(lowest) and "never measured" in basis
    res = {r.name: r for r in B.evaluate(_with_class(_fake_results(None, speedup=lowest + 0.01), "riscv64"), budgets)}
    assert res["min_speedup_vs_yamnet"].status == "ok" and "never measured" in res["min_speedup_vs_yamnet"].message


def test_committed_tables_name_no_machine_path() -> None:
    from benchmarks.report import portable_paths

    here = f"{REPO}/infantcry_sdk/models/student_int8.onnx under {Path.home()}/.cache/infantcry"
    assert portable_paths(here) == "./infantcry_sdk/models/student_int8.onnx under ~/.cache/infantcry"
    for table in (REPO / "benchmarks" / "results").glob("*.md"):
        text = table.read_text()
        assert str(REPO) not in text and str(Path.home()) + "/" not in text, table


def test_the_arm_results_exit_1_when_any_output_is_out_of_tolerance(tmp_path: Path, monkeypatch, capsys) -> None:
    """benchmarks.arm writes its JSON and markdown either way; the exit status and the printed summary
    say whether ARM and x86 agree (the markdown itself is tested with a real run under QEMU)."""
    import benchmarks.arm as arm

    monkeypatch.setattr(arm, "markdown", lambda res: "# table\n")

    def res(diff: float) -> dict:
        return {"parity": {"int8_onnx": {"max_abs_diff": diff, "within_tolerance": diff <= 1e-3}}}

    assert arm._write_results(res(1e-4), tmp_path / "ok") == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert arm._write_results(res(1e-2), tmp_path / "bad") == 1
    assert json.loads(capsys.readouterr().out)["parity"]["int8_onnx"]["within_tolerance"] is False
    assert json.loads((tmp_path / "bad" / "results_arm.json").read_text()) == res(1e-2)
    assert (tmp_path / "bad" / "results_arm.md").read_text() == "# table\n"


def test_the_arm_timing_table_and_the_fp32_ratio_come_from_both_runs():
    """benchmarks.arm: emulated and x86 p50s side by side, the slowdown between them, and fp32 over
    int8 only where an fp32 file was timed (the QEMU run itself is not needed for this)."""
    from benchmarks.arm import EMULATED, emulated_timing, fp32_over_int8

    def run(scale):
        return {"window": {"p50_ms": 1 * scale}, "clip": {"p50_ms": 10 * scale, "p95_ms": 12 * scale}, "load_ms": 5}

    arm = {"models": {"int8_onnx": run(10), "fp32_onnx": run(20)}}
    x86 = {"models": {"int8_onnx": run(1), "fp32_onnx": run(1.5)}}
    timing = emulated_timing({"int8_onnx": "a", "fp32_onnx": "b"}, x86, arm)
    assert timing["int8_onnx"]["emulation_slowdown"] == 10
    assert timing["fp32_onnx"]["arm_clip_p95_ms"] == 240 and timing["fp32_onnx"]["label"] == EMULATED
    assert fp32_over_int8(timing) == {"arm_emulated": 2.0, "x86": 1.5, "label": EMULATED}
    assert fp32_over_int8(emulated_timing({"int8_onnx": "a"}, x86, arm)) is None
