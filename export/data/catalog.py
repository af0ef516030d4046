"""The catalog: every clip the data root holds, with its source, group key, labels and hard-negative flag.

Hard negatives are the baby-like non-cries a home monitor must not call crying: ESC-50's human
non-speech classes (laughing, coughing, ...), UrbanSound8K's ``children_playing`` and children's
and teens' speech. They are flagged so the split can keep them on every side (validation too: a
threshold chosen without them comes out too low for a home) and the report counts them per side.

Uncurated Donate-a-Cry clips (``label`` empty, ``is_cry`` None) are parent uploads nobody checked;
many hold speech, silence or handling noise. By default (``use_uncurated="exclude"``) they are kept
out of detection training and evaluation: as positives they would teach the detector that speech is
a cry, as negatives they would be wrong wherever a baby does cry. ``"aux_tags"`` lets training use
their parent's 9-way tag as an auxiliary target; they are never scored.
"""
from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from export.data.paths import (
    DONATEACRY_MANIFEST,
    ESC50_MANIFEST,
    SPEECH_MANIFEST,
    SPEECH_SPEAKERS,
    URBANSOUND_MANIFEST,
    DataError,
)

#: The sources the catalog can read, in catalog order; ``extra`` is a user's own folder (``--extra-data``).
SOURCES = ("donateacry", "esc50", "speech", "urbansound8k", "extra")
#: What a default run reads (each where its manifest exists, the first two always).
DEFAULT_SOURCES = ("donateacry", "esc50", "speech", "urbansound8k")
REQUIRED_SOURCES = ("donateacry", "esc50")
#: The ESC-50 class that is a cry (a positive for detection).
ESC50_CRY = "crying_baby"
#: ESC-50's other "human, non-speech" classes: the closest things to a baby in ESC-50, hard negatives.
ESC50_HARD_NEGATIVES = (
    "laughing", "coughing", "sneezing", "breathing", "snoring", "clapping", "footsteps", "brushing_teeth",
    "drinking_sipping",
)
#: UrbanSound8K's children's voices, shouting and laughter outdoors: a hard negative.
URBANSOUND_HARD_NEGATIVES = ("children_playing",)
#: Speakers of these ``speakers.csv`` groups speak like children: hard negatives.
SPEECH_HARD_GROUPS = ("child", "teen")
#: Category given to every Donate-a-Cry clip.
CRY_CATEGORY = "infant_cry"
#: The curated 5-way cause labels, in the default order of the cause head.
CAUSE_LABELS = ("hungry", "tired", "discomfort", "belly_pain", "burping")
#: The parent's 9-way tag of every Donate-a-Cry clip (an optional auxiliary target).
TAG_LABELS = (
    "hungry", "burping", "belly_pain", "discomfort", "tired", "lonely", "cold_hot", "scared", "dont_know",
)
UNCURATED_CHOICES = ("exclude", "aux_tags")
#: Each source's licence, for the model card (extra data brings its own, per clip).
LICENCES = {
    "donateacry": "Donate-a-Cry corpus: Open Database License 1.0 (contents: Database Contents License 1.0)",
    "esc50": "ESC-50: CC BY-NC 3.0 (ESC-10 subset CC BY 3.0): non-commercial",
    "speech": "Speech negatives: FSDD CC BY-SA 4.0; LibriSpeech CC BY 4.0; speechocean762 CC BY 4.0",
    "urbansound8k": "UrbanSound8K: CC BY-NC 3.0 (non-commercial); attribution per Freesound fsID",
    "noise": "Speech Commands background noise (mixing only): CC BY 4.0",
}


@dataclass(frozen=True)
class Clip:
    """One recording. ``group`` is the unit no split may cut (install, source recording, speaker)."""

    clip_id: str  # "<source>/<path inside the source's audio folder>", stable across runs
    path: Path
    source: str  # one of SOURCES
    group: str  # app_id | "esc50:<src_file>" | "speech:<corpus>/<speaker>" | "urbansound8k:<fsID>" | "extra:<dir>/<group>"
    is_cry: bool | None  # None: uncurated Donate-a-Cry upload, cry status unverified
    cause: str | None  # the curated label, or None
    tag: str | None  # the parent's 9-way tag (Donate-a-Cry only)
    category: str  # ESC-50 / UrbanSound8K class, speech corpus, "infant_cry", or "extra"
    duration_s: float
    hard_negative: bool = False  # a baby-like non-cry (laughter, children, human non-speech sounds)
    licence: str = ""  # extra data only: the licence its manifest names

    @property
    def source_category(self) -> str:
        """``source/category`` (``esc50/cat``): the key reports count false alarms by, since a
        category name alone (``dog_bark``, ``dog``) does not say which corpus labelled it."""
        return f"{self.source}/{self.category}"


