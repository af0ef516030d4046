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

SHARED = Path(__file__).resolve().parents[2] / "shared"
HAS_SHARED = (SHARED / D.DONATEACRY_MANIFEST).is_file() and (SHARED / D.ESC50_MANIFEST).is_file()
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
    _write_csv(root / D.DONATEACRY_MANIFEST, ["file", "app_id", "platform", "recorded_at", "app_version", "gender",
                                              "age_band", "tag", "label", "sample_rate", "duration_s", "sha256",
                                              "duplicate_of"], dac_rows)
    _write_csv(root / D.ESC50_MANIFEST, ["file", "fold", "target", "category", "esc10", "src_file", "take"], esc_rows)
    _write_csv(root / D.SPEECH_MANIFEST, ["file", "corpus", "speaker", "duration_s", "source_repo",
                                          "source_commit", "licence"], sp_rows)
    for sub in (D.DONATEACRY_MANIFEST.parent, D.ESC50_MANIFEST.parent):
        (root / sub / "audio").mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture
def fake_root(tmp_path: Path) -> Path:
    return make_fake_root(tmp_path)


def test_missing_root_names_every_missing_path(tmp_path: Path) -> None:
    with pytest.raises(D.DataError) as err:
        D.resolve_data_root(str(tmp_path / "nowhere"))
    msg = str(err.value)
    for p in (D.DONATEACRY_MANIFEST, D.ESC50_MANIFEST):
        assert str(p) in msg
    assert "--data-root" in msg and D.ENV_VAR in msg
    assert issubclass(D.DataError, RuntimeError)


def test_partial_root_names_only_what_is_missing(tmp_path: Path) -> None:
    root = make_fake_root(tmp_path)
    (root / D.ESC50_MANIFEST).unlink()
    with pytest.raises(D.DataError) as err:
        D.resolve_data_root(root)
    assert str(D.ESC50_MANIFEST) in str(err.value)
    assert str(D.DONATEACRY_MANIFEST) not in str(err.value)


