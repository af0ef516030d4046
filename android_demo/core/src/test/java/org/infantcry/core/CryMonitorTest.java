package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

public class CryMonitorTest {
    private static final List<String> LABELS = Arrays.asList("a", "b");
    private static final EventRules RULES = new EventRules(0.5, 0.3, 2, 2, 0.0);

    private static final WindowGrid GRID = WindowGrid.forCutWindows(500, 250, 100); // tail 1, no context

    /** Cry probability = mean |x| of each window cut from the span (so loud is a cry); causes fixed. */
    static final class LevelScorer implements WindowScorer {
        int calls;

        @Override
        public Score[] score(float[] span, int skip, int count) {
            Score[] out = new Score[count];
            for (int j = 0; j < count; j++) {
                calls++;
                int from = (skip + j) * GRID.hop;
                int to = Math.min(span.length, from + GRID.window);
                double s = 0;
                for (int i = from; i < to; i++) {
                    s += Math.abs(span[i]);
                }
                out[j] = new Score((float) (s / (to - from)), new float[] {0.25f, 0.75f});
            }
            return out;
        }
    }

    /** A scorer giving {@code score} to every window asked for. */
    private static WindowScorer constant(WindowScorer.Score score) {
        return (span, skip, count) -> {
            WindowScorer.Score[] out = new WindowScorer.Score[count];
            java.util.Arrays.fill(out, score);
            return out;
        };
    }

    /** 1 s quiet, 2 s loud, 2 s quiet at 1 kHz. */
    private static float[] burst() {
        float[] x = new float[5000];
        for (int i = 1000; i < 3000; i++) {
            x[i] = (i % 2 == 0) ? 0.9f : -0.9f;
        }
        return x;
    }

    private static CryMonitor monitor(LevelScorer scorer) {
        return new CryMonitor(scorer, GRID, new EventDetector(RULES, LABELS, 1000), 100);
    }

    @Test
    public void oneBurstOneEventPairWhateverTheChunking() {
        float[] x = burst();
        List<String> reference = null;
        for (int chunk : new int[] {1, 33, 250, 5000}) {
            LevelScorer scorer = new LevelScorer();
            CryMonitor m = monitor(scorer);
            List<CryEvent> ev = new ArrayList<>();
            for (int pos = 0; pos < x.length; pos += chunk) {
                ev.addAll(m.push(x, pos, Math.min(chunk, x.length - pos)));
            }
            ev.addAll(m.flush());
            assertEquals(19, scorer.calls); // (5000 - 500) / 250 + 1: the last window ends at the last sample
            assertEquals(2, ev.size());
            List<String> got = new ArrayList<>();
            for (CryEvent e : ev) {
                got.add(e.kind.wireName() + "@" + e.sample + " p=" + e.cryProbability + " " + e.cause);
            }
            if (reference == null) {
                reference = got;
            }
            assertEquals(reference, got);
        }
        // the half-loud window at 750 (mean 0.45) is not on; the first all-loud one (1000) is.
        // The half-loud window at 2750 is not off (0.45 >= 0.3), so the event ends at 3250.
        assertTrue(reference.get(0), reference.get(0).startsWith("start@1000 "));
        assertTrue(reference.get(1).startsWith("end@3250 "));
        assertTrue(reference.get(0).endsWith(" b"));
    }

    @Test
    public void int16IsScaledBy32768() {
        final float[][] seen = new float[1][];
        WindowScorer capture = (span, skip, count) -> {
            seen[0] = span;
            return new WindowScorer.Score[] {new WindowScorer.Score(0f, new float[] {0.5f, 0.5f})};
        };
        CryMonitor m = new CryMonitor(capture, new WindowGrid(4, 4, 1, 0, 0), new EventDetector(RULES, LABELS, 1000), 1);
        assertNull(m.lastScore());
        m.push(new short[] {-32768, 0, 16384, 32767});
        assertEquals(-1f, seen[0][0], 0f);
        assertEquals(0f, seen[0][1], 0f);
        assertEquals(0.5f, seen[0][2], 0f);
        assertEquals(32767f / 32768f, seen[0][3], 0f);
        assertEquals(0f, m.lastScore().cryProbability, 0f);
    }

