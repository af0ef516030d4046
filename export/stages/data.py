"""Stage ``data``: the catalog of the data root (and any ``--extra-data``), a grouped split, its description."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from export.data.catalog import CatalogInfo, load_catalog
from export.data.context import DataContext, load_context, tiny_subset
from export.data.splits import describe, make_splits
from export.pipeline import Run


@dataclass
class DataOutputs:
    clips: int
    split: Path
    description: Path
    context: DataContext  # what the later stages of the same command work from


def run(run: Run, context: DataContext | None = None) -> DataOutputs:
    t0 = time.time()
    cfg = run.config
    info = CatalogInfo()
    clips = load_catalog(run.data_root, cfg.data, info=info)
    splits = make_splits(clips, cfg.data, seed=cfg.seed)
    if cfg.tiny:
        splits = tiny_subset(clips, splits, cfg.tiny_clips_per_side, cfg.seed)
    keep = set(splits.test) | set(splits.dev)
    clips = [c for c in clips if c.clip_id in keep]
    split_path = splits.save(run.path("split.json"))
    data_path = run.write_json("data.json", describe(clips, splits, cfg.data, info))
    run.record("data", [split_path, data_path], time.time() - t0, {"clips": len(clips)})
    return DataOutputs(len(clips), split_path, data_path, load_context(run))
