package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Audio chunks in, cry events out: {@link SlidingWindow} + {@link WindowScorer} + {@link
 * EventDetector}, the Java twin of the Python SDK's {@code CryStream} (infantcry_sdk/stream.py).
 *
 * <p>Push chunks of any size (int16 PCM or float in [-1, 1]) at the model's sample rate (the app
 * records at that rate, so unlike the Python stream there is no resampler). Window {@code k} covers
 * {@code [k*hop, k*hop + window)} and is scored as soon as its last sample arrives; each score is
 * checked (finite, else {@link WindowScorer.ScoringException}) and clipped to [0, 1] as the Python
 * SDK does. The detector sees each window's stream score: the mean cry probability of the last
 * {@code stream_smoothing_windows} windows ({@link StreamSmoother}; 1 = the window itself). When the
 * model's cause head is unsupported, every event's cause is null. {@link #flush()} ends the stream exactly as {@code
 * CryStream.flush} does. Memory is fixed. Not thread-safe: drive one monitor from one thread.
 */
public final class CryMonitor {

    /** Called after every scored window, for live meters; runs on the pushing thread. */
    public interface WindowListener {
        void onWindow(long startSample, long endSample, WindowScorer.Score score);
    }

    private final WindowScorer scorer;
    private final SlidingWindow windows;
    private final EventDetector detector;
    private final int minSamples;
    private final StreamSmoother smoother;
    private final boolean reportCauses;
    /** Float samples beyond this magnitude are refused, as {@code classifier.MAX_ABS_SAMPLE}. */
    public static final float MAX_ABS_SAMPLE = 16f;

    private WindowListener listener;
    private WindowScorer.Score lastScore;
    private long scoredEnd; // end of the last scored window

    /**
     * @param minSamples the shortest stream that {@link #flush()} still scores (the model's {@code
     *     min_samples}).
     * @param smoothingWindows windows averaged into each stream score (1 = none).
     * @param reportCauses false for a model whose cause head is unsupported: events carry no cause.
     */
    public CryMonitor(
            WindowScorer scorer,
            SlidingWindow windows,
            EventDetector detector,
            int minSamples,
            int smoothingWindows,
            boolean reportCauses) {
        if (scorer == null || windows == null || detector == null) {
            throw new IllegalArgumentException("scorer, windows and detector must not be null");
        }
        if (minSamples < 1) {
            throw new IllegalArgumentException("minSamples must be >= 1, got " + minSamples);
        }
        this.scorer = scorer;
        this.windows = windows;
        this.detector = detector;
        this.minSamples = minSamples;
        this.smoother = new StreamSmoother(smoothingWindows);
        this.reportCauses = reportCauses;
    }

    /** No smoothing, causes reported: the detector sees each window's own score. */
    public CryMonitor(
            WindowScorer scorer, SlidingWindow windows, EventDetector detector, int minSamples) {
        this(scorer, windows, detector, minSamples, 1, true);
    }

    /**
     * Window, hop, labels, sample rate, min_samples, smoothing and cause status from the model's
     * metadata; event rules as given.
     */
    public CryMonitor(WindowScorer scorer, ModelInfo info, EventRules rules) {
        this(
                scorer,
                new SlidingWindow(info.windowSamples, info.hopSamples),
                new EventDetector(rules, info.labels, info.sampleRate),
                info.minSamples,
                info.streamSmoothingWindows,
                info.causeSupported());
    }

    /** Everything from the model's metadata, its stream rules ({@link ModelInfo#streamRules}) too. */
    public CryMonitor(WindowScorer scorer, ModelInfo info) {
        this(scorer, info, info.streamRules);
    }

    public void setWindowListener(WindowListener listener) {
        this.listener = listener;
    }

    /** The most recent window's score (clipped), or null before the first; kept by flush. */
    public WindowScorer.Score lastScore() {
        return lastScore;
    }

    /** True between a start event and its end event. */
    public boolean isActive() {
        return detector.isActive();
    }

    /** Samples received since the stream began (or was flushed or reset). */
    public long samplesSeen() {
        return windows.samplesSeen();
    }

    public EventDetector detector() {
        return detector;
    }

    public List<CryEvent> push(float[] chunk) {
        return push(chunk, 0, chunk.length);
    }

