package org.infantcry.core;

import java.util.Arrays;

/**
 * A window's stream score: the mean cry probability of the last {@code windows} windows, fewer at the
 * start of a stream (contract key {@code stream_smoothing_windows}; 1 = the window alone).
 *
 * <p>The mean is recomputed on every window as a plain sum, oldest window first, divided by the
 * count, so no rounding error builds up over a long stream. Storage grows with the windows actually
 * seen, up to {@code windows} values. Not thread-safe.
 */
final class StreamSmoother {
    private final int windows;
    private double[] recent = new double[1]; // ring of the last min(count, windows) values
    private int count;
    private int next;

    StreamSmoother(int windows) {
        if (windows < 1) {
            throw new IllegalArgumentException("smoothing windows must be >= 1, got " + windows);
        }
        this.windows = windows;
    }

    /** Adds one window's cry probability; returns its stream score. */
    double add(double cryProbability) {
        if (count == recent.length && count < windows) {
            recent = Arrays.copyOf(recent, (int) Math.min(windows, 2L * recent.length));
            next = count;
        }
        recent[next] = cryProbability;
        next = (next + 1) % recent.length;
        count = Math.min(count + 1, windows);
        int oldest = count < recent.length ? 0 : next;
        double sum = 0.0;
        for (int i = 0; i < count; i++) {
            sum += recent[(oldest + i) % recent.length];
        }
        return sum / count;
    }

    void reset() {
        count = 0;
        next = 0;
    }
}
