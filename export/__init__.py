"""InfantCry build toolchain: data -> teacher -> distilled student -> int8 ONNX -> report.

Heavy dependencies (torch, transformers, librosa, onnx) live here and never in ``infantcry_sdk``.
Run ``python -m export --help``.
"""
