package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.Test;

/** Hand-worked cases of the hysteresis rules, independent of the golden files. */
public class EventDetectorTest {
    private static final List<String> LABELS = Arrays.asList("hungry", "tired", "pain");
    private static final int SR = 16000;
    private static final int WIN = 16000;
    private static final int HOP = 8000;
    private static final double[] FLAT = {0.2, 0.3, 0.5};

    private static EventDetector detector(int minOn, int minOff, double causeMin) {
        return new EventDetector(new EventRules(0.5, 0.3, minOn, minOff, causeMin), LABELS, SR);
    }

    /** Feeds probabilities as consecutive windows; returns every event, finish() included. */
    private static List<CryEvent> feed(EventDetector d, double[] probs, boolean finish) {
        List<CryEvent> out = new ArrayList<>();
        for (int k = 0; k < probs.length; k++) {
            out.addAll(d.update((long) k * HOP, (long) k * HOP + WIN, probs[k], FLAT));
        }
        if (finish) {
            out.addAll(d.finish());
        }
        return out;
    }

    @Test
    public void oneBurstGivesOneStartAndOneEnd() {
        EventDetector d = detector(2, 2, 0.0);
        List<CryEvent> ev = feed(d, new double[] {0.1, 0.6, 0.7, 0.8, 0.2, 0.1, 0.1}, false);
        assertEquals(2, ev.size());
        CryEvent start = ev.get(0);
        assertEquals(CryEvent.Kind.START, start.kind);
        assertEquals(HOP, start.sample); // first sample of the first confirming window
        assertEquals(0.5, start.timeS, 0.0);
        assertEquals((0.6 + 0.7) / 2, start.cryProbability, 0.0);
        CryEvent end = ev.get(1);
        assertEquals(CryEvent.Kind.END, end.kind);
        assertEquals(3L * HOP + WIN, end.sample); // end of the last window that was not off
        assertEquals(((0.6 + 0.7) + 0.8) / 3, end.cryProbability, 0.0);
        assertFalse(d.isActive());
    }

    @Test
    public void flickerBelowMinOnWindowsGivesNothing() {
        EventDetector d = detector(2, 2, 0.0);
        assertTrue(feed(d, new double[] {0.6, 0.2, 0.6, 0.2, 0.9, 0.1}, true).isEmpty());
    }

    @Test
    public void minOnOneStartsAtOnce() {
        EventDetector d = detector(1, 1, 0.0);
        List<CryEvent> ev = feed(d, new double[] {0.9, 0.1}, false);
        assertEquals(2, ev.size());
        assertEquals(0, ev.get(0).sample);
        assertEquals(WIN, ev.get(1).sample);
    }

    @Test
    public void hysteresisBandKeepsTheEventAndCountsInTheMean() {
        EventDetector d = detector(2, 2, 0.0);
        // 0.4 is below on (0.5) but not below off (0.3): still crying
        List<CryEvent> ev = feed(d, new double[] {0.6, 0.6, 0.4, 0.4, 0.1, 0.1}, false);
        assertEquals(2, ev.size());
        assertEquals(3L * HOP + WIN, ev.get(1).sample);
        assertEquals((((0.6 + 0.6) + 0.4) + 0.4) / 4, ev.get(1).cryProbability, 0.0);
    }

    @Test
    public void isolatedOffWindowDoesNotCloseAndIsNotCounted() {
        EventDetector d = detector(2, 2, 0.0);
        List<CryEvent> ev = feed(d, new double[] {0.6, 0.6, 0.1, 0.7, 0.1, 0.1}, false);
        assertEquals(2, ev.size());
        assertEquals(3L * HOP + WIN, ev.get(1).sample);
        assertEquals(((0.6 + 0.6) + 0.7) / 3, ev.get(1).cryProbability, 0.0);
    }

    @Test
    public void finishClosesAnOpenEventAtTheLastKeptWindow() {
        EventDetector d = detector(2, 3, 0.0);
        List<CryEvent> ev = feed(d, new double[] {0.6, 0.6, 0.6, 0.1, 0.1}, true);
        assertEquals(2, ev.size());
        assertEquals(CryEvent.Kind.END, ev.get(1).kind);
        assertEquals(2L * HOP + WIN, ev.get(1).sample);
        assertFalse(d.isActive());
        assertTrue(d.finish().isEmpty());
    }

    @Test
    public void finishWhileIdleForgetsAPartialRun() {
        EventDetector d = detector(2, 2, 0.0);
        assertTrue(feed(d, new double[] {0.9}, true).isEmpty());
        // without the reset in finish() this second on window would confirm a start
        assertTrue(d.update(HOP, HOP + WIN, 0.9, FLAT).isEmpty());
    }

    @Test
    public void causeIsFirstMaximalLabelAndNullBelowMinimum() {
        EventDetector d = detector(1, 1, 0.4);
        List<CryEvent> ev = d.update(0, WIN, 0.9, new double[] {0.45, 0.45, 0.1});
        assertEquals("hungry", ev.get(0).cause);
        assertEquals(0.45, ev.get(0).causeConfidence(), 0.0);
        assertEquals(Arrays.asList("hungry", "tired", "pain"),
                new ArrayList<>(ev.get(0).causeProbabilities.keySet()));
        ev = d.update(HOP, HOP + WIN, 0.1, new double[] {0.3, 0.35, 0.35});
        // mean over the one kept window only: 0.45 >= 0.4
        assertEquals("hungry", ev.get(0).cause);
        d = detector(1, 1, 0.4);
        ev = d.update(0, WIN, 0.9, new double[] {0.3, 0.39, 0.31});
        assertNull(ev.get(0).cause);
        assertTrue(Double.isNaN(ev.get(0).causeConfidence()));
    }

    @Test
    public void floatCausesWidenExactly() {
        EventDetector d = detector(1, 1, 0.0);
        float[] causes = {0.1f, 0.7f, 0.2f};
        CryEvent e = d.update(0, WIN, 0.9f, causes).get(0);
        assertEquals((double) 0.7f, e.causeProbabilities.get("tired"), 0.0);
        assertEquals((double) 0.9f, e.cryProbability, 0.0);
    }

    @Test
    public void wrongCauseCountIsRejected() {
        EventDetector d = detector(1, 1, 0.0);
        try {
            d.update(0, WIN, 0.9, new double[] {0.5, 0.5});
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("expected 3"));
        }
    }

    @Test
    public void rulesAreValidatedLikePython() {
        double[][] bad = {{0.3, 0.5}, {1.5, 0.2}, {0.5, -0.1}, {Double.NaN, 0.1}};
        for (double[] onOff : bad) {
            try {
                new EventRules(onOff[0], onOff[1], 1, 1, 0.0);
                fail("accepted on=" + onOff[0] + " off=" + onOff[1]);
            } catch (IllegalArgumentException expected) {
                // ok
            }
        }
        try {
            new EventRules(0.5, 0.3, 0, 1, 0.0);
            fail("accepted min_on_windows 0");
        } catch (IllegalArgumentException expected) {
            // ok
        }
        new EventRules(0.5, 0.5, 1, 1, 0.0); // off == on is allowed
    }

    @Test
    public void timeIsSampleOverRate() {
        EventDetector d = new EventDetector(new EventRules(0.5, 0.3, 1, 1, 0.0), LABELS, 44100);
        CryEvent e = d.update(12345, 12345 + 441, 0.9, FLAT).get(0);
        assertEquals(12345 / 44100.0, e.timeS, 0.0);
    }
}
