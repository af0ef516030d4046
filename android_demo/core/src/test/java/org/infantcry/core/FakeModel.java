package org.infantcry.core;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model for the loop and loader tests without ONNX Runtime: the bytes and digest of the blob that
 * the Python integrity code sealed (integrity.json), small metadata at 1 kHz (window 500, hop 250),
 * and a {@link LoadedModel.Session} whose cry probability is the window's peak level, with or without
 * window outputs.
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

    /** Window and hop of {@link #metadata()}, in samples. */
    static final int WINDOW = 500;
    static final int HOP = 250;

    /**
     * Cry probability = peak |sample| of the window; causes (0.3, 0.7). Records what happens to it.
     * With {@code frameTail} > 0 it has window outputs: a span holds the windows of a grid with that
     * tail (window {@code w} is {@code [w * HOP, w * HOP + WINDOW)}, clipped), each scored the same way.
     */
    static class Session implements LoadedModel.Session {
        final Map<String, String> meta;
        int runs;
        int closes;
        /** 1-based run that throws (0: none). */
        int failOnRun;
        /** Number of cause values returned (2 matches the labels). */
        int causeCount = 2;
        /** The tail of the window outputs' grid (0: no window outputs). */
        int frameTail;
        /** Extra windows the window outputs return (a graph that disagrees with its metadata). */
        int extraWindows;
        /** Lengths of the spans given to {@link #runWindows}, in order. */
        final List<Integer> spans = new ArrayList<>();
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
            count();
            return new float[][] {{peak(window, 0, window.length)}, causes()};
        }

        @Override
        public boolean hasWindowOutputs() {
            return frameTail > 0;
        }

        @Override
        public float[][] runWindows(float[] span) throws Exception {
            count();
            spans.add(span.length);
            int n = span.length;
            int w = (n < WINDOW + frameTail ? 1 : 2 + (n - WINDOW - frameTail) / HOP) + extraWindows;
            float[] cry = new float[w];
            float[] causes = new float[w * causeCount];
            for (int i = 0; i < w; i++) {
                int from = Math.min(n, i * HOP);
                cry[i] = peak(span, from, Math.min(n, from + WINDOW));
                System.arraycopy(causes(), 0, causes, i * causeCount, causeCount);
            }
            return new float[][] {cry, causes};
        }

        private void count() throws Exception {
            runs++;
            thread = Thread.currentThread().getName();
            if (runs == failOnRun) {
                throw new Exception("runtime exploded");
            }
        }

        private float[] causes() {
            return causeCount == 2 ? new float[] {0.3f, 0.7f} : new float[causeCount];
        }

        private static float peak(float[] x, int from, int to) {
            float peak = 0f;
            for (int i = from; i < to; i++) {
                peak = Math.max(peak, Math.abs(x[i]));
            }
            return peak;
        }

        @Override
        public void close() {
            closes++;
        }
    }
}
