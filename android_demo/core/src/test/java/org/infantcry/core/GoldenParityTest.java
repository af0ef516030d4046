package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;
import org.junit.runners.Parameterized.Parameters;

/**
 * Parity with the Python SDK: every golden file's window scores, replayed through the Java event
 * logic, must give the events the Python side recorded (kind, exact sample, cause and the window that
 * completed the event; probabilities to 1e-9, and in fact bit for bit).
 */
@RunWith(Parameterized.class)
public class GoldenParityTest {

    @Parameters(name = "{0}")
    public static Collection<Object[]> files() {
        List<Object[]> out = new ArrayList<>();
        for (Path p : Golden.caseFiles()) {
            out.add(new Object[] {p.getFileName().toString(), p});
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no golden files in " + Golden.dir().toAbsolutePath());
        }
        return out;
    }

    private final String name;
    private final Map<String, Object> g;

    public GoldenParityTest(String name, Path path) {
        this.name = name;
        this.g = Golden.read(path);
    }

    private List<String> labels() {
        return Golden.strings(g, "labels");
    }

    private int sampleRate() {
        return (int) Golden.lng(g, "sample_rate");
    }

    private boolean isStream() {
        return "stream".equals(g.get("kind"));
    }

    /** A produced event, tagged with the window that completed it (windows.size() = finish). */
    private static final class Tagged {
        final CryEvent event;
        final int windowIndex;

        Tagged(CryEvent event, int windowIndex) {
            this.event = event;
            this.windowIndex = windowIndex;
        }
    }

    private List<Tagged> replayDetector() {
        EventDetector d = new EventDetector(Golden.rules(g), labels(), sampleRate());
        StreamSmoother smoother = new StreamSmoother((int) Golden.lng(g, "smoothing_windows"));
        List<Map<String, Object>> windows = Golden.list(g, "windows");
        List<Tagged> out = new ArrayList<>();
        for (int k = 0; k < windows.size(); k++) {
            Map<String, Object> w = windows.get(k);
            double score = smoother.add(Golden.num(w, "cry_probability"));
            for (CryEvent e : d.update(Golden.lng(w, "start_sample"), Golden.lng(w, "end_sample"),
                    score, Golden.doubles(w.get("cause_probabilities")))) {
                out.add(new Tagged(e, k));
            }
        }
        for (CryEvent e : d.finish()) {
            out.add(new Tagged(e, windows.size()));
        }
        return out;
    }

    private void assertEvents(List<Tagged> got, double tol) {
        List<Map<String, Object>> want = Golden.list(g, "events");
        assertEquals(name + ": number of events", want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            Map<String, Object> w = want.get(i);
            CryEvent e = got.get(i).event;
            String at = name + " event " + i + ": ";
            assertEquals(at + "kind", w.get("kind"), e.kind.wireName());
            assertEquals(at + "sample", Golden.lng(w, "sample"), e.sample);
            assertEquals(at + "window_index", Golden.lng(w, "window_index"), got.get(i).windowIndex);
            assertEquals(at + "cause", w.get("cause"), e.cause);
            assertEquals(at + "time_s", Golden.num(w, "time_s"), e.timeS, tol);
            assertEquals(at + "cry_probability", Golden.num(w, "cry_probability"), e.cryProbability, tol);
            Map<String, Object> causes = Golden.map(w, "cause_probabilities");
            assertEquals(at + "cause labels", new ArrayList<>(causes.keySet()),
                    new ArrayList<>(e.causeProbabilities.keySet()));
            for (Map.Entry<String, Object> c : causes.entrySet()) {
                assertEquals(at + "cause " + c.getKey(), ((Number) c.getValue()).doubleValue(),
                        e.causeProbabilities.get(c.getKey()), tol);
            }
        }
    }

    @Test
    public void detectorGivesTheSameEvents() {
        assertEvents(replayDetector(), 1e-9);
    }

    @Test
    public void detectorIsBitExact() {
        // Same operations in the same order on the same doubles: not even the last bit may differ.
        assertEvents(replayDetector(), 0.0);
    }

    @Test
    public void windowPositionsFollowTheGrid() {
        WindowGrid grid = Golden.grid(g);
        long total = Golden.lng(g, "num_samples");
        List<Map<String, Object>> windows = Golden.list(g, "windows");
        assertEquals(name + ": windows of the grid", grid.count(total), windows.size());
        for (int k = 0; k < windows.size(); k++) {
            String at = name + ": window " + k;
            assertEquals(at + " start", grid.start(k), Golden.lng(windows.get(k), "start_sample"));
            assertEquals(at + " end", grid.end(k, total), Golden.lng(windows.get(k), "end_sample"));
        }
    }

