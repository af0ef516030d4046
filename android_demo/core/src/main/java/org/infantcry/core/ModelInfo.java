package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a model file says about itself: its {@code infantcry.*} metadata, parsed and checked.
 *
 * <p>The app reads everything from here (labels, thresholds, window and hop, sample rate) instead of
 * hard-coding it, so any model that follows the contract drops in. Values are parsed as the Python
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
    /** All metadata entries, unmodifiable (other keys included). */
    public final Map<String, String> metadata;

    private ModelInfo(Map<String, String> meta) {
        metadata = Collections.unmodifiableMap(new LinkedHashMap<String, String>(meta));
        for (String key : Contract.REQUIRED_KEYS) {
            if (!meta.containsKey(key)) {
                throw new InvalidModelException(
                        "model metadata lacks " + key + ": this is not an InfantCry model, or it was "
                                + "exported by an old toolchain; re-export it with `python -m export`");
            }
        }
        schemaVersion = meta.get(Contract.KEY_SCHEMA_VERSION);
        if (!Contract.SCHEMA_VERSION.equals(schemaVersion)) {
            throw new InvalidModelException(
                    "model schema version " + schemaVersion + " is not supported (this app reads "
                            + Contract.SCHEMA_VERSION + "); update the app or re-export the model");
        }
        sampleRate = positiveInt(meta, Contract.KEY_SAMPLE_RATE);
        labels = parseLabels(meta.get(Contract.KEY_LABELS));
        detectionThreshold = probability(meta, Contract.KEY_DETECTION_THRESHOLD);
        causeMinConfidence = probability(meta, Contract.KEY_CAUSE_MIN_CONFIDENCE);
        windowSeconds = positiveDouble(meta, Contract.KEY_WINDOW_SECONDS);
        hopSeconds = positiveDouble(meta, Contract.KEY_HOP_SECONDS);
        minSamples = positiveInt(meta, Contract.KEY_MIN_SAMPLES);
        modelVersion = meta.get(Contract.KEY_MODEL_VERSION);
        fileSha256 = meta.get(Contract.KEY_FILE_SHA256);
        windowSamples = samples(windowSeconds, Contract.KEY_WINDOW_SECONDS);
        hopSamples = samples(hopSeconds, Contract.KEY_HOP_SECONDS);
        if (windowSamples < minSamples) {
            throw new InvalidModelException(
                    "window of " + windowSamples + " samples is shorter than the model's min_samples "
                            + minSamples);
        }
    }

    /** Parses and checks a model's custom metadata map (ORT: {@code getCustomMetadata()}). */
    public static ModelInfo fromMetadata(Map<String, String> metadata) {
        if (metadata == null) {
            throw new InvalidModelException("model has no metadata: not an InfantCry model");
        }
        return new ModelInfo(metadata);
    }

    /** {@code round(seconds * sampleRate)} with Python's ties-to-even rounding. */
    private int samples(double seconds, String key) {
        double n = Math.rint(seconds * sampleRate);
        if (n < 1 || n > Integer.MAX_VALUE) {
            throw new InvalidModelException(key + " gives " + n + " samples at " + sampleRate + " Hz");
        }
        return (int) n;
    }

    private static List<String> parseLabels(String text) {
        List<String> out;
        try {
            out = Json.parseStringList(text);
        } catch (Json.ParseException e) {
            throw new InvalidModelException(
                    Contract.KEY_LABELS + " must be a JSON list of strings: " + e.getMessage());
        }
        if (out.isEmpty()) {
            throw new InvalidModelException(Contract.KEY_LABELS + " is empty: the model needs causes");
        }
        if (out.size() != new java.util.HashSet<String>(out).size()) {
            throw new InvalidModelException(Contract.KEY_LABELS + " has duplicate names: " + out);
        }
        return Collections.unmodifiableList(new ArrayList<String>(out));
    }

    private static double number(Map<String, String> meta, String key) {
        String text = meta.get(key);
        try {
            return Double.parseDouble(text.trim());
        } catch (NumberFormatException | NullPointerException e) {
            throw new InvalidModelException(key + " must be a number, found " + text);
        }
    }

    private static double probability(Map<String, String> meta, String key) {
        double v = number(meta, key);
        if (!(v >= 0.0 && v <= 1.0)) {
            throw new InvalidModelException(key + " must be in [0, 1], found " + v);
        }
        return v;
    }

    private static double positiveDouble(Map<String, String> meta, String key) {
        double v = number(meta, key);
        if (!(v > 0.0) || Double.isInfinite(v)) {
            throw new InvalidModelException(key + " must be a positive number, found " + v);
        }
        return v;
    }

    private static int positiveInt(Map<String, String> meta, String key) {
        String text = meta.get(key);
        try {
            int v = Integer.parseInt(text.trim());
            if (v > 0) {
                return v;
            }
        } catch (NumberFormatException | NullPointerException e) {
            // fall through to the message below
        }
        throw new InvalidModelException(key + " must be a positive integer, found " + text);
    }

    @Override
    public String toString() {
        return "ModelInfo(version=" + modelVersion + ", " + sampleRate + " Hz, labels=" + labels
                + ", window=" + windowSamples + ", hop=" + hopSamples + ", threshold="
                + detectionThreshold + ")";
    }
}
