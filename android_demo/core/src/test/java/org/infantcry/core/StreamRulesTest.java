package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.Test;

/** Smoothing, metadata-driven rules and the cause gate in CryMonitor, and the live prediction. */
public class StreamRulesTest {

    @Test
    public void smootherAveragesTheLastWindowsFewerAtTheStart() {
        StreamSmoother s = new StreamSmoother(3);
        assertEquals(0.9, s.add(0.9), 0.0);
        assertEquals((0.9 + 0.0) / 2, s.add(0.0), 0.0);
        assertEquals((0.9 + 0.0 + 0.3) / 3, s.add(0.3), 0.0);
        assertEquals((0.0 + 0.3 + 0.6) / 3, s.add(0.6), 0.0); // the oldest dropped, oldest first
        assertEquals((0.3 + 0.6 + 1.0) / 3, s.add(1.0), 0.0);
        s.reset();
        assertEquals(0.25, s.add(0.25), 0.0);
        StreamSmoother one = new StreamSmoother(1);
        assertEquals(0.7f, one.add(0.7f), 0.0); // 1 = the window itself, bit for bit
        assertEquals(0.1f, one.add(0.1f), 0.0);
    }

    /** Scores one window per push with the given cry probabilities; causes (0.3, 0.7). */
    private static List<CryEvent> run(ModelInfo info, double... probs) {
        final int[] k = {0};
        WindowScorer scorer = (span, skip, count) -> new WindowScorer.Score[] {
            new WindowScorer.Score((float) probs[k[0]++], new float[] {0.3f, 0.7f})};
        CryMonitor m = new CryMonitor(scorer, info,
                WindowGrid.forCutWindows(info.windowSamples, info.hopSamples, info.minSamples), info.streamRules);
        List<CryEvent> events = new ArrayList<>(m.push(new float[info.windowSamples]));
        for (int i = 1; i < probs.length; i++) {
            events.addAll(m.push(new float[info.hopSamples]));
        }
        events.addAll(m.flush());
        return events;
    }

    @Test
    public void smoothedScoresOpenAndCloseEvents() {
        ModelInfo info = ModelInfo.fromMetadata(FakeModel.metadata(
                Contract.KEY_STREAM_SMOOTHING_WINDOWS, "2", Contract.KEY_STREAM_MIN_ON_WINDOWS, "1",
                Contract.KEY_STREAM_MIN_OFF_WINDOWS, "1", Contract.KEY_STREAM_OFF_THRESHOLD, "0.4"));
        // stream scores: 0.9 (first window alone), 0.45, 0.05, 0.3
        List<CryEvent> events = run(info, 0.9f, 0.0f, 0.1f, 0.5f);
        assertEquals(2, events.size());
        assertEquals(CryEvent.Kind.START, events.get(0).kind);
        assertEquals(0.9f, events.get(0).cryProbability, 0.0); // mean of stream scores over the run
        assertEquals(CryEvent.Kind.END, events.get(1).kind);
        // 0.45 is not below off (0.4): kept; 0.05 closes; the event ends at window 1's end
        assertEquals(250 + 500, events.get(1).sample);
        assertEquals((0.9f + (0.9f + 0.0f) / 2.0) / 2, events.get(1).cryProbability, 0.0);
    }

    @Test
    public void withoutSmoothingOneWindowAloneIsCompared() {
        ModelInfo info = ModelInfo.fromMetadata(FakeModel.metadata());
        List<CryEvent> events = run(info, 0.9f, 0.0f, 0.1f);
        assertEquals(2, events.size()); // min_on 1 (default) opens, two off windows close
        assertEquals(500, events.get(1).sample);
    }

    @Test
    public void unsupportedCauseHeadGivesNoCauseButKeepsProbabilities() {
        List<CryEvent> events = run(ModelInfo.fromMetadata(FakeModel.metadata()), 0.9f, 0.9f, 0.0f, 0.0f);
        assertEquals(2, events.size());
        for (CryEvent e : events) {
            assertNull(e.cause);
            assertEquals(0.7f, e.causeProbabilities.get("b"), 1e-7);
            assertTrue(Double.isNaN(e.causeConfidence()));
        }
        List<CryEvent> supported = run(ModelInfo.fromMetadata(FakeModel.metadata(
                Contract.KEY_CAUSE_STATUS, Contract.CAUSE_SUPPORTED)), 0.9f, 0.9f, 0.0f, 0.0f);
        assertEquals("b", supported.get(0).cause);
        assertEquals("b", supported.get(1).cause);
    }

    @Test
    public void livePredictionFollowsCryPredictionAndTheCauseStatus() {
        ModelInfo supported = ModelInfo.fromMetadata(FakeModel.metadata(
                Contract.KEY_CAUSE_STATUS, Contract.CAUSE_SUPPORTED));
        WindowScorer.Score cry = new WindowScorer.Score(0.5f, new float[] {0.3f, 0.7f});
        WindowPrediction p = WindowPrediction.of(supported, 0, 500, cry);
        assertTrue(p.isCry && p.confident);
        assertEquals("b", p.cause);
        assertEquals(0.7f, p.topCauseProbability, 0f);
        WindowPrediction quiet = WindowPrediction.of(supported, 0, 500, new WindowScorer.Score(0.49f, new float[] {0.3f, 0.7f}));
        assertFalse(quiet.isCry);
        assertTrue(quiet.confident);
        assertNull(quiet.cause); // a cause only for a cry
        WindowPrediction unsure = WindowPrediction.of(supported, 0, 500, new WindowScorer.Score(0.9f, new float[] {0.5f, 0.5f}));
        assertFalse(unsure.confident); // 0.5 < cause_min_confidence 0.6
        assertNull(unsure.cause);
        ModelInfo unsupported = ModelInfo.fromMetadata(FakeModel.metadata(
                Contract.KEY_CAUSE_STATUS, Contract.CAUSE_UNSUPPORTED, Contract.KEY_CAUSE_STATUS_REASON, "p=0.4"));
        WindowPrediction gated = WindowPrediction.of(unsupported, 0, 500, cry);
        assertTrue(gated.isCry);
        assertFalse(gated.confident);
        assertNull(gated.cause);
        assertEquals("p=0.4", unsupported.causeStatusReason);
    }
}
