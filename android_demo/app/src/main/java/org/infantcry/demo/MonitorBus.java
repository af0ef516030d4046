package org.infantcry.demo;

import android.os.Handler;
import android.os.Looper;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.infantcry.core.MonitorLoop.State;

/**
 * Hands the monitor's state from {@link MonitorService}'s audio thread to the UI, on the main
 * thread, and remembers it so a screen that opens later (or after rotation) shows the current state.
 * One process, one monitor: a plain singleton is enough, and keeps the demo free of binders.
 */
final class MonitorBus {

    /** What the UI shows; delivered on the main thread. */
    interface Listener {
        void onStatus(Status status);

        /** A window was scored: live probability, and the likely cause or null. */
        void onLevel(float cryProbability, String cause, float causeConfidence);

        /** The event log changed (a line was added). */
        void onLog(List<String> lines);
    }

    static final class Status {
        final State state;
        final String detail; // model description when listening, message on error

        Status(State state, String detail) {
            this.state = state;
            this.detail = detail;
        }
    }

    static final MonitorBus INSTANCE = new MonitorBus();
    private static final int MAX_LOG_LINES = 200;

    private final Handler main = new Handler(Looper.getMainLooper());
    private final List<Listener> listeners = new ArrayList<>(); // main thread only
    private final ArrayDeque<String> log = new ArrayDeque<>(); // main thread only
    private Status status = new Status(State.IDLE, "");
    private float lastProbability = Float.NaN;
    private String lastCause;
    private float lastConfidence;

    private MonitorBus() {}

    /** Main thread: adds a listener and replays the current state to it. */
    void register(Listener l) {
        listeners.add(l);
        l.onStatus(status);
        if (!Float.isNaN(lastProbability)) {
            l.onLevel(lastProbability, lastCause, lastConfidence);
        }
        l.onLog(new ArrayList<>(log));
    }

    /** Main thread. */
    void unregister(Listener l) {
        listeners.remove(l);
    }

    /** Any thread. */
    void status(final State state, final String detail) {
        main.post(() -> {
            status = new Status(state, detail == null ? "" : detail);
            if (state != State.LISTENING) {
                lastProbability = Float.NaN;
            }
            for (Listener l : new ArrayList<>(listeners)) {
                l.onStatus(status);
            }
        });
    }

    /** Any thread. */
    void level(final float p, final String cause, final float confidence) {
        main.post(() -> {
            lastProbability = p;
            lastCause = cause;
            lastConfidence = confidence;
            for (Listener l : new ArrayList<>(listeners)) {
                l.onLevel(p, cause, confidence);
            }
        });
    }

    /** Any thread: appends a line to the event log (newest first). */
    void logLine(final String line) {
        main.post(() -> {
            log.addFirst(line);
            while (log.size() > MAX_LOG_LINES) {
                log.removeLast();
            }
            List<String> copy = new ArrayList<>(log);
            for (Listener l : new ArrayList<>(listeners)) {
                l.onLog(copy);
            }
        });
    }
}
