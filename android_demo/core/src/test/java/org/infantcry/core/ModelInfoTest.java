package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.Test;

public class ModelInfoTest {

    /** Metadata as the toolchain writes it (export/toy_model.toy_metadata). */
    static Map<String, String> toyMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("infantcry.schema_version", "1");
        m.put("infantcry.sample_rate", "16000");
        m.put("infantcry.labels", "[\"hungry\", \"tired\", \"discomfort\", \"belly_pain\", \"burping\"]");
        m.put("infantcry.detection_threshold", "0.5");
        m.put("infantcry.cause_min_confidence", "0.3");
        m.put("infantcry.window_seconds", "0.975");
        m.put("infantcry.hop_seconds", "0.5");
        m.put("infantcry.min_samples", "4000");
        m.put("infantcry.model_version", "toy-1");
        m.put("infantcry.file_sha256", "ab".repeat(32));
        m.put("infantcry.training_summary", "toy");
        return m;
    }

    @Test
    public void parsesTheContractKeys() {
        ModelInfo info = ModelInfo.fromMetadata(toyMetadata());
        assertEquals(16000, info.sampleRate);
        assertEquals(Arrays.asList("hungry", "tired", "discomfort", "belly_pain", "burping"), info.labels);
        assertEquals(0.5, info.detectionThreshold, 0.0);
        assertEquals(0.3, info.causeMinConfidence, 0.0);
        assertEquals(15600, info.windowSamples);
        assertEquals(8000, info.hopSamples);
        assertEquals(4000, info.minSamples);
        assertEquals("toy-1", info.modelVersion);
        assertEquals("toy", info.metadata.get("infantcry.training_summary"));
        EventRules r = info.streamRules; // no stream_* keys: the contract's defaults
        assertEquals(0.5, r.onThreshold, 0.0);
        assertEquals(0.6 * 0.5, r.offThreshold, 0.0);
        assertEquals(1, r.minOnWindows);
        assertEquals(2, r.minOffWindows);
        assertEquals(0.3, r.causeMinConfidence, 0.0);
        assertEquals(1, info.streamSmoothingWindows);
        assertEquals(Contract.CAUSE_UNSUPPORTED, info.causeStatus);
        assertEquals(15600, info.contextBeforeSamples); // no context keys: one window each
        assertEquals(15600, info.contextAfterSamples);
    }

    @Test
    public void readsACausalModelsContexts() {
        Map<String, String> m = toyMetadata();
        m.put("infantcry.context_before_samples", "48960");
        m.put("infantcry.context_after_samples", "0");
        ModelInfo info = ModelInfo.fromMetadata(m);
        assertEquals(48960, info.contextBeforeSamples);
        assertEquals(0, info.contextAfterSamples);
    }

    @Test
    public void roundsHalfToEvenLikePython() {
        Map<String, String> m = toyMetadata();
        m.put("infantcry.sample_rate", "1000");
        m.put("infantcry.min_samples", "1");
        m.put("infantcry.window_seconds", "0.0025"); // 2.5 samples -> 2 (Python round)
        m.put("infantcry.hop_seconds", "0.0015"); // 1.5 samples -> 2
        ModelInfo info = ModelInfo.fromMetadata(m);
        assertEquals(2, info.windowSamples);
        assertEquals(2, info.hopSamples);
        m.put("infantcry.window_seconds", "0.0035"); // 3.5 -> 4
        assertEquals(4, ModelInfo.fromMetadata(m).windowSamples);
    }

    private static void assertRejected(String key, String value, String messagePart) {
        Map<String, String> m = toyMetadata();
        if (value == null) {
            m.remove(key);
        } else {
            m.put(key, value);
        }
        try {
            ModelInfo.fromMetadata(m);
            fail("accepted " + key + "=" + value);
        } catch (ModelInfo.InvalidModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(messagePart));
        }
    }

    @Test
    public void rejectsOffContractMetadata() {
        assertRejected("infantcry.schema_version", null, "lacks infantcry.schema_version");
        assertRejected("infantcry.labels", null, "lacks [infantcry.labels]");
        assertRejected("infantcry.schema_version", "2", "not supported");
        assertRejected("infantcry.labels", "hungry,tired", "JSON list");
        assertRejected("infantcry.labels", "[]", "JSON list");
        assertRejected("infantcry.labels", "[\"a\", \"\"]", "non-empty");
        assertRejected("infantcry.labels", "[\"a\", \"a\"]", "distinct");
        assertRejected("infantcry.sample_rate", "16k", "not an integer");
        assertRejected("infantcry.sample_rate", "16000.0", "not an integer");
        assertRejected("infantcry.sample_rate", "999", "outside");
        assertRejected("infantcry.detection_threshold", "1.5", "outside");
        assertRejected("infantcry.detection_threshold", "NaN", "not finite");
        assertRejected("infantcry.window_seconds", "-1", "outside");
        assertRejected("infantcry.hop_seconds", "1.0", "outside"); // longer than the window
        assertRejected("infantcry.min_samples", "15601", "outside");
        assertRejected("infantcry.file_sha256", "0".repeat(64), "sealed");
        assertRejected("infantcry.file_sha256", "AB".repeat(32), "sealed");
        assertRejected("infantcry.context_after_samples", "-1", "outside");
        assertRejected("infantcry.context_before_samples", "124801", "outside"); // over 8 windows
        assertRejected("infantcry.context_before_samples", "1.5", "not an integer");
    }

    @Test(expected = ModelInfo.InvalidModelException.class)
    public void rejectsNullMetadata() {
        ModelInfo.fromMetadata(null);
    }
}
