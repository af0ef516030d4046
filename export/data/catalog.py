"""The training data: a catalog of every clip in ../shared, grouped splits, and waveform loading.

Why it looks like this:
- Clips of one Donate-a-Cry app install (same baby, phone and room), of one ESC-50 source recording
  and of one speaker are correlated; any split that puts such a group on both sides leaks. Every
  split here is made over *groups*, and :meth:`Splits.check_disjoint` proves it.
- The rare cry causes (burping: 7 clips in 6 installs) would vanish from one side of a random split,
  so groups are stratified by the rarest curated cause they hold and dealt out proportionally.
- A split is saved as JSON of clip ids, so the teacher, the student, the quantiser and the report all
  score exactly the same clips.
- Decoding goes through :func:`infantcry_sdk.audio.load` only: the runtime decodes the same way.

Uncurated Donate-a-Cry clips (``label`` empty, ``is_cry`` None) are parent uploads nobody checked;
many hold speech, silence or handling noise. By default (``use_uncurated="exclude"``) they are kept
out of detection training and evaluation: as positives they would teach the detector that speech is
a cry, as negatives they would be wrong wherever a baby does cry. ``"aux_tags"`` lets training use
their parent's 9-way tag as an auxiliary target (:func:`tag_items`); they are never scored.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from infantcry_sdk import audio as sdk_audio

SAMPLE_RATE = 16000
ENV_VAR = "INFANTCRY_DATA_ROOT"

DONATEACRY_MANIFEST = Path("data/donateacry/manifest.csv")
ESC50_MANIFEST = Path("data/esc50/esc50.csv")
SPEECH_MANIFEST = Path("data/speech/manifest.csv")

SOURCES = ("donateacry", "esc50", "speech")
#: The ESC-50 class that is a cry (a positive for detection).
ESC50_CRY = "crying_baby"
#: Category given to every Donate-a-Cry clip.
CRY_CATEGORY = "infant_cry"
#: The curated 5-way cause labels, in the default order of the cause head.
CAUSE_LABELS = ("hungry", "tired", "discomfort", "belly_pain", "burping")
#: The parent's 9-way tag of every Donate-a-Cry clip (an optional auxiliary target).
TAG_LABELS = (
    "hungry", "burping", "belly_pain", "discomfort", "tired", "lonely", "cold_hot", "scared", "dont_know",
)
UNCURATED_CHOICES = ("exclude", "aux_tags")

_REPO = Path(__file__).resolve().parents[1]


class DataError(RuntimeError):
    """The data is missing, malformed, or a split does not match the catalog."""


# --------------------------------------------------------------------------------------- data root
def resolve_data_root(cli_value: str | os.PathLike | None = None) -> Path:
    """The folder holding ``data/`` (the ../shared layout): ``--data-root`` > ``$INFANTCRY_DATA_ROOT``
    > ``<repo>/../shared``.

    The two required manifests (Donate-a-Cry, ESC-50) and their audio folders must exist; speech is
    optional (:func:`load_catalog` uses it where present). Raises :class:`DataError` naming every
    missing path and where the root came from.
    """
    if cli_value:
        root, origin = Path(cli_value), "--data-root"
    elif os.environ.get(ENV_VAR):
        root, origin = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        root, origin = _REPO.parent / "shared", "the default <repo>/../shared"
    root = root.expanduser().resolve()
    required = [DONATEACRY_MANIFEST, DONATEACRY_MANIFEST.parent / "audio", ESC50_MANIFEST, ESC50_MANIFEST.parent / "audio"]
    missing = [str(root / p) for p in required if not (root / p).exists()]
    if missing:
        raise DataError(
            f"data root {root} (from {origin}) is incomplete; missing: {', '.join(missing)}. "
            f"Pass --data-root or set {ENV_VAR} to the folder holding data/donateacry and data/esc50 "
            "(the ../shared layout, see its README.md)."
        )
    return root


# ----------------------------------------------------------------------------------------- catalog
@dataclass(frozen=True)
class Clip:
    """One recording. ``group`` is the unit no split may cut (install, source recording, speaker)."""

    clip_id: str  # "<source>/<path inside the source's audio folder>", stable across runs
    path: Path
    source: str  # donateacry | esc50 | speech
    group: str  # app_id | "esc50:<src_file>" | "speech:<corpus>/<speaker>"
    is_cry: bool | None  # None: uncurated Donate-a-Cry upload, cry status unverified
    cause: str | None  # the curated label, or None
    tag: str | None  # the parent's 9-way tag (Donate-a-Cry only)
    category: str  # ESC-50 class, speech corpus, or "infant_cry"
    duration_s: float


@dataclass
class CatalogInfo:
    """What :func:`load_catalog` dropped, for the report."""

    n_duplicates_skipped: int = 0
    speech_present: bool = False


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DataError(f"cannot read manifest {path}: {exc}") from exc
    if rows:
        absent = [c for c in required if c not in rows[0]]
        if absent:
            raise DataError(f"manifest {path} lacks column(s) {absent}; found {list(rows[0])}.")
    return rows


def _clip_id(source: str, file: str) -> str:
    rel = file[len("audio/"):] if file.startswith("audio/") else file
    return f"{source}/{rel}"


def load_catalog(root: str | os.PathLike, include_speech: bool = True, info: CatalogInfo | None = None) -> list[Clip]:
    """Every clip of the three manifests, in manifest order.

    Donate-a-Cry rows whose ``duplicate_of`` is set are skipped (their count goes to ``info``) so one
    recording never sits on both sides of a split. Speech is read where its manifest exists.
    """
    root = Path(root)
    info = info if info is not None else CatalogInfo()
    clips: list[Clip] = []
    dac = root / DONATEACRY_MANIFEST
    for r in _read_csv(dac, ("file", "app_id", "tag", "label", "duration_s", "duplicate_of")):
        if (r.get("duplicate_of") or "").strip():
            info.n_duplicates_skipped += 1
            continue
        label = (r.get("label") or "").strip() or None
        clips.append(Clip(
            clip_id=_clip_id("donateacry", r["file"]), path=dac.parent / r["file"], source="donateacry",
            group=r["app_id"], is_cry=True if label else None, cause=label,
            tag=(r.get("tag") or "").strip() or None, category=CRY_CATEGORY, duration_s=float(r["duration_s"]),
        ))
    esc = root / ESC50_MANIFEST
    for r in _read_csv(esc, ("file", "category", "src_file")):
        clips.append(Clip(
            clip_id=_clip_id("esc50", r["file"]), path=esc.parent / r["file"], source="esc50",
            group=f"esc50:{r['src_file']}", is_cry=r["category"] == ESC50_CRY, cause=None, tag=None,
            category=r["category"], duration_s=5.0,
        ))
    sp = root / SPEECH_MANIFEST
    info.speech_present = sp.is_file()
    if include_speech and info.speech_present:
        for r in _read_csv(sp, ("file", "corpus", "speaker", "duration_s")):
            clips.append(Clip(
                clip_id=_clip_id("speech", r["file"]), path=sp.parent / r["file"], source="speech",
                group=f"speech:{r['corpus']}/{r['speaker']}", is_cry=False, cause=None, tag=None,
                category=r["corpus"], duration_s=float(r["duration_s"]),
            ))
    ids = Counter(c.clip_id for c in clips)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        raise DataError(f"clip ids repeat in the manifests (first: {dup[:3]}); each file must be listed once.")
    return clips


def summarize_catalog(clips: Iterable[Clip]) -> dict:
    """Counts per source, curated cause and group, for the report's data section."""
    clips = list(clips)
    out: dict = {}
    for src in SOURCES:
        sel = [c for c in clips if c.source == src]
        if sel:
            out[src] = {"clips": len(sel), "groups": len({c.group for c in sel}),
                        "hours": round(sum(c.duration_s for c in sel) / 3600, 3)}
    dac = [c for c in clips if c.source == "donateacry"]
    if dac:
        out["donateacry"]["curated"] = sum(c.cause is not None for c in dac)
        out["donateacry"]["causes"] = dict(Counter(c.cause for c in dac if c.cause).most_common())
    esc_cry = [c for c in clips if c.source == "esc50" and c.is_cry]
    if esc_cry:
        out["esc50"]["crying_baby"] = len(esc_cry)
    return out


