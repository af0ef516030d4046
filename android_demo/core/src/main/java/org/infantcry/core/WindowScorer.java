package org.infantcry.core;

/**
 * The model call behind a small interface, so the windowing and event logic run (and are tested) on
 * a plain JVM while the Android app plugs in ONNX Runtime ({@code LoadedModel} over {@code OrtModelSession}).
 *
 * <p>Contract: {@code span} is float32 mono audio at the model's sample rate in [-1, 1], a stretch
 * of the stream that starts on the hop grid: window {@code j} of the span starts {@code j * hop}
 * samples into it (see {@link WindowGrid}). The scorer returns the model's {@code cry_probability}
 * and {@code cause_probabilities} (label order) of windows {@code skip .. skip + count - 1} of the
 * span; the last of them may run past the span's end (a partial window: only its real part). The
 * samples either side of a window are its context, for a model whose scores depend on them.
 */
public interface WindowScorer {

    /** One window's model outputs. */
    final class Score {
        public final float cryProbability;
        private final float[] causes;

        public Score(float cryProbability, float[] causes) {
            if (causes == null) {
                throw new IllegalArgumentException("causes must not be null");
            }
            this.cryProbability = cryProbability;
            this.causes = causes.clone();
        }

        /** A copy of the cause probabilities, in label order. */
        public float[] causes() {
            return causes.clone();
        }

        public int numCauses() {
            return causes.length;
        }

        public float cause(int i) {
            return causes[i];
        }
    }

    /**
     * Scores windows {@code skip .. skip + count - 1} of {@code span}; returns {@code count} scores.
     *
     * @throws ScoringException when the model cannot be run or returns something off-contract.
     */
    Score[] score(float[] span, int skip, int count);

    /** Unchecked, so implementations can wrap their runtime's checked exceptions. */
    final class ScoringException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public ScoringException(String message, Throwable cause) {
            super(message, cause);
        }

        public ScoringException(String message) {
            super(message);
        }
    }
}
