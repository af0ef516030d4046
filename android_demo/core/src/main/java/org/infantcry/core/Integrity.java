package org.infantcry.core;

import java.nio.charset.Charset;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Tamper evidence for model files; mirrors {@code infantcry_sdk/integrity.py}.
 *
 * <p>A sealed file stores, in its {@code infantcry.file_sha256} metadata, the SHA-256 of the file's
 * own bytes taken while that 64-character value was all zeros. Checking zeroes the stored digest
 * again and rehashes. Byte level, so the same check serves {@code .onnx} and {@code .ort} files.
 */
public final class Integrity {
    private Integrity() {}

    /** The unsealed value: 64 ASCII zeros. */
    public static final String PLACEHOLDER = "0000000000000000000000000000000000000000000000000000000000000000";

    private static final Charset ASCII = Charset.forName("US-ASCII");

    /**
     * True when {@code data} (a sealed file's bytes) hashes to {@code stored}, its metadata value.
     * False for an unsealed or malformed value, or when the value does not occur exactly once.
     */
    public static boolean verify(byte[] data, String stored) {
        if (data == null || stored == null || stored.length() != 64 || stored.equals(PLACEHOLDER)) {
            return false;
        }
        byte[] needle = stored.getBytes(ASCII);
        int at = indexOf(data, needle, 0);
        if (at < 0 || indexOf(data, needle, at + 1) >= 0) {
            return false;
        }
        byte[] zeroed = data.clone();
        byte[] zeros = PLACEHOLDER.getBytes(ASCII);
        System.arraycopy(zeros, 0, zeroed, at, zeros.length);
        return hex(sha256(zeroed)).equals(stored);
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is unavailable on this platform", e);
        }
    }

    static String hex(byte[] bytes) {
        StringBuilder b = new StringBuilder(bytes.length * 2);
        for (byte x : bytes) {
            b.append(Character.forDigit((x >> 4) & 0xF, 16)).append(Character.forDigit(x & 0xF, 16));
        }
        return b.toString();
    }

    /** First index of {@code needle} in {@code hay} at or after {@code from}, or -1. */
    static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i <= hay.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
