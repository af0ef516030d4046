package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.Test;

/**
 * What MonitorService's audio thread decides, on a plain JVM: its threading, the hand-off of windows
 * and events, stopping (also during the model load) and every error path, with a fake model and a
 * fake microphone.
 */
public class MonitorLoopTest {
    private static final long WAIT_MS = 5000;

    /** A microphone that plays {@code loud} samples of level 0.8 and then quiet, for ever. */
    static final class FakeMic implements MonitorLoop.Microphone {
        final long loud;
        long pos;
        int closes;
        int failAtRead; // 1-based read that returns -3 (0: none)
        int reads;

        FakeMic(long loud) {
            this.loud = loud;
        }

        @Override
        public int read(short[] buffer, int offset, int length) {
            if (++reads == failAtRead) {
                return -3;
            }
            for (int i = 0; i < length; i++, pos++) {
                buffer[offset + i] = pos < loud ? (short) (0.8 * 32768) : 0;
            }
            return length;
        }

        @Override
        public void close() {
            closes++;
        }
    }

    /** Records every listener call, and the thread it came on. */
    static final class Recorder implements MonitorLoop.Listener {
        final List<String> states = Collections.synchronizedList(new ArrayList<>());
        final List<CryEvent> events = Collections.synchronizedList(new ArrayList<>());
        final List<WindowPrediction> windows = Collections.synchronizedList(new ArrayList<>());
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch started = new CountDownLatch(1);
        final CountDownLatch quietWindow = new CountDownLatch(1);
        volatile int endedByItself;

        @Override
        public void onStatus(MonitorLoop.State state, String detail) {
            threads.add(Thread.currentThread().getName());
            states.add(detail.isEmpty() ? state.name() : state + ": " + detail);
        }

        @Override
        public void onWindow(WindowPrediction p) {
            threads.add(Thread.currentThread().getName());
            windows.add(p);
            if (p.cryProbability == 0f && !events.isEmpty()) {
                quietWindow.countDown();
            }
        }

        @Override
        public void onEvent(CryEvent e) {
            threads.add(Thread.currentThread().getName());
            events.add(e);
            started.countDown();
        }

        @Override
        public void onEndedByItself() {
            endedByItself++;
        }
    }

    private FakeModel.Session session = new FakeModel.Session(FakeModel.metadata());
    private FakeMic mic = new FakeMic(Long.MAX_VALUE);
    private final Recorder rec = new Recorder();
    private Exception loadError;
    private Exception micError;
    private MonitorLoop loop;
    private int micOpens;

    private MonitorLoop loop() {
        loop = new MonitorLoop(new MonitorLoop.Platform() {
            @Override
            public LoadedModel loadModel() throws Exception {
                if (loadError != null) {
                    throw loadError;
                }
                return LoadedModel.open((b, ort, s) -> session, FakeModel.bytes(), true, "fake.ort");
            }

            @Override
            public MonitorLoop.Microphone openMicrophone(int sampleRate) throws Exception {
                assertEquals(1000, sampleRate);
                micOpens++;
                if (micError != null) {
                    throw micError;
                }
                return mic;
            }
        }, rec);
        return loop;
    }

    private void runToEnd() throws InterruptedException {
        assertTrue(loop().start());
        assertTrue("loop did not end", loop.join(WAIT_MS));
    }

    @Test
    public void stopFlushesTheOpenCryAndReleasesEverything() throws Exception {
        assertTrue(loop().start());
        assertFalse(loop.start()); // one thread per loop
        assertTrue("no cry event", rec.started.await(WAIT_MS, TimeUnit.MILLISECONDS));
        loop.requestStop();
        assertTrue(loop.join(WAIT_MS));
        assertEquals(List.of("start", "end"), kinds());
        assertEquals(1, mic.closes);
        assertEquals(1, session.closes);
        assertEquals(0, rec.endedByItself);
        assertEquals(List.of("LOADING", "LISTENING: fake-1, window 500 ms, no cause answers ("
                + Contract.DEFAULT_CAUSE_STATUS_REASON + ")", "IDLE"), rec.states);
        for (String t : rec.threads) {
            assertEquals("infantcry-audio", t); // every call from the loop's one thread
        }
        assertEquals("infantcry-audio", session.thread);
    }

    @Test
    public void windowsAndEventsAreHandedOverInOrder() throws Exception {
        mic = new FakeMic(1200); // loud for 1.2 s, then quiet: one event pair before the stop
        assertTrue(loop().start());
        assertTrue(rec.quietWindow.await(WAIT_MS, TimeUnit.MILLISECONDS));
        // the end event comes with the second quiet window
        long deadline = System.currentTimeMillis() + WAIT_MS;
        while (rec.events.size() < 2 && System.currentTimeMillis() < deadline) {
            Thread.sleep(1);
        }
        loop.requestStop();
        assertTrue(loop.join(WAIT_MS));
        assertEquals(List.of("start", "end"), kinds());
        CryEvent start = rec.events.get(0);
        assertEquals(0, start.sample); // min_on = 1 (the default): the first loud window opens it
        assertNull(start.cause); // cause head unsupported by default
        assertEquals(1500, rec.events.get(1).sample); // end of the last window that was not off
        for (int k = 0; k < rec.windows.size(); k++) {
            WindowPrediction p = rec.windows.get(k);
            assertFalse(p.confident);
            assertNull(p.cause);
            assertEquals(250L * k, p.startSample);
            if (k == rec.windows.size() - 1) { // flush's window: the grid's last, which may be partial
                assertTrue(p.endSample > p.startSample && p.endSample <= p.startSample + 500);
                continue;
            }
            assertEquals(250L * k + 500, p.endSample);
        }
    }

