"""The runtime wheel: infantcry_sdk and its four dependencies only (no export or benchmarks package),
while the toolchain and benchmarks stay importable from the repository root."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_DEPS = {"numpy", "onnxruntime", "soundfile", "soxr"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the sources (toolchain folders included, so leaving them out is
    the build's doing), without touching the checkout."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "results")
    for name in ("infantcry_sdk", "export", "benchmarks"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheel")
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    if run.returncode != 0 and "No module named pip" in run.stderr:
        pytest.skip("pip is not installed in this interpreter")
    assert run.returncode == 0, run.stderr[-3000:]
    (path,) = out.glob("infantcry-*.whl")
    return path


def test_wheel_holds_the_runtime_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"infantcry_sdk"}
    assert "infantcry_sdk/models/student_int8.onnx" in names and "infantcry_sdk/py.typed" in names
    assert not any(n.startswith(("export/", "benchmarks/")) for n in names)


def test_wheel_requires_the_four_runtime_dependencies(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    required = [r for r in meta.get_all("Requires-Dist") if "extra ==" not in r]
    assert {r.split(">")[0].split("=")[0].split("<")[0].strip() for r in required} == RUNTIME_DEPS


def test_toolchain_and_benchmarks_import_from_the_repository_root() -> None:
    for module in ("export", "benchmarks"):
        run = subprocess.run([sys.executable, "-c", f"import {module}; print({module}.__file__)"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and Path(run.stdout.strip()).resolve().parent == (ROOT / module).resolve(), run.stderr
