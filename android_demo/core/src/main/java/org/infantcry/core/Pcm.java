package org.infantcry.core;

/**
 * PCM conversions, matching {@code infantcry_sdk.audio.to_mono_float32}: int16 samples become
 * float32 {@code s / 32768} (exact: a power-of-two divisor), so the Java side feeds the model the
 * same numbers the Python SDK would.
 */
public final class Pcm {
    private Pcm() {}

    /** int16 to float32 in [-1, 1): {@code s / 32768f}. */
    public static float[] toFloat(short[] pcm, int offset, int length) {
        checkRange(pcm.length, offset, length);
        float[] out = new float[length];
        for (int i = 0; i < length; i++) {
            out[i] = pcm[offset + i] / 32768f;
        }
        return out;
    }

    public static float[] toFloat(short[] pcm) {
        return toFloat(pcm, 0, pcm.length);
    }

    static void checkRange(int size, int offset, int length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(
                    "offset " + offset + ", length " + length + " outside an array of " + size);
        }
    }
}
