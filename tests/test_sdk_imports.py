"""The runtime stays light: importing and using the SDK never loads the toolchain's heavy modules."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import infantcry_sdk

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("torch", "transformers", "librosa", "onnx")

SCRIPT = """
import sys
import infantcry_sdk
from infantcry_sdk import CryClassifier, CryPrediction, CryStream, CryEvent, StreamOptions
from infantcry_sdk import InfantCryError, AudioError, ModelError, __version__
import infantcry_sdk.cli
clf = CryClassifier.load(sys.argv[1])
import numpy as np
clf.predict(np.zeros(16000, np.float32), 16000)
s = clf.stream(sample_rate=44100)
s.push(np.zeros(50000, np.float32)); s.flush()
print(",".join(m for m in {forbidden!r} if m in sys.modules))
"""


def test_public_names():
    for name in ("CryClassifier", "CryPrediction", "CryStream", "CryEvent", "StreamOptions",
                 "InfantCryError", "AudioError", "ModelError", "__version__"):
        assert name in infantcry_sdk.__all__ and hasattr(infantcry_sdk, name)
    assert isinstance(infantcry_sdk.__version__, str) and infantcry_sdk.__version__


def test_runtime_does_not_import_heavy_modules(toy_model_path):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(forbidden=FORBIDDEN), str(toy_model_path)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "", f"runtime imported: {out.stdout.strip()}"
