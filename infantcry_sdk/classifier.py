"""CryClassifier: score a clip (file or array) for crying and its likely cause.

How a clip is scored
    The audio is decoded, mixed down to mono and resampled to the model's rate by
    :func:`infantcry_sdk.audio.load`, then scored in the windows of the model's grid
    (:mod:`infantcry_sdk.windows`): ``window_seconds`` long, one every ``hop_seconds`` from the
    start, the last one partial when the clip does not end on a window's end. The grid, and so
    :attr:`CryPrediction.windows`, is the same whatever kind of model scores it:

    * a model with window outputs (``infantcry_sdk.contract``; every model the toolchain now
      builds) scores all windows of a clip in **one pass**: each second of audio goes through the
      network once, not once per window that holds it. A window's score depends on the audio of
      the window and of its context before and after it (the model's, checked at load); clips
      longer than about a minute are scored in segments that overlap by that context, so every
      window sees the same audio as in one pass over the whole clip;
    * a model without them gets each window cut by the SDK and scored alone (a partial window
      holds only the clip's last samples), in batches of bounded size.

    :class:`~infantcry_sdk.stream.CryStream` scores the same windows through the same code.
    The window scores are aggregated:

    * ``cry_probability`` is the **maximum** over windows: a cry anywhere in the clip counts.
    * ``cause_probabilities`` is the **mean** over the windows whose cry probability reaches the
      detection threshold (the crying parts), or over all windows when none does.

The cause
    Only a model whose metadata says its cause head passed the toolchain's test against chance
    (``cause_status`` "supported") names a cause. For every other model ``cause`` is None and
    ``confident`` False on every clip; ``cause_status`` and ``cause_status_reason`` say why, and
    ``cause_probabilities`` still holds the head's raw output, which is then no answer.

Too-short audio
    Audio shorter than the model's ``min_samples`` (after resampling) raises :class:`AudioError`
    saying the minimum in seconds. It is not padded: padding a fragment with silence would invent
    a score for sound the model never heard.

Out-of-range audio
    Float samples beyond +/-16 (``infantcry_sdk.audio.MAX_ABS_SAMPLE``) raise :class:`AudioError`: that is int PCM passed
    as float, and would overflow the model's features. Mildly hot audio (peaks a little over 1) is fine.

Sharing
    A classifier holds one onnxruntime session and no per-call state, so one instance may be used
    from many threads at once.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from . import audio as _audio
from . import contract
from .errors import AudioError, ModelError
from .model import LoadedModel, ModelMetadata, load_model
from .windows import WindowGrid

if TYPE_CHECKING:
    from .stream import CryStream, StreamOptions

#: Upper bound on samples per session.run call (4 MiB of float32 input per run).
MAX_BATCH_SAMPLES = 1 << 20


@dataclass(frozen=True)
class CryPrediction:
    """The verdict for one clip.

    ``is_cry``: ``cry_probability >= detection_threshold``. ``confident``: the model's cause head is
    supported and the top cause's probability reaches ``cause_min_confidence``. ``cause``: the top
    label when the clip is a cry *and* confident, else None. ``cause_probabilities`` is always
    filled (label -> prob). ``cause_status`` ("supported"/"unsupported") and
    ``cause_status_reason`` come from the model. ``duration_s`` is the clip length; ``windows``
    how many windows of the grid were scored.
    """

    is_cry: bool
    cry_probability: float
    cause: str | None
    cause_probabilities: dict[str, float]
    confident: bool
    duration_s: float
    windows: int
    cause_status: str = contract.CAUSE_UNSUPPORTED
    cause_status_reason: str = contract.DEFAULT_CAUSE_STATUS_REASON

    def to_dict(self) -> dict:
        return {
            "is_cry": self.is_cry,
            "cry_probability": self.cry_probability,
            "cause": self.cause,
            "cause_probabilities": dict(self.cause_probabilities),
            "confident": self.confident,
            "duration_s": self.duration_s,
            "windows": self.windows,
            "cause_status": self.cause_status,
            "cause_status_reason": self.cause_status_reason,
        }


class CryClassifier:
    """Cry detection and cause estimation over one InfantCry model. Create with :meth:`load`."""

    def __init__(self, model: LoadedModel) -> None:
        self._model = model

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, threads: int = 1) -> "CryClassifier":
        """Load ``path`` (.onnx or .ort), or the bundled default model when None.

        Raises :class:`ModelError` when the file is missing, not an InfantCry model, of an unknown
        schema, or tampered with. ``threads``: onnxruntime intra-op threads (default 1).
        """
        return cls(load_model(None if path is None else Path(path), threads=threads))

    # -- properties -------------------------------------------------------------------------
    @property
    def labels(self) -> tuple[str, ...]:
        """Cause names, in the model's output order."""
        return self._model.metadata.labels

    @property
    def sample_rate(self) -> int:
        """The model's sample rate; other rates are resampled to it."""
        return self._model.metadata.sample_rate

    @property
    def metadata(self) -> ModelMetadata:
        return self._model.metadata

    @property
    def path(self) -> Path:
        return self._model.path

    def info(self) -> dict:
        """Everything an app or the ``infantcry info`` command may want to show about the model."""
        s = self._model.session
        return {
            "path": str(self._model.path),
            "file_bytes": self._model.file_bytes,
            "threads": self._model.threads,
            "providers": list(s.get_providers()),
            "inputs": [{"name": i.name, "type": i.type, "shape": list(i.shape)} for i in s.get_inputs()],
            "outputs": [{"name": o.name, "type": o.type, "shape": list(o.shape)} for o in s.get_outputs()],
            **self.metadata.to_dict(),
            "window_grid": dataclasses.asdict(self._model.grid),
            "metadata": dict(self.metadata.raw),
        }

    def __repr__(self) -> str:
        m = self.metadata
        return f"CryClassifier({str(self._model.path)!r}, version={m.model_version!r}, labels={list(m.labels)})"

    # -- scoring ----------------------------------------------------------------------------
    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low level: score a float32 ``[n, samples]`` block of model-rate windows in one run, each
        row alone through the clip outputs (no context: not what ``predict`` gives a window of a
        longer clip on a model with window outputs).

        Returns ``(cry [n], causes [n, labels])``. Rows must hold at least ``min_samples``.
        """
        return self._model.run(windows)

    def predict(self, audio: _audio.AudioInput, sample_rate: int | None = None) -> CryPrediction:
        """Score one clip: a path (rate from the file) or an array (``sample_rate`` required).

        Arrays: float32/float64 (either byte order) in [-1, 1] or int16/int32 PCM, ``[n]`` or
        ``[n, channels]``; not ``np.matrix`` or masked arrays.
        Long clips are windowed and aggregated as the module docstring says. Raises
        :class:`AudioError` for unusable audio and :class:`ModelError` if the model fails.
        """
        samples = self._prepare(audio, sample_rate, 0, 1)
        return self._aggregate(samples.shape[0], *self._score(samples))

    def predict_batch(
        self, audios: Sequence[_audio.AudioInput], sample_rate: int | None = None
    ) -> list[CryPrediction]:
        """Score several clips; results in input order.

        ``sample_rate`` applies to every array in ``audios`` (files use their own rate). The first
        unusable clip raises :class:`AudioError` (its position is in the message) before any scoring.
        """
        if isinstance(audios, (str, os.PathLike, np.ndarray)):
            raise AudioError("predict_batch takes a list of clips; use predict() for a single clip.")
        try:
            items = list(audios)
        except TypeError:
            raise AudioError(f"predict_batch takes a list of clips, not {type(audios).__name__}.") from None
        clips = [self._prepare(a, sample_rate, i, len(items)) for i, a in enumerate(items)]
        return [self._aggregate(clip.shape[0], *self._score(clip)) for clip in clips]

    def stream(self, sample_rate: int = 16000, options: "StreamOptions | None" = None) -> "CryStream":
        """A :class:`~infantcry_sdk.stream.CryStream` for live audio at ``sample_rate``."""
        from .stream import CryStream

        return CryStream(self, sample_rate, options)

    @property
    def grid(self) -> WindowGrid:
        """The model's window grid (:mod:`infantcry_sdk.windows`), shared by predict and CryStream."""
        return self._model.grid

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, audio: _audio.AudioInput, sample_rate: int | None, index: int, total: int) -> np.ndarray:
        """The clip as float32 mono at the model rate, long enough to score."""
        m = self.metadata
        try:
            samples = _audio.load(audio, sample_rate, m.sample_rate)
        except AudioError as exc:
            if total > 1:
                raise AudioError(f"clip {index}: {exc}") from exc
            raise
        n = samples.shape[0]
        if n < m.min_samples:
            where = f"clip {index} " if total > 1 else "audio "
            raise AudioError(
                f"{where}is {n / m.sample_rate:.3f} s long; the model needs at least {m.min_seconds:.3f} s "
                f"({m.min_samples} samples at {m.sample_rate} Hz). Record a longer clip."
            )
        return samples

    def _score(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every window of one clip, a segment (with its context) per run."""
        n = samples.shape[0]
        parts = [
            self._score_span(samples[lo:hi], lo, first, stop)
            for first, stop, lo, hi in self._model.grid.segments(n, MAX_BATCH_SAMPLES)
        ]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([c for c, _ in parts]), np.concatenate([k for _, k in parts])

    def _score_span(self, span: np.ndarray, lo: int, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores of windows ``first .. stop - 1`` from ``span``, the recording's samples from ``lo``
        (on the hop grid) to the end of the last window's context or of the recording."""
        model = self._model
        if not model.window_outputs:
            return self._score_cut(span, lo, first, stop)
        cry, causes = model.run_windows(span[None, :])
        i = first - lo // model.grid.hop
        if cry.shape[1] < i + stop - first:
            raise ModelError(f"model {model.path} gave {cry.shape[1]} windows for {span.shape[0]} samples, "
                             f"fewer than its window grid has; the file does not match its own metadata.")
        return cry[0, i : i + stop - first], causes[0, i : i + stop - first]

    def _score_cut(self, span: np.ndarray, lo: int, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """The cut-window path: full windows in batches of at most MAX_BATCH_SAMPLES, a partial one alone."""
        g = self._model.grid
        offsets = np.arange(first, stop, dtype=np.int64) * g.hop - lo
        full = np.nonzero(offsets + g.window <= span.shape[0])[0]
        cry = np.empty(stop - first, dtype=np.float32)
        causes = np.empty((stop - first, len(self.labels)), dtype=np.float32)
        per_run = max(1, MAX_BATCH_SAMPLES // g.window)
        rows = np.lib.stride_tricks.sliding_window_view(span, g.window) if full.size else None
        for i in range(0, full.size, per_run):
            block = full[i : i + per_run]
            cry[block], causes[block] = self._model.run(rows[offsets[block]])
        for j in range(full.size, stop - first):  # partial windows come last
            c, k = self._model.run(span[None, offsets[j] :])
            cry[j], causes[j] = c[0], k[0]
        return cry, causes

    def _aggregate(self, n: int, cry: np.ndarray, causes: np.ndarray) -> CryPrediction:
        m = self.metadata
        threshold = m.detection_threshold
        p = float(cry.max())
        is_cry = p >= threshold
        crying = causes[cry >= threshold] if is_cry else causes
        mean_causes = np.add.reduce(crying, axis=0, dtype=np.float64) / crying.shape[0]
        top = int(mean_causes.argmax())
        confident = m.cause_supported and bool(mean_causes[top] >= m.cause_min_confidence)
        return CryPrediction(
            is_cry=bool(is_cry),
            cry_probability=p,
            cause=m.labels[top] if is_cry and confident else None,
            cause_probabilities=dict(zip(m.labels, mean_causes.tolist())),
            confident=confident,
            duration_s=n / m.sample_rate,
            windows=int(cry.shape[0]),
            cause_status=m.cause_status,
            cause_status_reason=m.cause_status_reason,
        )
