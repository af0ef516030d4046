package org.infantcry.core;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.Arrays;
import java.util.Map;

/**
 * A model file loaded and checked the way the Python SDK's {@code load_model} checks it, over any
 * runtime: ONNX Runtime in the app ({@code OrtModelSession}), a fake in the JVM tests.
 *
 * <p>{@link #load} picks the model file (the first of the given names that exists, so an {@code .ort}
 * file is preferred to an {@code .onnx} one and any contract model drops in), opens a {@link Session},
 * parses the metadata ({@link ModelInfo}), verifies the integrity seal on the very bytes the session
 * was made from, and makes one smoke run at {@code min_samples} so a model whose outputs disagree with
 * its labels fails at load, not mid-night. Any failure closes the session before it propagates.
 *
 * <p>The window grid ({@link #grid()}) is the Python SDK's for the same file: for a model with window
 * outputs, the tail is measured at load as {@code infantcry_sdk.model} measures it (the fewest
 * samples past a window that make the graph start another) and the context is one window in whole
 * hops; without them, windows are cut ({@link WindowGrid#forCutWindows}). {@link #score} scores
 * windows of a span through the window outputs when the graph has them (so a window's score sees its
 * context, as in Python), else one cut window per run through the clip outputs; output sizes are
 * checked against the labels.
 */
public final class LoadedModel implements WindowScorer, AutoCloseable {

    /** Where model files are read from (the app's assets). */
    public interface Files {
        /** The file's bytes, or null when there is no such file. */
        byte[] read(String name) throws IOException;
    }

    /** One runtime session over a model's bytes. */
    public interface Session {
        /** The model's custom metadata map ({@code infantcry.*} keys). */
        Map<String, String> metadata() throws Exception;

        /** One window in; the raw {@code cry_probability} and {@code cause_probabilities} values out. */
        float[][] run(float[] window) throws Exception;

        /** True when the graph has the optional window outputs (both of them). */
        boolean hasWindowOutputs() throws Exception;

        /**
         * A span in; the raw {@code window_cry_probability} [W] and {@code
         * window_cause_probabilities} [W * labels] (window-major) values out. Only called when
         * {@link #hasWindowOutputs()}.
         */
        float[][] runWindows(float[] span) throws Exception;

        /** Frees the session; must not throw. */
        void close();
    }

    /** Opens a session over a model file's bytes (and checks its graph against the contract). */
    public interface Runtime {
        Session open(byte[] model, boolean ortFormat, String source) throws Exception;
    }

    private final Session session;
    private final ModelInfo info;
    private final String source;
    private final boolean windowOutputs;
    private final WindowGrid grid;

    private LoadedModel(Session session, ModelInfo info, String source, boolean windowOutputs, WindowGrid grid) {
        this.session = session;
        this.info = info;
        this.source = source;
        this.windowOutputs = windowOutputs;
        this.grid = grid;
    }

    /**
     * Loads the first of {@code names} that {@code files} holds.
     *
     * @throws FileNotFoundException when none exists.
     * @throws ModelInfo.InvalidModelException when the file is not an InfantCry model or is tampered.
     * @throws WindowScorer.ScoringException when the smoke run fails or disagrees with the labels.
     */
    public static LoadedModel load(Files files, Runtime runtime, String... names) throws Exception {
        for (String name : names) {
            byte[] bytes = files.read(name);
            if (bytes != null) {
                return open(runtime, bytes, name.endsWith(".ort"), name);
            }
        }
        throw new FileNotFoundException("no model file (" + String.join(" or ", names) + "): run "
                + "`python -m export.golden --copy-model` and rebuild");
    }

    /** Opens and checks one model file's bytes; {@code source} names it in messages. */
    public static LoadedModel open(Runtime runtime, byte[] model, boolean ortFormat, String source)
            throws Exception {
        Session session = runtime.open(model, ortFormat, source);
        try {
            ModelInfo info = ModelInfo.fromMetadata(session.metadata());
            if (!Integrity.verify(model, info.fileSha256)) {
                throw new ModelInfo.InvalidModelException(
                        source + " is tampered or corrupted: its bytes do not match its sealed SHA-256; "
                                + "copy the model again with `python -m export.golden --copy-model`");
            }
            boolean windowOutputs = session.hasWindowOutputs();
            LoadedModel loaded = new LoadedModel(session, info, source, windowOutputs,
                    WindowGrid.forCutWindows(info.windowSamples, info.hopSamples, info.minSamples));
            loaded.scoreAlone(new float[info.minSamples]);
            if (!windowOutputs) {
                return loaded;
            }
            WindowGrid measured = new WindowGrid(info.windowSamples, info.hopSamples, loaded.measureTail(),
                    WindowGrid.wholeHops(info.contextBeforeSamples, info.hopSamples),
                    WindowGrid.wholeHops(info.contextAfterSamples, info.hopSamples));
            return new LoadedModel(session, info, source, true, measured);
        } catch (Exception | Error e) {
            session.close();
            throw e;
        }
    }

