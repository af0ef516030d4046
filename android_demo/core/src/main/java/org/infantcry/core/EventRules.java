package org.infantcry.core;

/**
 * Thresholds and debouncing for turning window scores into events.
 *
 * <p>Mirrors {@code infantcry_sdk.events.EventRules} field for field, with the same validation, so
 * that a rule set read from a golden file or from the model's metadata means the same thing on both
 * sides. A model's own rules come from its metadata ({@link ModelInfo#streamRules}).
 */
public final class EventRules {
    public final double onThreshold;
    public final double offThreshold;
    public final int minOnWindows;
    public final int minOffWindows;
    public final double causeMinConfidence;

    /**
     * @throws IllegalArgumentException unless {@code 0 <= off <= on <= 1} and both minimum window
     *     counts are at least 1 (the Python class raises ValueError for the same inputs).
     */
    public EventRules(
            double onThreshold,
            double offThreshold,
            int minOnWindows,
            int minOffWindows,
            double causeMinConfidence) {
        // Written as the negation of Python's chained comparison so that NaN is rejected too.
        if (!(0.0 <= offThreshold && offThreshold <= onThreshold && onThreshold <= 1.0)) {
            throw new IllegalArgumentException("need 0 <= off_threshold <= on_threshold <= 1");
        }
        if (minOnWindows < 1 || minOffWindows < 1) {
            throw new IllegalArgumentException("min_on_windows and min_off_windows must be >= 1");
        }
        this.onThreshold = onThreshold;
        this.offThreshold = offThreshold;
        this.minOnWindows = minOnWindows;
        this.minOffWindows = minOffWindows;
        this.causeMinConfidence = causeMinConfidence;
    }

    @Override
    public String toString() {
        return "EventRules(on=" + onThreshold + ", off=" + offThreshold + ", minOn=" + minOnWindows
                + ", minOff=" + minOffWindows + ", causeMin=" + causeMinConfidence + ")";
    }
}
