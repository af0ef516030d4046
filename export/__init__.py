"""InfantCry build toolchain: data -> teacher -> distilled student -> int8 ONNX -> report.

Heavy dependencies (torch, onnx, onnxscript, matplotlib) live here and never in ``infantcry_sdk``.
Run ``python -m export --help``.
"""