def test_root_precedence(fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = make_fake_root(tmp_path / "other")
    monkeypatch.setenv(D.ENV_VAR, str(other))
    assert D.resolve_data_root(None) == other.resolve()
    assert D.resolve_data_root(str(fake_root)) == fake_root.resolve()


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
    assert len(D.load_catalog(fake_root, include_speech=False)) == len(clips) - 36
    assert clips[0].clip_id.startswith("donateacry/") and "audio/" not in clips[0].clip_id


def _check_grouped(clips: list[D.Clip], s: D.Splits) -> None:
    s.check_disjoint()
    s.check_catalog(clips)
    group = {c.clip_id: c.group for c in clips}
    assert {group[i] for i in s.test}.isdisjoint({group[i] for i in s.dev})
    assert {group[i] for i in s.train}.isdisjoint({group[i] for i in s.val})
    for tr, va in s.folds:
        assert {group[i] for i in tr}.isdisjoint({group[i] for i in va})
    assert sorted(s.test + s.dev) == sorted(c.clip_id for c in clips)


def test_synthetic_splits_grouped_stratified_reproducible(fake_root: Path, tmp_path: Path) -> None:
    clips = D.load_catalog(fake_root)
    cfg = D.DataConfig(seed=3, n_folds=3)
    s = D.make_splits(clips, cfg)
    _check_grouped(clips, s)
    assert len(s.folds) == 3
    # every ESC class with >= 2 source recordings reaches both sides
    by = {c.clip_id: c for c in clips}
    test_cats = {by[i].category for i in s.test if by[i].source == "esc50"}
    assert test_cats == {c.category for c in clips if c.source == "esc50"}
    # same seed, same split; another seed, another split
    again = D.make_splits(clips, cfg)
    assert again.to_dict() == s.to_dict()
    assert D.make_splits(clips, D.DataConfig(seed=4, n_folds=3)).test != s.test
    # save / load round trip
    p = s.save(tmp_path / "run" / "splits.json")
    assert D.Splits.load(p).to_dict() == s.to_dict()


def test_split_ignores_catalog_order(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    shuffled = list(clips)
    np.random.default_rng(0).shuffle(shuffled)
    assert D.make_splits(shuffled).to_dict() == D.make_splits(clips).to_dict()


def test_describe(fake_root: Path) -> None:
    info = D.CatalogInfo()
    clips = D.load_catalog(fake_root, info=info)
    cfg = D.DataConfig()
    d = D.describe(clips, D.make_splits(clips, cfg), cfg, info)
    assert "excluded" in d["description"] and d["duplicates_skipped"] == 1
    assert d["splits"]["test"]["clips"] > 0 and d["catalog"]["esc50"]["crying_baby"] == 8


def test_disjointness_violation_is_caught(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    s = D.make_splits(clips)
    leaked = s.dev[0]
    bad = D.Splits(test=s.test + [leaked], dev=s.dev, val=s.val, train=s.train, folds=s.folds, groups=s.groups)
    with pytest.raises(D.DataError):
        bad.check_disjoint()
    # a group split across test/dev (different clips of one group) is caught too
    g = s.groups[s.test[0]]
    sibling = next((i for i in s.test if s.groups[i] == g and i != s.test[0]), None)
    if sibling is not None:
        bad = D.Splits(test=[i for i in s.test if i != sibling], dev=s.dev + [sibling], val=s.val,
                       train=s.train + [sibling], folds=s.folds, groups=s.groups)
        with pytest.raises(D.DataError):
            bad.check_disjoint()


def test_check_catalog_rejects_other_data(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    s = D.make_splits(clips)
    with pytest.raises(D.DataError, match="differ"):
        s.check_catalog(clips[:-1])


def test_bad_split_file(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    p.write_text("{not json")
    with pytest.raises(D.DataError, match="split file"):
        D.Splits.load(p)


def test_config_validation() -> None:
    with pytest.raises(D.DataError):
        D.DataConfig(test_fraction=1.5)
    with pytest.raises(D.DataError):
        D.DataConfig(use_uncurated="weak")
    with pytest.raises(D.DataError):
        D.DataConfig(cause_labels=("a",))
    assert D.DataConfig(cause_labels=["a", "b"]).cause_labels == ("a", "b")


def test_items(fake_root: Path) -> None:
    clips = D.load_catalog(fake_root)
    det = D.detection_items(clips)
    assert all(c.is_cry is not None for c, _ in det)
    pos = [c for c, y in det if y == 1]
    assert {c.source for c in pos} == {"donateacry", "esc50"}
    assert all(c.category == "crying_baby" for c in pos if c.source == "esc50")
    assert not any(c.source == "donateacry" and c.cause is None for c, _ in det)
    cause = D.cause_items(clips, ("hungry", "tired"))
    assert {y for _, y in cause} == {0, 1}
    assert all(c.cause in ("hungry", "tired") for c, _ in cause)
    tags = D.tag_items(clips)
    assert len(tags) == sum(c.source == "donateacry" for c in clips)
    bg = D.background_clips(clips, [c.clip_id for c in clips])
    assert bg and all(c.source == "esc50" and not c.is_cry for c in bg)
    assert D.background_clips(clips, []) == []


def test_waveform_store_decodes_and_caches(tmp_path: Path) -> None:
    rate = 8000
    path = tmp_path / "a.flac"
    t = np.arange(rate) / rate
    sf.write(path, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    clip = D.Clip("donateacry/a.flac", path, "donateacry", "g", True, "hungry", "hungry", "infant_cry", 1.0)
    store = D.WaveformStore(cache_dir=tmp_path / "cache")
    w = store.get(clip)
    assert w.dtype == np.float32 and w.shape == (16000,)
    assert store.get(clip) is w
    files = list((tmp_path / "cache").glob("*.npy"))
    assert len(files) == 1
    again = D.WaveformStore(cache_dir=tmp_path / "cache").get(clip)  # from the disk cache
    np.testing.assert_array_equal(again, w)
    assert D.WaveformStore().load_many([clip], workers=2)[clip.clip_id].shape == (16000,)
    # a changed file gets a new cache entry
    sf.write(path, np.zeros(rate // 2, np.float32), rate, subtype="PCM_16")
    os.utime(path, ns=(1, 1))
    assert D.WaveformStore(cache_dir=tmp_path / "cache").get(clip).shape == (8000,)
    with pytest.raises(D.DataError, match="missing"):
        D.WaveformStore().get(D.Clip("x/y", tmp_path / "nope.flac", "esc50", "g", False, None, None, "dog", 5.0))


# ----------------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def real_clips() -> list[D.Clip]:
    if not HAS_SHARED:
        pytest.skip(f"real data not found at {SHARED} (../shared)")
    return D.load_catalog(D.resolve_data_root(str(SHARED)))


@needs_shared
def test_real_catalog_counts(real_clips: list[D.Clip]) -> None:
    rows = list(csv.DictReader(open(SHARED / D.DONATEACRY_MANIFEST)))
    n_dup = sum(bool(r["duplicate_of"]) for r in rows)
    c = Counter(x.source for x in real_clips)
    assert c["donateacry"] == 874 - n_dup
    assert sum(x.cause is not None for x in real_clips) == 372 - sum(bool(r["duplicate_of"] and r["label"]) for r in rows)
    assert c["esc50"] == 1600
    assert sum(x.source == "esc50" and x.is_cry for x in real_clips) == 32
    if (SHARED / D.SPEECH_MANIFEST).is_file():
        assert c["speech"] == 1515
    assert Counter(x.cause for x in real_clips if x.cause)["burping"] == 7


@needs_shared
def test_real_splits_grouped_and_stratified(real_clips: list[D.Clip], tmp_path: Path) -> None:
    s = D.make_splits(real_clips, D.DataConfig(seed=0))
    _check_grouped(real_clips, s)
    summ = s.summary(real_clips)
    for cause in D.CAUSE_LABELS:  # every curated cause on both sides
        assert summ["test"]["causes"].get(cause, 0) >= 1, cause
        assert summ["train"]["causes"].get(cause, 0) >= 1, cause
    assert 0.15 < len(s.test) / len(real_clips) < 0.3
    assert summ["test"]["cry_positives"] > 0 and summ["val"]["cry_positives"] > 0
    p = s.save(tmp_path / "splits.json")
    loaded = D.Splits.load(p)
    assert loaded.to_dict() == s.to_dict()
    loaded.check_catalog(real_clips)
