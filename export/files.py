"""Whole-file writes that a concurrent reader or writer never sees half done.

Why: several processes can share one run folder and its cache (the release check trains three
students side by side, each opening the folder, rewriting its ``config.json`` and filling the
cache). A plain ``write_text`` truncates the file first, so a process reading it at that moment gets
an empty file; a temporary file of a fixed name is renamed away by the first writer, and the second
one's rename then fails. Each write here goes to a temporary file of its own and is renamed over the
target: a reader sees the old content or the new one, and the last writer wins.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: The permissions a plainly created file gets (``mkstemp`` makes its file private, 0600).
FILE_MODE = 0o666 & ~_umask()


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write to; renamed over ``path`` (atomic on POSIX and
    Windows) when the block ends, removed if it raises. Its name ends as ``path``'s does, for writers
    that go by the suffix, and the permissions a plain write would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole (:func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text)
    return Path(path)
