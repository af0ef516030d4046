package org.infantcry.core;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Graph names and metadata keys of the InfantCry model contract; mirrors {@code
 * infantcry_sdk/contract.py}. The parity tests compare these constants with a {@code contract.json}
 * written from the Python module, so the two cannot drift apart silently.
 */
public final class Contract {
    private Contract() {}

    public static final String SCHEMA_VERSION = "1";

    public static final String INPUT_NAME = "waveform";
    public static final String OUTPUT_CRY = "cry_probability";
    public static final String OUTPUT_CAUSES = "cause_probabilities";
    /** Optional window outputs (both or neither): every window of the input scored in one run. */
    public static final String OUTPUT_WINDOW_CRY = "window_cry_probability";
    public static final String OUTPUT_WINDOW_CAUSES = "window_cause_probabilities";

    private static final String P = "infantcry.";
    public static final String KEY_SCHEMA_VERSION = P + "schema_version";
    public static final String KEY_SAMPLE_RATE = P + "sample_rate";
    /** JSON list of cause names, in output order. */
    public static final String KEY_LABELS = P + "labels";
    /** {@code cry_probability >= this} is a cry. */
    public static final String KEY_DETECTION_THRESHOLD = P + "detection_threshold";
    /** Top cause below this: the cause is null. */
    public static final String KEY_CAUSE_MIN_CONFIDENCE = P + "cause_min_confidence";
    public static final String KEY_WINDOW_SECONDS = P + "window_seconds";
    public static final String KEY_HOP_SECONDS = P + "hop_seconds";
    /** Shortest input the graph accepts, at the model's sample rate. */
    public static final String KEY_MIN_SAMPLES = P + "min_samples";
    public static final String KEY_MODEL_VERSION = P + "model_version";
    public static final String KEY_FILE_SHA256 = P + "file_sha256";
    public static final String KEY_TRAINING_SUMMARY = P + "training_summary";

    // Optional keys: a model without them gets the defaults below (see contract.py).
    /** Stream score {@code >= this} counts towards opening an event; default: detection_threshold. */
    public static final String KEY_STREAM_ON_THRESHOLD = P + "stream_on_threshold";
    /** Stream score {@code < this} counts towards closing it; default: 0.6 x the on threshold. */
    public static final String KEY_STREAM_OFF_THRESHOLD = P + "stream_off_threshold";
    /** A window's stream score is the mean cry probability of the last this-many windows. */
    public static final String KEY_STREAM_SMOOTHING_WINDOWS = P + "stream_smoothing_windows";
    public static final String KEY_STREAM_MIN_ON_WINDOWS = P + "stream_min_on_windows";
    public static final String KEY_STREAM_MIN_OFF_WINDOWS = P + "stream_min_off_windows";
    /** Audio before a window that its window outputs depend on, in samples; default: one window. */
    public static final String KEY_CONTEXT_BEFORE_SAMPLES = P + "context_before_samples";
    /** Audio after a window that its window outputs depend on (0 for a causal model); default: one window. */
    public static final String KEY_CONTEXT_AFTER_SAMPLES = P + "context_after_samples";
    /** "supported" or "unsupported"; only a supported cause head ever answers. */
    public static final String KEY_CAUSE_STATUS = P + "cause_status";
    /** One line: the test of the cause head and its result. */
    public static final String KEY_CAUSE_STATUS_REASON = P + "cause_status_reason";

    public static final String CAUSE_SUPPORTED = "supported";
    public static final String CAUSE_UNSUPPORTED = "unsupported";
    public static final List<String> CAUSE_STATUSES =
            Collections.unmodifiableList(Arrays.asList(CAUSE_SUPPORTED, CAUSE_UNSUPPORTED));
    public static final double DEFAULT_STREAM_OFF_RATIO = 0.6;
    public static final int DEFAULT_STREAM_SMOOTHING_WINDOWS = 1;
    public static final int DEFAULT_STREAM_MIN_ON_WINDOWS = 1;
    public static final int DEFAULT_STREAM_MIN_OFF_WINDOWS = 2;
    public static final String DEFAULT_CAUSE_STATUS_REASON =
            "the model file does not record a test of its cause head against chance";

    /** Keys every model must carry (same order as the Python tuple). */
    public static final List<String> REQUIRED_KEYS =
            Collections.unmodifiableList(
                    Arrays.asList(
                            KEY_SCHEMA_VERSION,
                            KEY_SAMPLE_RATE,
                            KEY_LABELS,
                            KEY_DETECTION_THRESHOLD,
                            KEY_CAUSE_MIN_CONFIDENCE,
                            KEY_WINDOW_SECONDS,
                            KEY_HOP_SECONDS,
                            KEY_MIN_SAMPLES,
                            KEY_MODEL_VERSION,
                            KEY_FILE_SHA256));
}
