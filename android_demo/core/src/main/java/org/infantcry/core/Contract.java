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
