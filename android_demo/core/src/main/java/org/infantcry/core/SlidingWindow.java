package org.infantcry.core;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Fixed-memory windowing of a sample stream: a ring buffer of one window that emits {@code
 * [k * hop, k * hop + window)} for k = 0, 1, 2, ... as soon as its last sample has arrived.
 *
 * <p>Positions are exact sample counts since the last {@link #reset()}, whatever the chunk sizes
 * (one sample, a whole minute, or anything between), so the windows, and the event times derived
 * from them, do not depend on how the audio was cut into chunks. Memory is one window plus the
 * copies handed out.
 */
public final class SlidingWindow {

    /** One full window of samples and its position in the stream. */
    public static final class Window {
        public final long startSample;
        public final long endSample;
        /** The samples, {@code endSample - startSample} of them; owned by the receiver. */
        public final float[] samples;

        Window(long startSample, float[] samples) {
            this.startSample = startSample;
            this.endSample = startSample + samples.length;
            this.samples = samples;
        }
    }

    private final int windowSamples;
    private final int hopSamples;
    private final float[] ring;
    private long total; // samples received
    private long nextStart; // start of the next window to emit

    public SlidingWindow(int windowSamples, int hopSamples) {
        if (windowSamples < 1 || hopSamples < 1) {
            throw new IllegalArgumentException(
                    "windowSamples and hopSamples must be >= 1, got " + windowSamples + " and "
                            + hopSamples);
        }
        this.windowSamples = windowSamples;
        this.hopSamples = hopSamples;
        this.ring = new float[windowSamples];
    }

    public int windowSamples() {
        return windowSamples;
    }

    public int hopSamples() {
        return hopSamples;
    }

    /** Samples received since the last reset. */
    public long samplesSeen() {
        return total;
    }

    /** Start sample of the next window that will be emitted. */
    public long nextWindowStart() {
        return nextStart;
    }

    public void reset() {
        total = 0;
        nextStart = 0;
        Arrays.fill(ring, 0f);
    }

    public List<Window> push(float[] chunk) {
        return push(chunk, 0, chunk.length);
    }

    /** Appends {@code chunk[offset, offset + length)}; returns the windows it completes, in order. */
    public List<Window> push(float[] chunk, int offset, int length) {
        Pcm.checkRange(chunk.length, offset, length);
        List<Window> out = null;
        int pos = offset;
        int end = offset + length;
        while (pos < end) {
            long due = nextStart + windowSamples; // samples needed to complete the next window
            int n = (int) Math.min(due - total, (long) (end - pos));
            write(chunk, pos, n);
            pos += n;
            if (total == due) {
                if (out == null) {
                    out = new ArrayList<Window>();
                }
                out.add(lastSamples(windowSamples));
                nextStart += hopSamples;
            }
        }
        return out == null ? Collections.<Window>emptyList() : out;
    }

    /**
     * A copy of the last {@code n} samples received, with their position: what {@code
     * CryStream.flush} scores at the end of a stream. {@code n} may not exceed {@link
     * #samplesSeen()} nor the window (the ring holds no more).
     */
    public Window lastSamples(int n) {
        if (n < 0 || n > windowSamples || n > total) {
            throw new IllegalArgumentException(
                    "cannot return the last " + n + " samples: " + total + " seen, window "
                            + windowSamples);
        }
        float[] out = new float[n];
        copyFromRing(total - n, out, n);
        return new Window(total - n, out);
    }

    private void write(float[] src, int pos, int n) {
        // Only the last windowSamples of a long write can matter (hop > window skips samples).
        if (n > windowSamples) {
            int skip = n - windowSamples;
            total += skip;
            pos += skip;
            n = windowSamples;
        }
        while (n > 0) {
            int at = (int) (total % windowSamples);
            int m = Math.min(n, windowSamples - at);
            System.arraycopy(src, pos, ring, at, m);
            total += m;
            pos += m;
            n -= m;
        }
    }

    private void copyFromRing(long fromSample, float[] dst, int n) {
        int at = (int) (fromSample % windowSamples);
        int first = Math.min(n, windowSamples - at);
        System.arraycopy(ring, at, dst, 0, first);
        if (first < n) {
            System.arraycopy(ring, 0, dst, first, n - first);
        }
    }
}