    /**
     * The whole Java stream (CryMonitor + flush) over a stream of the golden length, cut into random
     * chunks, with a scorer that replays the recorded outputs: the windows must fall at the recorded
     * positions and, for model-scored files, be scored from the recorded spans (the samples the
     * Python stream ran the model on, so a real model would see the same input), and give the
     * recorded events, each reported where its window was scored.
     */
    @Test
    public void monitorScoresTheSameWindowsFromTheSameSpansAndGivesTheSameEvents() {
        final List<Map<String, Object>> windows = Golden.list(g, "windows");
        final boolean replayScores = isStream(); // model outputs are float32: exact as Score floats
        final WindowGrid grid = Golden.grid(g);
        final int[] next = {0};
        WindowScorer replay = (span, skip, count) -> {
            WindowScorer.Score[] out = new WindowScorer.Score[count];
            for (int j = 0; j < count; j++) {
                Map<String, Object> w = windows.get(next[0]++);
                if (replayScores) {
                    long lo = Golden.lng(w, "span_start");
                    assertEquals(name + ": span length", Golden.lng(w, "span_end") - lo, span.length);
                    assertEquals(name + ": window in the span", Golden.lng(w, "start_sample") - lo,
                            (long) (skip + j) * grid.hop);
                }
                out[j] = recorded(w, replayScores);
            }
            return out;
        };
        // a stream case as the app builds it from the model's metadata (smoothing, cause status), with
        // the rules the Python stream used; a synthetic case with its rules alone
        CryMonitor m = replayScores
                ? new CryMonitor(replay, modelInfo(), grid, Golden.rules(g))
                : new CryMonitor(replay, grid, new EventDetector(Golden.rules(g), labels(), sampleRate()),
                        (int) Golden.lng(g, "min_samples"));
        final List<String> positions = new ArrayList<>();
        final List<CryEvent> events = new ArrayList<>();
        m.setWindowListener((s, e, score) -> positions.add(s + "-" + e));
        Random rng = new Random(name.hashCode());
        long total = Golden.lng(g, "num_samples");
        for (long pos = 0; pos < total; ) {
            int n = (int) Math.min(total - pos, 1 + rng.nextInt(6000));
            events.addAll(m.push(new float[n]));
            pos += n;
        }
        events.addAll(m.flush());
        assertEquals(name + ": every recorded window scored once", windows.size(), next[0]);
        assertEquals(name + ": window positions", Golden.windowsAsStrings(g), positions);
        if (replayScores) {
            List<Map<String, Object>> want = Golden.list(g, "events");
            assertEquals(name + ": number of events", want.size(), events.size());
            for (int i = 0; i < want.size(); i++) {
                CryEvent e = events.get(i);
                int k = (int) Golden.lng(want.get(i), "window_index");
                String at = name + " event " + i;
                assertEquals(at, want.get(i).get("kind"), e.kind.wireName());
                assertEquals(at, Golden.lng(want.get(i), "sample"), e.sample);
                assertEquals(at + " cause (none unless the cause head is supported)",
                        modelInfo().causeSupported() ? want.get(i).get("cause") : null, e.cause);
                assertEquals(at, Golden.num(want.get(i), "cry_probability"), e.cryProbability, 0.0);
                long detected = k < windows.size() ? Golden.lng(windows.get(k), "detected_sample") : total;
                assertEquals(at + " detected_sample", detected, e.detectedSample);
                assertEquals(at + " delay_s", (detected - e.sample) / (double) sampleRate(), e.delayS, 0.0);
            }
        }
    }

    /** A recorded window's model outputs as a Score (zeros for synthetic cases). */
    private WindowScorer.Score recorded(Map<String, Object> w, boolean replayScores) {
        double p = replayScores ? Golden.num(w, "cry_probability") : 0.0;
        double[] c = replayScores ? Golden.doubles(w.get("cause_probabilities")) : new double[labels().size()];
        float[] cf = new float[c.length];
        for (int i = 0; i < c.length; i++) {
            cf[i] = (float) c[i];
            assertEquals(name + ": cause is a float32 value", c[i], (double) cf[i], 0.0);
        }
        assertEquals(name + ": probability is a float32 value", p, (double) (float) p, 0.0);
        return new WindowScorer.Score((float) p, cf);
    }

    /** A stream case's model metadata, read the Java way. */
    @SuppressWarnings("unchecked")
    private ModelInfo modelInfo() {
        return ModelInfo.fromMetadata((Map<String, String>) (Map<?, ?>) Golden.map(g, "metadata"));
    }

    /**
     * The model's metadata, read the Java way, gives the golden window, hop and labels. (The rules it
     * gives are pinned by {@link MetadataRulesTest}; the recorded events used the Python stream's.)
     */
    @Test
    public void metadataGivesTheSameWindowHopAndLabels() {
        if (!isStream()) {
            assertEquals(null, g.get("metadata"));
            return;
        }
        ModelInfo info = modelInfo();
        assertEquals(Golden.lng(g, "window_samples"), info.windowSamples);
        assertEquals(Golden.lng(g, "hop_samples"), info.hopSamples);
        assertEquals(Golden.lng(g, "min_samples"), info.minSamples);
        assertEquals(sampleRate(), info.sampleRate);
        assertEquals(labels(), info.labels);
    }
}
