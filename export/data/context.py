"""What every stage after ``data`` works from: the catalog restricted to the saved split, decoded once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from export.data.catalog import Clip, load_catalog
from export.data.paths import DataError
from export.data.splits import Splits
from export.data.waveforms import WaveformStore
from export.evaluation.evaluate import EvalSet, Scores, sdk_scores

if TYPE_CHECKING:
    from export.pipeline import Run


@dataclass
class DataContext:
    """The catalog and split every stage after ``data`` works from."""

    clips: list[Clip]
    splits: Splits
    store: WaveformStore
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        self.by_id = {c.clip_id: c for c in self.clips}

    def side(self, name: str) -> list[Clip]:
        return [self.by_id[i] for i in getattr(self.splits, name) if i in self.by_id]

    def waves(self, clips: Sequence[Clip]) -> list[np.ndarray]:
        loaded = self.store.load_many(clips)
        return [loaded[c.clip_id] for c in clips]

    def labelled(self, side: str) -> "LabelledSide":
        """The side's clips with a verified cry label, their ground truth and samples."""
        clips = [c for c in self.side(side) if c.is_cry is not None]
        return LabelledSide(self.eval_set(clips), [c.clip_id for c in clips], self.waves(clips))

    def eval_set(self, clips: Sequence[Clip]) -> EvalSet:
        det = [c for c in clips if c.is_cry is not None]
        index = {lab: i for i, lab in enumerate(self.labels)}
        cau = [c for c in clips if c.cause in index]
        return EvalSet(
            det_ids=[c.clip_id for c in det],
            det_y=np.array([int(c.is_cry) for c in det], dtype=int),
            det_groups=np.array([c.group for c in det]),
            det_durations=np.array([c.duration_s for c in det], dtype=np.float64),
            cause_ids=[c.clip_id for c in cau],
            cause_y=np.array([index[c.cause] for c in cau], dtype=int),
            cause_groups=np.array([c.group for c in cau]),
        )


@dataclass
class LabelledSide:
    """Clips of one side with their ground truth, decoded once, scored through the SDK."""

    ev: EvalSet
    ids: list[str]
    waves: list[np.ndarray]

    def scores(self, path: Path, threads: int) -> Scores:
        return sdk_scores(path, self.ids, self.waves, threads)


def _tiny_kinds():
    """What the tiny profile samples on each side: cries, and each kind of negative."""
    return (
        lambda c: c.cause is not None,
        lambda c: c.source == "esc50" and not c.hard_negative,
        lambda c: c.source == "speech",
        lambda c: c.hard_negative,
        lambda c: c.source in ("urbansound8k", "extra"),
    )


def tiny_subset(clips: list[Clip], splits: Splits, per_side: int, seed: int) -> Splits:
    """A few clips per side (cries of several causes, each kind of negative) for CI's smoke run."""
    rng = np.random.default_rng(seed)
    by_id = {c.clip_id: c for c in clips}

    def pick(ids: list[str]) -> list[str]:
        cs = [by_id[i] for i in ids]
        out: list[str] = []
        for cause in sorted({c.cause for c in cs if c.cause}):  # one of each cause: the cause head sees several
            out.append(next(c.clip_id for c in cs if c.cause == cause))
        for kind in _tiny_kinds():
            pool = [c.clip_id for c in cs if kind(c) and c.clip_id not in out]
            take = min(len(pool), max(2, per_side // 3))
            out.extend(rng.choice(pool, size=take, replace=False).tolist() if pool else [])
        return sorted(set(out))

    test, train, val = pick(splits.test), pick(splits.train), pick(splits.val)
    dev = sorted(train + val)
    keep = set(dev)
    folds = [([i for i in tr if i in keep], [i for i in va if i in keep]) for tr, va in splits.folds]
    folds = [f for f in folds if f[0] and f[1]]
    if len(folds) < 2:
        folds = [(train, val), (val, train)]
    groups = {i: splits.groups[i] for i in test + dev}
    return Splits(test=test, dev=dev, val=val, train=train, folds=folds, groups=groups, config=splits.config)


def load_context(run: "Run") -> DataContext:
    """The catalog restricted to the saved split (``split.json``), with a decode cache."""
    splits = Splits.load(run.require("split.json", "data"))
    keep = set(splits.test) | set(splits.dev)
    clips = [c for c in load_catalog(run.data_root, run.config.data) if c.clip_id in keep]
    if len(clips) != len(keep):
        raise DataError("split.json names clips this data root does not have: rerun the 'data' stage.")
    store = WaveformStore(cache_dir=run.cache_dir / "waveforms")
    return DataContext(clips, splits, store, tuple(run.config.data.cause_labels))