# ------------------------------------------------------------------------------------ config/items
@dataclass
class DataConfig:
    """How the data is split and labelled. The defaults are the ones every report used."""

    seed: int = 0
    #: Fraction of each stratum's weight (clips; rare-cause clips for Donate-a-Cry) held out as test.
    test_fraction: float = 0.2
    #: Grouped cross-validation folds over the development side.
    n_folds: int = 5
    #: Fraction of the development side held out as validation (thresholds, early stopping).
    val_fraction: float = 0.15
    #: The cause head's labels, in order. A customer can train on their own label set.
    cause_labels: tuple = CAUSE_LABELS
    #: "exclude": uncurated clips are out of detection train and eval. "aux_tags": training may also
    #: use their parent's 9-way tag as an auxiliary target (never scored).
    use_uncurated: str = "exclude"
    include_speech: bool = True

    def __post_init__(self) -> None:
        self.cause_labels = tuple(self.cause_labels)
        if not 0.0 < self.test_fraction < 1.0:
            raise DataError(f"test_fraction must be in (0, 1), not {self.test_fraction}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise DataError(f"val_fraction must be in (0, 1), not {self.val_fraction}.")
        if self.n_folds < 2:
            raise DataError(f"n_folds must be at least 2, not {self.n_folds}.")
        if len(self.cause_labels) < 2 or len(set(self.cause_labels)) != len(self.cause_labels):
            raise DataError(f"cause_labels must be at least two distinct labels, not {self.cause_labels}.")
        if self.use_uncurated not in UNCURATED_CHOICES:
            raise DataError(f"use_uncurated must be one of {UNCURATED_CHOICES}, not {self.use_uncurated!r}.")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cause_labels"] = list(self.cause_labels)
        return d


def detection_items(clips: Iterable[Clip]) -> list[tuple[Clip, int]]:
    """(clip, 1 = cry / 0 = not) for detection: curated Donate-a-Cry and ESC-50 crying_baby are
    positives; the other ESC-50 classes and speech are negatives; uncurated clips are left out."""
    return [(c, int(c.is_cry)) for c in clips if c.is_cry is not None]


def cause_items(clips: Iterable[Clip], labels: Sequence[str] = CAUSE_LABELS) -> list[tuple[Clip, int]]:
    """(clip, index into ``labels``) for every curated clip whose label is in ``labels``."""
    index = {lab: i for i, lab in enumerate(labels)}
    return [(c, index[c.cause]) for c in clips if c.cause is not None and c.cause in index]


def tag_items(clips: Iterable[Clip], tags: Sequence[str] = TAG_LABELS) -> list[tuple[Clip, int]]:
    """(clip, index into ``tags``) for every Donate-a-Cry clip with a parent tag, curated or not:
    the auxiliary target of ``use_uncurated="aux_tags"``."""
    index = {t: i for i, t in enumerate(tags)}
    return [(c, index[c.tag]) for c in clips if c.source == "donateacry" and c.tag in index]


def background_clips(clips: Iterable[Clip], allowed_ids: Iterable[str], include_speech: bool = False) -> list[Clip]:
    """Non-cry clips usable as mixing backgrounds, restricted to ``allowed_ids`` (pass the TRAINING
    side so no test background is ever heard in training)."""
    allowed = set(allowed_ids)
    return [c for c in clips if c.clip_id in allowed and c.is_cry is False
            and (c.source == "esc50" or (include_speech and c.source == "speech"))]


# ------------------------------------------------------------------------------------------ splits
def _group_strata(clips: Sequence[Clip]) -> tuple[dict[str, str], dict[str, float]]:
    """Each group's stratum and weight.

    Donate-a-Cry: the rarest curated cause in the install (rarity over the whole catalog), weight =
    that cause's clips in the install, so rare-cause clips are dealt out proportionally; installs
    with no curated clip form one stratum weighted by clip count. ESC-50: category; speech: corpus.
    """
    cause_count = Counter(c.cause for c in clips if c.cause)
    by_group: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        by_group[c.group].append(c)
    strata: dict[str, str] = {}
    weights: dict[str, float] = {}
    for g, members in by_group.items():
        causes = sorted({c.cause for c in members if c.cause}, key=lambda k: (cause_count[k], k))
        if causes:
            rare = causes[0]
            strata[g] = f"cause:{rare}"
            weights[g] = float(sum(c.cause == rare for c in members))
        else:
            first = members[0]
            key = "donateacry:uncurated" if first.source == "donateacry" else f"{first.source}:{first.category}"
            strata[g] = key
            weights[g] = float(len(members))
    return strata, weights


def _deal(groups: Sequence[str], strata: dict[str, str], weights: dict[str, float],
          fractions: Sequence[float], rng: np.random.Generator) -> list[list[str]]:
    """Deal groups into bins with target weight ``fractions``, stratum by stratum.

    Within a stratum the groups come in random order and each goes to the bin furthest below its
    share of the weight dealt so far (ties: the bin furthest below its share overall, then random).
    A bin with a positive share gets at least one group of every stratum that has enough groups.
    """
    fr = np.asarray(fractions, dtype=float)
    fr = fr / fr.sum()
    k = len(fr)
    bins: list[list[str]] = [[] for _ in range(k)]
    total = np.zeros(k)
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for g in sorted(groups):
        by_stratum[strata[g]].append(g)
    for s in sorted(by_stratum):
        members = list(by_stratum[s])
        rng.shuffle(members)
        load = np.zeros(k)
        local: list[list[str]] = [[] for _ in range(k)]
        for g in members:
            w = weights[g]
            dealt = load.sum() + w
            deficit = fr * dealt - load
            overall = fr * (total.sum() + w) - total
            tiebreak = rng.random(k)
            b = max(range(k), key=lambda i: (round(deficit[i], 9), round(overall[i], 9), tiebreak[i]))
            local[b].append(g)
            load[b] += w
            total[b] += w
        if len(members) >= k:  # every bin gets one group of this stratum: move the lightest from the fullest bin
            for b in range(k):
                if not local[b]:
                    donor = max(range(k), key=lambda i: len(local[i]))
                    g = min(local[donor], key=lambda x: (weights[x], x))
                    local[donor].remove(g)
                    local[b].append(g)
                    total[donor] -= weights[g]
                    total[b] += weights[g]
        for b in range(k):
            bins[b].extend(local[b])
    return bins


@dataclass
class Splits:
    """Clip ids per side. ``train`` = ``dev`` minus ``val``; ``folds`` are grouped CV folds over dev."""

    test: list[str]
    dev: list[str]
    val: list[str]
    train: list[str]
    folds: list[tuple[list[str], list[str]]]
    groups: dict[str, str] = field(repr=False)  # clip_id -> group, so disjointness is checkable alone
    config: dict = field(default_factory=dict)

    def check_disjoint(self) -> None:
        """Raise :class:`DataError` if a clip or a group sits on two sides of any split."""
        def groups_of(ids: Iterable[str]) -> set[str]:
            return {self.groups[i] for i in ids}

        pairs = [("test", self.test, "dev", self.dev), ("train", self.train, "val", self.val)]
        pairs += [(f"fold{i}.train", tr, f"fold{i}.val", va) for i, (tr, va) in enumerate(self.folds)]
        for na, a, nb, b in pairs:
            both = set(a) & set(b)
            if both:
                raise DataError(f"clips on both {na} and {nb}: {sorted(both)[:3]}...")
            shared = groups_of(a) & groups_of(b)
            if shared:
                raise DataError(f"groups on both {na} and {nb}: {sorted(shared)[:3]}...")
        dev = set(self.dev)
        if set(self.train) | set(self.val) != dev or set(self.train) & set(self.val):
            raise DataError("train and val do not partition dev.")
        fold_vals = [set(va) for _, va in self.folds]
        if fold_vals and (set().union(*fold_vals) != dev or sum(map(len, fold_vals)) != len(dev)):
            raise DataError("the CV folds' validation sides do not partition dev.")
        for i, (tr, va) in enumerate(self.folds):
            if set(tr) | set(va) != dev:
                raise DataError(f"fold {i}: train and val do not cover dev.")

    def check_catalog(self, clips: Iterable[Clip]) -> None:
        """Raise :class:`DataError` unless this split and the catalog list the same clips and groups
        (a split saved for other data must not be reused silently)."""
        cat = {c.clip_id: c.group for c in clips}
        mine = set(self.test) | set(self.dev)
        unknown, unsplit = mine - set(cat), set(cat) - mine
        if unknown or unsplit:
            raise DataError(
                f"split and catalog differ: {len(unknown)} split clip(s) not in the catalog "
                f"(e.g. {sorted(unknown)[:2]}), {len(unsplit)} catalog clip(s) not in the split "
                f"(e.g. {sorted(unsplit)[:2]}). Re-make the split for this data."
            )
        moved = [i for i in mine if cat[i] != self.groups.get(i)]
        if moved:
            raise DataError(f"{len(moved)} clip(s) changed group since the split was made (e.g. {moved[:2]}).")

    def select(self, clips: Iterable[Clip], side: str) -> list[Clip]:
        """The clips of one side ("test", "dev", "val", "train"), in catalog order."""
        ids = set(getattr(self, side))
        return [c for c in clips if c.clip_id in ids]

    def summary(self, clips: Iterable[Clip]) -> dict:
        """Clips and groups per side and source, and curated cause counts per side."""
        clips = list(clips)
        out: dict = {}
        for side in ("train", "val", "dev", "test"):
            sel = self.select(clips, side)
            row: dict = {"clips": len(sel), "groups": len({c.group for c in sel})}
            for src in SOURCES:
                s = [c for c in sel if c.source == src]
                if s:
                    row[src] = {"clips": len(s), "groups": len({c.group for c in s})}
            row["causes"] = dict(Counter(c.cause for c in sel if c.cause).most_common())
            row["cry_positives"] = sum(c.is_cry is True for c in sel)
            out[side] = row
        out["folds"] = [{"train": len(tr), "val": len(va)} for tr, va in self.folds]
        return out

    def to_dict(self) -> dict:
        return {
            "version": 1, "config": self.config, "test": self.test, "dev": self.dev, "val": self.val,
            "train": self.train, "folds": [{"train": tr, "val": va} for tr, va in self.folds],
            "groups": self.groups,
        }

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Splits":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(
                test=list(d["test"]), dev=list(d["dev"]), val=list(d["val"]), train=list(d["train"]),
                folds=[(list(f["train"]), list(f["val"])) for f in d["folds"]],
                groups=dict(d["groups"]), config=dict(d.get("config", {})),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(f"cannot read split file {path}: {exc}") from exc


def make_splits(clips: Sequence[Clip], config: DataConfig | None = None) -> Splits:
    """Grouped, stratified, seeded test / dev (train + val) / CV-fold splits over every clip.

    All clips are split, uncurated ones too, so any later use of them (auxiliary tags) respects the
    same groups. The same clips and config always give the same split.
    """
    config = config or DataConfig()
    if not clips:
        raise DataError("cannot split an empty catalog.")
    rng = np.random.default_rng(config.seed)
    strata, weights = _group_strata(clips)
    groups = sorted(strata)
    test_g, dev_g = _deal(groups, strata, weights, [config.test_fraction, 1 - config.test_fraction], rng)
    val_g, train_g = _deal(dev_g, strata, weights, [config.val_fraction, 1 - config.val_fraction], rng)
    fold_g = _deal(dev_g, strata, weights, [1.0] * config.n_folds, rng)

    members: dict[str, list[str]] = defaultdict(list)
    for c in clips:
        members[c.group].append(c.clip_id)

    def ids(gs: Iterable[str]) -> list[str]:
        return sorted(i for g in gs for i in members[g])

    dev_ids = ids(dev_g)
    folds = []
    for fg in fold_g:
        va = ids(fg)
        vs = set(va)
        folds.append(([i for i in dev_ids if i not in vs], va))
    splits = Splits(
        test=ids(test_g), dev=dev_ids, val=ids(val_g), train=ids(train_g), folds=folds,
        groups={c.clip_id: c.group for c in clips}, config=config.to_dict(),
    )
    splits.check_disjoint()
    return splits


UNCURATED_NOTE = {
    "exclude": ("Uncurated Donate-a-Cry uploads (no curated label) are excluded from detection training and "
                "evaluation: nobody checked them and many hold speech, silence or handling noise, so they are "
                "neither reliable positives nor negatives."),
    "aux_tags": ("Uncurated Donate-a-Cry uploads are excluded from detection and from every score; training also "
                 "uses the parent's 9-way tag of every Donate-a-Cry clip (curated or not, training side only) "
                 "as an auxiliary target."),
}


def describe(clips: Sequence[Clip], splits: Splits, config: DataConfig, info: CatalogInfo | None = None) -> dict:
    """The report's ``data`` section: what was used, how it was split, and the uncurated decision."""
    out = {
        "description": (
            "Splits are grouped (Donate-a-Cry by app install, ESC-50 by source recording, speech by speaker: "
            "no group on two sides), seeded, and stratified (installs by the rarest curated cause they hold, "
            "ESC-50 by class, speech by corpus). Detection: curated Donate-a-Cry + ESC-50 crying_baby are "
            "positives; the other ESC-50 classes and speech are negatives. Cause: curated labels "
            f"{list(config.cause_labels)}. " + UNCURATED_NOTE[config.use_uncurated]
        ),
        "catalog": summarize_catalog(clips),
        "splits": splits.summary(clips),
        "use_uncurated": config.use_uncurated,
        "config": config.to_dict(),
    }
    if info is not None:
        out["duplicates_skipped"] = info.n_duplicates_skipped
        out["speech_present"] = info.speech_present
    return out


# ---------------------------------------------------------------------------------------- waveforms
def _cache_name(clip: Clip) -> str:
    st = clip.path.stat()
    key = f"{clip.clip_id}|{st.st_size}|{st.st_mtime_ns}|{SAMPLE_RATE}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", clip.clip_id)[-80:]
    return f"{stem}.{digest}.npy"


