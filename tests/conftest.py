"""Shared fixtures.

Contract toy models (built once per session with ``export.modelfile.toy``, no torch) and synthetic audio:

* ``toy_model_factory(name, **kwargs) -> Path``: a sealed toy model; same arguments, same file.
* ``toy_model_path`` / ``toy_classifier``: the default toy model (1 s window, 0.5 s hop, 16 kHz).
* ``synth_cry(rate, seconds, bursts=..., level=..., noise=...)``: a cry-like signal (450 Hz harmonic
  stack with vibrato, band-limited below 3.6 kHz so every test rate carries it) in quiet noise.
* ``yamnet_tflite``: ``../shared``'s yamnet.tflite in the LiteRT interpreter, the reference the
  front-end and YAMNet-port tests compare against (skips when the file or ai-edge-litert is absent).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest

ToyFactory = Callable[..., Path]
SHARED = Path(os.environ.get("INFANTCRY_DATA_ROOT", Path(__file__).resolve().parents[2] / "shared"))
YAMNET_TFLITE = SHARED / "models" / "yamnet" / "yamnet.tflite"


@dataclass(frozen=True)
class TfliteYamnet:
    """yamnet.tflite in one interpreter: :meth:`run` gives its AudioSet scores and its own log-mel patch."""

    interpreter: object
    _input: int
    _scores: int
    _logmel: int

    def run(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A 15600-sample waveform -> (scores [521], log-mel [96, 64])."""
        self.interpreter.set_tensor(self._input, wave[None].astype(np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._scores)[0].copy(), self.interpreter.get_tensor(self._logmel).copy()


@pytest.fixture(scope="session")
def yamnet_tflite() -> TfliteYamnet:
    if not YAMNET_TFLITE.exists():
        pytest.skip(f"needs ../shared data: {YAMNET_TFLITE} is absent")
    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    interp = litert.Interpreter(model_path=str(YAMNET_TFLITE))
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    outs = {tuple(d["shape"]): d["index"] for d in interp.get_output_details()}
    return TfliteYamnet(interp, inp["index"], outs[(1, 521)], outs[(96, 64)])


@pytest.fixture(scope="session")
def toy_model_factory(tmp_path_factory: pytest.TempPathFactory) -> ToyFactory:
    from export.modelfile.toy import build_toy_model

    root = tmp_path_factory.mktemp("toy_models")
    cache: dict[str, Path] = {}

    def make(name: str = "toy", **kwargs) -> Path:
        key = json.dumps([name, kwargs], sort_keys=True, default=str)
        if key not in cache:
            cache[key] = build_toy_model(root / f"{name}_{len(cache)}.onnx", **kwargs)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def toy_model_path(toy_model_factory: ToyFactory) -> Path:
    return toy_model_factory("default")


@pytest.fixture(scope="session")
def toy_classifier(toy_model_path: Path):
    from infantcry_sdk import CryClassifier

    return CryClassifier.load(toy_model_path)


def _cry_tone(t: np.ndarray, rate: int) -> np.ndarray:
    f0 = 450.0 + 30.0 * np.sin(2 * np.pi * 5.0 * t)  # vibrato
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = np.zeros_like(t)
    for k, amp in enumerate((1.0, 0.5, 0.3, 0.2, 0.1, 0.05), start=1):
        if 480.0 * k < 3600.0:
            wave += amp * np.sin(k * phase)
    return wave / 1.4


def make_synth_cry(
    rate: int,
    seconds: float,
    bursts: Sequence[tuple[float, float]] = ((0.0, None),),
    level: float = 0.3,
    noise: float = 0.002,
    seed: int = 0,
) -> np.ndarray:
    """float32 mono: cry-like bursts ``(start_s, end_s)`` (end None = to the end) in white noise."""
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    tone = _cry_tone(t, rate)
    env = np.zeros(n)
    for start, end in bursts:
        env[(t >= start) & (t < (seconds if end is None else end))] = 1.0
    rng = np.random.default_rng(seed)
    # Noise generated at 8 kHz and upsampled would be rate-independent; keep it simply very quiet.
    x = level * env * tone + noise * rng.standard_normal(n)
    return x.astype(np.float32)


@pytest.fixture(scope="session")
def synth_cry() -> Callable[..., np.ndarray]:
    return make_synth_cry