    @Test
    public void aSupportedCauseHeadNamesTheCause() throws Exception {
        session = new FakeModel.Session(FakeModel.metadata(Contract.KEY_CAUSE_STATUS, Contract.CAUSE_SUPPORTED));
        assertTrue(loop().start());
        assertTrue(rec.started.await(WAIT_MS, TimeUnit.MILLISECONDS));
        loop.requestStop();
        assertTrue(loop.join(WAIT_MS));
        assertEquals("b", rec.events.get(0).cause);
        WindowPrediction p = rec.windows.get(0);
        assertTrue(p.isCry && p.confident);
        assertEquals("b", p.cause);
        assertTrue(rec.states.get(1), rec.states.get(1).endsWith("2 causes"));
    }

    @Test
    public void aStopDuringTheModelLoadNeverOpensTheMicrophone() throws Exception {
        loop = null;
        MonitorLoop[] self = new MonitorLoop[1];
        self[0] = new MonitorLoop(new MonitorLoop.Platform() {
            @Override
            public LoadedModel loadModel() throws Exception {
                self[0].requestStop(); // the user pressed Stop while the model loaded
                return LoadedModel.open((b, ort, s) -> session, FakeModel.bytes(), true, "fake.ort");
            }

            @Override
            public MonitorLoop.Microphone openMicrophone(int sampleRate) {
                micOpens++;
                return mic;
            }
        }, rec);
        assertTrue(self[0].start());
        assertTrue(self[0].join(WAIT_MS));
        assertEquals(0, micOpens);
        assertEquals(1, session.closes);
        assertEquals(List.of("LOADING", "IDLE"), rec.states);
        assertEquals(0, rec.endedByItself);
    }

    /** Runs the loop to its end: it must fail by itself with {@code message}, everything released. */
    private void assertFailsAndReleases(String message, int micCloses) throws InterruptedException {
        runToEnd();
        assertEquals("ERROR: " + message, last(rec.states));
        assertEquals(micCloses, mic.closes);
        assertEquals(1, session.closes);
        assertEquals(1, rec.endedByItself);
    }

    @Test
    public void aScoringErrorEndsTheLoopByItselfAndReleasesEverything() throws Exception {
        session.failOnRun = 4; // the smoke run, then two windows, then the failure
        assertFailsAndReleases("fake.ort failed on a window of 500 samples", 1);
    }

    @Test
    public void aFailedMicrophoneReadIsAnError() throws Exception {
        mic.failAtRead = 3;
        assertFailsAndReleases("the microphone read failed with code -3", 1);
    }

    @Test
    public void aMicrophoneThatCannotOpenIsAnErrorAndTheModelIsClosed() throws Exception {
        micError = new IllegalStateException("the microphone is in use by another app");
        assertFailsAndReleases("the microphone is in use by another app", 0);
    }

    @Test
    public void aMissingNativeLibraryIsReportedNotThrown() throws Exception {
        loop = new MonitorLoop(new MonitorLoop.Platform() {
            @Override
            public LoadedModel loadModel() {
                throw new UnsatisfiedLinkError("no onnxruntime4j_jni for x86");
            }

            @Override
            public MonitorLoop.Microphone openMicrophone(int sampleRate) {
                return mic;
            }
        }, rec);
        assertTrue(loop.start());
        assertTrue(loop.join(WAIT_MS));
        assertEquals("ERROR: no onnxruntime4j_jni for x86", last(rec.states));
        assertEquals(1, rec.endedByItself);
    }

    @Test
    public void aModelLoadErrorIsReported() throws Exception {
        loadError = new java.io.FileNotFoundException("no model file");
        runToEnd();
        assertEquals(List.of("LOADING", "ERROR: no model file"), rec.states);
        assertEquals(0, micOpens);
    }

    @Test
    public void readSizeIsAQuarterHopAndAtLeast256() {
        ModelInfo info = ModelInfo.fromMetadata(FakeModel.metadata());
        assertEquals(256, MonitorLoop.readSamples(info));
        assertEquals(2000, MonitorLoop.readSamples(ModelInfo.fromMetadata(ModelInfoTest.toyMetadata())));
    }

    private List<String> kinds() {
        List<String> out = new ArrayList<>();
        for (CryEvent e : rec.events) {
            out.add(e.kind.wireName());
        }
        return out;
    }

    private static String last(List<String> l) {
        return l.get(l.size() - 1);
    }
}