class WaveformStore:
    """Clips as float32 mono 16 kHz arrays, decoded once.

    Decoding is :func:`infantcry_sdk.audio.load` (the runtime's own decoder). Arrays are kept in
    memory and, with ``cache_dir``, written as one ``.npy`` per clip whose name carries the clip id,
    file size and mtime, so a changed file is decoded again and repeated runs skip decoding.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.sample_rate = sample_rate
        self._mem: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        return len(self._mem)

    def get(self, clip: Clip) -> np.ndarray:
        """The clip's samples (float32 ``[n]``); the same array object on every call."""
        wave = self._mem.get(clip.clip_id)
        if wave is not None:
            return wave
        wave = self._load(clip)
        wave.setflags(write=False)  # shared between callers: copy before changing it
        with self._lock:
            return self._mem.setdefault(clip.clip_id, wave)

    def _load(self, clip: Clip) -> np.ndarray:
        if not clip.path.is_file():
            raise DataError(f"audio file of {clip.clip_id} is missing: {clip.path}")
        cached = None
        if self.cache_dir is not None:
            cached = self.cache_dir / _cache_name(clip)
            if cached.is_file():
                try:
                    return np.load(cached, allow_pickle=False)
                except (OSError, ValueError):
                    pass  # a torn write: decode again and overwrite
        wave = sdk_audio.load(clip.path, None, self.sample_rate)
        wave = np.ascontiguousarray(wave, dtype=np.float32)
        if cached is not None:
            tmp = cached.with_name(cached.name + f".{os.getpid()}.{threading.get_ident()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, wave, allow_pickle=False)
            tmp.replace(cached)
        return wave

    def load_many(self, clips: Iterable[Clip], workers: int | None = None) -> dict[str, np.ndarray]:
        """Load every clip (threads: libsndfile and soxr release the GIL); ``{clip_id: samples}``."""
        clips = list(clips)
        todo = [c for c in clips if c.clip_id not in self._mem]
        workers = workers or min(4, os.cpu_count() or 1)
        if todo:
            if workers <= 1:
                for c in todo:
                    self.get(c)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(self.get, todo))
        return {c.clip_id: self._mem[c.clip_id] for c in clips}
