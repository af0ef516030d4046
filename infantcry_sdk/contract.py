"""The model contract shared by the toolchain (which writes it) and the runtime (which checks it).

One place names the graph's inputs, outputs and metadata keys, so that export, the SDK, the benchmarks
and the Android demo cannot drift apart. A model file carries everything a caller needs to use it.

Graph
    input  ``waveform``             float32 [batch, samples], mono, ``sample_rate`` Hz, in [-1, 1]
    output ``cry_probability``      float32 [batch]
    output ``cause_probabilities``  float32 [batch, n_causes], softmax over ``labels``

Optional window outputs (both or neither): one pass over a long clip scores every window in it.
    output ``window_cry_probability``      float32 [batch, windows]
    output ``window_cause_probabilities``  float32 [batch, windows, n_causes]
Window ``w`` covers ``window_seconds`` from ``w * hop_seconds``; a window starts every hop while the
model's frame grid has audio left, so the last one may run past the end of the input and then holds
only its real part (audio shorter than one model frame past the last window starts none). An input of
exactly ``window_seconds + (k - 1) * hop_seconds`` gives exactly ``k`` windows. A window's outputs may
depend on audio up to ``context_before_samples`` before it and ``context_after_samples`` after it
(optional keys; one window each where absent; a causal model declares 0 after, so a stream scores a
window as soon as it ends). At load the SDK measures the frame (the grid's ``tail``,
:mod:`infantcry_sdk.windows`), checks the window counts for every ``k`` up to a bound derived from
window, hop and that context, and checks the context on a noise probe. The first two outputs pool the whole input; for an input of one window they are that window's
scores, so a caller that cuts windows itself (streaming) needs only them.
"""
from __future__ import annotations

SCHEMA_VERSION = "1"
SUPPORTED_SCHEMA_VERSIONS = frozenset({"1"})

INPUT_NAME = "waveform"
OUTPUT_CRY = "cry_probability"
OUTPUT_CAUSES = "cause_probabilities"
OUTPUT_WINDOW_CRY = "window_cry_probability"
OUTPUT_WINDOW_CAUSES = "window_cause_probabilities"
#: Output name -> rank: the two every model has, and the optional pair (both or neither).
OUTPUT_RANKS = {OUTPUT_CRY: 1, OUTPUT_CAUSES: 2}
WINDOW_OUTPUT_RANKS = {OUTPUT_WINDOW_CRY: 2, OUTPUT_WINDOW_CAUSES: 3}

_P = "infantcry."
KEY_SCHEMA_VERSION = _P + "schema_version"
KEY_SAMPLE_RATE = _P + "sample_rate"
KEY_LABELS = _P + "labels"  # JSON list of cause names, in output order
KEY_DETECTION_THRESHOLD = _P + "detection_threshold"  # cry_probability >= this is a cry
KEY_CAUSE_MIN_CONFIDENCE = _P + "cause_min_confidence"  # top cause below this: cause is None
KEY_WINDOW_SECONDS = _P + "window_seconds"  # recommended scoring window (long clips, streaming)
KEY_HOP_SECONDS = _P + "hop_seconds"  # recommended hop between windows
KEY_MIN_SAMPLES = _P + "min_samples"  # shortest input the graph accepts, at sample_rate
KEY_MODEL_VERSION = _P + "model_version"
KEY_FILE_SHA256 = _P + "file_sha256"  # see infantcry_sdk.integrity
KEY_TRAINING_SUMMARY = _P + "training_summary"  # short text: data, licences, metrics

# Optional keys. The toolchain writes them; a model without them gets the defaults below, which are
# conservative: a model that does not say its cause head passed a test gets no cause answers.
#: Stream (monitor) rules, calibrated by the toolchain on validation streams. A window's stream score is
#: the mean cry probability of the last ``stream_smoothing_windows`` windows (1 = the window alone);
#: ``stream_min_on_windows`` consecutive scores >= ``stream_on_threshold`` open an event and
#: ``stream_min_off_windows`` consecutive scores < ``stream_off_threshold`` close it.
KEY_STREAM_ON_THRESHOLD = _P + "stream_on_threshold"  # default: detection_threshold
KEY_STREAM_OFF_THRESHOLD = _P + "stream_off_threshold"  # default: 0.6 x the on threshold
KEY_STREAM_SMOOTHING_WINDOWS = _P + "stream_smoothing_windows"  # default: 1
KEY_STREAM_MIN_ON_WINDOWS = _P + "stream_min_on_windows"  # default: 1
KEY_STREAM_MIN_OFF_WINDOWS = _P + "stream_min_off_windows"  # default: 2
#: Audio before and after a window that its window outputs depend on, in samples at ``sample_rate``
#: (the receptive field of the model's normalisation and convolutions). Default: one window each. The
#: SDK rounds each up to whole hops and checks it on a noise probe at load.
KEY_CONTEXT_BEFORE_SAMPLES = _P + "context_before_samples"
KEY_CONTEXT_AFTER_SAMPLES = _P + "context_after_samples"
#: Whether the cause head passed the toolchain's test against chance: "supported" or "unsupported".
#: Only "supported" models ever return a cause; the default is "unsupported".
KEY_CAUSE_STATUS = _P + "cause_status"
KEY_CAUSE_STATUS_REASON = _P + "cause_status_reason"  # one line: the test and its result
CAUSE_SUPPORTED = "supported"
CAUSE_UNSUPPORTED = "unsupported"
CAUSE_STATUSES = (CAUSE_SUPPORTED, CAUSE_UNSUPPORTED)
DEFAULT_STREAM_OFF_RATIO = 0.6
DEFAULT_STREAM_SMOOTHING_WINDOWS = 1
DEFAULT_STREAM_MIN_ON_WINDOWS = 1
DEFAULT_STREAM_MIN_OFF_WINDOWS = 2
DEFAULT_CAUSE_STATUS_REASON = "the model file does not record a test of its cause head against chance"

REQUIRED_KEYS = (
    KEY_SCHEMA_VERSION,
    KEY_SAMPLE_RATE,
    KEY_LABELS,
    KEY_DETECTION_THRESHOLD,
    KEY_CAUSE_MIN_CONFIDENCE,
    KEY_WINDOW_SECONDS,
    KEY_HOP_SECONDS,
    KEY_MIN_SAMPLES,
    KEY_MODEL_VERSION,
    KEY_FILE_SHA256,
)
