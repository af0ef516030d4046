"""Model files: ONNX export, int8 quantization, and the one module that writes metadata and seals."""
