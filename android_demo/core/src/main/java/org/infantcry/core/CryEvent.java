package org.infantcry.core;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A cry started or ended; mirrors {@code infantcry_sdk.events.CryEvent}.
 *
 * <p>{@code sample} is exact, at the model's sample rate, counted from the first sample pushed
 * since the last reset; {@code timeS} is {@code sample / sampleRate}. {@code detectedSample} is how
 * much of the stream had arrived when the event could be reported and {@code delayS} = {@code
 * (detectedSample - sample) / sampleRate}, its detection delay; -1 and NaN for an event made by an
 * {@link EventDetector} alone (it does not know the stream).
 */
public final class CryEvent {

    /** The two kinds of event; {@link #wireName()} is the string the Python side uses. */
    public enum Kind {
        START("start"),
        END("end");

        private final String wire;

        Kind(String wire) {
            this.wire = wire;
        }

        public String wireName() {
            return wire;
        }

        /** Parses {@code "start"} or {@code "end"}. */
        public static Kind fromWireName(String name) {
            for (Kind k : values()) {
                if (k.wire.equals(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown event kind: " + name);
        }
    }

    public final Kind kind;
    public final long sample;
    public final double timeS;
    public final double cryProbability;
    /** The most likely cause, or null when the mean top-cause probability is below the minimum. */
    public final String cause;
    /** Mean probability of every cause, in label order (unmodifiable). */
    public final Map<String, Double> causeProbabilities;
    /** Stream position at which the event was reported, or -1 when not known. */
    public final long detectedSample;
    /** Detection delay in seconds, or NaN when not known. */
    public final double delayS;

    /** @param detectedSample -1 and {@code delayS} NaN when not known (an event of a detector alone). */
    public CryEvent(
            Kind kind,
            long sample,
            double timeS,
            double cryProbability,
            String cause,
            Map<String, Double> causeProbabilities,
            long detectedSample,
            double delayS) {
        if (kind == null) {
            throw new IllegalArgumentException("kind must not be null");
        }
        this.kind = kind;
        this.sample = sample;
        this.timeS = timeS;
        this.cryProbability = cryProbability;
        this.cause = cause;
        this.causeProbabilities =
                Collections.unmodifiableMap(new LinkedHashMap<String, Double>(causeProbabilities));
        this.detectedSample = detectedSample;
        this.delayS = delayS;
    }

    /**
     * This event as a stream reports it: detected at {@code detectedSample} (delay {@code
     * (detectedSample - sample) / sampleRate}), and with no cause unless {@code keepCause} (false for
     * a model whose cause head is unsupported); probabilities kept.
     */
    public CryEvent reported(long detectedSample, int sampleRate, boolean keepCause) {
        return new CryEvent(kind, sample, timeS, cryProbability, keepCause ? cause : null, causeProbabilities,
                detectedSample, (detectedSample - sample) / (double) sampleRate);
    }

    /** Confidence of the reported cause, or NaN when there is none. */
    public double causeConfidence() {
        if (cause == null) {
            return Double.NaN;
        }
        Double c = causeProbabilities.get(cause);
        return c == null ? Double.NaN : c;
    }

    @Override
    public String toString() {
        return "CryEvent(" + kind.wireName() + ", sample=" + sample + ", t=" + timeS + "s, p="
                + cryProbability + ", cause=" + cause + ", detected=" + detectedSample + ")";
    }
}
