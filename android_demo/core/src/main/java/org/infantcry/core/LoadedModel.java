package org.infantcry.core;

import java.io.FileNotFoundException;
import java.io.IOException;
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
 * {@link #score} runs one window and checks the output sizes against the labels.
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

    private LoadedModel(Session session, ModelInfo info, String source) {
        this.session = session;
        this.info = info;
        this.source = source;
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
            LoadedModel loaded = new LoadedModel(session, info, source);
            loaded.score(new float[info.minSamples]);
            return loaded;
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

    @Override
    public Score score(float[] window) {
        float[][] out;
        try {
            out = session.run(window);
        } catch (ScoringException e) {
            throw e;
        } catch (Exception e) {
            throw new ScoringException(source + " failed on a window of " + window.length + " samples", e);
        }
        if (out == null || out.length != 2 || out[0] == null || out[1] == null
                || out[0].length != 1 || out[1].length != info.labels.size()) {
            throw new ScoringException(source + " returned " + describe(out) + " for one window with "
                    + info.labels.size() + " labels: the file does not match its own metadata");
        }
        return new Score(out[0][0], out[1]);
    }

    private static String describe(float[][] out) {
        if (out == null || out.length != 2 || out[0] == null || out[1] == null) {
            return "no cry/cause output pair";
        }
        return out[0].length + " cry and " + out[1].length + " cause values";
    }

    @Override
    public void close() {
        session.close();
    }
}
