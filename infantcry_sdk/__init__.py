"""InfantCry runtime SDK: cry detection and cause estimation over onnxruntime (numpy, onnxruntime,
soundfile and soxr only).

    from infantcry_sdk import CryClassifier
    clf = CryClassifier.load("student_int8.onnx")
    p = clf.predict("clip.wav")
    print(p.is_cry, p.cry_probability, p.cause)
"""
from .classifier import CryClassifier, CryPrediction
from .errors import AudioError, InfantCryError, ModelError
from .events import CryEvent
from .stream import CryStream, StreamOptions

try:
    from importlib.metadata import PackageNotFoundError, version as _dist_version

    __version__ = _dist_version("infantcry")
except PackageNotFoundError:  # running from a source checkout that was never installed
    __version__ = "0.2.0"

__all__ = [
    "AudioError",
    "CryClassifier",
    "CryEvent",
    "CryPrediction",
    "CryStream",
    "InfantCryError",
    "ModelError",
    "StreamOptions",
    "__version__",
]
