"""InfantCry runtime SDK: cry detection and cause estimation over onnxruntime (numpy, onnxruntime,
soundfile and soxr only)."""
from .errors import AudioError, InfantCryError, ModelError
from .events import CryEvent

__all__ = ["AudioError", "InfantCryError", "ModelError", "CryEvent"]
