"""Which models one benchmark run measures, and where each came from.

The harness never hard-codes a model: subjects are discovered, in this order of preference,

1. ``--run-dir DIR`` (a pipeline run folder: ``student_int8.onnx``, ``student_int8.ort``,
   ``student_fp32.onnx``, ``teacher.onnx`` (else ``teacher.pt``, run in torch), ``model_card.json``);
2. else ``runs/latest`` when it holds ``student_int8.onnx`` (never another ``runs/*`` implicitly);
3. for the int8 student only: the model bundled in the SDK package (``infantcry_sdk/models``);
4. else a toy model from :mod:`export.modelfile.toy`, built into a scratch folder and clearly marked
   ``toy`` in every output (the harness stays testable before the trained model exists).

A subject that cannot be measured is kept with a ``skip`` reason, so tables say why a row is empty.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from export.constants import YAMNET_TFLITE as _YAMNET_FILE
from export.data.paths import default_data_root

REPO = Path(__file__).resolve().parent.parent
#: The data root: $INFANTCRY_DATA_ROOT, else ../shared (export.data.paths, as the toolchain finds it).
SHARED = default_data_root()
YAMNET_TFLITE = SHARED / _YAMNET_FILE
INT8_ONNX = "student_int8.onnx"
INT8_ORT = "student_int8.ort"
FP32_ONNX = "student_fp32.onnx"
TEACHER_ONNX = ("teacher.onnx", "teacher_fp32.onnx")
TEACHER_PT = "teacher.pt"  # export.stages.teacher's saved head (the backbone is YAMNet from ../shared)
MODEL_CARD = "model_card.json"


@dataclass(frozen=True)
class Subject:
    """One model measured through one engine.

    ``engine``: ``sdk`` (infantcry_sdk.CryClassifier), ``ort`` (a bare onnxruntime session),
    ``tflite`` (ai_edge_litert) or ``torch`` (the teacher's ``teacher.pt`` head on YAMNet's torch
    port, when no teacher ONNX exists). ``graph_path`` is the ONNX/TFLite file graph costs are counted
    from (for a ``.ort`` file, the ``.onnx`` it was converted from; None for ``torch``: no graph).
    """

    key: str
    label: str
    role: str  # student_int8 | student_fp32 | teacher | yamnet
    engine: str
    path: Path | None
    graph_path: Path | None = None
    source: str = ""  # run dir, SDK package, toy, ../shared
    toy: bool = False
    skip: str | None = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["path"] = None if self.path is None else str(self.path)
        d["graph_path"] = None if self.graph_path is None else str(self.graph_path)
        return d


def find_run_dir(explicit: Path | None) -> Path | None:
    """The run folder to read: the explicit one, else ``runs/latest`` when it holds an int8 student.

    Other ``runs/*`` folders (e.g. the CI smoke run ``runs/tiny``) are never picked implicitly: the
    budgets are about the model that ships, which the full pipeline writes to ``runs/latest``.
    """
    if explicit is not None:
        if not explicit.is_dir():
            raise FileNotFoundError(f"--run-dir {explicit} is not a folder")
        return explicit
    latest = REPO / "runs" / "latest"
    return latest if (latest / INT8_ONNX).is_file() else None


def locate_int8(run_dir: Path | None, toy_dir: Path) -> tuple[Path, str, bool]:
    """Path, provenance and toy flag of the int8 student (see the module docstring)."""
    if run_dir is not None and (run_dir / INT8_ONNX).is_file():
        return run_dir / INT8_ONNX, f"run dir {run_dir}", False
    bundled = REPO / "infantcry_sdk" / "models" / INT8_ONNX
    if bundled.is_file():
        return bundled, "SDK package (infantcry_sdk/models)", False
    from .toys import build_toy_pair

    onnx_path, _ = build_toy_pair(toy_dir)
    return onnx_path, "TOY model (export.modelfile.toy): no trained model found", True


def discover(run_dir: Path | None, toy_dir: Path, *, yamnet: bool = True) -> list[Subject]:
    """Every subject of a desktop run, in table order (int8 first, YAMNet last)."""
    int8, source, toy = locate_int8(run_dir, toy_dir)
    ort_file = int8.with_suffix(".ort")
    ort_skip = None if ort_file.is_file() else (
        f"no {ort_file.name} beside {int8} (python -m onnxruntime.tools.convert_onnx_models_to_ort)"
    )
    subjects = [
        Subject("int8_onnx_sdk", "student int8 .onnx (SDK)", "student_int8", "sdk", int8, int8, source, toy),
        Subject("int8_onnx_ort", "student int8 .onnx (bare ORT)", "student_int8", "ort", int8, int8, source, toy),
        Subject("int8_ort_sdk", "student int8 .ort (SDK)", "student_int8", "sdk", ort_file, int8, source, toy, ort_skip),
        Subject("int8_ort_ort", "student int8 .ort (bare ORT)", "student_int8", "ort", ort_file, int8, source, toy, ort_skip),
    ]
    home = run_dir if run_dir is not None else None
    fp32 = home / FP32_ONNX if home is not None else None
    if fp32 is not None and fp32.is_file():
        subjects.append(Subject("fp32_onnx_ort", "student fp32 .onnx (bare ORT)", "student_fp32", "ort", fp32, fp32, f"run dir {home}"))
    else:
        why = "no run dir" if home is None else f"no {FP32_ONNX} in {home}"
        subjects.append(Subject("fp32_onnx_ort", "student fp32 .onnx (bare ORT)", "student_fp32", "ort", None, skip=why))
    subjects.append(teacher_subject(home))
    subjects.append(yamnet_subject(enabled=yamnet))
    return subjects


def teacher_subject(home: Path | None) -> Subject:
    """The teacher: its ONNX export when the run folder has one (bare ORT), else ``teacher.pt`` in
    torch (YAMNet's torch port + the saved head), else a skipped row saying what is missing."""
    teacher = next((home / n for n in TEACHER_ONNX if home is not None and (home / n).is_file()), None)
    if teacher is not None:
        return Subject("teacher_onnx_ort", "teacher .onnx (bare ORT)", "teacher", "ort", teacher, teacher, f"run dir {home}")
    label = "teacher (torch)"
    if home is None or not (home / TEACHER_PT).is_file():
        where = "no run dir" if home is None else f"none of {TEACHER_ONNX} nor {TEACHER_PT} in {home}"
        return Subject("teacher_torch", label, "teacher", "torch", None, skip=f"no teacher to measure ({where})")
    pt = home / TEACHER_PT
    skip = None
    if not YAMNET_TFLITE.is_file():
        skip = f"{TEACHER_PT} found, but its backbone weights {YAMNET_TFLITE} are not (../shared absent)"
    elif importlib.util.find_spec("torch") is None:
        skip = f"{TEACHER_PT} found, but torch is not installed (the teacher is not exported to ONNX)"
    elif importlib.util.find_spec("ai_edge_litert") is None:
        skip = f"{TEACHER_PT} found, but reading {YAMNET_TFLITE.name} needs ai_edge_litert (pip install ai-edge-litert)"
    return Subject("teacher_torch", label, "teacher", "torch", pt, None, f"run dir {home} (+ {YAMNET_TFLITE.name} from ../shared)", skip=skip)


def yamnet_subject(enabled: bool = True) -> Subject:
    """The peer model: YAMNet's TFLite file from ../shared through ai_edge_litert."""
    skip = None
    if not enabled:
        skip = "disabled (--no-yamnet)"
    elif not YAMNET_TFLITE.is_file():
        skip = f"{YAMNET_TFLITE} not found (../shared absent)"
    else:
        try:
            import ai_edge_litert.interpreter  # noqa: F401
        except ImportError:
            skip = "ai_edge_litert is not installed (pip install ai-edge-litert)"
    return Subject("yamnet_tflite", "YAMNet .tflite (LiteRT)", "yamnet", "tflite", YAMNET_TFLITE, YAMNET_TFLITE, "../shared", skip=skip)


def model_card_for(int8_path: Path) -> Path | None:
    """The model card that describes an int8 file: ``model_card.json`` beside it."""
    card = int8_path.parent / MODEL_CARD
    return card if card.is_file() else None
