"""The one onnxruntime session recipe: the SDK, the toolchain and the benchmarks all build sessions here.

One intra-op thread by default and no spinning, because phones and shared servers both prefer a model
that does not hold a core busy between calls; errors-only logging, because load-time optimiser notes
are not an app's business.
"""
from __future__ import annotations

import onnxruntime as ort


def session_options(
    threads: int = 1,
    *,
    ort_format: bool = False,
    optimize: bool = True,
    profile_prefix: str | None = None,
) -> ort.SessionOptions:
    """Options for a CPU session: ``ort_format`` for ``.ort`` files, ``optimize=False`` to see the graph
    as stored (op counts), ``profile_prefix`` to turn on onnxruntime's kernel profiler."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.log_severity_level = 3
    if ort_format:
        opts.add_session_config_entry("session.load_model_format", "ORT")
    if profile_prefix is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return opts
