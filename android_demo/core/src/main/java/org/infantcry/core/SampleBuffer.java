package org.infantcry.core;

/**
 * The newest samples of a stream in fixed memory, the Java twin of {@code
 * infantcry_sdk.windows.SampleBuffer}: one float array of {@code capacity} holding the stream's
 * samples {@code [start, end)} (absolute positions). {@link #dropBefore} moves the kept part to the
 * front, so memory never grows with the stream.
 */
final class SampleBuffer {
    private final float[] data;
    private long start;
    private long end;

    SampleBuffer(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        data = new float[capacity];
    }

    /** Position of the oldest sample kept. */
    long start() {
        return start;
    }

    /** Samples received since the last {@link #clear()}. */
    long end() {
        return end;
    }

    /** Copies in as much of {@code x[offset, offset + length)} as fits; returns how many were taken. */
    int append(float[] x, int offset, int length) {
        int used = (int) (end - start);
        int take = Math.min(length, data.length - used);
        System.arraycopy(x, offset, data, used, take);
        end += take;
        return take;
    }

    /** A copy of samples {@code [lo, hi)} (absolute; within {@code [start, end)}). */
    float[] copy(long lo, long hi) {
        if (!(start <= lo && lo <= hi && hi <= end)) {
            throw new IndexOutOfBoundsException(
                    "samples [" + lo + ", " + hi + ") are not in the buffer [" + start + ", " + end + ")");
        }
        float[] out = new float[(int) (hi - lo)];
        System.arraycopy(data, (int) (lo - start), out, 0, out.length);
        return out;
    }

    /** Forgets the samples before {@code pos}. */
    void dropBefore(long pos) {
        int cut = (int) (Math.min(Math.max(pos, start), end) - start);
        if (cut > 0) {
            int used = (int) (end - start);
            System.arraycopy(data, cut, data, 0, used - cut);
            start += cut;
        }
    }

    void clear() {
        start = 0;
        end = 0;
    }
}