    @Test
    public void flushClosesAndResetRestartsTheClock() {
        LevelScorer scorer = new LevelScorer();
        CryMonitor m = monitor(scorer);
        float[] loud = new float[1000];
        Arrays.fill(loud, 0.8f);
        final List<Long> starts = new ArrayList<>();
        m.setWindowListener((s, e, score) -> starts.add(s));
        assertEquals(1, m.push(loud).size()); // start
        assertTrue(m.isActive());
        List<CryEvent> end = m.flush();
        assertEquals(CryEvent.Kind.END, end.get(0).kind);
        assertEquals(1000, end.get(0).sample);
        assertTrue(m.flush().isEmpty());
        m.reset();
        assertEquals(0, m.samplesSeen());
        assertNull(m.lastScore());
        assertEquals(0L, m.push(loud).get(0).sample);
        assertEquals(Arrays.asList(0L, 250L, 500L, 0L, 250L, 500L), starts);
    }

    /** Records the positions of every scored window. */
    private static List<String> positions(CryMonitor m) {
        final List<String> out = new ArrayList<>();
        m.setWindowListener((s, e, score) -> out.add(s + "-" + e));
        return out;
    }

    @Test
    public void flushScoresAnUnalignedTailWindowThenStartsOver() {
        LevelScorer scorer = new LevelScorer();
        CryMonitor m = monitor(scorer); // window 500, hop 250, min 100
        List<String> pos = positions(m);
        m.push(new float[1100]); // windows 0, 250, 500; samples 1000..1100 uncovered
        assertEquals(Arrays.asList("0-500", "250-750", "500-1000"), pos);
        m.flush();
        assertEquals("750-1100", pos.get(3)); // the grid's partial last window, on the hop grid
        assertEquals(0, m.samplesSeen());
        assertTrue(m.lastScore() != null); // kept by flush, as CryStream.last_window
        m.push(new float[500]);
        assertEquals("0-500", pos.get(4)); // the next stream starts at sample 0
        m.flush(); // everything covered: nothing more to score
        assertEquals(5, pos.size());
    }

    @Test
    public void flushScoresAShortStreamWholeOnlyFromMinSamples() {
        LevelScorer scorer = new LevelScorer();
        CryMonitor m = monitor(scorer);
        List<String> pos = positions(m);
        m.push(new float[99]);
        m.flush();
        assertTrue(pos.isEmpty()); // below min_samples (100): not scored
        m.push(new float[100]);
        m.flush();
        assertEquals(Arrays.asList("0-100"), pos);
        m.push(new float[499]);
        m.flush();
        assertEquals("0-499", pos.get(1));
    }

    @Test
    public void scoresAreClippedAndNonFiniteRejected() {
        final float[] next = {1.5f, -0.25f};
        WindowScorer wild = (span, skip, count) ->
                new WindowScorer.Score[] {new WindowScorer.Score(next[0], new float[] {next[1], 1.0001f})};
        CryMonitor m = new CryMonitor(wild, new WindowGrid(4, 4, 1, 0, 0), new EventDetector(RULES, LABELS, 1000), 1);
        m.push(new float[4]);
        assertEquals(1f, m.lastScore().cryProbability, 0f);
        assertEquals(0f, m.lastScore().cause(0), 0f);
        assertEquals(1f, m.lastScore().cause(1), 0f);
        next[0] = Float.NaN;
        try {
            m.push(new float[4]);
            org.junit.Assert.fail("NaN accepted");
        } catch (WindowScorer.ScoringException expected) {
            assertTrue(expected.getMessage().contains("NaN"));
        }
    }

