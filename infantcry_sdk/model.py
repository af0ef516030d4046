"""Load an InfantCry model file, prove it obeys the contract, and run it.

Everything that can be wrong with a model is found here, at load time, and reported as a
:class:`~infantcry_sdk.errors.ModelError` that names the file and says what to do: missing or
unreadable file, not loadable by onnxruntime, wrong graph names/ranks/dtypes, missing or unknown
schema version, missing or unparseable metadata (the optional stream rules and cause status too),
weights in an external-data file (outside the seal), a failed integrity seal, outputs that do not
match the declared labels, or window outputs that do not follow the window grid of the declared
window and hop. After that, :class:`LoadedModel` is a small immutable handle that is safe to share
across threads (onnxruntime's ``InferenceSession.run`` is thread-safe and nothing here mutates).

Only numpy and onnxruntime are used: the ``onnx`` package is a toolchain dependency, never a runtime one.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import onnxruntime as ort

from . import contract, integrity
from .errors import ModelError
from .session import session_options
from .windows import WindowGrid

#: Where the pipeline puts the default model inside the package.
DEFAULT_MODEL_NAME = "student_int8.onnx"

_FLOAT = "tensor(float)"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def default_model_path() -> Path:
    """Path of the bundled default model (it may be absent in a development checkout)."""
    return Path(__file__).resolve().parent / "models" / DEFAULT_MODEL_NAME


@dataclass(frozen=True)
class ModelMetadata:
    """The parsed ``infantcry.*`` metadata of a model file (``raw`` keeps every key as stored).

    The optional stream rules, cause status and window contexts hold the contract's defaults where
    the file has no value (:mod:`infantcry_sdk.contract`): on threshold = ``detection_threshold``, off
    threshold = 0.6 x on, smoothing 1, one window opens and two close an event, the cause
    "unsupported", and one window of context before and after each window.
    """

    schema_version: str
    sample_rate: int
    labels: tuple[str, ...]
    detection_threshold: float
    cause_min_confidence: float
    window_seconds: float
    hop_seconds: float
    min_samples: int
    model_version: str
    file_sha256: str
    training_summary: str
    raw: Mapping[str, str]
    stream_on_threshold: float
    stream_off_threshold: float
    stream_smoothing_windows: int
    stream_min_on_windows: int
    stream_min_off_windows: int
    cause_status: str
    cause_status_reason: str
    context_before_samples: int
    context_after_samples: int

    @property
    def window_samples(self) -> int:
        """Scoring window length in samples at :attr:`sample_rate`."""
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def hop_samples(self) -> int:
        """Hop between consecutive windows in samples at :attr:`sample_rate`."""
        return int(round(self.hop_seconds * self.sample_rate))

    @property
    def min_seconds(self) -> float:
        return self.min_samples / self.sample_rate

    @property
    def cause_supported(self) -> bool:
        """True only when the model records that its cause head passed the toolchain's test."""
        return self.cause_status == contract.CAUSE_SUPPORTED

    def to_dict(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "sample_rate": self.sample_rate,
            "labels": list(self.labels),
            "detection_threshold": self.detection_threshold,
            "cause_min_confidence": self.cause_min_confidence,
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
            "min_samples": self.min_samples,
            "model_version": self.model_version,
            "file_sha256": self.file_sha256,
            "training_summary": self.training_summary,
            "stream_on_threshold": self.stream_on_threshold,
            "stream_off_threshold": self.stream_off_threshold,
            "stream_smoothing_windows": self.stream_smoothing_windows,
            "stream_min_on_windows": self.stream_min_on_windows,
            "stream_min_off_windows": self.stream_min_off_windows,
            "cause_status": self.cause_status,
            "cause_status_reason": self.cause_status_reason,
            "context_before_samples": self.context_before_samples,
            "context_after_samples": self.context_after_samples,
        }


def _bad(path: Path | str, what: str) -> ModelError:
    return ModelError(
        f"{path} is not a usable InfantCry model: {what}. "
        "Use a model built by the InfantCry toolchain (python -m export), or CryClassifier.load() for the default."
    )


