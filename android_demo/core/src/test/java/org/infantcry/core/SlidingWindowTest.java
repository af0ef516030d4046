package org.infantcry.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.Test;

public class SlidingWindowTest {

    private static float[] ramp(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i;
        }
        return x;
    }

    /** Pushes {@code x} in chunks of the given sizes (cycled); returns every window. */
    private static List<SlidingWindow.Window> pushAll(SlidingWindow sw, float[] x, int[] sizes) {
        List<SlidingWindow.Window> out = new ArrayList<>();
        int pos = 0;
        int k = 0;
        while (pos < x.length) {
            int n = Math.min(sizes[k++ % sizes.length], x.length - pos);
            out.addAll(sw.push(x, pos, n));
            pos += n;
        }
        return out;
    }

    private static void assertWindows(List<SlidingWindow.Window> ws, float[] x, int win, int hop) {
        int expected = x.length < win ? 0 : (x.length - win) / hop + 1;
        assertEquals(expected, ws.size());
        for (int k = 0; k < ws.size(); k++) {
            SlidingWindow.Window w = ws.get(k);
            assertEquals((long) k * hop, w.startSample);
            assertEquals((long) k * hop + win, w.endSample);
            float[] want = new float[win];
            System.arraycopy(x, k * hop, want, 0, win);
            assertArrayEquals(want, w.samples, 0f);
        }
    }

    @Test
    public void positionsAndContentsDoNotDependOnChunking() {
        float[] x = ramp(10_000);
        int[][] chunkings = {{1}, {7}, {999}, {10_000}, {1, 3000, 17, 250}, {160}};
        for (int[] sizes : chunkings) {
            SlidingWindow sw = new SlidingWindow(1000, 250);
            assertWindows(pushAll(sw, x, sizes), x, 1000, 250);
            assertEquals(10_000, sw.samplesSeen());
        }
    }

    @Test
    public void randomChunksAndShapes() {
        Random rng = new Random(42);
        for (int trial = 0; trial < 200; trial++) {
            int win = 1 + rng.nextInt(300);
            int hop = 1 + rng.nextInt(400); // sometimes longer than the window
            float[] x = ramp(rng.nextInt(2000));
            int[] sizes = new int[1 + rng.nextInt(5)];
            for (int i = 0; i < sizes.length; i++) {
                sizes[i] = 1 + rng.nextInt(500);
            }
            assertWindows(pushAll(new SlidingWindow(win, hop), x, sizes), x, win, hop);
        }
    }

    @Test
    public void lastSamplesReadsTheRingInTimeOrder() {
        SlidingWindow sw = new SlidingWindow(100, 40);
        sw.push(ramp(150)); // wraps the ring
        SlidingWindow.Window w = sw.lastSamples(100);
        assertEquals(50, w.startSample);
        assertEquals(150, w.endSample);
        assertEquals(50f, w.samples[0], 0f);
        assertEquals(149f, w.samples[99], 0f);
        assertEquals(3, sw.lastSamples(3).samples.length);
        assertEquals(147, sw.lastSamples(3).startSample);
        sw.reset();
        assertEquals(0, sw.samplesSeen());
        assertEquals(0, sw.lastSamples(0).samples.length);
    }

    @Test(expected = IllegalArgumentException.class)
    public void lastSamplesCannotReachBeyondTheRing() {
        SlidingWindow sw = new SlidingWindow(100, 40);
        sw.push(ramp(150));
        sw.lastSamples(101);
    }

    @Test(expected = IllegalArgumentException.class)
    public void lastSamplesCannotReachBeforeTheStream() {
        SlidingWindow sw = new SlidingWindow(100, 40);
        sw.push(ramp(10));
        sw.lastSamples(11);
    }

    @Test
    public void emptyPushIsANoOp() {
        SlidingWindow sw = new SlidingWindow(4, 2);
        assertEquals(0, sw.push(new float[0]).size());
        assertEquals(0, sw.samplesSeen());
    }

    @Test(expected = IllegalArgumentException.class)
    public void zeroHopIsRejected() {
        new SlidingWindow(10, 0);
    }

    @Test(expected = IndexOutOfBoundsException.class)
    public void badRangeIsRejected() {
        new SlidingWindow(10, 5).push(new float[4], 2, 3);
    }
}
