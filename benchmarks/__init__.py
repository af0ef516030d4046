"""InfantCry benchmarks: what the SDK costs where it runs, beside YAMNet, with budgets CI enforces.

``python -m benchmarks [--run-dir DIR] [--quick] [--check]`` (desktop, :mod:`benchmarks.desktop`) and
``python -m benchmarks arm`` (emulated aarch64 parity and timing, :mod:`benchmarks.arm`). This package
imports nothing heavy at import time: the memory probe child must start lean.
"""