@dataclass
class CatalogInfo:
    """What :func:`load_catalog` read and dropped, for the report."""

    n_duplicates_skipped: int = 0
    speech_present: bool = False
    sources: list = field(default_factory=list)  # the sources read, in order
    extra_licences: dict = field(default_factory=dict)  # extra-data folder -> licences its clips name


def read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """The rows of a manifest; :class:`DataError` when it cannot be read or lacks a required column."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows, header = list(reader), list(reader.fieldnames or [])
    except OSError as exc:
        raise DataError(f"cannot read manifest {path}: {exc}") from exc
    absent = [c for c in required if c not in header]
    if absent:
        raise DataError(f"manifest {path} lacks column(s) {absent}; found {header}.")
    return rows


def _clip_id(source: str, file: str) -> str:
    rel = file[len("audio/"):] if file.startswith("audio/") else file
    return f"{source}/{rel}"


def _donateacry(root: Path, info: CatalogInfo) -> list[Clip]:
    """Curated clips are cries with a cause; uncurated uploads have ``is_cry`` None; duplicates are skipped
    (counted in ``info``) so one recording never sits on both sides of a split."""
    dac = root / DONATEACRY_MANIFEST
    out = []
    for r in read_csv(dac, ("file", "app_id", "tag", "label", "duration_s", "duplicate_of")):
        if (r.get("duplicate_of") or "").strip():
            info.n_duplicates_skipped += 1
            continue
        label = (r.get("label") or "").strip() or None
        out.append(Clip(
            clip_id=_clip_id("donateacry", r["file"]), path=dac.parent / r["file"], source="donateacry",
            group=r["app_id"], is_cry=True if label else None, cause=label,
            tag=(r.get("tag") or "").strip() or None, category=CRY_CATEGORY, duration_s=float(r["duration_s"]),
        ))
    return out


def _esc50(root: Path) -> list[Clip]:
    esc = root / ESC50_MANIFEST
    return [Clip(
        clip_id=_clip_id("esc50", r["file"]), path=esc.parent / r["file"], source="esc50",
        group=f"esc50:{r['src_file']}", is_cry=r["category"] == ESC50_CRY, cause=None, tag=None,
        category=r["category"], duration_s=5.0, hard_negative=r["category"] in ESC50_HARD_NEGATIVES,
    ) for r in read_csv(esc, ("file", "category", "src_file"))]


def _speaker_groups(root: Path) -> dict[tuple[str, str], str]:
    """(corpus, speaker) -> child / teen / adult, from ``speakers.csv`` where it exists."""
    path = root / SPEECH_SPEAKERS
    if not path.is_file():
        return {}
    return {(r["corpus"], r["speaker"]): r["group"].strip() for r in read_csv(path, ("corpus", "speaker", "group"))}


def _speech(root: Path) -> list[Clip]:
    sp = root / SPEECH_MANIFEST
    ages = _speaker_groups(root)
    return [Clip(
        clip_id=_clip_id("speech", r["file"]), path=sp.parent / r["file"], source="speech",
        group=f"speech:{r['corpus']}/{r['speaker']}", is_cry=False, cause=None, tag=None,
        category=r["corpus"], duration_s=float(r["duration_s"]),
        hard_negative=ages.get((r["corpus"], r["speaker"])) in SPEECH_HARD_GROUPS,
    ) for r in read_csv(sp, ("file", "corpus", "speaker", "duration_s"))]


def _urbansound(root: Path) -> list[Clip]:
    us = root / URBANSOUND_MANIFEST
    return [Clip(
        clip_id=_clip_id("urbansound8k", r["file"]), path=us.parent / r["file"], source="urbansound8k",
        group=f"urbansound8k:{r['fsID']}", is_cry=False, cause=None, tag=None, category=r["class"],
        duration_s=float(r["duration_s"]), hard_negative=r["class"] in URBANSOUND_HARD_NEGATIVES,
    ) for r in read_csv(us, ("file", "class", "fsID", "duration_s"))]


def load_catalog(root: str | os.PathLike, config: "DataConfig | None" = None, info: CatalogInfo | None = None) -> list[Clip]:
    """Every clip of the configured sources, in source then manifest order.

    Donate-a-Cry and ESC-50 are required; speech and UrbanSound8K are read where their manifests
    exist; each folder in ``config.extra_data`` is read through :func:`export.data.extra.load_extra`.
    """
    from export.data.extra import load_extra

    root = Path(root)
    config = config or DataConfig()
    info = info if info is not None else CatalogInfo()
    info.speech_present = (root / SPEECH_MANIFEST).is_file()
    readers = {"donateacry": lambda: _donateacry(root, info), "esc50": lambda: _esc50(root),
               "speech": lambda: _speech(root), "urbansound8k": lambda: _urbansound(root)}
    manifests = {"speech": SPEECH_MANIFEST, "urbansound8k": URBANSOUND_MANIFEST}
    clips: list[Clip] = []
    for source in config.sources:
        if source in manifests and not (root / manifests[source]).is_file():
            continue
        clips += readers[source]()
        info.sources.append(source)
    for folder in config.extra_data:
        extra = load_extra(folder, config.cause_labels)
        clips += extra
        info.sources.append("extra")
        info.extra_licences[str(folder)] = sorted({c.licence for c in extra})
    dup = [k for k, n in Counter(c.clip_id for c in clips).items() if n > 1]
    if dup:
        raise DataError(f"clip ids repeat in the manifests (first: {dup[:3]}); each file must be listed once.")
    return clips


def summarize_catalog(clips: Iterable[Clip]) -> dict:
    """Counts per source, curated cause, group and hard negatives, for the report's data section."""
    clips = list(clips)
    out: dict = {}
    for src in SOURCES:
        sel = [c for c in clips if c.source == src]
        if sel:
            out[src] = {"clips": len(sel), "groups": len({c.group for c in sel}),
                        "hours": round(sum(c.duration_s for c in sel) / 3600, 3),
                        "hard_negatives": sum(c.hard_negative for c in sel)}
    dac = [c for c in clips if c.source == "donateacry"]
    if dac:
        out["donateacry"]["curated"] = sum(c.cause is not None for c in dac)
        out["donateacry"]["causes"] = dict(Counter(c.cause for c in dac if c.cause).most_common())
    esc_cry = [c for c in clips if c.source == "esc50" and c.is_cry]
    if esc_cry:
        out["esc50"]["crying_baby"] = len(esc_cry)
    return out


