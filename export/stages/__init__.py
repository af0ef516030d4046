"""The pipeline's stages, one module each, and the ordered stage table that ``python -m export`` reads.

Each stage module has ``run(run, context) -> outputs``: ``run`` is the :class:`export.pipeline.Run`
(run folder, config, manifest), ``context`` the :class:`export.data.context.DataContext` for stages that
read clips (None for the others), and the outputs a small dataclass. A stage reads earlier stages'
artifacts from the run folder, so any stage can be rerun alone.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Stage:
    name: str
    module: str  # "export.stages.<module>", imported when the stage runs (torch loads only where needed)
    help: str
    needs: tuple[str, ...]  # stages whose artifacts it reads
    uses_clips: bool = True  # needs the DataContext
    in_all: bool = True  # run by ``python -m export all``
    distributed: bool = False  # under torchrun every rank runs it together (else rank 0 alone)

    @property
    def run(self) -> Callable[..., Any]:
        return importlib.import_module(self.module).run


STAGES: tuple[Stage, ...] = (
    Stage("data", "export.stages.data", "catalog of the data root (+ --extra-data) and a grouped split -> split.json, data.json", (), uses_clips=False),
    Stage("teacher", "export.stages.teacher", "YAMNet teacher, baselines, pooling ablation, grouped CV -> teacher.pt, teacher_logits.npz, report", ("data",), distributed=True),
    Stage("loso", "export.stages.loso", "leave-one-source-out: the teacher's recipe trained without a source of cries, tested on it -> loso.json", ("data", "teacher")),
    Stage("student", "export.stages.student", "distilled and plain students -> student_*.pt", ("data", "teacher"), distributed=True),
    Stage("export", "export.stages.export", "fp32 ONNX, int8 (static, dynamic), thresholds on validation, .ort -> student_int8.onnx/.ort", ("data", "teacher", "student")),
    Stage("report", "export.stages.report", "every variant through the SDK on the test split, home-day streams, hard negatives, targets, model card -> report.md", ("data", "teacher", "loso", "export")),
    Stage("install", "export.stages.install", "the int8 model and card into the SDK, the .ort into the Android app, golden vectors", ("report",), uses_clips=False),
    Stage("golden", "export.golden", "Android parity vectors from the installed model (not part of 'all')", (), uses_clips=False, in_all=False),
)
BY_NAME = {s.name: s for s in STAGES}


def pipeline_stages(name: str) -> tuple[Stage, ...]:
    """The stages ``python -m export NAME`` runs: every ``in_all`` stage for "all", else that one."""
    return tuple(s for s in STAGES if s.in_all) if name == "all" else (BY_NAME[name],)
