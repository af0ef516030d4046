"""The Android app module (android_demo/app) through android_demo/app/compile_check.sh: the sources
compile against the API 29 stubs and the ONNX Runtime classes, the manifest and resources link, and
the APK skeleton holds what it should; and a type error in an app source fails the script with a
clear message.

Skipped with a reason where ../shared/android is absent, or where javac, aapt2/aapt or Debian's
framework-res.apk are absent and cannot be installed (not root). CI runs as root, so the script
installs its Debian packages itself; .ci/run also runs the script directly.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "android_demo" / "app" / "compile_check.sh"
APP_SRC = REPO / "android_demo" / "app" / "src" / "main"
ANDROID_JARS = Path(os.environ.get("INFANTCRY_DATA_ROOT", REPO.parent / "shared")) / "android"
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")


def _skip_without_tools() -> None:
    missing = [t for t in ("javac", "aapt2", "aapt") if shutil.which(t) is None]
    if not FRAMEWORK_RES.is_file():
        missing.append(str(FRAMEWORK_RES))
    if missing and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip(f"missing {missing}: apt-get install android-sdk-build-tools android-framework-res openjdk-17-jdk-headless"
                    " (not root, so the script cannot install them)")
    if not (ANDROID_JARS / "android-api29-stubs.jar").is_file():
        pytest.skip(f"{ANDROID_JARS}/android-api29-stubs.jar not found (../shared absent)")


def _run(*args: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_app_compiles_links_and_packages(tmp_path: Path) -> None:
    _skip_without_tools()
    proc = _run(APP_SRC, tmp_path / "build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "package: name='org.infantcry.demo'" in proc.stdout and "sdkVersion:'24'" in proc.stdout
    assert (tmp_path / "build" / "classes" / "org" / "infantcry" / "demo" / "MonitorService.class").is_file()


@pytest.mark.slow
def test_a_type_error_in_an_app_source_fails_with_a_clear_message(tmp_path: Path) -> None:
    _skip_without_tools()
    src = tmp_path / "main"
    shutil.copytree(APP_SRC, src)
    service = src / "java" / "org" / "infantcry" / "demo" / "MonitorService.java"
    text = service.read_text(encoding="utf-8")
    assert "private int nextAlertId = 100;" in text
    service.write_text(text.replace("private int nextAlertId = 100;", 'private int nextAlertId = "100";'), encoding="utf-8")
    proc = _run(src, tmp_path / "build")
    err = proc.stderr
    assert proc.returncode != 0
    assert "compile_check.sh: javac failed on the app sources (1 errors" in err, err
    assert "MonitorService.java" in err and "incompatible types: String cannot be converted to int" in err, err
