"""CryClassifier: score a clip (file or array) for crying and its likely cause.

How a clip is scored
    The audio is decoded, mixed down to mono and resampled to the model's rate by
    :func:`infantcry_sdk.audio.load`, then scored in windows of ``window_seconds`` every
    ``hop_seconds``:

    * a model with window outputs (``infantcry_sdk.contract``; every model the toolchain now
      builds) scores all windows of a clip in **one pass**: each second of audio goes through the
      network once, not once per window that holds it. The windows start every hop from the
      beginning; the last one may run past the end and then holds only the clip's last part. Clips
      longer than about a minute are cut into segments of whole windows (memory stays bounded);
    * a model without them gets windows of exactly ``window_seconds`` cut by the SDK (a clip no
      longer than that is one window), plus one last window aligned to the end of the clip when
      the hops do not land there, scored in batches of bounded size.

    Either way the window scores are aggregated:

    * ``cry_probability`` is the **maximum** over windows: a cry anywhere in the clip counts.
    * ``cause_probabilities`` is the **mean** over the windows whose cry probability reaches the
      detection threshold (the crying parts), or over all windows when none does.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from . import audio as _audio
from .errors import AudioError
from .model import LoadedModel, ModelMetadata, load_model

if TYPE_CHECKING:
    from .stream import CryStream, StreamOptions

#: Upper bound on samples per session.run call (4 MiB of float32 input per batch).
MAX_BATCH_SAMPLES = 1 << 20


def segment_starts(n_samples: int, window: int, hop: int, windows_per_segment: int) -> np.ndarray:
    """Starts of the one-pass segments of a clip: every ``windows_per_segment * hop`` samples.

    A segment of ``window + (S - 1) * hop`` samples holds exactly windows ``S k .. S k + S - 1`` of
    the clip; a further segment starts only while the clip has audio past the last window's
    start, so the last one holds more than ``window - hop`` samples.
    """
    step = windows_per_segment * hop
    last = max(n_samples - (window - hop) - 1, 0)  # a segment must start at or before this sample
    return np.arange(0, last + 1, step, dtype=np.int64)


def window_starts(n_samples: int, window: int, hop: int) -> np.ndarray:
    """Start offsets of the scoring windows for a clip of ``n_samples`` (see the module docstring).

    ``[0]`` when the clip fits in one window; else every ``hop`` while a full window fits, plus
    ``n_samples - window`` when the last hop window does not end at the clip's end.
    """
    if n_samples <= window:
        return np.zeros(1, dtype=np.int64)
    starts = np.arange(0, n_samples - window + 1, hop, dtype=np.int64)
    if starts[-1] + window < n_samples:
        starts = np.append(starts, n_samples - window)
    return starts


@dataclass(frozen=True)
class CryPrediction:
    """The verdict for one clip.

    ``is_cry``: ``cry_probability >= detection_threshold``. ``confident``: the top cause's
    probability reaches the model's ``cause_min_confidence``. ``cause``: the top label when the clip
    is a cry *and* confident, else None. ``cause_probabilities`` is always filled (label -> prob).
    ``duration_s`` is the clip length; ``windows`` how many windows were scored (in one pass or not).
    """

    is_cry: bool
    cry_probability: float
    cause: str | None
    cause_probabilities: dict[str, float]
    confident: bool
    duration_s: float
    windows: int

    def to_dict(self) -> dict:
        return {
            "is_cry": self.is_cry,
            "cry_probability": self.cry_probability,
            "cause": self.cause,
            "cause_probabilities": dict(self.cause_probabilities),
            "confident": self.confident,
            "duration_s": self.duration_s,
            "windows": self.windows,
        }


@dataclass(frozen=True)
class _Clip:
    samples: np.ndarray  # float32 mono at the model rate
    starts: np.ndarray
    length: int  # samples per window for this clip


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
            "metadata": dict(self.metadata.raw),
        }

    def __repr__(self) -> str:
        m = self.metadata
        return f"CryClassifier({str(self._model.path)!r}, version={m.model_version!r}, labels={list(m.labels)})"

    # -- scoring ----------------------------------------------------------------------------
    def score_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low level: score a float32 ``[n, samples]`` block of model-rate windows in one run.

        Returns ``(cry [n], causes [n, labels])``. Rows must hold at least ``min_samples``.
        """
        return self._model.run(windows)

    def predict(self, audio: _audio.AudioInput, sample_rate: int | None = None) -> CryPrediction:
        """Score one clip: a path (rate from the file) or an array (``sample_rate`` required).

        Arrays: float32/float64 in [-1, 1] or int16/int32 PCM, ``[n]`` or ``[n, channels]``.
        Long clips are windowed and aggregated as the module docstring says. Raises
        :class:`AudioError` for unusable audio and :class:`ModelError` if the model fails.
        """
        return self.predict_batch([audio], sample_rate=sample_rate)[0]

    def predict_batch(
        self, audios: Sequence[_audio.AudioInput], sample_rate: int | None = None
    ) -> list[CryPrediction]:
        """Score several clips, batching their windows together; results in input order.

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
        scores = self._score_clips(clips)
        return [self._aggregate(clip, cry, causes) for clip, (cry, causes) in zip(clips, scores)]

    def stream(self, sample_rate: int = 16000, options: "StreamOptions | None" = None) -> "CryStream":
        """A :class:`~infantcry_sdk.stream.CryStream` for live audio at ``sample_rate``."""
        from .stream import CryStream

        return CryStream(self, sample_rate, options)

    # -- internals --------------------------------------------------------------------------
    def _prepare(self, audio: _audio.AudioInput, sample_rate: int | None, index: int, total: int) -> _Clip:
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
        window = m.window_samples
        return _Clip(samples, window_starts(n, window, m.hop_samples), min(n, window))

    def _batches(self, clips: Sequence[_Clip], length: int) -> Iterator[tuple[list[tuple[int, int]], np.ndarray]]:
        """Windows of one length from several clips, in blocks of at most MAX_BATCH_SAMPLES."""
        per_run = max(1, MAX_BATCH_SAMPLES // length)
        refs = [(ci, wi) for ci, c in enumerate(clips) if c.length == length for wi in range(len(c.starts))]
        for i in range(0, len(refs), per_run):
            block = refs[i : i + per_run]
            rows = np.empty((len(block), length), dtype=np.float32)
            for r, (ci, wi) in enumerate(block):
                s = int(clips[ci].starts[wi])
                rows[r] = clips[ci].samples[s : s + length]
            yield block, rows

    def _score_one_pass(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every window of one clip from the model's window outputs, a segment per run."""
        m = self.metadata
        window, hop = m.window_samples, m.hop_samples
        per_segment = max(1, (MAX_BATCH_SAMPLES - window) // hop + 1)
        n = samples.shape[0]
        cry, causes = [], []
        for start in segment_starts(n, window, hop, per_segment):
            segment = samples[start : min(n, start + window + (per_segment - 1) * hop)]
            c, k = self._model.run_windows(segment[None, :])
            cry.append(c[0, :per_segment])
            causes.append(k[0, :per_segment])
        return np.concatenate(cry), np.concatenate(causes)

    def _score_clips(self, clips: Sequence[_Clip]) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._model.window_outputs:
            return [self._score_one_pass(c.samples) for c in clips]
        n_labels = len(self.labels)
        out = [(np.empty(len(c.starts)), np.empty((len(c.starts), n_labels))) for c in clips]
        for length in sorted({c.length for c in clips}):
            for block, rows in self._batches(clips, length):
                cry, causes = self._model.run(rows)
                for r, (ci, wi) in enumerate(block):
                    out[ci][0][wi] = cry[r]
                    out[ci][1][wi] = causes[r]
        return out

    def _aggregate(self, clip: _Clip, cry: np.ndarray, causes: np.ndarray) -> CryPrediction:
        m = self.metadata
        crying = cry >= m.detection_threshold
        mean_causes = (causes[crying] if crying.any() else causes).mean(axis=0)
        top = int(np.argmax(mean_causes))
        p = float(cry.max())
        is_cry = p >= m.detection_threshold
        confident = bool(mean_causes[top] >= m.cause_min_confidence)
        return CryPrediction(
            is_cry=bool(is_cry),
            cry_probability=p,
            cause=m.labels[top] if is_cry and confident else None,
            cause_probabilities={lab: float(v) for lab, v in zip(m.labels, mean_causes)},
            confident=confident,
            duration_s=clip.samples.shape[0] / m.sample_rate,
            windows=int(len(cry)),
        )
