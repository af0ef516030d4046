"""export.data: catalog, grouped splits, waveform store (synthetic catalog, plus the real ../shared
manifests where present)."""
from __future__ import annotations

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from export.data import catalog as D
from export.data import paths as P
from export.data import splits as S
from export.data import waveforms as W

SHARED = Path(__file__).resolve().parents[2] / "shared"
HAS_SHARED = (SHARED / P.DONATEACRY_MANIFEST).is_file() and (SHARED / P.ESC50_MANIFEST).is_file()
needs_shared = pytest.mark.skipif(not HAS_SHARED, reason=f"real data not found at {SHARED} (../shared)")


# ------------------------------------------------------------------------------ synthetic catalog
def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def make_fake_root(tmp: Path, with_audio: bool = True, seed: int = 0) -> Path:
    """A small ../shared look-alike: 40 installs (5 causes, uncurated clips, one duplicate),
    10 ESC-50 classes incl. crying_baby, 12 speakers in 2 corpora."""
    rng = np.random.default_rng(seed)
    root = tmp / "shared"
    dac_rows, esc_rows, sp_rows = [], [], []
    causes = ["hungry"] * 60 + ["discomfort"] * 6 + ["tired"] * 5 + ["belly_pain"] * 4 + ["burping"] * 3
    rng.shuffle(causes)
    n = 0
    for app in range(40):
        for _ in range(int(rng.integers(1, 5))):
            label = causes.pop() if causes and rng.random() < 0.7 else ""
            f = f"audio/app{app:02d}-{n:03d}.flac"
            dac_rows.append([f, f"app{app:02d}", "android", "", "1.7", "f", "2-6m", label or "dont_know", label,
                             8000, 1.0, "x", ""])
            n += 1
    dac_rows.append(["audio/dup.flac", "app00", "android", "", "1.7", "f", "2-6m", "hungry", "hungry", 8000, 1.0,
                     "x", dac_rows[0][0]])
    cats = ["crying_baby", "dog", "rain", "vacuum_cleaner", "laughing", "clock_tick", "siren", "wind", "cow", "door"]
    for ci, cat in enumerate(cats):
        for k in range(8):
            src = f"{ci}{k // 2:03d}"  # two takes per source recording
            esc_rows.append([f"audio/1-{src}-{'AB'[k % 2]}-{ci}.ogg", 1, ci, cat, False, src, "AB"[k % 2]])
    for s in range(12):
        corpus = "fsdd" if s < 4 else "librispeech"
        for k in range(3):
            sp_rows.append([f"audio/{corpus}/spk{s}/{k}.ogg", corpus, f"spk{s}", 0.5, "r", "c", "CC BY 4.0"])
    _write_csv(root / P.DONATEACRY_MANIFEST, ["file", "app_id", "platform", "recorded_at", "app_version", "gender",
                                              "age_band", "tag", "label", "sample_rate", "duration_s", "sha256",
                                              "duplicate_of"], dac_rows)
    _write_csv(root / P.ESC50_MANIFEST, ["file", "fold", "target", "category", "esc10", "src_file", "take"], esc_rows)
    _write_csv(root / P.SPEECH_MANIFEST, ["file", "corpus", "speaker", "duration_s", "source_repo",
                                          "source_commit", "licence"], sp_rows)
    for sub in (P.DONATEACRY_MANIFEST.parent, P.ESC50_MANIFEST.parent):
        (root / sub / "audio").mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return make_fake_root(tmp_path)


def test_missing_root_names_every_missing_path(tmp_path: Path) -> None:
    with pytest.raises(P.DataError) as err:
        P.resolve_data_root(str(tmp_path / "nowhere"))
    msg = str(err.value)
    for p in (P.DONATEACRY_MANIFEST, P.ESC50_MANIFEST):
        assert str(p) in msg
    assert "--data-root" in msg and P.ENV_VAR in msg
    assert issubclass(P.DataError, RuntimeError)


def test_partial_root_names_only_what_is_missing(tmp_path: Path) -> None:
    root = make_fake_root(tmp_path)
    (root / P.ESC50_MANIFEST).unlink()
    with pytest.raises(P.DataError) as err:
        P.resolve_data_root(root)
    assert str(P.ESC50_MANIFEST) in str(err.value)
    assert str(P.DONATEACRY_MANIFEST) not in str(err.value)


