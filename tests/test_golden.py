"""export.golden: the Android parity vectors (generator, committed files, model asset copy).

The committed vectors under android_demo/core/src/test/resources/golden are checked against the
current Python rules here, so a change to infantcry_sdk/events.py or stream.py that would make the
Java port drift fails in pytest too, until the vectors are regenerated (``python -m export.golden``)
and the JVM tests (tests/test_android_core.py) pass on them.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from export import golden
from infantcry_sdk import CryClassifier, ModelError
from infantcry_sdk.events import EventRules

SHARED = Path(__file__).resolve().parents[2] / "shared"
HAS_SHARED = (SHARED / "data/donateacry/manifest.csv").is_file() and (SHARED / "data/esc50/esc50.csv").is_file()
needs_shared = pytest.mark.skipif(not HAS_SHARED, reason=f"real data not found at {SHARED} (../shared)")

COMMITTED = sorted(p for p in golden.DEFAULT_OUT.glob("*.json") if p.name not in golden.REFERENCE_FILES)
CASE_KEYS = {
    "format", "name", "description", "kind", "model", "metadata", "labels", "rules", "smoothing_windows", "sample_rate",
    "window_samples", "hop_samples", "min_samples", "num_samples", "sources", "windows", "events",
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _rules(case: dict) -> EventRules:
    return EventRules(**case["rules"])


def _check_case(case: dict) -> None:
    """Structural validity of one golden case (what the Java reader relies on)."""
    assert set(case) == CASE_KEYS
    assert case["format"] == golden.FORMAT and case["kind"] in ("stream", "synthetic")
    n_labels = len(case["labels"])
    window, hop, total = case["window_samples"], case["hop_samples"], case["num_samples"]
    assert 1 <= case["min_samples"] <= window and hop >= 1
    for k, w in enumerate(case["windows"]):
        assert isinstance(w["start_sample"], int) and isinstance(w["end_sample"], int)
        regular = w["start_sample"] == k * hop and w["end_sample"] == w["start_sample"] + window <= total
        # the grid's last window may be partial: on the hop grid, ending with the stream
        tail = k == len(case["windows"]) - 1 and w["start_sample"] == k * hop and w["end_sample"] == total
        assert regular or tail, (case["name"], k, w["start_sample"], w["end_sample"])
        assert 0.0 <= w["cry_probability"] <= 1.0
        assert len(w["cause_probabilities"]) == n_labels
    kinds = [e["kind"] for e in case["events"]]
    assert kinds == ["start", "end"] * (len(kinds) // 2)  # alternating, every start closed
    for e in case["events"]:
        assert 0 <= e["window_index"] <= len(case["windows"])
        assert 0 <= e["sample"] <= total
        assert e["time_s"] == e["sample"] / case["sample_rate"]
        assert list(e["cause_probabilities"]) == case["labels"]
        assert e["cause"] is None or e["cause"] in case["labels"]


# ----------------------------------------------------------------------------- committed vectors
def test_committed_vectors_exist() -> None:
    kinds = [_load(p)["kind"] for p in COMMITTED]
    assert kinds.count("stream") >= 3, "real-clip vectors missing: run python -m export.golden"
    assert kinds.count("synthetic") >= 5
    for name in golden.REFERENCE_FILES:
        assert (golden.DEFAULT_OUT / name).is_file()


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.stem)
def test_committed_vectors_are_valid_and_match_event_detector(path: Path) -> None:
    case = _load(path)
    _check_case(case)
    assert case["name"] == path.stem
    # The recorded events are what the current Python rules give on the recorded scores.
    assert golden.replay(_rules(case), case["labels"], case["sample_rate"], case["windows"],
                         case["smoothing_windows"]) == case["events"]


def test_committed_stream_vectors_use_the_stream_rules_of_their_metadata() -> None:
    from infantcry_sdk.model import parse_metadata
    from infantcry_sdk.stream import StreamOptions

    for path in COMMITTED:
        case = _load(path)
        if case["kind"] != "stream":
            continue
        meta = parse_metadata(case["metadata"])
        assert case["rules"] == golden._rules_dict(StreamOptions().rules(meta))
        assert (case["window_samples"], case["hop_samples"], case["min_samples"]) == (
            meta.window_samples, meta.hop_samples, meta.min_samples)
        assert case["labels"] == list(meta.labels) and case["sample_rate"] == meta.sample_rate


def test_committed_real_vectors_cover_the_stream_paths() -> None:
    cases = {p.stem: _load(p) for p in COMMITTED}
    until_end = cases["cry_until_end"]
    last = until_end["windows"][-1]
    assert last["end_sample"] - last["start_sample"] < until_end["window_samples"]  # flush's partial window
    short = cases["short_cry"]
    assert short["num_samples"] < short["window_samples"]
    assert [(w["start_sample"], w["end_sample"]) for w in short["windows"]] == [(0, short["num_samples"])]


def test_committed_synthetic_and_contract_files_match_the_generator() -> None:
    for case in golden.synthetic_cases():
        assert _load(golden.DEFAULT_OUT / f"{case['name']}.json") == json.loads(golden.dumps(case))
    assert _load(golden.DEFAULT_OUT / "contract.json") == json.loads(golden.dumps(golden.contract_case()))
    assert _load(golden.DEFAULT_OUT / "integrity.json") == json.loads(golden.dumps(golden.integrity_case()))
    assert _load(golden.DEFAULT_OUT / "metadata_rules.json") == json.loads(golden.dumps(golden.metadata_rules_case()))


def test_metadata_rules_follow_the_contract_defaults_and_refuse_bad_values() -> None:
    cases = {c["name"]: c["expected"] for c in golden.metadata_rules_case()["cases"]}
    plain = cases["no_optional_keys"]
    assert (plain["min_on_windows"], plain["min_off_windows"], plain["smoothing_windows"]) == (1, 2, 1)
    assert plain["off_threshold"] == 0.6 * plain["on_threshold"] and plain["cause_status"] == "unsupported"
    assert cases["calibrated_supported"]["cause_status"] == "supported"
    assert all(cases[n] is None for n in ("bad_cause_status", "off_above_on", "on_above_one", "zero_smoothing"))


# ----------------------------------------------------------------------------- synthetic cases
def test_synthetic_cases_hit_their_edge_cases() -> None:
    cases = {c["name"]: c for c in golden.synthetic_cases()}
    for c in cases.values():
        _check_case(c)
    assert cases["syn_flicker"]["events"] == []
    mw = cases["syn_min_windows"]["events"]
    assert mw[0]["sample"] == 8000 and mw[0]["cry_probability"] == 0.5  # on == threshold counts
    assert mw[1]["window_index"] == 6  # 0.29999 is off, 0.3 is not (off is strict) and resets the count
    fa = cases["syn_finish_active"]
    assert fa["events"][-1]["kind"] == "end" and fa["events"][-1]["window_index"] == len(fa["windows"])
    ties = cases["syn_cause_ties"]["events"]
    assert ties[0]["cause"] == "hungry" and ties[2]["cause"] is None
    assert len(cases["syn_single_window_rules"]["events"]) == 6
    assert len(cases["syn_random_long"]["events"]) >= 4


def test_dumps_round_trips_floats_exactly() -> None:
    case = golden.synthetic_cases()[-1]
    back = json.loads(golden.dumps(case))
    assert back == case
    with pytest.raises(ValueError):
        golden.dumps({"x": float("nan")})


# ----------------------------------------------------------------------------- stream recording
def test_stream_case_records_every_window_and_checks_its_events(toy_classifier, synth_cry) -> None:
    m = toy_classifier.metadata
    x = synth_cry(m.sample_rate, 7.3, bursts=((0.5, 2.0), (4.5, None)), level=0.3)
    case = golden.stream_case(toy_classifier, x, "t", "synthetic cry bursts", [])
    _check_case(case)
    kinds = [e["kind"] for e in case["events"]]
    assert kinds == ["start", "end", "start", "end"]
    assert case["events"][-1]["window_index"] == len(case["windows"])  # closed by flush
    assert case["windows"][-1]["end_sample"] == x.shape[0]  # flush scored the unaligned tail
    # The same clip pushed in one piece gives the same events. Probabilities agree only to float32
    # rounding: one push scores up to 16 windows per onnxruntime run, and a batched run may round
    # differently from the one-window runs that stream_case (like the Android app) makes.
    stream = toy_classifier.stream(sample_rate=m.sample_rate)
    events = stream.push(x) + stream.flush()
    assert [(e.kind, e.sample) for e in events] == [(e["kind"], e["sample"]) for e in case["events"]]
    assert all(e.cause is None for e in events)  # the toy model's cause head is unsupported: no cause
    for got, want in zip(events, case["events"]):
        assert got.cry_probability == pytest.approx(want["cry_probability"], abs=1e-6)
        assert list(got.cause_probabilities.values()) == pytest.approx(
            list(want["cause_probabilities"].values()), abs=1e-6)


def test_stream_case_refuses_a_stream_that_disagrees_with_its_rules(toy_classifier, synth_cry, monkeypatch) -> None:
    x = synth_cry(16000, 4.0, bursts=((1.0, None),))
    real = golden.replay
    monkeypatch.setattr(golden, "replay", lambda *a: real(*a)[:-1])  # the replay "loses" an event
    with pytest.raises(golden.GoldenError, match="differ"):
        golden.stream_case(toy_classifier, x, "t", "", [])


def test_main_synthetic_only_replaces_old_files(tmp_path: Path, capsys) -> None:
    (tmp_path / "stale.json").write_text("{}")
    assert golden.main(["--out", str(tmp_path), "--synthetic-only"]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert "stale.json" not in names and set(golden.REFERENCE_FILES) <= set(names)
    assert len(names) == len(golden.synthetic_cases()) + len(golden.REFERENCE_FILES)
    assert "syn_flicker.json: 11 windows, 0 events" in capsys.readouterr().out


@needs_shared
def test_write_golden_on_real_clips_with_a_toy_model(tmp_path: Path, toy_model_path: Path) -> None:
    paths = golden.write_golden(tmp_path, model=toy_model_path, data_root=SHARED)
    cases = {p.stem: _load(p) for p in paths if p.name not in golden.REFERENCE_FILES}
    for name in golden.CLIPS:
        _check_case(cases[name])
        assert cases[name]["model"]["model_version"] == "toy-1"
    # Loud cries between quiet background: the energy toy model finds both.
    assert [e["kind"] for e in cases["cries_with_background"]["events"]] == ["start", "end"] * 2
    assert cases["cry_until_end"]["events"][-1]["window_index"] == len(cases["cry_until_end"]["windows"])


def test_missing_clip_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(golden.GoldenError, match="missing"):
        golden.build_clip([golden.Segment("esc50", "audio/nope.ogg")], tmp_path, 16000)
    silence = golden.build_clip([golden.Segment("silence", seconds=0.5)], tmp_path, 16000)
    assert silence.shape == (8000,) and not silence.any()


# ----------------------------------------------------------------------------- model asset
def test_copy_model_asset_validates_and_replaces(tmp_path: Path, toy_model_path: Path) -> None:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "student_int8.ort").write_bytes(b"stale")
    dest = golden.copy_model_asset(toy_model_path, assets)
    assert dest == assets / "student_int8.onnx"
    assert dest.read_bytes() == toy_model_path.read_bytes()
    assert sorted(p.name for p in assets.iterdir()) == ["student_int8.onnx"]
    CryClassifier.load(dest)


def test_copy_model_asset_refuses_a_tampered_model(tmp_path: Path, toy_model_path: Path) -> None:
    from export.modelfile.metadata import rewrite_metadata
    from infantcry_sdk import contract

    sealed = CryClassifier.load(toy_model_path).metadata.file_sha256
    bad = rewrite_metadata(  # a changed value under the old seal: what a hand edit looks like
        toy_model_path, tmp_path / "bad.onnx",
        {contract.KEY_MODEL_VERSION: "edited", contract.KEY_FILE_SHA256: sealed}, seal=False,
    )
    with pytest.raises(ModelError):
        golden.copy_model_asset(bad, tmp_path / "assets")
    assert not (tmp_path / "assets").exists()
    other = tmp_path / "model.tflite"
    shutil.copyfile(toy_model_path, other)
    with pytest.raises(golden.GoldenError, match=".ort or .onnx"):
        golden.copy_model_asset(other, tmp_path / "assets")


def test_resolve_model_falls_back_to_a_toy_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(golden, "default_model_path", lambda: tmp_path / "absent.onnx")
    path = golden.resolve_model(None, tmp_path)
    assert path.is_file() and CryClassifier.load(path).metadata.model_version == "toy-1"
    assert golden.resolve_model("given.onnx", tmp_path) == Path("given.onnx")
    assert path.parent == tmp_path
