"""Whole-file writes that a concurrent reader never sees half done.

Why: several processes can share one run folder (the release check trains three students side by
side, each opening the folder and rewriting its ``config.json``); a plain ``write_text`` truncates
the file first, so another process reading it at that moment gets an empty file and fails.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (atomic on
    POSIX and Windows): a reader sees the old content or the new, never a partial one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
