"""The toolchain's stages, each a function from artifacts to artifacts, recorded in a manifest.

    data      catalog + grouped split                      -> split.json, data.json
    teacher   YAMNet features, heads, baselines, ablation  -> teacher.pt, teacher_logits.npz, teacher_report.json
    student   distilled and plain students                 -> student_distilled.pt, student_plain.pt
    export    fp32 ONNX, int8 (static QDQ, dynamic), .ort  -> student_fp32.onnx, student_int8.onnx, student_int8.ort
    report    compression table, model card, report        -> report.json, report.md, *.png, model_card.{md,json}
    install   default model into the SDK, golden vectors   -> infantcry_sdk/models/*, android assets

``manifest.json`` in the run folder lists, per stage, its outputs with sizes and SHA-256, the seconds
it took and the configuration, so any figure can be traced to the files and settings behind it.

Under ``torchrun`` rank 0 owns the run folder (:func:`open_run`); each other rank works in a private
copy of it, so every rank can run a stage's code while only rank 0's files are kept.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infantcry_sdk.integrity import file_sha256

from export.config import PipelineConfig
from export.files import replace_text
from export.machine import build_machine
from export.training import distributed

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    """A run folder plus its manifest; stages read and write artifacts through it."""

    run_dir: Path
    data_root: Path
    config: PipelineConfig
    command: str = ""
    cache_dir: Path = field(default=None)  # type: ignore[assignment]
    mirrors: Path | None = None  # another rank's private copy of this run folder (see open_run)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.cache_dir is None:
            self.cache_dir = default_cache_dir(self.run_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.config.save(self.run_dir / "config.json")

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "manifest.json"

    def manifest(self) -> dict:
        if self.manifest_path.is_file():
            return json.loads(self.manifest_path.read_text())
        return {"stages": {}}

    def path(self, name: str) -> Path:
        return self.run_dir / name

    def record(self, stage: str, outputs: list[Path], seconds: float, info: dict[str, Any] | None = None) -> None:
        m = self.manifest()
        m["command"] = self.command
        m["data_root"] = str(self.data_root)
        m["stages"][stage] = {
            "command": self.command,
            "seconds": round(seconds, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "built_on": build_machine(),  # the same recipe trains another draw on another CPU class
            "outputs": {
                p.name: {"bytes": p.stat().st_size, "sha256": file_sha256(p)} for p in outputs if p.is_file()
            },
            "info": info or {},
        }
        replace_text(self.manifest_path, json.dumps(m, indent=2))

    def require(self, name: str, stage: str) -> Path:
        p = self.path(name)
        if not p.is_file():
            raise FileNotFoundError(f"{p} is missing: run the '{stage}' stage first (python -m export {stage}).")
        return p

    def write_json(self, name: str, obj: Any) -> Path:
        return replace_text(self.path(name), json.dumps(obj, indent=2, default=_json_default))

    def read_json(self, name: str, stage: str) -> Any:
        return json.loads(self.require(name, stage).read_text())

    def refresh(self) -> None:
        """A mirror takes in what rank 0 has written to the run folder so far (no-op on rank 0)."""
        if self.mirrors is not None:
            shutil.copytree(self.mirrors, self.run_dir, dirs_exist_ok=True)

    def close(self) -> None:
        """A mirror's private folder is deleted; rank 0's run folder stays."""
        if self.mirrors is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def default_cache_dir(run_dir: Path) -> Path:
    """Caches (decoded clips, YAMNet weights and features) sit beside the run folder: reruns share them."""
    return Path(run_dir).parent / "cache"


def open_run(run_dir: Path, data_root: Path, config: PipelineConfig, command: str = "") -> Run:
    """The run as this process uses it. Rank 0 (or the only process) owns ``run_dir``; the other ranks
    of a torchrun launch get a private folder mirroring it (:meth:`Run.refresh`), so they read what
    rank 0 wrote and their own writes reach neither the run folder, nor its manifest, nor the caches."""
    if distributed.is_writer():
        run = Run(run_dir, data_root, config, command)
        distributed.barrier()  # the run and cache folders exist for the other ranks
        return run
    distributed.barrier()
    scratch = Path(tempfile.mkdtemp(prefix=f"infantcry-rank{distributed.rank()}-"))
    return Run(scratch, data_root, config, command, cache_dir=default_cache_dir(run_dir), mirrors=Path(run_dir))


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
