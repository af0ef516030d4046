"""How large a student architecture's shipped files will be, measured before any training.

A model file stores its tensors raw (no compression), so the byte size of ``student_int8.onnx`` and
of its ``.ort`` depends on the architecture and the metadata, never on the weights' values. An
untrained student whose every float tensor is random (biases and batch-norm statistics included,
so the quantizer treats them as it treats trained ones) goes through the toolchain's own export,
static int8 and ``.ort`` conversion, with the metadata copied from a shipped model file, and gives
the trained student's sizes to within the few bytes by which its metadata values' digits differ
(0.9.0: ``.ort`` 395,432 B predicted and built, ``.onnx`` 262,084 against 262,083). That answers
"does this width fit the size budget?" in seconds instead of after a training run.

``python -m export.modelfile.sizing 32,48,96,96,160,160,160,160 ...``: each argument is the stem's
channels, then each block's output channels (the default block strides stay); one JSON line each.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import onnx
import torch

from infantcry_sdk import contract

from export.config import ExportConfig
from export.constants import SAMPLE_RATE
from export.modelfile.metadata import read_metadata
from export.modelfile.onnx_export import export_student_onnx
from export.modelfile.quantize import quantize_static_int8, to_ort
from export.models.student import CryStudent, StudentConfig, count_parameters

#: The shipped model file whose metadata the measured files carry.
BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "infantcry_sdk" / "models" / "student_int8.onnx"
#: Metadata keys the export itself writes from the architecture.
_DERIVED_KEYS = (contract.KEY_CONTEXT_BEFORE_SAMPLES, contract.KEY_CONTEXT_AFTER_SAMPLES)


@dataclasses.dataclass(frozen=True)
class FileSizes:
    """One architecture's parameter count and the byte sizes of its int8 ``.onnx`` and ``.ort``."""

    stem_channels: int
    block_channels: tuple[int, ...]
    parameters: int
    int8_onnx_bytes: int
    ort_bytes: int


def with_widths(stem_channels: int, block_channels: Sequence[int], base: StudentConfig | None = None) -> StudentConfig:
    """``base`` (default: today's :class:`StudentConfig`) with new channel counts and its own strides."""
    base = base or StudentConfig()
    if len(block_channels) != len(base.blocks):
        raise ValueError(f"{len(block_channels)} block widths given; the architecture has {len(base.blocks)} blocks")
    blocks = tuple((int(w), t, m) for w, (_, t, m) in zip(block_channels, base.blocks))
    return dataclasses.replace(base, stem_channels=int(stem_channels), blocks=blocks)


def untrained_student(config: StudentConfig, seed: int = 0) -> CryStudent:
    """A student whose float tensors are all random and nonzero, in eval mode."""
    torch.manual_seed(seed)
    model = CryStudent(config).eval()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if "running_var" in name:
                tensor.copy_(torch.rand_like(tensor) * 0.5 + 0.1)
            else:
                tensor.copy_(torch.randn_like(tensor) * 0.1)
    return model


def measure(config: StudentConfig, like: Path = BUNDLED_MODEL, export: ExportConfig | None = None,
            seed: int = 0) -> FileSizes:
    """Export, quantize and convert an untrained ``config`` student the way the export stage does."""
    export = export or ExportConfig()
    metadata = {k: v for k, v in read_metadata(onnx.load(str(like))).items() if k not in _DERIVED_KEYS}
    model = untrained_student(config, seed)
    rng = np.random.default_rng(0)
    calibration = [(0.1 * rng.standard_normal(3 * SAMPLE_RATE)).astype(np.float32) for _ in range(4)]
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "student_int8.onnx"
        export_student_onnx(model, fp32, metadata, opset=export.opset)
        quantize_static_int8(fp32, int8, calibration, "minmax", window_seconds=export.window_seconds,
                             max_windows=8, reduce_range=export.reduce_range, keep_float=export.keep_float,
                             op_types=export.quantized_ops)
        ort = to_ort(int8, check_usability=False)
        return FileSizes(config.stem_channels, tuple(b[0] for b in config.blocks),
                         count_parameters(model), int8.stat().st_size, ort.size_bytes)


def _widths(spec: str) -> tuple[int, list[int]]:
    """``"32,48,96"`` -> ``(32, [48, 96])``."""
    try:
        stem, *blocks = (int(x) for x in spec.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{spec!r} is not a comma-separated list of integers") from None
    return stem, blocks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.modelfile.sizing", description=__doc__.split("\n\n")[0])
    parser.add_argument("widths", nargs="+", type=_widths, metavar="STEM,W1,...,W7")
    parser.add_argument("--like", type=Path, default=BUNDLED_MODEL, help="model file whose metadata to carry")
    args = parser.parse_args(argv)
    for stem, blocks in args.widths:
        print(json.dumps(dataclasses.asdict(measure(with_widths(stem, blocks), args.like))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
