package org.infantcry.core;

/**
 * One scored window as the app shows it live: the SDK's {@code CryPrediction} rule applied to that
 * window. {@code isCry} when the cry probability reaches the model's detection threshold; {@code
 * confident} when the top cause reaches {@code cause_min_confidence} and the model's cause head is
 * supported; {@code cause} is the top label only for a confident cry. A model whose cause head is
 * unsupported never gives a cause and is never confident; {@link ModelInfo#causeStatusReason} says why.
 */
public final class WindowPrediction {
    public final long startSample;
    public final long endSample;
    public final float cryProbability;
    public final boolean isCry;
    public final boolean confident;
    /** The top cause for a confident cry, else null. */
    public final String cause;
    /** Probability of the top cause (first of equal maxima), whether or not it is reported. */
    public final float topCauseProbability;

    private WindowPrediction(long startSample, long endSample, float cryProbability, boolean isCry,
            boolean confident, String cause, float topCauseProbability) {
        this.startSample = startSample;
        this.endSample = endSample;
        this.cryProbability = cryProbability;
        this.isCry = isCry;
        this.confident = confident;
        this.cause = cause;
        this.topCauseProbability = topCauseProbability;
    }

    /** The prediction for window {@code [startSample, endSample)} with (clipped) score {@code s}. */
    public static WindowPrediction of(ModelInfo info, long startSample, long endSample, WindowScorer.Score s) {
        if (s.numCauses() != info.labels.size()) {
            throw new IllegalArgumentException(
                    "score has " + s.numCauses() + " causes for " + info.labels.size() + " labels");
        }
        int best = 0;
        for (int i = 1; i < s.numCauses(); i++) {
            if (s.cause(i) > s.cause(best)) {
                best = i;
            }
        }
        float top = s.cause(best);
        boolean isCry = s.cryProbability >= info.detectionThreshold;
        boolean confident = info.causeSupported() && top >= info.causeMinConfidence;
        String cause = isCry && confident ? info.labels.get(best) : null;
        return new WindowPrediction(startSample, endSample, s.cryProbability, isCry, confident, cause, top);
    }
}
