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


# -- external data ------------------------------------------------------------------------------
# The seal covers the model file's own bytes, so weights kept in a separate file would escape it.
# An ONNX (protobuf) file says a tensor lives outside it with TensorProto.data_location = EXTERNAL
# (field 14) and TensorProto.external_data (field 13). Tensors sit in graph initializers, sparse
# initializers, node attributes and subgraphs, and function bodies; the walk below visits all of them.
_TENSOR_FIELDS = {"model": {7: "graph", 25: "function"},
                  "graph": {1: "node", 5: "tensor", 15: "sparse"},
                  "function": {7: "node"},
                  "node": {5: "attribute"},
                  "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
                  "sparse": {1: "tensor", 2: "tensor"}}
_EXTERNAL_DATA, _DATA_LOCATION = 13, 14


def _varint(data: memoryview, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated or malformed protobuf varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if b < 0x80:
            return value, i


def _fields(data: memoryview):
    """(field number, wire type, value) of one protobuf message; LEN values as memoryviews."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = None, i + 8
        elif wire == 5:
            value, i = None, i + 4
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise ValueError("truncated protobuf field")
            value, i = data[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def has_external_data(data: bytes) -> bool:
    """True when an ONNX file's bytes reference tensor data stored in another file.

    Raises ``ValueError`` for bytes that are not a well-formed protobuf message.
    """
    stack = [("model", memoryview(data))]
    while stack:
        kind, message = stack.pop()
        children = _TENSOR_FIELDS.get(kind, {})
        for field, wire, value in _fields(message):
            if kind == "tensor" and (field == _EXTERNAL_DATA or (field == _DATA_LOCATION and value == 1)):
                return True
            if wire == 2 and field in children:
                stack.append((children[field], value))
    return False