    /**
     * @throws IllegalArgumentException for NaN/Inf or samples beyond +/-{@value #MAX_ABS_SAMPLE}
     *     (int PCM passed as float), as the Python stream refuses them; the stream is then unchanged.
     */
    public List<CryEvent> push(float[] chunk, int offset, int length) {
        checkLevel(chunk, offset, length);
        List<CryEvent> events = new ArrayList<CryEvent>(0);
        for (SlidingWindow.Window w : windows.push(chunk, offset, length)) {
            events.addAll(score(w));
        }
        return events.isEmpty() ? Collections.<CryEvent>emptyList() : events;
    }

    /** int16 PCM, converted as {@link Pcm#toFloat} ({@code s / 32768}). */
    public List<CryEvent> push(short[] chunk) {
        return push(chunk, 0, chunk.length);
    }

    public List<CryEvent> push(short[] chunk, int offset, int length) {
        return push(Pcm.toFloat(chunk, offset, length));
    }

    /**
     * End of stream, as {@code CryStream.flush}: if some received audio is not yet covered by a
     * scored window, score one final window ending at the last sample (a full window when at least
     * one window of audio arrived, else the whole short stream if it reaches {@code min_samples}; a
     * shorter stream is not scored), then close any open event. Returns those events. Afterwards the
     * stream is empty again (the next sample is sample 0); {@link #lastScore()} is kept.
     */
    public List<CryEvent> flush() {
        List<CryEvent> events = new ArrayList<CryEvent>(0);
        long total = windows.samplesSeen();
        if (total > scoredEnd) {
            if (total >= windows.windowSamples()) {
                events.addAll(score(windows.lastSamples(windows.windowSamples())));
            } else if (total >= minSamples) {
                events.addAll(score(windows.lastSamples((int) total)));
            }
        }
        events.addAll(gated(detector.finish()));
        clear();
        return events;
    }

    /** Back to a fresh stream: sample 0, no buffered audio, no open event, no last score. */
    public void reset() {
        clear();
        lastScore = null;
    }

    private void clear() {
        windows.reset();
        detector.reset();
        smoother.reset();
        scoredEnd = 0;
    }

    private List<CryEvent> score(SlidingWindow.Window w) {
        WindowScorer.Score raw = scorer.score(w.samples);
        if (raw == null) {
            throw new WindowScorer.ScoringException("scorer returned null");
        }
        WindowScorer.Score s = checkedAndClipped(raw);
        lastScore = s;
        scoredEnd = w.endSample;
        if (listener != null) {
            listener.onWindow(w.startSample, w.endSample, s);
        }
        double streamScore = smoother.add(s.cryProbability);
        return gated(detector.update(w.startSample, w.endSample, streamScore, s.causes()));
    }

    private List<CryEvent> gated(List<CryEvent> events) {
        if (reportCauses || events.isEmpty()) {
            return events;
        }
        List<CryEvent> out = new ArrayList<CryEvent>(events.size());
        for (CryEvent e : events) {
            out.add(e.withoutCause());
        }
        return out;
    }

    /**
     * Rejects NaN/Inf and clips to [0, 1], as {@code LoadedModel.run} does (it clips in float64;
     * clipping a float32 value to bounds that are exact in float32 gives the same numbers).
     */
    static WindowScorer.Score checkedAndClipped(WindowScorer.Score raw) {
        float[] causes = raw.causes();
        boolean finite = isFinite(raw.cryProbability);
        for (int i = 0; i < causes.length; i++) {
            finite &= isFinite(causes[i]);
            causes[i] = clip(causes[i]);
        }
        if (!finite) {
            throw new WindowScorer.ScoringException("model returned NaN or Inf; the model file is broken");
        }
        return new WindowScorer.Score(clip(raw.cryProbability), causes);
    }

    private static void checkLevel(float[] x, int offset, int length) {
        Pcm.checkRange(x.length, offset, length);
        for (int i = offset; i < offset + length; i++) {
            float v = x[i];
            if (!(Math.abs(v) <= MAX_ABS_SAMPLE)) { // also catches NaN
                throw new IllegalArgumentException(
                        "audio sample " + v + " at index " + i + " is NaN, Inf or far outside [-1, 1]: "
                                + "float audio must be scaled to [-1, 1] (int16 PCM: divide by 32768)");
            }
        }
    }

    private static boolean isFinite(float v) {
        return !Float.isNaN(v) && !Float.isInfinite(v);
    }

    private static float clip(float v) {
        return Math.min(Math.max(v, 0f), 1f);
    }
}
