"""Tamper evidence for model files without parsing them (the runtime has no ``onnx`` package).

A sealed file stores, in its ``infantcry.file_sha256`` metadata, the SHA-256 of the file's own bytes
taken while that 64-character value was all zeros. Sealing writes the zeros, hashes, and patches the
digest in place (same length, so nothing else moves). Checking zeroes the digest again and rehashes.
The scheme is byte-level, so one function serves ``.onnx`` (protobuf) and ``.ort`` (flatbuffer) alike:
any changed weight, node or metadata byte changes the digest.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

PLACEHOLDER = "0" * 64


def _digest_with_zeroed(data: bytes, value: str) -> str:
    """Hash ``data`` with the single occurrence of ``value`` replaced by the placeholder."""
    needle = value.encode("ascii")
    if data.count(needle) != 1:
        raise ValueError("the integrity value must occur exactly once in the file")
    return hashlib.sha256(data.replace(needle, PLACEHOLDER.encode("ascii"))).hexdigest()


def seal(path: str | Path) -> str:
    """Replace the placeholder in ``path`` with the file's digest; returns the digest."""
    path = Path(path)
    data = path.read_bytes()
    digest = _digest_with_zeroed(data, PLACEHOLDER)
    path.write_bytes(data.replace(PLACEHOLDER.encode("ascii"), digest.encode("ascii")))
    return digest


def verify(data: bytes, stored: str) -> bool:
    """True when ``data`` (a sealed file's bytes) hashes to ``stored``, its metadata value."""
    if len(stored) != 64 or stored == PLACEHOLDER:
        return False
    try:
        return _digest_with_zeroed(data, stored) == stored
    except ValueError:
        return False


def file_sha256(path: str | Path) -> str:
    """Plain SHA-256 of a file's bytes, read in blocks (manifests, caches; not the sealed value)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
