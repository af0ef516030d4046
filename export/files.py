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
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def _new_file_beside(path: Path) -> Path:
    """An empty file of a fresh name beside ``path``, created with mode 0666 so that the kernel
    applies the process's umask of the moment, as a plain write does. (``mkstemp`` makes its file
    0600, and reading the umask in Python means setting it, process-wide, for a moment.)"""
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp{path.suffix}"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` to write to; renamed over ``path`` (atomic on POSIX and
    Windows) when the block ends, removed if it raises. Its name ends as ``path``'s does, for writers
    that go by the suffix, and it has the permissions a plain write would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole (:func:`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text)
    return Path(path)
