"""The pipeline's configuration: one dataclass per stage, composed, with the defaults embedded.

``python -m export all`` runs on these defaults; ``--config FILE.json`` overrides any subset
(``{"teacher": {"epochs": 10}}``); ``--tiny`` shrinks everything for CI's end-to-end run. The
resolved configuration is saved in the run folder beside every artifact it produced.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from export.data.catalog import DataConfig
from export.training.distill import DistillConfig
from export.models.student import StudentConfig
from export.models.teacher import TeacherConfig


@dataclass
class ExportConfig:
    """What the shipped model file promises (metadata) and how it is quantized."""

    model_version: str = "0.2.0"  # 0.2: one-pass window outputs, 1.92 s windows, 30 ms front-end frames
    # The SDK's scoring window for long audio and streaming, and the hop between windows: whole
    # numbers of the student's 120 ms embedding frames (16 and 8), as the window outputs need.
    window_seconds: float = 1.92
    hop_seconds: float = 0.96
    min_seconds: float = 0.1  # shortest input the SDK accepts (FSDD digits run down to 0.14 s)
    max_fpr: float = 0.01  # detection threshold: best F1 with FPR <= this, on validation
    calibration_methods: tuple = ("minmax", "entropy", "percentile")
    calibration_windows: int = 200
    # 7-bit weights: x86 AVX2 (no VNNI) int8 kernels saturate their int16 sums with full-range
    # weights, so x86 and ARM disagreed by 0.15 in probability (benchmarks arm); with it they agree.
    reduce_range: bool = True
    # Layers left in float in the int8 file: the stem (one input channel) and the first depthwise
    # layer, the two at the highest time x mel resolution, whose int8 kernels are slower than float
    # on x86 (7 s clip, 1 thread: all-int8 2.13 ms, float stem 1.90 ms, all-float 1.62 ms). Their
    # one float -> int8 boundary sits after the first depthwise layer (half the stem's activations).
    # Measured with `python -m benchmarks arm --quick` (x86 vs ARM, tolerance 1e-3): this choice
    # 1.5e-4; float stem only 5.5e-4; the stem and three depthwise layers in float 1.9e-3 (fails:
    # every float layer feeding a QuantizeLinear is a place where the two architectures' float
    # rounding can flip an int8 step). Speed-up over YAMNet through the SDK: 11-12x, 11x, 12x.
    keep_float: tuple = ("model.stem.0.weight", "model.blocks.0.depthwise.0.weight")
    opset: int = 18  # the dynamo exporter's Pad-18 cannot be converted down to 17


@dataclass
class PipelineConfig:
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    # Crops = the SDK's window; 24 epochs (8 left the plain student still improving at its last epoch);
    # full inverse-frequency cause weights (0.5 let every student collapse to "hungry").
    distill: DistillConfig = field(
        default_factory=lambda: DistillConfig(clip_seconds=1.92, epochs=24, patience=6, class_weight_power=1.0)
    )
    export: ExportConfig = field(default_factory=ExportConfig)
    tiny: bool = False  # a handful of clips and one epoch: CI's end-to-end smoke run
    tiny_clips_per_side: int = 12
    n_boot: int = 1000
    pooling_ablation: tuple = ("mean", "max", "mean_max", "statistic", "attention")
    cross_validation: bool = True
    threads: int = 2

    def to_dict(self) -> dict:
        return _to_jsonable(asdict(self))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path


def _to_jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_jsonable(v) for v in x]
    return x


def _merge(obj: Any, overrides: dict) -> Any:
    """A copy of dataclass ``obj`` with ``overrides`` applied recursively; unknown keys are an error."""
    names = {f.name: f for f in fields(obj)}
    changes = {}
    for key, value in overrides.items():
        if key not in names:
            raise ValueError(f"unknown config key {key!r} in {type(obj).__name__}; known: {sorted(names)}")
        current = getattr(obj, key)
        if is_dataclass(current) and isinstance(value, dict):
            changes[key] = _merge(current, value)
        elif isinstance(current, tuple) and isinstance(value, list):
            changes[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        else:
            changes[key] = value
    return replace(obj, **changes)


def tiny_overrides() -> dict:
    """CI's profile: every stage runs, on a handful of clips, in about a minute."""
    return {
        "tiny": True,
        "n_boot": 50,
        "cross_validation": True,
        "data": {"n_folds": 2},
        "teacher": {"epochs": 2, "augment_copies": 1, "fine_tune_blocks": 1},  # exercise the fine-tuning path
        "distill": {"epochs": 1},
        "export": {"calibration_methods": ["minmax", "percentile"], "calibration_windows": 8},
    }


def load_config(path: str | Path | None = None, tiny: bool = False) -> PipelineConfig:
    """Embedded defaults, then the tiny profile (if asked), then the file's overrides."""
    config = PipelineConfig()
    if tiny:
        config = _merge(config, tiny_overrides())
    if path is not None:
        config = _merge(config, json.loads(Path(path).read_text()))
    return config
