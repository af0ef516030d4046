package org.infantcry.core;

/**
 * The model call behind a small interface, so the windowing and event logic run (and are tested) on
 * a plain JVM while the Android app plugs in ONNX Runtime ({@code LoadedModel} over {@code OrtModelSession}).
 *
 * <p>Contract: {@code window} is float32 mono audio at the model's sample rate in [-1, 1], exactly
 * {@code windowSamples} long; the result holds the model's {@code cry_probability} and its {@code
 * cause_probabilities} in label order.
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
     * Scores one window.
     *
     * @throws ScoringException when the model cannot be run or returns something off-contract.
     */
    Score score(float[] window);

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
