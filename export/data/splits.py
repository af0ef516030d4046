"""Grouped splits: test / development (train + validation) / grouped CV folds, saved as clip ids.

Clips of one group (a Donate-a-Cry app install, an ESC-50 or UrbanSound8K source recording, a
speaker, an extra-data group) are correlated; a split that puts a group on both sides leaks. Every
split here is made over groups, and :meth:`Splits.check_disjoint` proves it. The rare cry causes
would vanish from one side of a random split, so groups are stratified by the rarest curated cause
they hold and dealt out proportionally. A split is saved as JSON of clip ids, so the teacher, the
student, the quantiser and the report all score exactly the same clips.
"""
from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from export.data.catalog import LICENCES, SOURCES, CatalogInfo, Clip, DataConfig, summarize_catalog
from export.data.paths import DataError
from export.files import replace_text


def _group_strata(clips: Sequence[Clip]) -> tuple[dict[str, str], dict[str, float]]:
    """Each group's stratum and weight.

    Donate-a-Cry: the rarest curated cause in the install (rarity over the whole catalog), weight =
    that cause's clips in the install, so rare-cause clips are dealt out proportionally; installs
    with no curated clip form one stratum weighted by clip count. ESC-50 and UrbanSound8K: class;
    speech: corpus; groups holding hard negatives form strata of their own (``...:hard``), so every
    side of every split gets some of them wherever there are enough groups.
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
            if any(c.hard_negative for c in members):  # its own stratum: hard negatives reach every side
                key += ":hard"
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
            row["hard_negatives"] = sum(c.hard_negative for c in sel)
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
        return replace_text(path, json.dumps(self.to_dict(), indent=1, sort_keys=False))

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


def make_splits(clips: Sequence[Clip], config: DataConfig | None = None, seed: int = 0) -> Splits:
    """Grouped, stratified, seeded test / dev (train + val) / CV-fold splits over every clip.

    All clips are split, uncurated ones too, so any later use of them (auxiliary tags) respects the
    same groups. The same clips and config always give the same split.
    """
    config = config or DataConfig()
    if not clips:
        raise DataError("cannot split an empty catalog.")
    rng = np.random.default_rng(seed)
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
        groups={c.clip_id: c.group for c in clips}, config={**config.to_dict(), "seed": seed},
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
    """The report's ``data`` section: what was used, how it was split, the licences, the uncurated decision."""
    sources = sorted({c.source for c in clips}, key=SOURCES.index)
    out = {
        "description": (
            "Splits are grouped (Donate-a-Cry by app install, ESC-50 by source recording, speech by speaker, "
            "UrbanSound8K by Freesound fsID, extra data by its manifest's group: no group on two sides), seeded, "
            "and stratified (installs by the rarest curated cause they hold, ESC-50 and UrbanSound8K by class, "
            "speech by corpus, hard negatives apart so every side holds some). Detection: curated Donate-a-Cry, "
            "ESC-50 crying_baby and extra-data cries are positives; every other clip is a negative. Hard "
            "negatives: ESC-50's human non-speech classes, UrbanSound8K children_playing, child and teen "
            f"speakers. Cause: curated labels {list(config.cause_labels)}. " + UNCURATED_NOTE[config.use_uncurated]
        ),
        "sources": sources,
        "licences": {s: LICENCES[s] for s in sources if s in LICENCES},
        "catalog": summarize_catalog(clips),
        "splits": splits.summary(clips),
        "use_uncurated": config.use_uncurated,
        "config": config.to_dict(),
    }
    if info is not None:
        out["duplicates_skipped"] = info.n_duplicates_skipped
        out["speech_present"] = info.speech_present
        for folder, licences in info.extra_licences.items():
            out["licences"][f"extra:{folder}"] = "; ".join(licences)
    return out
