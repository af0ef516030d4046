package org.infantcry.core;

/**
 * The monitor's audio thread, without Android: load the model, open the microphone at the model's
 * rate, feed every buffer to a {@link CryMonitor}, report windows and events, and on stop flush the
 * monitor (closing an open cry) and release everything. {@code MonitorService} plugs in ONNX Runtime
 * and {@code AudioRecord}; the JVM tests plug in fakes.
 *
 * <p>Threading: {@link #start()} runs the loop on one new thread, which alone touches the model, the
 * microphone and the monitor; every {@link Listener} call comes from that thread. {@link #requestStop()} may
 * be called from any thread: the loop sees it after the current (short) read and, when it comes
 * during the model load, does not open the microphone at all.
 *
 * <p>Error paths: any exception (or a {@link LinkageError}, a native library missing for the ABI)
 * ends the loop with state {@link State#ERROR} and its message, after the same clean-up, and then
 * {@link Listener#onEndedByItself()}, so the host can shut down. A stop ends with {@link State#IDLE}.
 */
public final class MonitorLoop {

    /** What the UI shows as the monitor's state. */
    public enum State { IDLE, LOADING, LISTENING, ERROR }

    /** A recording microphone (already started), mono 16-bit PCM at the model's rate. */
    public interface Microphone {
        /** Blocks for up to {@code length} samples; returns how many, or a negative error code. */
        int read(short[] buffer, int offset, int length);

        /** Stops recording and frees the device; must not throw. */
        void close();
    }

    /** The platform: the model and the microphone. */
    public interface Platform {
        LoadedModel loadModel() throws Exception;

        /** Opens and starts the microphone, or throws with a message for the user. */
        Microphone openMicrophone(int sampleRate) throws Exception;
    }

    /** Called on the loop's thread. */
    public interface Listener {
        void onStatus(State state, String detail);

        void onWindow(WindowPrediction prediction);

        void onEvent(CryEvent event);

        /** The loop ended by itself (an error), not because {@link #requestStop()} was called. */
        void onEndedByItself();
    }

    private final Platform platform;
    private final Listener listener;
    private volatile boolean running;
    private Thread thread;

    public MonitorLoop(Platform platform, Listener listener) {
        if (platform == null || listener == null) {
            throw new IllegalArgumentException("platform and listener must not be null");
        }
        this.platform = platform;
        this.listener = listener;
    }

    /** Starts the loop on a new thread named {@code infantcry-audio}; false when already started. */
    public synchronized boolean start() {
        if (thread != null) {
            return false;
        }
        running = true;
        thread = new Thread(this::run, "infantcry-audio");
        thread.start();
        return true;
    }

    /** Asks the loop to end (any thread, also from a {@link Platform} or {@link Listener} call). */
    public void requestStop() {
        running = false;
    }

    /** Waits up to {@code waitMillis} (> 0) for the loop's thread; true when it has ended. */
    public boolean join(long waitMillis) throws InterruptedException {
        if (waitMillis <= 0) {
            throw new IllegalArgumentException("waitMillis must be > 0, got " + waitMillis);
        }
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            t.join(waitMillis);
        }
        return t == null || !t.isAlive();
    }

    /** Samples per microphone read: a quarter hop (at least 256), so a stop is seen within it. */
    public static int readSamples(ModelInfo info) {
        return Math.max(256, info.hopSamples / 4);
    }

    /** The status line while listening: model version, window length and what the cause head does. */
    public static String describe(ModelInfo info) {
        String causes = info.causeSupported()
                ? info.labels.size() + " causes"
                : "no cause answers (" + info.causeStatusReason + ")";
        return info.modelVersion + ", window " + info.windowSamples * 1000L / info.sampleRate + " ms, "
                + causes;
    }

    private void run() {
        listener.onStatus(State.LOADING, "");
        LoadedModel model = null;
        Microphone mic = null;
        String error = null;
        try {
            model = platform.loadModel();
            if (running) {
                mic = platform.openMicrophone(model.info().sampleRate);
                listen(model, mic);
            }
        } catch (Exception | LinkageError e) {
            error = e.getMessage() == null ? e.toString() : e.getMessage();
        } finally {
            if (mic != null) {
                mic.close();
            }
            if (model != null) {
                model.close();
            }
        }
        boolean byItself = running;
        running = false;
        listener.onStatus(error == null ? State.IDLE : State.ERROR, error == null ? "" : error);
        if (byItself) {
            listener.onEndedByItself();
        }
    }

    private void listen(LoadedModel model, Microphone mic) {
        final ModelInfo info = model.info();
        CryMonitor monitor = new CryMonitor(model);
        monitor.setWindowListener((start, end, score) ->
                listener.onWindow(WindowPrediction.of(info, start, end, score)));
        short[] buffer = new short[readSamples(info)];
        listener.onStatus(State.LISTENING, describe(info));
        while (running) {
            int n = mic.read(buffer, 0, buffer.length);
            if (n < 0) {
                throw new IllegalStateException("the microphone read failed with code " + n);
            }
            report(monitor.push(buffer, 0, n));
        }
        report(monitor.flush()); // closes an event still open
    }

    private void report(Iterable<CryEvent> events) {
        for (CryEvent e : events) {
            listener.onEvent(e);
        }
    }
}
