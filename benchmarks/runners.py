"""One loaded model per engine, with the two calls the harness times: a 1 s window and a 7 s clip.

How each engine handles the 7 s clip (the fair comparison is "what a developer would do"):

* ``sdk``: ``CryClassifier.predict(clip, sample_rate=16000)``: the SDK validates the audio, cuts it
  into the model's own windows (``infantcry.window_seconds`` every ``hop_seconds``) and scores them
  in one batched run, then aggregates. This is the number an app sees.
* ``ort``: one bare ``InferenceSession.run`` on the whole ``[1, 112000]`` waveform (the contract
  takes any length), same session options as the SDK (intra-op threads, no spinning).
* ``tflite`` (YAMNet): the shipped ``yamnet.tflite`` takes exactly 15600 samples (0.975 s), so the
  clip is scored YAMNet-style: patches every 0.48 s (7680 samples) while a full patch fits, which is
  the patch count YAMNet's own framing gives (13 for 7 s), one ``invoke`` each, scores averaged.
  Overlapping patches recompute their shared frames: that is how this file must be used.
* ``torch`` (the teacher, when the run folder has ``teacher.pt`` but no teacher ONNX): the
  toolchain's own scoring path, as ``export.stages.teacher`` scores waveforms: YAMNet's torch port
  (:mod:`export.models.yamnet`, weights dequantized from ``../shared/models/yamnet/yamnet.tflite``) through
  :class:`export.training.features.FeatureExtractor` in torch (``use_onnxruntime=False``): log-mel, patches
  every ``hop_frames`` (the teacher's 0.96 s: 8 patches for 7 s, the tail padded), the backbone,
  then the saved :class:`export.models.teacher.TeacherHead` (pooling over patches, cry logit) through
  :func:`export.models.teacher.predict`. Threads: ``torch.set_num_threads`` (process-wide, so each call
  re-asserts it). torch is imported here only, lazily: the SDK never imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .clips import BenchAudio
from .subjects import YAMNET_TFLITE, Subject

from export.constants import PATCH_HOP_SAMPLES as YAMNET_HOP
from export.constants import PATCH_SAMPLES as YAMNET_SAMPLES


class Runner(Protocol):
    """A loaded model; ``window()`` scores the 1 s window, ``clip()`` the 7 s clip."""

    def window(self) -> object: ...

    def clip(self) -> object: ...


def yamnet_starts(n_samples: int) -> list[int]:
    """Patch starts YAMNet-style: every 0.48 s while a full 0.975 s patch fits (at least one)."""
    return list(range(0, max(n_samples - YAMNET_SAMPLES, 0) + 1, YAMNET_HOP))


def ort_session(path: Path, threads: int, *, profile_prefix: str | None = None):
    """A bare onnxruntime session with the SDK's own options (:func:`infantcry_sdk.session.session_options`);
    ``profile_prefix`` turns on onnxruntime's kernel profiler (see :mod:`benchmarks.op_profile`)."""
    import onnxruntime as ort

    from infantcry_sdk.session import session_options

    opts = session_options(threads, ort_format=path.suffix == ".ort", profile_prefix=profile_prefix)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


class SdkRunner:
    def __init__(self, path: Path, threads: int, audio: BenchAudio) -> None:
        from infantcry_sdk import CryClassifier

        self.clf = CryClassifier.load(path, threads=threads)
        self.audio = audio

    def window(self):
        return self.clf.predict(self.audio.window, sample_rate=self.audio.rate)

    def clip(self):
        return self.clf.predict(self.audio.clip, sample_rate=self.audio.rate)


class OrtRunner:
    def __init__(self, path: Path, threads: int, audio: BenchAudio) -> None:
        self.session = ort_session(path, threads)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 2:
            raise ValueError(f"{path}: expected one [batch, samples] waveform input, found {[(i.name, i.shape) for i in inputs]}")
        self.name = inputs[0].name
        self.w = audio.window[None, :]
        self.c = audio.clip[None, :]

    def window(self):
        return self.session.run(None, {self.name: self.w})

    def clip(self):
        return self.session.run(None, {self.name: self.c})


