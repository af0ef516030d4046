package org.infantcry.core;

/**
 * The window grid, the Java twin of {@code infantcry_sdk.windows.WindowGrid}: which windows a
 * recording has and which samples scoring them needs. All positions are samples at the model rate.
 *
 * <ul>
 *   <li>Window {@code k} covers {@code [k * hop, k * hop + window)}, clipped to the recording.
 *   <li>Window 0 always exists (a recording shorter than a window is one window holding all of it);
 *       window {@code k >= 1} exists once the recording reaches {@code window + (k - 1) * hop + tail}
 *       samples, so the last window may be partial and holds only real audio.
 *   <li>A window's score may depend on {@code contextBefore} samples before it and {@code
 *       contextAfter} samples after it (0: the window alone; none after for a causal model). Scoring
 *       windows {@code first .. stop - 1} needs {@code [first * hop - contextBefore, (stop - 1) * hop
 *       + window + contextAfter)} clipped to the recording, so a stream scores window {@code k} once
 *       it holds {@code k * hop + window + contextAfter} samples.
 * </ul>
 *
 * <p>{@link LoadedModel#grid()} gives a model's grid: measured for a model with window outputs,
 * {@link #forCutWindows} otherwise.
 */
public final class WindowGrid {
    public final int window;
    public final int hop;
    public final int tail;
    public final int contextBefore;
    public final int contextAfter;

    /** @throws IllegalArgumentException for the values the Python grid refuses. */
    public WindowGrid(int window, int hop, int tail, int contextBefore, int contextAfter) {
        if (hop < 1 || hop > window) {
            throw new IllegalArgumentException("need 1 <= hop <= window, got hop " + hop + ", window " + window);
        }
        if (tail < 1 || tail > hop) {
            throw new IllegalArgumentException("need 1 <= tail <= hop, got tail " + tail + ", hop " + hop);
        }
        checkContext("contextBefore", contextBefore, hop);
        checkContext("contextAfter", contextAfter, hop);
        this.window = window;
        this.hop = hop;
        this.tail = tail;
        this.contextBefore = contextBefore;
        this.contextAfter = contextAfter;
    }

    private static void checkContext(String name, int context, int hop) {
        if (context < 0 || context % hop != 0) {
            throw new IllegalArgumentException(
                    name + " must be a whole number of hops, got " + context + " (hop " + hop + ")");
        }
    }

    /**
     * The grid of a model without window outputs, whose windows are cut and scored alone (context
     * 0): a partial last window starts once it would hold {@code minSamples}.
     */
    public static WindowGrid forCutWindows(int window, int hop, int minSamples) {
        return new WindowGrid(window, hop, Math.max(1, minSamples - (window - hop)), 0, 0);
    }

    /** A model's declared context ({@code context_*_samples}) rounded up to whole hops, as the grid needs. */
    public static int wholeHops(int samples, int hop) {
        return (samples + hop - 1) / hop * hop;
    }

    /** How many windows a recording of {@code n} samples has (>= 1). */
    public long count(long n) {
        if (n < (long) window + tail) {
            return 1;
        }
        return 2 + (n - window - tail) / hop;
    }

    public long start(long k) {
        return k * hop;
    }

    /** End (exclusive) of window {@code k} in a recording of {@code n} samples. */
    public long end(long k, long n) {
        return Math.min(n, k * hop + window);
    }

    /** First sample that scoring windows from {@code first} on needs. */
    public long spanStart(long first) {
        return Math.max(0, first * hop - contextBefore);
    }

    /**
     * Sample after the last one that scoring windows up to {@code stop - 1} needs, clipped to a
     * recording of {@code n} samples ({@code n < 0}: the recording goes on).
     */
    public long spanEnd(long stop, long n) {
        long hi = (stop - 1) * hop + window + contextAfter;
        return n < 0 ? hi : Math.min(n, hi);
    }

    /** Windows a stream holding {@code received} samples (more may follow) can score: {@code 0 .. ready - 1}. */
    public long ready(long received) {
        return Math.max(0, Math.floorDiv(received - window - contextAfter, (long) hop) + 1);
    }

    /** Samples a stream keeps to score one window at a time: the window and its context before and after. */
    public int bufferSamples() {
        return contextBefore + window + contextAfter;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof WindowGrid)) {
            return false;
        }
        WindowGrid g = (WindowGrid) o;
        return window == g.window && hop == g.hop && tail == g.tail && contextBefore == g.contextBefore
                && contextAfter == g.contextAfter;
    }

    @Override
    public int hashCode() {
        return (((window * 31 + hop) * 31 + tail) * 31 + contextBefore) * 31 + contextAfter;
    }

    @Override
    public String toString() {
        return "WindowGrid(window=" + window + ", hop=" + hop + ", tail=" + tail + ", contextBefore="
                + contextBefore + ", contextAfter=" + contextAfter + ")";
    }
}
