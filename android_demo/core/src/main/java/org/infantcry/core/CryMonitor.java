package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Audio chunks in, cry events out: {@link SlidingWindow} + {@link WindowScorer} + {@link
 * EventDetector}, the Java twin of the Python SDK's {@code CryStream}.
 *
 * <p>Push chunks of any size (int16 PCM or float in [-1, 1]) at the model's sample rate; every
 * completed window is scored and fed to the detector, and the events it completes are returned.
 * Memory is fixed. Not thread-safe: drive one monitor from one thread (the app's audio thread).
 */
public final class CryMonitor {

    /** Called after every scored window, for live meters; runs on the pushing thread. */
    public interface WindowListener {
        void onWindow(long startSample, long endSample, WindowScorer.Score score);
    }

    private final WindowScorer scorer;
    private final SlidingWindow windows;
    private final EventDetector detector;
    private WindowListener listener;
    private WindowScorer.Score lastScore;

    public CryMonitor(WindowScorer scorer, SlidingWindow windows, EventDetector detector) {
        if (scorer == null || windows == null || detector == null) {
            throw new IllegalArgumentException("scorer, windows and detector must not be null");
        }
        this.scorer = scorer;
        this.windows = windows;
        this.detector = detector;
    }

    /** Window, hop, labels and sample rate from the model's metadata; rules as given. */
    public CryMonitor(WindowScorer scorer, ModelInfo info, EventRules rules) {
        this(
                scorer,
                new SlidingWindow(info.windowSamples, info.hopSamples),
                new EventDetector(rules, info.labels, info.sampleRate));
    }

    public void setWindowListener(WindowListener listener) {
        this.listener = listener;
    }

    /** The most recent window's score, or null before the first full window. */
    public WindowScorer.Score lastScore() {
        return lastScore;
    }

    /** True between a start event and its end event. */
    public boolean isActive() {
        return detector.isActive();
    }

    public long samplesSeen() {
        return windows.samplesSeen();
    }

    public EventDetector detector() {
        return detector;
    }

    public List<CryEvent> push(float[] chunk) {
        return push(chunk, 0, chunk.length);
    }

    public List<CryEvent> push(float[] chunk, int offset, int length) {
        List<CryEvent> events = null;
        for (SlidingWindow.Window w : windows.push(chunk, offset, length)) {
            List<CryEvent> got = score(w);
            if (!got.isEmpty()) {
                if (events == null) {
                    events = new ArrayList<CryEvent>();
                }
                events.addAll(got);
            }
        }
        return events == null ? Collections.<CryEvent>emptyList() : events;
    }

    /** int16 PCM, converted as {@link Pcm#toFloat} ({@code s / 32768}). */
    public List<CryEvent> push(short[] chunk) {
        return push(chunk, 0, chunk.length);
    }

    public List<CryEvent> push(short[] chunk, int offset, int length) {
        return push(Pcm.toFloat(chunk, offset, length));
    }

    /**
     * End of stream: closes an open event (its end is the last kept window's end) and returns it;
     * the stream position is kept, so pushing more continues the same timeline. Samples after the
     * last full window are not scored, as in the Python stream.
     */
    public List<CryEvent> flush() {
        return detector.finish();
    }

    /** Back to a fresh stream: sample 0, no buffered audio, no open event, no last score. */
    public void reset() {
        windows.reset();
        detector.reset();
        lastScore = null;
    }

    private List<CryEvent> score(SlidingWindow.Window w) {
        WindowScorer.Score s = scorer.score(w.samples);
        if (s == null) {
            throw new WindowScorer.ScoringException("scorer returned null");
        }
        lastScore = s;
        if (listener != null) {
            listener.onWindow(w.startSample, w.endSample, s);
        }
        return detector.update(w.startSample, w.endSample, s.cryProbability, s.causes());
    }
}
