"""A user's own clips: ``--extra-data DIR`` reads ``DIR/manifest.csv`` into the catalog.

The manifest (one row per audio file, paths relative to ``DIR``)::

    file,is_cry,cause,group,licence
    audio/night1.wav,1,hungry,family-a,CC BY 4.0
    audio/tv.wav,0,,living-room-1,own recording

- ``file``: an audio file the SDK's decoder reads (wav, flac, ogg, ...), any sample rate;
- ``is_cry``: ``1``/``0`` (also ``true``/``false``, ``yes``/``no``);
- ``cause`` (optional column, may be empty): one of the run's cause labels, on cries only;
- ``group``: what no split may cut (one baby, home or source recording): clips of one group stay
  on one side of every split;
- ``licence``: travels into the model card;
- ``hard_negative`` (optional, ``1``/``0``): a baby-like non-cry, kept on every side of the split.

Every problem in the file is reported at once, with row numbers, as a :class:`DataError`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import soundfile as sf

from export.data.catalog import Clip, read_csv
from export.data.paths import DataError

MANIFEST = "manifest.csv"
REQUIRED_COLUMNS = ("file", "is_cry", "group", "licence")
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def _flag(value: str | None, column: str, problems: list[str], where: str, allow_empty: bool) -> bool:
    v = (value or "").strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE and (allow_empty or v):
        return False
    problems.append(f"{where}: {column} is {value!r}; want 1 or 0")
    return False


def _duration(path: Path, problems: list[str], where: str) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except (RuntimeError, OSError, sf.LibsndfileError) as exc:
        problems.append(f"{where}: cannot read audio {path}: {exc}")
        return 0.0


def _row(folder: Path, r: dict, n: int, labels: Sequence[str], problems: list[str]) -> Clip | None:
    where = f"{folder / MANIFEST} row {n}"
    before = len(problems)
    file, group, licence = ((r.get(k) or "").strip() for k in ("file", "group", "licence"))
    is_cry = _flag(r.get("is_cry"), "is_cry", problems, where, allow_empty=False)
    hard = _flag(r.get("hard_negative"), "hard_negative", problems, where, allow_empty=True)
    cause = (r.get("cause") or "").strip() or None
    if cause is not None and cause not in labels:
        problems.append(f"{where}: unknown cause {cause!r}; the run's cause labels are {list(labels)}")
    if cause is not None and not is_cry:
        problems.append(f"{where}: cause {cause!r} on a clip with is_cry 0")
    for column, value in (("file", file), ("group", group), ("licence", licence)):
        if not value:
            problems.append(f"{where}: empty {column}")
    path = folder / file
    if file and not path.is_file():
        problems.append(f"{where}: audio file {path} is missing")
    if len(problems) > before:
        return None
    return Clip(
        clip_id=f"extra/{folder.name}/{file}", path=path, source="extra", group=f"extra:{folder.name}/{group}",
        is_cry=is_cry, cause=cause, tag=None, category="extra", duration_s=_duration(path, problems, where),
        hard_negative=hard and not is_cry, licence=licence,
    )


def load_extra(folder: str | os.PathLike, labels: Sequence[str]) -> list[Clip]:
    """The clips of one extra-data folder, validated against the run's cause ``labels``."""
    folder = Path(folder).expanduser().resolve()
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise DataError(f"--extra-data {folder}: no {MANIFEST} there (columns: {', '.join(REQUIRED_COLUMNS)}, cause optional).")
    rows = read_csv(manifest, REQUIRED_COLUMNS)
    if not rows:
        raise DataError(f"{manifest} lists no clips.")
    problems: list[str] = []
    clips = [_row(folder, r, n, labels, problems) for n, r in enumerate(rows, start=2)]
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataError(f"{manifest} has {len(problems)} problem(s):\n  {shown}{more}")
    return [c for c in clips if c is not None]