    @Test
    public void badSamplesAreRefusedAndLeaveTheStreamUnchanged() {
        CryMonitor m = monitor(new LevelScorer());
        m.push(new float[10]);
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, 16.5f, -20000f}) {
            try {
                m.push(new float[] {0f, bad});
                org.junit.Assert.fail("accepted " + bad);
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage().contains("[-1, 1]"));
            }
        }
        assertEquals(10, m.samplesSeen());
        m.push(new float[] {16f, -1.5f}); // hot but plausible audio is fine
        assertEquals(12, m.samplesSeen());
    }

    @Test(expected = IllegalArgumentException.class)
    public void scorerWithWrongCauseCountFails() {
        WindowScorer wrong = constant(new WindowScorer.Score(0.9f, new float[] {1f}));
        new CryMonitor(wrong, new WindowGrid(4, 4, 1, 0, 0), new EventDetector(RULES, LABELS, 1000), 1)
                .push(new float[4]);
    }

    @Test(expected = WindowScorer.ScoringException.class)
    public void scorerWithTooFewScoresFails() {
        WindowScorer none = (span, skip, count) -> new WindowScorer.Score[0];
        new CryMonitor(none, new WindowGrid(4, 4, 1, 0, 0), new EventDetector(RULES, LABELS, 1000), 1)
                .push(new float[4]);
    }

    /** What one scorer call was given: span length, its first sample's position, skip and count. */
    private static final class Call {
        final String text;

        Call(float[] span, int skip, int count) {
            text = span.length + "@" + (int) (span[0] * 1024) + " skip " + skip + " x" + count;
        }
    }

    @Test
    public void contextDelaysEachWindowAndFlushScoresTheRestFromOneSpan() {
        WindowGrid grid = new WindowGrid(500, 250, 40, 500, 500); // a model with window outputs
        final List<String> calls = new ArrayList<>();
        WindowScorer scorer = (span, skip, count) -> {
            calls.add(new Call(span, skip, count).text);
            WindowScorer.Score[] out = new WindowScorer.Score[count];
            java.util.Arrays.fill(out, new WindowScorer.Score(0.9f, new float[] {0.25f, 0.75f}));
            return out;
        };
        CryMonitor m = new CryMonitor(scorer, grid, new EventDetector(RULES, LABELS, 1000), 100);
        List<String> pos = positions(m);
        float[] ramp = new float[1800];
        for (int i = 0; i < ramp.length; i++) {
            ramp[i] = i / 1024f; // sample i holds i / 1024 (exact)
        }
        List<CryEvent> events = new ArrayList<>();
        for (int i = 0; i < ramp.length; i += 100) {
            events.addAll(m.push(Arrays.copyOfRange(ramp, i, i + 100)));
            if (i + 100 == 1000) {
                assertEquals(List.of("1000@0 skip 0 x1"), calls); // window 0 waits for 500 more samples
            }
        }
        // pushed: windows 0 .. 3, each from [k*hop - 500, k*hop + 1000), one per run
        assertEquals(List.of("1000@0 skip 0 x1", "1250@0 skip 1 x1", "1500@0 skip 2 x1", "1500@250 skip 2 x1"),
                calls);
        assertEquals(1, events.size()); // min_on 2: window 1 opens it, known at 250 + 1000
        assertEquals(0, events.get(0).sample);
        assertEquals(1250, events.get(0).detectedSample);
        assertEquals(1.25, events.get(0).delayS, 0.0);
        assertEquals(500, m.delaySamples());
        events.addAll(m.flush());
        // flush: windows 4 .. 6 (1500-1800 partial: 1800 >= 500 + 5 * 250 + 40) from one span to the end
        assertEquals("1300@500 skip 2 x3", calls.get(4));
        assertEquals(List.of("0-500", "250-750", "500-1000", "750-1250", "1000-1500", "1250-1750", "1500-1800"), pos);
        assertEquals(CryEvent.Kind.END, events.get(1).kind);
        assertEquals(1800, events.get(1).sample);
        assertEquals(1800, events.get(1).detectedSample); // closed by the end of the stream
        assertEquals(0.0, events.get(1).delayS, 0.0);
    }
}
