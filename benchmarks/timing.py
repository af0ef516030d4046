"""Latency statistics, and paired timing against a reference on a noisy shared machine.

Absolute times drift between runs (other jobs share the cores), so the comparison with YAMNet is
made pair by pair: each repetition times the subject and the reference back to back, alternating
which goes first (A B, B A, ...) so neither always gets the warmer cache. The ratio of each pair
cancels most of the machine's slow phases; its median and quartiles are reported.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Milliseconds over ``n`` timed calls (after warm-up)."""

    p50_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    n: int

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> "Latency":
        a = np.asarray(samples_ms, dtype=np.float64)
        return cls(
            p50_ms=float(np.median(a)),
            p95_ms=float(np.percentile(a, 95)),
            mean_ms=float(a.mean()),
            min_ms=float(a.min()),
            n=int(a.size),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Ratio:
    """Distribution of per-pair ratios ``reference / subject`` (> 1: the subject is faster)."""

    median: float
    p25: float
    p75: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, subject_ms: Sequence[float], reference_ms: Sequence[float]) -> "Ratio":
        r = np.asarray(reference_ms, dtype=np.float64) / np.maximum(np.asarray(subject_ms, dtype=np.float64), 1e-9)
        return cls(
            median=float(np.median(r)),
            p25=float(np.percentile(r, 25)),
            p75=float(np.percentile(r, 75)),
            min=float(r.min()),
            max=float(r.max()),
            n=int(r.size),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - t0) / 1e6


def time_calls(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    return [_once(fn) for _ in range(repeats)]


def time_paired(
    subject: Callable[[], object], reference: Callable[[], object], warmup: int, repeats: int
) -> tuple[list[float], list[float]]:
    """Interleaved timings of ``subject`` and ``reference`` (alternating order); ms lists."""
    for _ in range(warmup):
        subject()
        reference()
    s_ms: list[float] = []
    r_ms: list[float] = []
    for i in range(repeats):
        if i % 2 == 0:
            s_ms.append(_once(subject))
            r_ms.append(_once(reference))
        else:
            r_ms.append(_once(reference))
            s_ms.append(_once(subject))
    return s_ms, r_ms


def time_load(load: Callable[[], object], repeats: int) -> Latency:
    """Latency of building a session (file already in the page cache after the first load)."""
    return Latency.of([_once(load) for _ in range(repeats)])
