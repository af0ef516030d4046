package org.infantcry.demo;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import android.content.Context;
import android.content.res.AssetManager;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.util.Collections;
import java.util.Map;
import org.infantcry.core.Contract;
import org.infantcry.core.Integrity;
import org.infantcry.core.ModelInfo;
import org.infantcry.core.WindowScorer;

/**
 * The model call for {@link org.infantcry.core.CryMonitor}: one window in, one ONNX Runtime run,
 * {@code cry_probability} and {@code cause_probabilities} out.
 *
 * <p>Loading does what the Python SDK's {@code load_model} does, in the same order: session options
 * as the SDK sets them (one intra-op thread, no spinning, sequential), the graph's names and ranks
 * checked against the contract, the {@code infantcry.*} metadata parsed ({@link ModelInfo}), the
 * integrity seal verified on the very bytes the session was made from, and one smoke run at {@code
 * min_samples} so a model whose outputs disagree with its labels fails at load, not mid-night.
 *
 * <p>Thread-safe for scoring (ORT sessions are), though the app scores from one thread only.
 */
public final class OrtWindowScorer implements WindowScorer, AutoCloseable {

    /** Asset names tried in order: the ORT-format model first, the plain ONNX file as fallback. */
    public static final String[] ASSET_NAMES = {"student_int8.ort", "student_int8.onnx"};

    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final OrtSession session;
    private final ModelInfo info;
    private final String source;

    /**
     * Loads the first model found among {@link #ASSET_NAMES}.
     *
     * @throws FileNotFoundException when the app was built without a model asset.
     * @throws ModelInfo.InvalidModelException when the file is not an InfantCry model or is tampered.
     */
    public static OrtWindowScorer fromAssets(Context context) throws IOException, OrtException {
        AssetManager assets = context.getAssets();
        for (String name : ASSET_NAMES) {
            byte[] bytes;
            try (InputStream in = assets.open(name)) {
                bytes = readAll(in);
            } catch (FileNotFoundException absent) {
                continue;
            }
            return new OrtWindowScorer(bytes, name.endsWith(".ort"), "assets/" + name);
        }
        throw new FileNotFoundException(
                "no model in the app's assets (student_int8.ort or .onnx): run "
                        + "`python -m export.golden --copy-model` and rebuild");
    }

    /**
     * @param model the model file's bytes
     * @param ortFormat true for an {@code .ort} file (ORT flatbuffer format)
     * @param source where the bytes came from, for messages
     */
    public OrtWindowScorer(byte[] model, boolean ortFormat, String source) throws OrtException {
        this.source = source;
        this.env = OrtEnvironment.getEnvironment();
        this.options = new OrtSession.SessionOptions();
        OrtSession created = null;
        try {
            // The Python SDK's _session_options(threads=1).
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            options.addConfigEntry("session.inter_op.allow_spinning", "0");
            if (ortFormat) {
                options.addConfigEntry("session.load_model_format", "ORT");
            }
            created = env.createSession(model, options);
            checkGraph(created, source);
            ModelInfo parsed = ModelInfo.fromMetadata(created.getMetadata().getCustomMetadata());
            if (!Integrity.verify(model, parsed.fileSha256)) {
                throw new ModelInfo.InvalidModelException(
                        source + " is tampered or corrupted: its bytes do not match its sealed SHA-256; "
                                + "copy the model again with `python -m export.golden --copy-model`");
            }
            this.session = created;
            this.info = parsed;
            score(new float[info.minSamples]); // smoke run: output sizes must match the labels
        } catch (OrtException | RuntimeException e) {
            if (created != null) {
                try {
                    created.close();
                } catch (OrtException ignored) {
                    // already failing; the original error is the one to report
                }
            }
            options.close();
            throw e;
        }
    }

    /** The model's metadata: labels, thresholds, window, hop, sample rate. */
    public ModelInfo info() {
        return info;
    }

    /** Where the model came from (for the UI). */
    public String source() {
        return source;
    }

    @Override
    public Score score(float[] window) {
        try (OnnxTensor input =
                        OnnxTensor.createTensor(env, FloatBuffer.wrap(window), new long[] {1, window.length});
                OrtSession.Result result =
                        session.run(Collections.singletonMap(Contract.INPUT_NAME, input))) {
            float[] cry = floats(result, Contract.OUTPUT_CRY);
            float[] causes = floats(result, Contract.OUTPUT_CAUSES);
            if (cry.length != 1 || causes.length != info.labels.size()) {
                throw new ScoringException(
                        source + " returned " + cry.length + " cry and " + causes.length
                                + " cause values for one window with " + info.labels.size()
                                + " labels: the file does not match its own metadata");
            }
            return new Score(cry[0], causes);
        } catch (OrtException e) {
            throw new ScoringException(source + " failed on a window of " + window.length + " samples", e);
        }
    }

    @Override
    public void close() throws OrtException {
        try {
            session.close();
        } finally {
            options.close(); // only after the session: ORT requires options to outlive sessions
        }
    }

    private static float[] floats(OrtSession.Result result, String name) {
        OnnxValue value = result.get(name).orElse(null);
        if (!(value instanceof OnnxTensor)) {
            throw new ScoringException("model output " + name + " is missing or not a tensor");
        }
        FloatBuffer buffer = ((OnnxTensor) value).getFloatBuffer();
        if (buffer == null) {
            throw new ScoringException("model output " + name + " is not float32");
        }
        float[] out = new float[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    /** The contract's graph: one float input [batch, samples]; the two outputs with ranks 1 and 2. */
    private static void checkGraph(OrtSession session, String source) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        if (inputs.size() != 1 || !inputs.containsKey(Contract.INPUT_NAME)) {
            throw new ModelInfo.InvalidModelException(
                    source + ": expected one input '" + Contract.INPUT_NAME + "', found " + inputs.keySet());
        }
        requireFloatRank(inputs.get(Contract.INPUT_NAME), 2, source);
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        String[] names = {Contract.OUTPUT_CRY, Contract.OUTPUT_CAUSES};
        int[] ranks = {1, 2};
        for (int i = 0; i < names.length; i++) {
            NodeInfo node = outputs.get(names[i]);
            if (node == null) {
                throw new ModelInfo.InvalidModelException(
                        source + ": output '" + names[i] + "' is missing (outputs: " + outputs.keySet() + ")");
            }
            requireFloatRank(node, ranks[i], source);
        }
    }

    private static void requireFloatRank(NodeInfo node, int rank, String source) {
        if (!(node.getInfo() instanceof TensorInfo)) {
            throw new ModelInfo.InvalidModelException(source + ": '" + node.getName() + "' is not a tensor");
        }
        TensorInfo t = (TensorInfo) node.getInfo();
        if (t.type != OnnxJavaType.FLOAT || t.getShape().length != rank) {
            throw new ModelInfo.InvalidModelException(
                    source + ": '" + node.getName() + "' must be float32 of rank " + rank + ", is " + t);
        }
    }

    /** InputStream.readAllBytes() is API 33; the app runs from API 24. */
    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(1 << 16);
        byte[] buf = new byte[1 << 16];
        int n;
        while ((n = in.read(buf)) != -1) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }
}
