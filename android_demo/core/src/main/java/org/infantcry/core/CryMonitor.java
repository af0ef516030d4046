package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Audio chunks in, cry events out: {@link WindowGrid} + {@link WindowScorer} + {@link
 * EventDetector}, the Java twin of the Python SDK's {@code CryStream} (infantcry_sdk/stream.py).
 *
 * <p>Push chunks of any size (int16 PCM or float in [-1, 1]) at the model's sample rate (the app
 * records at that rate, so unlike the Python stream there is no resampler). Windows follow the
 * model's grid: window {@code k} covers {@code [k*hop, k*hop + window)} and is scored as soon as its
 * span has arrived, the window and its context before and after it (up to {@code k*hop + window +
 * contextAfter}), from that span, one window per scorer call. Each score is checked
 * (finite, else {@link WindowScorer.ScoringException}) and clipped to [0, 1] as the Python SDK does.
 * The detector sees each window's stream score: the mean cry probability of the last {@code
 * stream_smoothing_windows} windows ({@link StreamSmoother}; 1 = the window itself). Each event
 * carries its detection point: the end of the span of the window that completed it (the stream's
 * end for windows scored by flush and events it closes). When the model's cause head is
 * unsupported, every event's cause is null. {@link #flush()} ends the stream exactly as {@code
 * CryStream.flush} does. Memory is fixed ({@link WindowGrid#bufferSamples()}). Not thread-safe:
 * drive one monitor from one thread.
 */
public final class CryMonitor {

    /** Called after every scored window, for live meters; runs on the pushing thread. */
    public interface WindowListener {
        void onWindow(long startSample, long endSample, WindowScorer.Score score);
    }

    private final WindowScorer scorer;
    private final WindowGrid grid;
    private final SampleBuffer buffer;
    private final EventDetector detector;
    private final int minSamples;
    private final StreamSmoother smoother;
    private final boolean reportCauses;
    /** Float samples beyond this magnitude are refused, as {@code classifier.MAX_ABS_SAMPLE}. */
    public static final float MAX_ABS_SAMPLE = 16f;

    private WindowListener listener;
    private WindowScorer.Score lastScore;
    private long next; // next window to score

    /**
     * @param grid the model's window grid ({@link LoadedModel#grid()}).
     * @param minSamples the shortest stream that {@link #flush()} still scores (the model's {@code
     *     min_samples}).
     * @param smoothingWindows windows averaged into each stream score (1 = none).
     * @param reportCauses false for a model whose cause head is unsupported: events carry no cause.
     */
    public CryMonitor(
            WindowScorer scorer,
            WindowGrid grid,
            EventDetector detector,
            int minSamples,
            int smoothingWindows,
            boolean reportCauses) {
        if (scorer == null || grid == null || detector == null) {
            throw new IllegalArgumentException("scorer, grid and detector must not be null");
        }
        if (minSamples < 1) {
            throw new IllegalArgumentException("minSamples must be >= 1, got " + minSamples);
        }
        this.scorer = scorer;
        this.grid = grid;
        this.buffer = new SampleBuffer(grid.bufferSamples());
        this.detector = detector;
        this.minSamples = minSamples;
        this.smoother = new StreamSmoother(smoothingWindows);
        this.reportCauses = reportCauses;
    }

    /** No smoothing, causes reported: the detector sees each window's own score. */
    public CryMonitor(WindowScorer scorer, WindowGrid grid, EventDetector detector, int minSamples) {
        this(scorer, grid, detector, minSamples, 1, true);
    }

    /**
     * Labels, sample rate, min_samples, smoothing and cause status from the model's metadata; the
     * grid and event rules as given.
     */
    public CryMonitor(WindowScorer scorer, ModelInfo info, WindowGrid grid, EventRules rules) {
        this(
                scorer,
                grid,
                new EventDetector(rules, info.labels, info.sampleRate),
                info.minSamples,
                info.streamSmoothingWindows,
                info.causeSupported());
    }

    /** Everything from the model: its grid, metadata and stream rules ({@link ModelInfo#streamRules}). */
    public CryMonitor(LoadedModel model) {
        this(model, model.info(), model.grid(), model.info().streamRules);
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
        return buffer.end();
    }

    /** Windows scored since the stream began (or was flushed or reset). */
    public long windowsScored() {
        return next;
    }

    /** Audio past a window's end that the monitor waits for before scoring it (its context after). */
    public int delaySamples() {
        return grid.contextAfter;
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
        int pos = offset;
        int end = offset + length;
        while (pos < end) {
            pos += buffer.append(chunk, pos, end - pos);
            long ready = grid.ready(buffer.end());
            while (next < ready) {
                events.addAll(score(next, next + 1, -1));
            }
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
     * End of stream, as {@code CryStream.flush}: score the grid's windows not yet scored (those
     * whose right context had not arrived, and a partial last window) together from one span
     * ending at the last sample, if the stream reaches {@code min_samples} (a shorter stream is not
     * scored), then close any open event. Returns those events. Afterwards the stream is empty again
     * (the next sample is sample 0); {@link #lastScore()} is kept.
     */
    public List<CryEvent> flush() {
        List<CryEvent> events = new ArrayList<CryEvent>(0);
        long n = buffer.end();
        if (n >= minSamples) {
            long count = grid.count(n);
            if (count > next) {
                events.addAll(score(next, count, n));
            }
        }
        events.addAll(reported(detector.finish(), n));
        clear();
        return events;
    }

    /** Back to a fresh stream: sample 0, no buffered audio, no open event, no last score. */
    public void reset() {
        clear();
        lastScore = null;
    }

    private void clear() {
        buffer.clear();
        detector.reset();
        smoother.reset();
        next = 0;
    }

    /**
     * Scores windows {@code first .. stop - 1} from their span ({@code n}: the stream's length once it
     * has ended, else -1) and feeds them to the detector; the buffer then keeps only what later
     * windows need.
     */
    private List<CryEvent> score(long first, long stop, long n) {
        long lo = grid.spanStart(first);
        int count = (int) (stop - first);
        WindowScorer.Score[] raw = scorer.score(
                buffer.copy(lo, grid.spanEnd(stop, n)), (int) (first - lo / grid.hop), count);
        if (raw == null || raw.length != count) {
            throw new WindowScorer.ScoringException("scorer returned " + (raw == null ? "null" : raw.length
                    + " scores") + " for " + count + " windows");
        }
        long endOfStream = n < 0 ? buffer.end() : n;
        List<CryEvent> events = new ArrayList<CryEvent>(0);
        for (long k = first; k < stop; k++) {
            if (raw[(int) (k - first)] == null) {
                throw new WindowScorer.ScoringException("scorer returned null for window " + k);
            }
            WindowScorer.Score s = checkedAndClipped(raw[(int) (k - first)]);
            long start = grid.start(k);
            long end = grid.end(k, endOfStream);
            lastScore = s;
            next = k + 1;
            if (listener != null) {
                listener.onWindow(start, end, s);
            }
            double streamScore = smoother.add(s.cryProbability);
            events.addAll(reported(detector.update(start, end, streamScore, s.causes()), grid.spanEnd(k + 1, n)));
        }
        buffer.dropBefore(grid.spanStart(stop));
        return events;
    }

    /** Events with their detection point, and no cause when the model's cause head is unsupported. */
    private List<CryEvent> reported(List<CryEvent> events, long detected) {
        if (events.isEmpty()) {
            return events;
        }
        List<CryEvent> out = new ArrayList<CryEvent>(events.size());
        for (CryEvent e : events) {
            out.add(e.reported(detected, detector.sampleRate(), reportCauses));
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
