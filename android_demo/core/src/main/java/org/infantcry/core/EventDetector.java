package org.infantcry.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Hysteresis event logic: per-window scores in, one start and one end event per cry out.
 *
 * <p>A line-for-line port of {@code infantcry_sdk/events.py}; the golden vectors made by {@code
 * python -m export.golden} pin the two together, so keep any change in step with the Python file.
 * The arithmetic is the same: doubles, running sums added in window order, means as {@code sum /
 * count}, and the arg-max keeps the first of equal maxima (as Python's {@code max} does). The
 * rules:
 *
 * <ul>
 *   <li>A window is <em>on</em> when {@code cryProbability >= onThreshold}; while idle, {@code
 *       minOnWindows} consecutive on windows open an event whose {@code start} is the first sample
 *       of the first of them.
 *   <li>While active, a window is <em>off</em> when {@code cryProbability < offThreshold}; {@code
 *       minOffWindows} consecutive off windows close the event, whose {@code end} is the end
 *       (exclusive) of the last window that was not off.
 *   <li>{@link #finish()} closes an open event at the same place.
 *   <li>Each event reports the mean cry probability and mean cause distribution over the windows
 *       that carry it (the confirming run for a start; every not-off window of the event for an
 *       end); the cause is the arg-max label when its mean reaches {@code causeMinConfidence}.
 * </ul>
 *
 * <p>Memory is fixed: running sums and counters only. Not thread-safe: feed it from one thread.
 */
public final class EventDetector {

    /** Running mean of cry probability and cause distribution over a set of windows. */
    private static final class Accumulator {
        int count;
        double probSum;
        final double[] causeSum;

        Accumulator(int nCauses) {
            causeSum = new double[nCauses];
        }

        void add(double prob, double[] causes) {
            count += 1;
            probSum += prob;
            for (int i = 0; i < causes.length; i++) {
                causeSum[i] += causes[i];
            }
        }

        double meanProb() {
            return probSum / count;
        }

        double[] meanCauses() {
            double[] out = new double[causeSum.length];
            for (int i = 0; i < causeSum.length; i++) {
                out[i] = causeSum[i] / count;
            }
            return out;
        }
    }

    private final EventRules rules;
    private final List<String> labels;
    private final int sampleRate;

    private boolean active;
    private Accumulator run; // consecutive on windows while idle
    private long runStart;
    private Accumulator event;
    private int offCount;
    private long lastKeptEnd;

    public EventDetector(EventRules rules, List<String> labels, int sampleRate) {
        if (rules == null || labels == null) {
            throw new IllegalArgumentException("rules and labels must not be null");
        }
        if (sampleRate <= 0) {
            throw new IllegalArgumentException("sampleRate must be positive, got " + sampleRate);
        }
        this.rules = rules;
        this.labels = Collections.unmodifiableList(new ArrayList<String>(labels));
        this.sampleRate = sampleRate;
        reset();
    }

    public EventRules rules() {
        return rules;
    }

    public List<String> labels() {
        return labels;
    }

    public int sampleRate() {
        return sampleRate;
    }

    /** True between a start event and its end event. */
    public boolean isActive() {
        return active;
    }

    /** Forgets everything: idle, no partial run, no open event. */
    public void reset() {
        active = false;
        run = new Accumulator(labels.size());
        runStart = 0;
        event = new Accumulator(labels.size());
        offCount = 0;
        lastKeptEnd = 0;
    }

    private CryEvent make(CryEvent.Kind kind, long sample, Accumulator acc) {
        double prob = acc.meanProb();
        double[] causes = acc.meanCauses();
        int best = -1;
        if (causes.length > 0) {
            // Python's max(range(n), key=...) keeps the current best unless a later value is
            // strictly greater: the first maximal index wins, and NaN never replaces or is replaced.
            best = 0;
            for (int i = 1; i < causes.length; i++) {
                if (causes[i] > causes[best]) {
                    best = i;
                }
            }
        }
        String cause =
                best >= 0 && causes[best] >= rules.causeMinConfidence ? labels.get(best) : null;
        Map<String, Double> byLabel = new LinkedHashMap<String, Double>();
        for (int i = 0; i < causes.length; i++) {
            byLabel.put(labels.get(i), causes[i]);
        }
        return new CryEvent(kind, sample, (double) sample / sampleRate, prob, cause, byLabel, -1, Double.NaN);
    }

    /** Float overload for model outputs: float to double is exact, as numpy's float64 cast. */
    public List<CryEvent> update(
            long startSample, long endSample, double cryProbability, float[] causeProbabilities) {
        double[] causes = new double[causeProbabilities.length];
        for (int i = 0; i < causes.length; i++) {
            causes[i] = causeProbabilities[i];
        }
        return update(startSample, endSample, cryProbability, causes);
    }

    /**
     * Consumes one window {@code [startSample, endSample)}; returns the events it completes (0 or
     * 1).
     *
     * @throws IllegalArgumentException when the cause vector's length differs from the labels'.
     */
    public List<CryEvent> update(
            long startSample, long endSample, double cryProbability, double[] causeProbabilities) {
        if (causeProbabilities.length != labels.size()) {
            throw new IllegalArgumentException(
                    "expected " + labels.size() + " cause probabilities, got "
                            + causeProbabilities.length);
        }
        double p = cryProbability;
        double[] causes = causeProbabilities;
        EventRules r = rules;
        if (!active) {
            if (p >= r.onThreshold) {
                if (run.count == 0) {
                    runStart = startSample;
                }
                run.add(p, causes);
                if (run.count >= r.minOnWindows) {
                    CryEvent started = make(CryEvent.Kind.START, runStart, run);
                    active = true;
                    event = run;
                    run = new Accumulator(labels.size());
                    offCount = 0;
                    lastKeptEnd = endSample;
                    return Collections.singletonList(started);
                }
            } else {
                run = new Accumulator(labels.size());
            }
            return Collections.emptyList();
        }
        if (p < r.offThreshold) {
            offCount += 1;
            if (offCount >= r.minOffWindows) {
                return Collections.singletonList(close());
            }
            return Collections.emptyList();
        }
        offCount = 0;
        event.add(p, causes);
        lastKeptEnd = endSample;
        return Collections.emptyList();
    }

    /** Closes an open event (end of stream); returns it, or nothing when idle. */
    public List<CryEvent> finish() {
        if (!active) {
            reset();
            return Collections.emptyList();
        }
        return Collections.singletonList(close());
    }

    private CryEvent close() {
        CryEvent ended = make(CryEvent.Kind.END, lastKeptEnd, event);
        reset();
        return ended;
    }
}