@dataclass
class DataConfig:
    """Which data is read and how it is labelled and split."""

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
    #: The data root's sources to read (speech and UrbanSound8K where present).
    sources: tuple = DEFAULT_SOURCES
    #: Folders of a user's own clips, each with a ``manifest.csv`` (README: "Your own data").
    extra_data: tuple = ()

    def __post_init__(self) -> None:
        self.cause_labels = tuple(self.cause_labels)
        self.sources = tuple(self.sources)
        self.extra_data = tuple(str(d) for d in self.extra_data)
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
        unknown = [s for s in self.sources if s not in SOURCES or s == "extra"]
        if unknown or not set(REQUIRED_SOURCES) <= set(self.sources):
            raise DataError(f"sources must include {list(REQUIRED_SOURCES)} and come from "
                            f"{[s for s in SOURCES if s != 'extra']}, not {list(self.sources)}.")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cause_labels"] = list(self.cause_labels)
        d["sources"] = list(self.sources)
        d["extra_data"] = list(self.extra_data)
        return d


def background_clips(clips: Iterable[Clip], allowed_ids: Iterable[str], include_speech: bool = False) -> list[Clip]:
    """Non-cry clips of every source (speech only if asked) usable as mixing backgrounds, restricted
    to ``allowed_ids`` (pass the TRAINING side so no test background is ever heard in training)."""
    allowed = set(allowed_ids)
    return [c for c in clips if c.clip_id in allowed and c.is_cry is False
            and (include_speech or c.source != "speech")]
