package org.infantcry.core;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model for the loop and loader tests without ONNX Runtime: the bytes and digest of the blob that
 * the Python integrity code sealed (integrity.json), small metadata at 1 kHz (window 500, hop 250),
 * and a {@link LoadedModel.Session} whose cry probability is the window's peak level.
 */
final class FakeModel {
    private FakeModel() {}

    private static final Map<String, Object> SEALED = Golden.read(Golden.dir().resolve("integrity.json"));

    static byte[] bytes() {
        return Base64.getDecoder().decode((String) SEALED.get("sealed_base64"));
    }

    static byte[] tamperedBytes() {
        return Base64.getDecoder().decode((String) SEALED.get("tampered_base64"));
    }

    /** Metadata for {@link #bytes()}: labels a, b; threshold 0.5; plus {@code extra} keys. */
    static Map<String, String> metadata(String... extra) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(Contract.KEY_SCHEMA_VERSION, "1");
        m.put(Contract.KEY_SAMPLE_RATE, "1000");
        m.put(Contract.KEY_LABELS, "[\"a\", \"b\"]");
        m.put(Contract.KEY_DETECTION_THRESHOLD, "0.5");
        m.put(Contract.KEY_CAUSE_MIN_CONFIDENCE, "0.6");
        m.put(Contract.KEY_WINDOW_SECONDS, "0.5");
        m.put(Contract.KEY_HOP_SECONDS, "0.25");
        m.put(Contract.KEY_MIN_SAMPLES, "100");
        m.put(Contract.KEY_MODEL_VERSION, "fake-1");
        m.put(Contract.KEY_FILE_SHA256, (String) SEALED.get("sha256"));
        for (int i = 0; i + 1 < extra.length; i += 2) {
            m.put(extra[i], extra[i + 1]);
        }
        return m;
    }

    /** Cry probability = peak |sample| of the window; causes (0.3, 0.7). Records what happens to it. */
    static class Session implements LoadedModel.Session {
        final Map<String, String> meta;
        int runs;
        int closes;
        /** 1-based run that throws (0: none). */
        int failOnRun;
        /** Number of cause values returned (2 matches the labels). */
        int causeCount = 2;
        String thread;

        Session(Map<String, String> meta) {
            this.meta = meta;
        }

        @Override
        public Map<String, String> metadata() {
            return meta;
        }

        @Override
        public float[][] run(float[] window) throws Exception {
            runs++;
            thread = Thread.currentThread().getName();
            if (runs == failOnRun) {
                throw new Exception("runtime exploded");
            }
            float peak = 0f;
            for (float v : window) {
                peak = Math.max(peak, Math.abs(v));
            }
            float[] causes = causeCount == 2 ? new float[] {0.3f, 0.7f} : new float[causeCount];
            return new float[][] {{peak}, causes};
        }

        @Override
        public void close() {
            closes++;
        }
    }
}
