"""The one place that writes a model file's ``infantcry.*`` metadata and seals it.

The exporter, the quantizer, the export stage's threshold rewrite, the toy models of the tests and the
benchmarks' stand-ins all go through these functions, so there is one string encoding of every
contract key (:mod:`infantcry_sdk.contract`) and one way a file gets its integrity value
(:func:`infantcry_sdk.integrity.seal`: the placeholder is written first, then replaced by the
digest of the file holding it).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import onnx

from infantcry_sdk import contract, integrity

from export.constants import SAMPLE_RATE


def _num(v: float) -> str:
    return repr(float(v))


def metadata_for(
    labels: Sequence[str],
    detection_threshold: float,
    cause_min_confidence: float,
    window_seconds: float,
    hop_seconds: float,
    min_samples: int,
    model_version: str,
    training_summary: str | Mapping,
    sample_rate: int = SAMPLE_RATE,
) -> dict[str, str]:
    """Every contract metadata value as a string (the integrity field as the placeholder, sealed later).

    ``training_summary``: short text, or a dict (written as compact JSON): data, licences, metrics.
    Thresholds must come from validation data of the development split, never the test split.
    """
    labels = [str(l) for l in labels]
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be a non-empty list of distinct names, got {labels!r}")
    for name, v in (("detection_threshold", detection_threshold), ("cause_min_confidence", cause_min_confidence)):
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {v}")
    if not (window_seconds > 0 and 0 < hop_seconds <= window_seconds):
        raise ValueError(f"need 0 < hop_seconds <= window_seconds, got {hop_seconds}, {window_seconds}")
    if int(min_samples) < 1:
        raise ValueError(f"min_samples must be >= 1, got {min_samples}")
    summary = training_summary if isinstance(training_summary, str) else json.dumps(training_summary, separators=(",", ":"))
    return {
        contract.KEY_SCHEMA_VERSION: contract.SCHEMA_VERSION,
        contract.KEY_SAMPLE_RATE: str(int(sample_rate)),
        contract.KEY_LABELS: json.dumps(labels),
        contract.KEY_DETECTION_THRESHOLD: _num(detection_threshold),
        contract.KEY_CAUSE_MIN_CONFIDENCE: _num(cause_min_confidence),
        contract.KEY_WINDOW_SECONDS: _num(window_seconds),
        contract.KEY_HOP_SECONDS: _num(hop_seconds),
        contract.KEY_MIN_SAMPLES: str(int(min_samples)),
        contract.KEY_MODEL_VERSION: str(model_version),
        contract.KEY_TRAINING_SUMMARY: summary,
        contract.KEY_FILE_SHA256: integrity.PLACEHOLDER,
    }


def read_metadata(proto: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in proto.metadata_props}


def set_metadata(proto: onnx.ModelProto, metadata: Mapping[str, str]) -> None:
    """Replace ``proto.metadata_props`` with ``metadata`` (integrity value forced to the placeholder)."""
    del proto.metadata_props[:]
    for key, value in metadata.items():
        if key == contract.KEY_FILE_SHA256:
            value = integrity.PLACEHOLDER
        proto.metadata_props.add(key=key, value=value)


def update_metadata(proto: onnx.ModelProto, updates: Mapping[str, str | None]) -> None:
    """Merge ``updates`` into ``proto``'s metadata, as given (None deletes a key; the integrity value too)."""
    kept = read_metadata(proto)
    for key, value in updates.items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = value
    del proto.metadata_props[:]
    for key, value in kept.items():
        proto.metadata_props.add(key=key, value=value)


def save_model(proto: onnx.ModelProto, path: str | Path, *, seal: bool = True) -> str | None:
    """Save ``proto`` as one file; with ``seal`` and the placeholder in its metadata, seal it and return
    the digest (None when nothing was sealed: a file the caller means to be unsealed or broken)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(path), save_as_external_data=False)
    if seal and read_metadata(proto).get(contract.KEY_FILE_SHA256) == integrity.PLACEHOLDER:
        return integrity.seal(path)
    return None


def save_sealed(proto: onnx.ModelProto, path: str | Path) -> str:
    """Save ``proto`` (its metadata holding the placeholder) as one file and seal it; returns the digest."""
    digest = save_model(proto, path)
    if digest is None:
        raise ValueError(f"{path}: the metadata holds no integrity placeholder to seal")
    return digest


def rewrite_metadata(src: str | Path, dst: str | Path, updates: Mapping[str, str | None], *, seal: bool = True) -> Path:
    """Copy an ONNX model with some metadata changed (None deletes a key), re-sealed by default.

    With ``seal=True`` the integrity value is reset to the placeholder and sealed again, so the copy
    fails only for the reason the caller planted.
    """
    model = onnx.load_model(str(src))
    updates = dict(updates)
    if seal and contract.KEY_FILE_SHA256 not in updates:
        updates[contract.KEY_FILE_SHA256] = integrity.PLACEHOLDER
    update_metadata(model, updates)
    save_model(model, dst, seal=seal)
    return Path(dst)
