package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a model file says about itself: its {@code infantcry.*} metadata, parsed and checked.
 *
 * <p>The app reads everything from here (labels, thresholds, window and hop, sample rate, the stream
 * rules and whether the cause head may answer) instead of hard-coding it, so any model that follows
 * the contract drops in. Optional keys that are absent take the contract's defaults. Values are parsed as the Python
 * SDK writes them: integers as decimal text, floats as Python {@code repr} (read back exactly by
 * {@link Double#parseDouble}), labels as a JSON list of strings.
 */
public final class ModelInfo {

    /** A model whose metadata does not follow the contract; the message says what to fix. */
    public static final class InvalidModelException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public InvalidModelException(String message) {
            super(message);
        }
    }

    public final String schemaVersion;
    public final int sampleRate;
    public final List<String> labels;
    public final double detectionThreshold;
    public final double causeMinConfidence;
    public final double windowSeconds;
    public final double hopSeconds;
    public final int minSamples;
    public final String modelVersion;
    /** The integrity digest stored in the file (see {@code infantcry_sdk.integrity}). */
    public final String fileSha256;
    /** Scoring window in samples: {@code round(windowSeconds * sampleRate)}, ties to even. */
    public final int windowSamples;
    /** Hop between windows in samples: {@code round(hopSeconds * sampleRate)}, ties to even. */
    public final int hopSamples;
    /** The stream rules ({@code stream_*} keys, or their defaults), with {@link #causeMinConfidence}. */
    public final EventRules streamRules;
    /** A window's stream score is the mean cry probability of the last this-many windows. */
    public final int streamSmoothingWindows;
    /** {@link Contract#CAUSE_SUPPORTED} or {@link Contract#CAUSE_UNSUPPORTED} (the default). */
    public final String causeStatus;
    /** Why the cause head is (not) supported: the test and its result, or the default text. */
    public final String causeStatusReason;
    /** All metadata entries, unmodifiable (other keys included). */
    public final Map<String, String> metadata;
    /** Audio before and after a window that its window outputs depend on, in samples (one window each by default). */
    public final int contextBeforeSamples;
    public final int contextAfterSamples;
    /** Longest context a model may declare, in windows (as infantcry_sdk.model.MAX_CONTEXT_WINDOWS). */
    public static final int MAX_CONTEXT_WINDOWS = 8;

    private ModelInfo(Map<String, String> meta) {
        // Same checks, same order and same ranges as infantcry_sdk.model.parse_metadata.
        metadata = Collections.unmodifiableMap(new LinkedHashMap<String, String>(meta));
        if (!meta.containsKey(Contract.KEY_SCHEMA_VERSION)) {
            throw new InvalidModelException(
                    "model metadata lacks " + Contract.KEY_SCHEMA_VERSION + ": not an InfantCry model; "
                            + "build one with `python -m export`");
        }
        schemaVersion = meta.get(Contract.KEY_SCHEMA_VERSION);
        if (!Contract.SCHEMA_VERSION.equals(schemaVersion)) {
            throw new InvalidModelException(
                    "model schema version " + schemaVersion + " is not supported (this app reads "
                            + Contract.SCHEMA_VERSION + "); update the app or use a model built for it");
        }
        List<String> missing = new ArrayList<String>();
        for (String key : Contract.REQUIRED_KEYS) {
            if (!meta.containsKey(key)) {
                missing.add(key);
            }
        }
        if (!missing.isEmpty()) {
            throw new InvalidModelException(
                    "model metadata lacks " + missing + ": re-export it with `python -m export`");
        }
        labels = parseLabels(meta.get(Contract.KEY_LABELS));
        sampleRate = (int) integer(meta, Contract.KEY_SAMPLE_RATE, 1000, 768000);
        windowSeconds = number(meta, Contract.KEY_WINDOW_SECONDS, 1e-3, 3600.0);
        hopSeconds = number(meta, Contract.KEY_HOP_SECONDS, 1e-3, windowSeconds);
        windowSamples = samples(windowSeconds);
        hopSamples = samples(hopSeconds);
        minSamples = (int) integer(meta, Contract.KEY_MIN_SAMPLES, 1, windowSamples);
        fileSha256 = meta.get(Contract.KEY_FILE_SHA256);
        if (!isSealedDigest(fileSha256)) {
            throw new InvalidModelException(
                    Contract.KEY_FILE_SHA256 + " is not a sealed SHA-256 digest (was the file sealed?)");
        }
        detectionThreshold = number(meta, Contract.KEY_DETECTION_THRESHOLD, 0.0, 1.0);
        causeMinConfidence = number(meta, Contract.KEY_CAUSE_MIN_CONFIDENCE, 0.0, 1.0);
        modelVersion = meta.get(Contract.KEY_MODEL_VERSION);
        streamRules = parseStreamRules(meta, detectionThreshold, causeMinConfidence);
        streamSmoothingWindows = optionalCount(
                meta, Contract.KEY_STREAM_SMOOTHING_WINDOWS, Contract.DEFAULT_STREAM_SMOOTHING_WINDOWS);
        causeStatus = optional(meta, Contract.KEY_CAUSE_STATUS, Contract.CAUSE_UNSUPPORTED);
        if (!Contract.CAUSE_STATUSES.contains(causeStatus)) {
            throw new InvalidModelException(Contract.KEY_CAUSE_STATUS + "=" + causeStatus
                    + " is not one of " + Contract.CAUSE_STATUSES);
        }
        causeStatusReason = optional(
                meta, Contract.KEY_CAUSE_STATUS_REASON, Contract.DEFAULT_CAUSE_STATUS_REASON);
        contextBeforeSamples = optionalContext(meta, Contract.KEY_CONTEXT_BEFORE_SAMPLES, windowSamples);
        contextAfterSamples = optionalContext(meta, Contract.KEY_CONTEXT_AFTER_SAMPLES, windowSamples);
    }

    /** A declared context in [0, MAX_CONTEXT_WINDOWS windows], or one window when the key is absent. */
    private static int optionalContext(Map<String, String> meta, String key, int windowSamples) {
        return meta.containsKey(key)
                ? (int) integer(meta, key, 0, (long) MAX_CONTEXT_WINDOWS * windowSamples)
                : windowSamples;
    }

    /** True when the model says its cause head passed its test; otherwise no cause is ever given. */
    public boolean causeSupported() {
        return Contract.CAUSE_SUPPORTED.equals(causeStatus);
    }

    /**
     * The {@code stream_*} rules: on = detection_threshold, off = 0.6 x on, one window to open and two
     * to close when the keys are absent; checked as {@link EventRules} checks them.
     */
    private static EventRules parseStreamRules(
            Map<String, String> meta, double detectionThreshold, double causeMinConfidence) {
        double on = meta.containsKey(Contract.KEY_STREAM_ON_THRESHOLD)
                ? number(meta, Contract.KEY_STREAM_ON_THRESHOLD, 0.0, 1.0)
                : detectionThreshold;
        double off = meta.containsKey(Contract.KEY_STREAM_OFF_THRESHOLD)
                ? number(meta, Contract.KEY_STREAM_OFF_THRESHOLD, 0.0, on)
                : Contract.DEFAULT_STREAM_OFF_RATIO * on;
        return new EventRules(
                on,
                off,
                optionalCount(meta, Contract.KEY_STREAM_MIN_ON_WINDOWS, Contract.DEFAULT_STREAM_MIN_ON_WINDOWS),
                optionalCount(meta, Contract.KEY_STREAM_MIN_OFF_WINDOWS, Contract.DEFAULT_STREAM_MIN_OFF_WINDOWS),
                causeMinConfidence);
    }

    private static String optional(Map<String, String> meta, String key, String fallback) {
        String v = meta.get(key);
        return v == null ? fallback : v;
    }

    /** An optional window count (an integer >= 1), or {@code fallback} when the key is absent. */
    private static int optionalCount(Map<String, String> meta, String key, int fallback) {
        return meta.containsKey(key) ? (int) integer(meta, key, 1, Integer.MAX_VALUE) : fallback;
    }

    /** Parses and checks a model's custom metadata map (ORT: {@code getCustomMetadata()}). */
    public static ModelInfo fromMetadata(Map<String, String> metadata) {
        if (metadata == null) {
            throw new InvalidModelException("model has no metadata: not an InfantCry model");
        }
        return new ModelInfo(metadata);
    }

    /** {@code int(round(seconds * sampleRate))}: Python's round() ties to even, as rint does. */
    private int samples(double seconds) {
        return (int) Math.rint(seconds * sampleRate);
    }

    private static boolean isSealedDigest(String digest) {
        if (digest == null || digest.length() != 64) {
            return false;
        }
        boolean allZero = true;
        for (int i = 0; i < 64; i++) {
            char c = digest.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
            allZero &= c == '0';
        }
        return !allZero; // all zeros is the unsealed placeholder
    }

    private static List<String> parseLabels(String text) {
        List<String> out;
        try {
            out = Json.parseStringList(text);
        } catch (Json.ParseException e) {
            out = null;
        }
        if (out == null || out.isEmpty() || out.contains("")
                || out.size() != new HashSet<String>(out).size()) {
            throw new InvalidModelException(
                    Contract.KEY_LABELS + " must be a JSON list of distinct non-empty names, found "
                            + text);
        }
        return Collections.unmodifiableList(new ArrayList<String>(out));
    }

    /** A finite float in [lo, hi], parsed as Python's float() parses the metadata text. */
    private static double number(Map<String, String> meta, String key, double lo, double hi) {
        String text = meta.get(key);
        double v;
        try {
            v = Double.parseDouble(text.trim());
        } catch (NumberFormatException | NullPointerException e) {
            throw new InvalidModelException(key + "=" + text + " is not a number");
        }
        if (Double.isNaN(v) || Double.isInfinite(v)) {
            throw new InvalidModelException(key + "=" + text + " is not finite");
        }
        if (!(lo <= v && v <= hi)) {
            throw new InvalidModelException(key + "=" + text + " is outside [" + lo + ", " + hi + "]");
        }
        return v;
    }

    /** A decimal integer in [lo, hi]. */
    private static long integer(Map<String, String> meta, String key, long lo, long hi) {
        String text = meta.get(key);
        long v;
        try {
            v = Long.parseLong(text.trim());
        } catch (NumberFormatException | NullPointerException e) {
            throw new InvalidModelException(key + "=" + text + " is not an integer");
        }
        if (v < lo || v > hi) {
            throw new InvalidModelException(key + "=" + text + " is outside [" + lo + ", " + hi + "]");
        }
        return v;
    }

    @Override
    public String toString() {
        return "ModelInfo(version=" + modelVersion + ", " + sampleRate + " Hz, labels=" + labels
                + ", window=" + windowSamples + ", hop=" + hopSamples + ", threshold="
                + detectionThreshold + ")";
    }
}
