"""The Android demo's plain-JVM core (android_demo/core): build it and run its JUnit tests, the
golden parity tests against the Python SDK included, through android_demo/core/run_tests.sh.

Skipped with a reason where no JDK is installed, or where JUnit 4 is absent and cannot be installed
(not root). CI runs as root, so the script installs Debian's junit4 itself when needed.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "android_demo" / "core" / "run_tests.sh"
JUNIT_JAR = Path(os.environ.get("JUNIT_JAR", "/usr/share/java/junit4.jar"))


@pytest.mark.slow
def test_jvm_core_builds_and_passes() -> None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("javac/java not installed: the JVM core needs a JDK 17 (apt-get install openjdk-17-jdk-headless)")
    if not JUNIT_JAR.is_file() and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip(f"JUnit 4 not found at {JUNIT_JAR} and not root to install it (apt-get install junit4)")
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    summary = re.search(r"^(\d+) passed, (\d+) failed", out, re.MULTILINE)
    assert proc.returncode == 0 and summary, f"run_tests.sh failed (exit {proc.returncode}):\n{out[-6000:]}"
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert failed == 0 and passed >= 50, out[-3000:]