    /** The model's metadata: labels, thresholds, window, hop, sample rate, stream rules. */
    public ModelInfo info() {
        return info;
    }

    /** The model file's name, for messages and the UI. */
    public String source() {
        return source;
    }

    /** The window grid every scoring path uses (see the class comment). */
    public WindowGrid grid() {
        return grid;
    }

    /** True when the graph scores every window of a span in one run (its window outputs). */
    public boolean hasWindowOutputs() {
        return windowOutputs;
    }

    /**
     * Windows {@code skip .. skip + count - 1} of {@code span}, window {@code j} starting {@code j *
     * hop} into it: from the window outputs of one run over the span, or, for a model without them,
     * one run per window cut from the span (a partial last window holds the rest of the span).
     */
    @Override
    public Score[] score(float[] span, int skip, int count) {
        Score[] out = new Score[count];
        if (windowOutputs) {
            Score[] all = scoreWindows(span);
            if (all.length < skip + count) {
                throw new ScoringException(source + " gave " + all.length + " windows for " + span.length
                        + " samples, fewer than its window grid has; the file does not match its own metadata");
            }
            System.arraycopy(all, skip, out, 0, count);
            return out;
        }
        for (int j = 0; j < count; j++) {
            int from = (skip + j) * info.hopSamples;
            out[j] = scoreAlone(Arrays.copyOfRange(span, from, Math.min(span.length, from + info.windowSamples)));
        }
        return out;
    }

    /** One window through the clip outputs. */
    private Score scoreAlone(float[] window) {
        float[][] out = run(window, false);
        if (out[0].length != 1 || out[1].length != info.labels.size()) {
            throw mismatch(out, "one window");
        }
        return new Score(out[0][0], out[1]);
    }

    /** Every window of a span through the window outputs. */
    private Score[] scoreWindows(float[] span) {
        float[][] out = run(span, true);
        int n = info.labels.size();
        int w = out[0].length;
        if (w < 1 || out[1].length != w * n) {
            throw mismatch(out, span.length + " samples of window outputs");
        }
        Score[] scores = new Score[w];
        for (int i = 0; i < w; i++) {
            scores[i] = new Score(out[0][i], Arrays.copyOfRange(out[1], i * n, (i + 1) * n));
        }
        return scores;
    }

    private float[][] run(float[] input, boolean windows) {
        float[][] out;
        try {
            out = windows ? session.runWindows(input) : session.run(input);
        } catch (ScoringException e) {
            throw e;
        } catch (Exception e) {
            throw new ScoringException(source + " failed on " + (windows ? "a span" : "a window") + " of "
                    + input.length + " samples", e);
        }
        if (out == null || out.length != 2 || out[0] == null || out[1] == null) {
            throw new ScoringException(source + " returned no cry/cause output pair: the file does not "
                    + "match the contract");
        }
        return out;
    }

    private ScoringException mismatch(float[][] out, String what) {
        return new ScoringException(source + " returned " + out[0].length + " cry and " + out[1].length
                + " cause values for " + what + " with " + info.labels.size()
                + " labels: the file does not match its own metadata");
    }

    /** Windows the window outputs give for {@code n} samples of silence. */
    private int windowCount(int n) {
        return scoreWindows(new float[n]).length;
    }

    /**
     * The grid's tail as {@code infantcry_sdk.model._measure_tail} finds it: the fewest samples past a
     * window's end that make the graph start another window, searched in {@code 1 .. min(hop,
     * min_samples)}.
     */
    private int measureTail() {
        int window = info.windowSamples;
        int hi = Math.min(info.hopSamples, info.minSamples);
        for (int n : new int[] {info.minSamples, window}) {
            int got = windowCount(n);
            if (got != 1) {
                throw geometry("give " + got + " windows for " + n + " samples (one window or less)");
            }
        }
        if (windowCount(window + hi) != 2) {
            throw geometry("start no second window within " + hi + " samples past the first");
        }
        int lo = 0; // window + lo gives 1 window, window + hi gives 2
        while (hi - lo > 1) {
            int mid = (lo + hi) / 2;
            if (windowCount(window + mid) == 2) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        return hi;
    }

    private ModelInfo.InvalidModelException geometry(String what) {
        return new ModelInfo.InvalidModelException(source + ": its window outputs " + what + ", which its "
                + "metadata (window " + info.windowSeconds + " s, hop " + info.hopSeconds + " s, min_samples "
                + info.minSamples + ") does not describe");
    }

    @Override
    public void close() {
        session.close();
    }
}
