package org.infantcry.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;

import java.util.Random;
import org.junit.Test;

/** The window grid against its definition (infantcry_sdk/windows.py), and the stream's buffer. */
public class WindowGridTest {

    @Test
    public void countAndReadyFollowTheDefinitionForRandomGrids() {
        Random rng = new Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int hop = 1 + rng.nextInt(50);
            int window = hop + rng.nextInt(120);
            WindowGrid g = new WindowGrid(window, hop, 1 + rng.nextInt(hop), hop * rng.nextInt(3), hop * rng.nextInt(3));
            for (long n = 0; n < window + 6L * hop; n++) {
                long count = 1; // window 0 always; window k >= 1 once n reaches window + (k - 1) * hop + tail
                while (n >= window + (count - 1) * hop + g.tail) {
                    count++;
                }
                assertEquals(g + " n=" + n, count, g.count(n));
                long ready = 0; // window k is ready once k * hop + window + contextAfter samples arrived
                while (ready * hop + window + g.contextAfter <= n) {
                    ready++;
                }
                assertEquals(g + " received=" + n, ready, g.ready(n));
                assertEquals(Math.min(n, (count - 1) * hop + window), g.end(count - 1, n));
            }
        }
    }

    @Test
    public void spansHoldTheWindowsAndTheirContextClippedToTheRecording() {
        WindowGrid g = new WindowGrid(500, 250, 40, 500, 500);
        assertEquals(0, g.spanStart(1)); // clipped at the start
        assertEquals(250, g.spanStart(3));
        assertEquals(1750, g.spanEnd(4, -1)); // window 3 ends at 1250, plus 500 of context
        assertEquals(1600, g.spanEnd(4, 1600)); // clipped to a recording that has ended
        assertEquals(1500, g.bufferSamples());
    }

    @Test
    public void aCausalGridScoresAWindowAsSoonAsItEnds() {
        WindowGrid g = new WindowGrid(500, 250, 40, 1000, 0);
        assertEquals(250, g.spanStart(5)); // window 5 starts at 1250, 1000 of context before it
        assertEquals(1750, g.spanEnd(6, -1)); // and ends at 1750: nothing after it
        assertEquals(0, g.ready(499));
        assertEquals(1, g.ready(500));
        assertEquals(1500, g.bufferSamples());
    }

    @Test
    public void cutWindowsStartAPartialWindowOnlyWhenItHoldsMinSamples() {
        assertEquals(new WindowGrid(30720, 15360, 1, 0, 0), WindowGrid.forCutWindows(30720, 15360, 1600));
        assertEquals(new WindowGrid(500, 250, 50, 0, 0), WindowGrid.forCutWindows(500, 250, 300));
        assertEquals(30720, WindowGrid.wholeHops(30720, 15360));
        assertEquals(61440, WindowGrid.wholeHops(48960, 15360));
        assertEquals(0, WindowGrid.wholeHops(0, 15360));
        assertEquals(600, WindowGrid.wholeHops(500, 300));
    }

    @Test
    public void badGridsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 0, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 11, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 5, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 5, 6, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 5, 1, 7, 0));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 5, 1, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> new WindowGrid(10, 5, 1, -5, 0));
    }

    @Test
    public void bufferKeepsTheNewestSamplesInFixedMemory() {
        SampleBuffer b = new SampleBuffer(4);
        assertEquals(3, b.append(new float[] {1, 2, 3}, 0, 3));
        assertEquals(1, b.append(new float[] {9, 4, 5}, 1, 2)); // full: takes what fits
        assertArrayEquals(new float[] {2, 3, 4}, b.copy(1, 4), 0f);
        b.dropBefore(2);
        assertEquals(2, b.start());
        assertEquals(2, b.append(new float[] {5, 6}, 0, 2));
        assertArrayEquals(new float[] {3, 4, 5, 6}, b.copy(2, 6), 0f);
        assertThrows(IndexOutOfBoundsException.class, () -> b.copy(1, 3));
        b.clear();
        assertEquals(0, b.end());
    }
}