def _number(raw: Mapping[str, str], key: str, path: Path | str, kind: type, lo: float, hi: float) -> float | int:
    text = raw[key]
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise _bad(path, f"metadata {key}={text!r} is not a {kind.__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(path, f"metadata {key}={text!r} is not finite")
    if not lo <= value <= hi:
        raise _bad(path, f"metadata {key}={text!r} is outside [{lo}, {hi}]")
    return value


def _optional(raw: Mapping[str, str], key: str, default: float, path: Path | str, kind: type, lo: float, hi: float):
    return default if key not in raw else _number(raw, key, path, kind, lo, hi)


#: Largest stream smoothing / debouncing window count a model may declare.
MAX_STREAM_WINDOWS = 1000


def _stream_rules(raw: Mapping[str, str], path: Path | str, detection_threshold: float) -> dict:
    """The optional stream keys, checked, with the contract's defaults."""
    on = float(_optional(raw, contract.KEY_STREAM_ON_THRESHOLD, detection_threshold, path, float, 0.0, 1.0))
    off = float(_optional(raw, contract.KEY_STREAM_OFF_THRESHOLD, contract.DEFAULT_STREAM_OFF_RATIO * on,
                          path, float, 0.0, on))
    counts = {
        "stream_smoothing_windows": (contract.KEY_STREAM_SMOOTHING_WINDOWS, contract.DEFAULT_STREAM_SMOOTHING_WINDOWS),
        "stream_min_on_windows": (contract.KEY_STREAM_MIN_ON_WINDOWS, contract.DEFAULT_STREAM_MIN_ON_WINDOWS),
        "stream_min_off_windows": (contract.KEY_STREAM_MIN_OFF_WINDOWS, contract.DEFAULT_STREAM_MIN_OFF_WINDOWS),
    }
    rules = {
        name: int(_optional(raw, key, default, path, int, 1, MAX_STREAM_WINDOWS)) for name, (key, default) in counts.items()
    }
    return {"stream_on_threshold": on, "stream_off_threshold": off, **rules}


#: Longest context before or after a window a model may declare, in windows (bounds the stream's memory).
MAX_CONTEXT_WINDOWS = 8


def _contexts(raw: Mapping[str, str], path: Path | str, window_samples: int) -> dict:
    """The optional context keys, checked, with the contract's default of one window each."""
    hi = MAX_CONTEXT_WINDOWS * window_samples
    return {
        name: int(_optional(raw, key, window_samples, path, int, 0, hi))
        for name, key in (("context_before_samples", contract.KEY_CONTEXT_BEFORE_SAMPLES),
                          ("context_after_samples", contract.KEY_CONTEXT_AFTER_SAMPLES))
    }


def _cause_status(raw: Mapping[str, str], path: Path | str) -> dict:
    status = raw.get(contract.KEY_CAUSE_STATUS, contract.CAUSE_UNSUPPORTED)
    if status not in contract.CAUSE_STATUSES:
        raise _bad(path, f"metadata {contract.KEY_CAUSE_STATUS}={status!r} is not one of {list(contract.CAUSE_STATUSES)}")
    reason = raw.get(contract.KEY_CAUSE_STATUS_REASON) or (
        contract.DEFAULT_CAUSE_STATUS_REASON if contract.KEY_CAUSE_STATUS not in raw else f"the model says {status}"
    )
    return {"cause_status": status, "cause_status_reason": reason}


def parse_metadata(raw: Mapping[str, str], path: Path | str = "<model>") -> ModelMetadata:
    """Check and convert the contract metadata; :class:`ModelError` names the first problem."""
    if contract.KEY_SCHEMA_VERSION not in raw:
        raise _bad(path, f"metadata {contract.KEY_SCHEMA_VERSION} is missing")
    version = raw[contract.KEY_SCHEMA_VERSION]
    if version not in contract.SUPPORTED_SCHEMA_VERSIONS:
        raise ModelError(
            f"{path} uses InfantCry model schema {version!r}, which this SDK does not know "
            f"(it reads {sorted(contract.SUPPORTED_SCHEMA_VERSIONS)}). Upgrade infantcry, or use a model "
            "built for this version."
        )
    missing = [k for k in contract.REQUIRED_KEYS if k not in raw]
    if missing:
        raise _bad(path, f"metadata {', '.join(missing)} missing")
    try:
        labels = json.loads(raw[contract.KEY_LABELS])
    except ValueError:
        labels = None
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and x for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise _bad(path, f"metadata {contract.KEY_LABELS} must be a JSON list of distinct non-empty names")
    sample_rate = int(_number(raw, contract.KEY_SAMPLE_RATE, path, int, 1000, 768_000))
    window = float(_number(raw, contract.KEY_WINDOW_SECONDS, path, float, 1e-3, 3600.0))
    hop = float(_number(raw, contract.KEY_HOP_SECONDS, path, float, 1e-3, window))
    window_samples = int(round(window * sample_rate))
    min_samples = int(_number(raw, contract.KEY_MIN_SAMPLES, path, int, 1, window_samples))
    digest = raw[contract.KEY_FILE_SHA256]
    if not _HEX64.match(digest) or digest == integrity.PLACEHOLDER:
        raise _bad(path, f"metadata {contract.KEY_FILE_SHA256} is not a sealed SHA-256 digest (was the file sealed?)")
    detection_threshold = float(_number(raw, contract.KEY_DETECTION_THRESHOLD, path, float, 0.0, 1.0))
    return ModelMetadata(
        schema_version=version,
        sample_rate=sample_rate,
        labels=tuple(labels),
        detection_threshold=detection_threshold,
        cause_min_confidence=float(_number(raw, contract.KEY_CAUSE_MIN_CONFIDENCE, path, float, 0.0, 1.0)),
        window_seconds=window,
        hop_seconds=hop,
        min_samples=min_samples,
        model_version=raw[contract.KEY_MODEL_VERSION],
        file_sha256=digest,
        training_summary=raw.get(contract.KEY_TRAINING_SUMMARY, ""),
        raw=MappingProxyType(dict(raw)),
        **_stream_rules(raw, path, detection_threshold),
        **_cause_status(raw, path),
        **_contexts(raw, path, window_samples),
    )


def _check_graph(session: ort.InferenceSession, path: Path) -> bool:
    """Raise unless the graph's io is the contract's; True when it has the optional window outputs."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != contract.INPUT_NAME:
        names = [i.name for i in inputs]
        raise _bad(path, f"expected one input {contract.INPUT_NAME!r}, found {names}")
    arg = inputs[0]
    if arg.type != _FLOAT or len(arg.shape) != 2:
        raise _bad(path, f"input {arg.name!r} must be float32 [batch, samples], is {arg.type} {arg.shape}")
    outputs = {o.name: o for o in session.get_outputs()}
    missing = [name for name in contract.OUTPUT_RANKS if name not in outputs]
    if missing:
        raise _bad(path, f"output {missing[0]!r} is missing (outputs: {sorted(outputs)})")
    present = [name for name in contract.WINDOW_OUTPUT_RANKS if name in outputs]
    if len(present) == 1:
        raise _bad(path, f"output {present[0]!r} comes without its pair (window outputs are both or neither)")
    ranks = {**contract.OUTPUT_RANKS, **(contract.WINDOW_OUTPUT_RANKS if present else {})}
    for name, rank in ranks.items():
        out = outputs[name]
        if out.type != _FLOAT or len(out.shape) != rank:
            raise _bad(path, f"output {name!r} must be float32 of rank {rank}, is {out.type} {out.shape}")
    return bool(present)


_add = np.add.reduce


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` (a fresh onnxruntime output) clipped to [0, 1] in place: two ufunc calls, no copy
    (``np.clip``'s wrapper costs more than the work on these few values)."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


#: Largest gap between a window's one-pass score and its score from the window plus its context
#: alone that a model with window outputs may show at load (float32 rounding; exact in practice).
CONTEXT_TOLERANCE = 1e-5


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A validated model: its session, parsed metadata, window grid and where it came from.

    ``window_outputs``: the graph also scores every window of its input in one pass
    (:meth:`run_windows`); without them a caller cuts windows itself and uses :meth:`run`.
    ``grid`` (:class:`~infantcry_sdk.windows.WindowGrid`) is the window grid every scoring path uses:
    for a model with window outputs its tail and context are the graph's, checked at load.
    """

    path: Path
    file_bytes: int
    metadata: ModelMetadata
    session: ort.InferenceSession
    threads: int
    grid: WindowGrid
    window_outputs: bool = False

    def run(self, waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score a float32 ``[batch, samples]`` block: ``(cry [batch], causes [batch, n])``, float32 in [0, 1].

        Every row must hold at least ``min_samples`` samples (callers check; this is the engine).
        A model that fails or returns malformed/non-finite outputs raises :class:`ModelError`.
        """
        return self._run(self._clip_outputs, waveforms, windows=False)

    def run_windows(self, waveforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Score every window of each row in one pass: ``(cry [batch, W], causes [batch, W, n])``, float32 in [0, 1].

        Window ``w`` starts ``w * hop_samples`` into the row (see ``infantcry_sdk.contract``). Only for
        models with :attr:`window_outputs`; rows hold at least ``min_samples``.
        """
        if not self.window_outputs:
            raise ModelError(f"model {self.path} has no window outputs; cut windows and use run().")
        return self._run(self._window_outputs, waveforms, windows=True)

    _clip_outputs = [contract.OUTPUT_CRY, contract.OUTPUT_CAUSES]
    _window_outputs = [contract.OUTPUT_WINDOW_CRY, contract.OUTPUT_WINDOW_CAUSES]

    def _run(self, outputs: list[str], waveforms: np.ndarray, *, windows: bool) -> tuple[np.ndarray, np.ndarray]:
        """One session run of a (cry, causes) output pair, its shapes and values checked."""
        batch = np.ascontiguousarray(waveforms, dtype=np.float32)
        try:
            cry, causes = self.session.run(outputs, {contract.INPUT_NAME: batch})
        except Exception as exc:  # onnxruntime raises several private types
            raise ModelError(f"model {self.path} failed on a {batch.shape} input: {exc}") from exc
        n = len(self.metadata.labels)
        if windows:  # [batch, W] with W >= 1, and [batch, W, n]
            ok = cry.ndim == 2 and cry.shape[0] == batch.shape[0] and cry.shape[1] >= 1
        else:  # [batch], and [batch, n]
            ok = cry.shape == (batch.shape[0],)
        if not ok or causes.shape != (*cry.shape, n):
            kind = "window shapes" if windows else "shapes"
            raise ModelError(
                f"model {self.path} returned {kind} {cry.shape} and {causes.shape} for a batch of "
                f"{batch.shape[0]} with {n} labels; the file does not match its own metadata."
            )
        # NaN or Inf anywhere makes a sum non-finite: one reduction per output instead of a mask
        if not math.isfinite(float(_add(cry, axis=None)) + float(_add(causes, axis=None))):
            raise ModelError(f"model {self.path} returned NaN or Inf; the file is broken.")
        return _unit(cry), _unit(causes)

    def window_count(self, n: int) -> int:
        """Windows the graph's window outputs give for ``n`` samples of silence."""
        return int(self.run_windows(np.zeros((1, n), np.float32))[0].shape[1])


def _geometry_error(model: LoadedModel, what: str) -> ModelError:
    m = model.metadata
    return _bad(model.path, f"its window outputs {what}, which its metadata (window {m.window_seconds} s, "
                            f"hop {m.hop_seconds} s, min_samples {m.min_samples}) does not describe")


def _measure_tail(model: LoadedModel) -> int:
    """The fewest samples past a window's end that make the graph start another window, searched in
    ``1 .. min(hop, min_samples)`` (a model frame is no longer than the shortest input it takes)."""
    m = model.metadata
    window, hi = m.window_samples, min(m.hop_samples, m.min_samples)
    for n in (m.min_samples, window):
        if model.window_count(n) != 1:
            raise _geometry_error(model, f"give {model.window_count(n)} windows for {n} samples (one window or less)")
    if model.window_count(window + hi) != 2:
        raise _geometry_error(model, f"start no second window within {hi} samples past the first")
    lo = 0  # window + lo gives 1 window, window + hi gives 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if model.window_count(window + mid) == 2 else (mid, hi)
    return hi


def _check_window_grid(model: LoadedModel) -> None:
    """Counts: for every ``k`` up to a bound, ``window + (k - 1) * hop + tail - 1`` samples give ``k``
    windows and one sample more gives ``k + 1``. Windows past the bound see a span no different in
    kind from one before it (the span of a window is its context, itself and its context), so the
    bound is the number of windows one span overlaps, plus one.

    Context: every window of a noise probe scores the same from its span alone as in one pass over
    the whole probe, within :data:`CONTEXT_TOLERANCE`; otherwise windows scored in segments or by a
    stream would differ from ``predict``'s."""
    g = model.grid
    bound = g.span_samples // g.hop + 2
    for k in range(1, bound + 1):
        n = g.window + (k - 1) * g.hop + g.tail - 1
        for length, want in ((n, k), (n + 1, k + 1)):
            got = model.window_count(length)
            if got != want:
                raise _geometry_error(model, f"give {got} windows for {length} samples where the grid has {want}")
    n = g.window + bound * g.hop + g.tail
    probe = (0.1 * np.random.default_rng(0).standard_normal(n)).astype(np.float32)
    whole = model.run_windows(probe[None])[0][0]
    for k in range(g.count(n)):
        lo, hi = g.span(k, k + 1, n)
        alone = model.run_windows(probe[None, lo:hi])[0][0][(k * g.hop - lo) // g.hop]
        if abs(alone - whole[k]) > CONTEXT_TOLERANCE:
            raise _geometry_error(model, f"score window {k} {abs(alone - whole[k]):.2g} apart from its "
                                         f"span ({g.context_before} samples of context before it, "
                                         f"{g.context_after} after it)")


def _grid(model: LoadedModel) -> WindowGrid:
    """The model's window grid: measured and checked for window outputs, derived otherwise."""
    m = model.metadata
    if not model.window_outputs:  # the SDK cuts windows: a partial last window must hold min_samples
        return WindowGrid(m.window_samples, m.hop_samples, max(1, m.min_samples - (m.window_samples - m.hop_samples)))
    return WindowGrid.with_receptive_field(m.window_samples, m.hop_samples, _measure_tail(model),
                                           m.context_before_samples, m.context_after_samples)


def _read(path: str | Path | None) -> tuple[Path, bytes]:
    """The model file's path and bytes (None = the bundled default)."""
    if path is None:
        p = default_model_path()
        if not p.is_file():
            raise ModelError(
                f"the bundled default model is not installed ({p} is missing). This build of infantcry "
                "ships without it: pass a model path, e.g. CryClassifier.load('student_int8.onnx'), or "
                "build one with `python -m export`."
            )
    else:
        p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file not found: {p}. Pass the path of a .onnx or .ort InfantCry model.")
    try:
        return p, p.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model file {p}: {exc.strerror or exc}.") from exc


def _check_self_contained(p: Path, data: bytes, ort_format: bool) -> bool | None:
    """Refuse tensors stored outside the file: the seal covers only the file's own bytes. None when
    the bytes are no protobuf this walk can read (onnxruntime then has its say first)."""
    if ort_format:
        return False  # the ORT flatbuffer format holds its initializers inline
    try:
        external = integrity.has_external_data(data)
    except ValueError:
        return None
    if external:
        raise _bad(p, "its weights are stored in a separate external-data file, which the integrity seal "
                      "does not cover; save the model with all tensors inside the .onnx file")
    return False


def load_model(path: str | Path | None = None, *, threads: int = 1) -> LoadedModel:
    """Open ``path`` (``.onnx`` or ``.ort``; None = the bundled default), validate it, make a session.

    ``threads`` is onnxruntime's intra-op thread count (an int >= 1; ``ValueError`` otherwise).
    """
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, not {threads!r}")
    p, data = _read(path)
    ort_format = p.suffix.lower() == ".ort"
    walked = _check_self_contained(p, data, ort_format)
    opts = session_options(int(threads), ort_format=ort_format)
    # Anything the file still points at resolves next to the model, never in the working directory.
    opts.add_session_config_entry("session.model_external_initializers_file_folder_path", str(p.resolve().parent))
    try:
        # Load the very bytes that the integrity check hashes: no window for the file to change.
        session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise _bad(p, f"onnxruntime cannot load it ({type(exc).__name__}: {str(exc).strip()[:300]})") from exc
    if walked is None:
        raise _bad(p, "its bytes are not a well-formed ONNX protobuf")
    window_outputs = _check_graph(session, p)
    try:
        raw_meta = dict(session.get_modelmeta().custom_metadata_map)
    except Exception as exc:  # e.g. UnicodeDecodeError from a corrupted metadata string
        raise _bad(p, f"its metadata cannot be read ({type(exc).__name__}); the file is corrupted") from exc
    meta = parse_metadata(raw_meta, p)
    if not integrity.verify(data, meta.file_sha256):
        raise ModelError(
            f"model file {p} is tampered or corrupted: its bytes do not match its sealed SHA-256. "
            "Re-download or rebuild the model; never edit a sealed model by hand."
        )
    model = LoadedModel(path=p, file_bytes=len(data), metadata=meta, session=session, threads=int(threads),
                        grid=WindowGrid(meta.window_samples, meta.hop_samples), window_outputs=window_outputs)
    # Smoke run at the shortest allowed length: catches label-count mismatches and graphs that cannot
    # take their own min_samples, at load time rather than on the first user clip.
    model.run(np.zeros((1, meta.min_samples), np.float32))
    if window_outputs:
        model.run_windows(np.zeros((1, meta.min_samples), np.float32))
    model = dataclasses.replace(model, grid=_grid(model))
    if window_outputs:
        _check_window_grid(model)
    return model
