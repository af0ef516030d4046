"""Peak resident memory of a FRESH process that loads a model and scores a 7 s clip.

Measured from outside: the parent starts :mod:`benchmarks.probe` and reads the child's ``VmHWM``
(the kernel's resident high-water mark for that process) from ``/proc/PID/status`` before letting it
exit, so nothing the harness itself has loaded leaks into the figure. A baseline child imports the same modules and
exits, to show how much of the peak is the model and how much is Python + numpy + onnxruntime.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .subjects import REPO, Subject


@dataclass(frozen=True)
class Memory:
    """Megabytes (2**20 bytes): median over ``runs`` fresh processes of each kind."""

    peak_rss_mb: float
    baseline_rss_mb: float
    model_rss_mb: float  # peak minus baseline: what loading and scoring added
    fresh_load_ms: float  # load time in that cold process (no warm-up, nothing cached in-process)
    first_clip_ms: float  # the first 7 s clip in that process (includes one-off allocations)
    runs: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _vm_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _child(args: list[str]) -> tuple[float, dict]:
    """Run one probe; (peak RSS in MB, its JSON line).

    The probe prints its line and then waits for its stdin to close, so its peak can be read while
    it is still alive from ``/proc/PID/status`` (``VmHWM``: the high-water mark of the memory map
    that exec created). ``ru_maxrss`` from ``wait4`` would be wrong here: Linux carries the parent's
    high-water mark across fork and exec, so every child would look as big as the harness.
    """
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.probe", *args, "--hold"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, cwd=REPO,
        )
        line = proc.stdout.readline().decode()
        hwm_kb = _vm_kb(proc.pid, "VmHWM")
        proc.stdin.close()
        proc.stdout.close()
        code = proc.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if code != 0 or not line.strip():
        raise RuntimeError(f"probe {' '.join(args)} failed (exit {code}): {stderr[-800:]}")
    info = json.loads(line)
    if hwm_kb is None:  # no /proc (not Linux): the probe's own figure, which may include the parent's
        hwm_kb = info["self_maxrss_kb"]
    return hwm_kb / 1024.0, info


def fresh_process_memory(subject: Subject, runs: int = 1, threads: int = 1) -> Memory:
    """Peak RSS of ``runs`` fresh processes loading ``subject`` (median), and the baseline."""
    import statistics

    base = [str(subject.engine), str(subject.path), "--threads", str(threads)]
    peaks, loads, firsts, baselines = [], [], [], []
    for _ in range(runs):
        mb, info = _child(base)
        peaks.append(mb)
        loads.append(info["load_ms"])
        firsts.append(info["first_clip_ms"])
        baselines.append(_child(base + ["--baseline"])[0])
    peak, baseline = statistics.median(peaks), statistics.median(baselines)
    return Memory(
        peak_rss_mb=round(peak, 2),
        baseline_rss_mb=round(baseline, 2),
        model_rss_mb=round(peak - baseline, 2),
        fresh_load_ms=round(statistics.median(loads), 3),
        first_clip_ms=round(statistics.median(firsts), 3),
        runs=runs,
    )