def test_root_precedence(fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = make_fake_root(tmp_path / "other")
    monkeypatch.setenv(P.ENV_VAR, str(other))
    assert P.resolve_data_root(None) == other.resolve()
    assert P.resolve_data_root(str(fake_root)) == fake_root.resolve()


def test_fake_catalog(fake_root: Path) -> None:
    info = D.CatalogInfo()
    clips = D.load_catalog(fake_root, info=info)
    assert info.n_duplicates_skipped == 1 and info.speech_present
    dac = [c for c in clips if c.source == "donateacry"]
    assert all(c.is_cry is (True if c.cause else None) for c in dac)
    assert all(c.category == D.CRY_CATEGORY and c.tag for c in dac)
    esc = [c for c in clips if c.source == "esc50"]
    assert sum(c.is_cry for c in esc) == 8 and all(c.group.startswith("esc50:") for c in esc)
    sp = [c for c in clips if c.source == "speech"]
    assert len(sp) == 36 and all(c.is_cry is False and c.group.startswith("speech:") for c in sp)
    assert len(D.load_catalog(fake_root, D.DataConfig(sources=("donateacry", "esc50")))) == len(clips) - 36
    assert clips[0].clip_id.startswith("donateacry/") and "audio/" not in clips[0].clip_id


def _check_grouped(clips: list[D.Clip], s: S.Splits) -> None:
    s.check_disjoint()
    group = {c.clip_id: c.group for c in clips}
    assert {group[i] for i in s.test}.isdisjoint({group[i] for i in s.dev})
    assert {group[i] for i in s.train}.isdisjoint({group[i] for i in s.val})
    for tr, va in s.folds:
        assert {group[i] for i in tr}.isdisjoint({group[i] for i in va})
    assert sorted(s.test + s.dev) == sorted(c.clip_id for c in clips)


def test_synthetic_splits_grouped_stratified_reproducible(fake_root: Path, tmp_path: Path) -> None:
    clips = D.load_catalog(fake_root)
    cfg = D.DataConfig(n_folds=3)
    s = S.make_splits(clips, cfg, seed=3)
    _check_grouped(clips, s)
    assert len(s.folds) == 3
    # every ESC class with >= 2 source recordings reaches both sides
    by = {c.clip_id: c for c in clips}
    test_cats = {by[i].category for i in s.test if by[i].source == "esc50"}
    assert test_cats == {c.category for c in clips if c.source == "esc50"}
    # same seed, same split; another seed, another split
    again = S.make_splits(clips, cfg, seed=3)
    assert again.to_dict() == s.to_dict()
    assert S.make_splits(clips, cfg, seed=4).test != s.test
    # save / load round trip
    p = s.save(tmp_path / "run" / "splits.json")
    assert S.Splits.load(p).to_dict() == s.to_dict()


def test_split_ignores_catalog_order(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    shuffled = list(clips)
    np.random.default_rng(0).shuffle(shuffled)
    assert S.make_splits(shuffled).to_dict() == S.make_splits(clips).to_dict()


def test_describe(fake_root: Path) -> None:
    info = D.CatalogInfo()
    clips = D.load_catalog(fake_root, info=info)
    cfg = D.DataConfig()
    d = S.describe(clips, S.make_splits(clips, cfg), cfg, info)
    assert "excluded" in d["description"] and d["duplicates_skipped"] == 1
    assert d["splits"]["test"]["clips"] > 0 and d["catalog"]["esc50"]["crying_baby"] == 8


def test_disjointness_violation_is_caught(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    s = S.make_splits(clips)
    leaked = s.dev[0]
    bad = S.Splits(test=s.test + [leaked], dev=s.dev, val=s.val, train=s.train, folds=s.folds, groups=s.groups)
    with pytest.raises(P.DataError):
        bad.check_disjoint()
    # a group split across test/dev (different clips of one group) is caught too
    g = s.groups[s.test[0]]
    sibling = next((i for i in s.test if s.groups[i] == g and i != s.test[0]), None)
    if sibling is not None:
        bad = S.Splits(test=[i for i in s.test if i != sibling], dev=s.dev + [sibling], val=s.val,
                       train=s.train + [sibling], folds=s.folds, groups=s.groups)
        with pytest.raises(P.DataError):
            bad.check_disjoint()


def test_bad_split_file(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text("{not json")
    with pytest.raises(P.DataError, match="split file"):
        S.Splits.load(p)


def test_config_validation() -> None:
    with pytest.raises(P.DataError):
        D.DataConfig(test_fraction=1.5)
    with pytest.raises(P.DataError):
        D.DataConfig(use_uncurated="weak")
    with pytest.raises(P.DataError):
        D.DataConfig(cause_labels=("a",))
    assert D.DataConfig(cause_labels=["a", "b"]).cause_labels == ("a", "b")


def test_background_clips(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    bg = D.background_clips(clips, [c.clip_id for c in clips])
    assert bg and all(c.source == "esc50" and not c.is_cry for c in bg)
    assert D.background_clips(clips, []) == []


def test_waveform_store_decodes_and_caches(tmp_path: Path) -> None:
    rate = 8000
    path = tmp_path / "a.flac"
    t = np.arange(rate) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    clip = D.Clip("donateacry/a.flac", path, "donateacry", "g", True, "hungry", "hungry", "infant_cry", 1.0)
    store = W.WaveformStore(cache_dir=tmp_path / "cache")
    w = store.get(clip)
    assert w.dtype == np.float32 and w.shape == (16000,)
    assert store.get(clip) is w
    files = list((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 1
    again = W.WaveformStore(cache_dir=tmp_path / "cache").get(clip)  # from the disk cache
    np.testing.assert_array_equal(again, w)
    assert W.WaveformStore().load_many([clip], workers=2)[clip.clip_id].shape == (16000,)
    # a changed file gets a new cache entry
    sf.write(path, np.zeros(rate // 2, np.float32), rate, subtype="PCM_16")
    os.utime(path, ns=(1, 1))
    assert W.WaveformStore(cache_dir=tmp_path / "cache").get(clip).shape == (8000,)
    with pytest.raises(P.DataError, match="missing"):
        W.WaveformStore().get(D.Clip("x/y", tmp_path / "nope.flac", "esc50", "g", False, None, None, "dog", 5.0))


def test_waveform_cache_is_keyed_by_the_sdk_resampling_recipe(tmp_path: Path, monkeypatch) -> None:
    """Another resampling recipe gives other samples: the cache must not hand back the old ones."""
    from infantcry_sdk import audio as sdk_audio

    path = tmp_path / "a.flac"
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32), 8000, subtype="PCM_16")
    clip = D.Clip("donateacry/a.flac", path, "donateacry", "g", True, "hungry", "hungry", "infant_cry", 1.0)
    first = W.WaveformStore(cache_dir=tmp_path / "cache").get(clip)
    monkeypatch.setattr(sdk_audio, "RESAMPLE_QUALITY", "HQ")
    second = W.WaveformStore(cache_dir=tmp_path / "cache").get(clip)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2
    assert not np.array_equal(first, second)


# ----------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_clips() -> list[D.Clip]:
    if not HAS_SHARED:
        pytest.skip(f"real data not found at {SHARED} (../shared)")
    return D.load_catalog(P.resolve_data_root(str(SHARED)))


@needs_shared
def test_real_catalog_counts(real_clips: list[D.Clip]) -> None:
    rows = list(csv.DictReader(open(SHARED / P.DONATEACRY_MANIFEST)))
    n_dup = sum(bool(r["duplicate_of"]) for r in rows)
    c = Counter(x.source for x in real_clips)
    assert c["donateacry"] == 874 - n_dup
    assert sum(x.cause is not None for x in real_clips) == 372 - sum(bool(r["duplicate_of"] and r["label"]) for r in rows)
    assert c["esc50"] == 1600
    assert sum(x.source == "esc50" and x.is_cry for x in real_clips) == 32
    if (SHARED / P.SPEECH_MANIFEST).is_file():
        assert c["speech"] == 1515
    assert Counter(x.cause for x in real_clips if x.cause)["burping"] == 7


@needs_shared
def test_real_splits_grouped_and_stratified(real_clips: list[D.Clip], tmp_path: Path) -> None:
    s = S.make_splits(real_clips, D.DataConfig(), seed=0)
    _check_grouped(real_clips, s)
    summ = s.summary(real_clips)
    for cause in D.CAUSE_LABELS:  # every curated cause on both sides
        assert summ["test"]["causes"].get(cause, 0) >= 1, cause
        assert summ["train"]["causes"].get(cause, 0) >= 1, cause
    assert 0.15 < len(s.test) / len(real_clips) < 0.3
    assert summ["test"]["cry_positives"] > 0 and summ["val"]["cry_positives"] > 0
    p = s.save(tmp_path / "splits.json")
    loaded = S.Splits.load(p)
    assert loaded.to_dict() == s.to_dict()


# ------------------------------------------------------------------- hard negatives and new sources
needs_urbansound = pytest.mark.skipif(not (SHARED / P.URBANSOUND_MANIFEST).is_file(),
                                      reason=f"UrbanSound8K not found at {SHARED / P.URBANSOUND_MANIFEST}")
needs_speakers = pytest.mark.skipif(not (SHARED / P.SPEECH_SPEAKERS).is_file(),
                                    reason=f"speech speakers.csv not found at {SHARED / P.SPEECH_SPEAKERS}")


@needs_shared
@needs_urbansound
def test_real_urbansound_clips_are_negatives_grouped_by_fsid(real_clips: list[D.Clip]) -> None:
    us = [c for c in real_clips if c.source == "urbansound8k"]
    rows = list(csv.DictReader(open(SHARED / P.URBANSOUND_MANIFEST)))
    assert len(us) == len(rows) and all(c.is_cry is False and c.cause is None for c in us)
    assert {c.group for c in us} == {f"urbansound8k:{r['fsID']}" for r in rows}
    hard = {c.category for c in us if c.hard_negative}
    assert hard == {"children_playing"}
    assert sum(c.hard_negative for c in us) == sum(r["class"] == "children_playing" for r in rows)


@needs_shared
def test_real_esc50_human_sounds_are_hard_negatives(real_clips: list[D.Clip]) -> None:
    esc = [c for c in real_clips if c.source == "esc50"]
    hard = {c.category for c in esc if c.hard_negative}
    assert "laughing" in hard and "crying_baby" not in hard
    assert hard == set(D.ESC50_HARD_NEGATIVES)
    assert not any(c.hard_negative for c in esc if c.category in ("dog", "rain", "vacuum_cleaner"))


@needs_shared
@needs_speakers
def test_real_child_speech_is_a_hard_negative(real_clips: list[D.Clip]) -> None:
    groups = {(r["corpus"], r["speaker"]): r["group"] for r in csv.DictReader(open(SHARED / P.SPEECH_SPEAKERS))}
    sp = [c for c in real_clips if c.source == "speech"]
    young = [c for c in sp if groups.get(tuple(c.group[len("speech:"):].split("/", 1))) in ("child", "teen")]
    assert young and all(c.hard_negative for c in young)
    assert sum(c.hard_negative for c in sp) == len(young)


@needs_shared
def test_real_split_keeps_hard_negatives_on_every_side(real_clips: list[D.Clip]) -> None:
    s = S.make_splits(real_clips, D.DataConfig(), seed=0)
    summ = s.summary(real_clips)
    for side in ("train", "val", "test"):
        assert summ[side]["hard_negatives"] > 0, side
    by = {c.clip_id: c for c in real_clips}
    for side in ("val", "test"):  # the baby-like confusers reach validation and test, not only training
        cats = {by[i].category for i in getattr(s, side) if by[i].hard_negative}
        assert "laughing" in cats, (side, cats)
        if (SHARED / P.URBANSOUND_MANIFEST).is_file():
            assert "children_playing" in cats, (side, cats)


def test_fake_hard_negatives_reach_every_side(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    assert {c.category for c in clips if c.hard_negative} == {"laughing"}
    s = S.make_splits(clips, D.DataConfig(n_folds=2), seed=0)
    summ = s.summary(clips)
    assert summ["test"]["hard_negatives"] > 0 and summ["dev"]["hard_negatives"] > 0


def test_sources_config_is_validated() -> None:
    with pytest.raises(P.DataError, match="sources"):
        D.DataConfig(sources=("esc50",))
    with pytest.raises(P.DataError, match="sources"):
        D.DataConfig(sources=("donateacry", "esc50", "podcasts"))


# ------------------------------------------------------------------------------- noise recordings
@pytest.mark.skipif(not (SHARED / P.NOISE_MANIFEST).is_file(), reason=f"noise recordings not found at {SHARED / P.NOISE_MANIFEST}")
def test_real_noise_recordings_load_as_long_arrays_for_the_augmenter() -> None:
    from export.audio.augment import Augmenter
    from export.data.noise import load_noise

    noise = load_noise(SHARED)
    rows = list(csv.DictReader(open(SHARED / P.NOISE_MANIFEST)))
    assert [n.name for n in noise] == [r["name"] for r in rows]
    for n, r in zip(noise, rows):
        assert n.samples.dtype == np.float32 and abs(n.seconds - float(r["duration_s"])) < 0.1
    aug = Augmenter([n.samples for n in noise], p_noise=1.0, seed=0)
    x = aug(np.zeros(16000, np.float32) + 0.01)
    assert x.shape == (16000,) and np.isfinite(x).all()


def test_noise_loader_without_a_noise_folder(tmp_path: Path) -> None:
    from export.data.noise import load_noise

    assert load_noise(tmp_path) == []


# -------------------------------------------------------------------------------- extra data
def _extra(tmp: Path, rows: list[list], header=("file", "is_cry", "cause", "group", "licence"), audio=True) -> Path:
    folder = tmp / "mydata"
    if audio:
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        for r in rows:
            f = folder / str(r[0])
            if str(r[0]).endswith(".wav") and not f.exists():
                sf.write(f, np.zeros(8000, np.float32), 16000)
    _write_csv(folder / "manifest.csv", list(header), rows)
    return folder


def test_extra_data_joins_the_catalog_and_the_split(fake_root: Path, tmp_path: Path) -> None:
    rows = [[f"audio/c{i}.wav", 1, "hungry" if i % 2 else "", f"home{i // 2}", "CC BY 4.0"] for i in range(8)]
    rows += [[f"audio/n{i}.wav", 0, "", f"home{i // 2}", "own recording"] for i in range(8)]
    folder = _extra(tmp_path, rows)
    info = D.CatalogInfo()
    clips = D.load_catalog(fake_root, D.DataConfig(extra_data=(str(folder),)), info=info)
    extra = [c for c in clips if c.source == "extra"]
    assert len(extra) == 16 and sum(c.is_cry for c in extra) == 8
    assert {c.cause for c in extra if c.is_cry} == {"hungry", None}
    assert all(c.group.startswith("extra:mydata/home") and abs(c.duration_s - 0.5) < 1e-6 for c in extra)
    assert info.extra_licences[str(folder)] == ["CC BY 4.0", "own recording"]
    s = S.make_splits(clips, D.DataConfig(n_folds=2), seed=0)
    s.check_disjoint()  # each home on one side
    d = S.describe(clips, s, D.DataConfig(), info)
    assert "extra" in d["sources"] and "own recording" in d["licences"][f"extra:{folder}"]


@pytest.mark.parametrize("rows, header, message", [
    ([["audio/a.wav", 1, "", "g", "CC0"]], ("file", "is_cry", "cause", "licence"), r"lacks column\(s\) \['group'\]"),
    ([["audio/a.wav", "maybe", "", "g", "CC0"]], None, "is_cry is 'maybe'"),
    ([["audio/a.wav", 1, "colic", "g", "CC0"]], None, "unknown cause 'colic'"),
    ([["audio/a.wav", 0, "hungry", "g", "CC0"]], None, "cause 'hungry' on a clip with is_cry 0"),
    ([["audio/missing.flac", 1, "", "g", "CC0"]], None, "audio file .*missing.flac is missing"),
    ([["audio/a.wav", 1, "", "", "CC0"]], None, "row 2: empty group"),
    ([["audio/a.wav", 1, "", "g", ""]], None, "empty licence"),
])
def test_extra_data_manifest_errors_are_clear(tmp_path: Path, rows, header, message) -> None:
    from export.data.extra import load_extra

    folder = _extra(tmp_path, rows, header=header or ("file", "is_cry", "cause", "group", "licence"))
    with pytest.raises(P.DataError, match=message):
        load_extra(folder, D.CAUSE_LABELS)


def test_extra_data_reports_every_problem_at_once_and_needs_a_manifest(tmp_path: Path) -> None:
    from export.data.extra import load_extra

    with pytest.raises(P.DataError, match="no manifest.csv"):
        load_extra(tmp_path / "nowhere", D.CAUSE_LABELS)
    folder = _extra(tmp_path, [["audio/a.wav", 2, "", "g", "x"], ["audio/b.wav", 1, "", "", "x"]])
    with pytest.raises(P.DataError, match=r"2 problem\(s\)") as err:
        load_extra(folder, D.CAUSE_LABELS)
    assert "row 2" in str(err.value) and "row 3" in str(err.value)


def test_extra_data_cause_column_is_optional(tmp_path: Path) -> None:
    from export.data.extra import load_extra

    folder = _extra(tmp_path, [["audio/a.wav", "yes", "g1", "CC0"], ["audio/b.wav", "no", "g2", "CC0"]],
                    header=("file", "is_cry", "group", "licence"))
    clips = load_extra(folder, D.CAUSE_LABELS)
    assert [c.is_cry for c in clips] == [True, False] and all(c.cause is None for c in clips)


def test_extra_data_flag_reaches_the_config(tmp_path: Path) -> None:
    from export.config import load_config

    cfg = load_config(None, extra_data=[str(tmp_path / "a"), str(tmp_path / "b")])
    assert cfg.data.extra_data == (str(tmp_path / "a"), str(tmp_path / "b"))