class YamnetRunner:
    def __init__(self, path: Path, threads: int, audio: BenchAudio) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.it.allocate_tensors()
        self.inp = self.it.get_input_details()[0]["index"]
        self.out = self.it.get_output_details()[0]["index"]  # [1, 521] scores
        self.w = np.zeros((1, YAMNET_SAMPLES), np.float32)
        n = min(len(audio.window), YAMNET_SAMPLES)
        self.w[0, :n] = audio.window[:n]
        self.patches = [audio.clip[None, s : s + YAMNET_SAMPLES].copy() for s in yamnet_starts(len(audio.clip))]

    def _score(self, patch: np.ndarray) -> np.ndarray:
        self.it.set_tensor(self.inp, patch)
        self.it.invoke()
        return self.it.get_tensor(self.out)

    def window(self):
        return self._score(self.w)

    def clip(self):
        return np.mean([self._score(p) for p in self.patches], axis=0)


@dataclass(frozen=True)
class TeacherScore:
    """What the torch teacher says about one waveform; ``windows``: the patches it pooled over."""

    cry_probability: float
    cause_probabilities: tuple[float, ...]
    windows: int


@dataclass
class TorchTeacher:
    """The teacher as the toolchain runs it: backbone pass (torch) + the saved head."""

    extractor: object  # export.training.features.FeatureExtractor
    saved: object  # export.models.teacher.SavedTeacher

    @property
    def config(self):
        return self.saved.config

    @property
    def labels(self) -> tuple[str, ...]:
        return self.saved.labels

    def score(self, wave: np.ndarray) -> TeacherScore:
        """Waveform (float32, 16 kHz) -> the teacher's outputs (:func:`export.models.teacher.score_waves`)."""
        import torch

        from export.audio.frontend import num_patches
        from export.models.teacher import score_waves

        with torch.no_grad():
            out = score_waves(self.extractor, self.saved.head, self.config, [wave])
        return TeacherScore(
            float(out.cry_probability[0]), tuple(float(p) for p in out.cause_probabilities[0]),
            int(num_patches(len(wave), self.config.hop_frames)),
        )

    def parameter_counts(self) -> dict:
        """Parameters counted from the torch modules, as ``teacher_report.json`` counts them
        (:func:`export.models.teacher.parameter_counts`); YAMNet's AudioSet classifier is excluded."""
        from export.models.teacher import parameter_counts

        yamnet = self.extractor.yamnet
        tail = self.extractor.tail if self.config.fine_tune_blocks > 0 else None
        counts = parameter_counts(yamnet, self.saved.head, tail)
        return {
            "parameters": counts["total"],
            "parameter_bytes": 4 * counts["total"],  # float32 in torch (the tflite file holds int8 weights)
            "backbone_parameters": counts["backbone"],
            "head_parameters": counts["head"],
            "classifier_parameters_excluded": int(sum(p.numel() for p in yamnet.classifier.parameters())),
        }


def load_torch_teacher(teacher_pt: Path, yamnet_tflite: Path = YAMNET_TFLITE) -> TorchTeacher:
    """``teacher.pt`` on YAMNet's torch port, with the feature pass its config asks for
    (:func:`export.training.features.load_teacher_pass`). Weights come from the tflite every time
    (no cache is written)."""
    from export.training.features import load_teacher_pass

    return TorchTeacher(*load_teacher_pass(teacher_pt, yamnet_tflite, use_onnxruntime=False))


class TorchTeacherRunner:
    """The teacher in torch: ``window()``/``clip()`` return a :class:`TeacherScore`."""

    def __init__(self, path: Path, threads: int, audio: BenchAudio) -> None:
        import torch

        self.threads = threads
        torch.set_num_threads(threads)
        self.teacher = load_torch_teacher(path)
        self.w = np.ascontiguousarray(audio.window, dtype=np.float32)
        self.c = np.ascontiguousarray(audio.clip, dtype=np.float32)

    def _threads(self) -> None:
        import torch

        if torch.get_num_threads() != self.threads:  # another runner in this process changed it
            torch.set_num_threads(self.threads)

    def window(self) -> TeacherScore:
        self._threads()
        return self.teacher.score(self.w)

    def clip(self) -> TeacherScore:
        self._threads()
        return self.teacher.score(self.c)


RUNNERS = {"sdk": SdkRunner, "ort": OrtRunner, "tflite": YamnetRunner, "torch": TorchTeacherRunner}


def open_runner(subject: Subject, threads: int, audio: BenchAudio) -> Runner:
    """Load ``subject`` with ``threads`` intra-op threads."""
    return RUNNERS[subject.engine](subject.path, threads, audio)
