package org.infantcry.demo;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import android.content.res.AssetManager;
import android.util.Log;
import java.io.ByteArrayOutputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import org.infantcry.core.Contract;
import org.infantcry.core.LoadedModel;
import org.infantcry.core.ModelInfo;
import org.infantcry.core.WindowScorer;

/**
 * ONNX Runtime behind the core's {@link LoadedModel}: one session over a model file's bytes, one
 * input per run, and either the two clip outputs or, when the graph has them, the two window outputs
 * out. What loading decides (which file, metadata, integrity seal, smoke run, the window grid,
 * closing on failure), which samples are fed and the output checks live in {@link LoadedModel} and
 * the core's monitor, tested on the JVM; this class holds only what needs ONNX Runtime: session
 * options as the Python SDK sets them (one intra-op thread, no spinning, sequential), the graph's
 * names and ranks checked against the contract, and the tensor plumbing.
 */
final class OrtModelSession implements LoadedModel.Session {
    private static final String TAG = "InfantCry";

    /** Asset names tried in order: the ORT-format model first, the plain ONNX file as fallback. */
    static final String[] ASSET_NAMES = {"student_int8.ort", "student_int8.onnx"};

    /** Opens sessions for {@link LoadedModel#load}. */
    static final LoadedModel.Runtime RUNTIME = OrtModelSession::new;

    private final OrtEnvironment env;
    private final OrtSession.SessionOptions options;
    private final OrtSession session;
    private final boolean windowOutputs;

    /** Loads and checks the first model among {@link #ASSET_NAMES} in the app's assets. */
    static LoadedModel fromAssets(AssetManager assets) throws Exception {
        return LoadedModel.load(name -> read(assets, name), RUNTIME, ASSET_NAMES);
    }

    /**
     * @param model the model file's bytes
     * @param ortFormat true for an {@code .ort} file (ORT flatbuffer format)
     * @param source where the bytes came from, for messages
     */
    private OrtModelSession(byte[] model, boolean ortFormat, String source) throws OrtException {
        env = OrtEnvironment.getEnvironment();
        options = new OrtSession.SessionOptions();
        OrtSession created = null;
        try {
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
            windowOutputs = checkGraph(created, source);
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
        session = created;
    }

    @Override
    public Map<String, String> metadata() throws OrtException {
        return session.getMetadata().getCustomMetadata();
    }

    @Override
    public float[][] run(float[] window) throws OrtException {
        return run(window, Contract.OUTPUT_CRY, Contract.OUTPUT_CAUSES);
    }

    @Override
    public boolean hasWindowOutputs() {
        return windowOutputs;
    }

    @Override
    public float[][] runWindows(float[] span) throws OrtException {
        return run(span, Contract.OUTPUT_WINDOW_CRY, Contract.OUTPUT_WINDOW_CAUSES);
    }

    /** One row in; the two named outputs, flattened (batch 1), out. */
    private float[][] run(float[] samples, String cry, String causes) throws OrtException {
        Set<String> wanted = new LinkedHashSet<>(Arrays.asList(cry, causes));
        try (OnnxTensor input =
                        OnnxTensor.createTensor(env, FloatBuffer.wrap(samples), new long[] {1, samples.length});
                OrtSession.Result result =
                        session.run(Collections.singletonMap(Contract.INPUT_NAME, input), wanted)) {
            return new float[][] {floats(result, cry), floats(result, causes)};
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            Log.w(TAG, "closing the model session", e);
        } finally {
            options.close(); // only after the session: ORT requires options to outlive sessions
        }
    }

    /** An asset's bytes, or null when the app has no such asset. */
    private static byte[] read(AssetManager assets, String name) throws IOException {
        try (InputStream in = assets.open(name)) {
            return readAll(in);
        } catch (FileNotFoundException absent) {
            return null;
        }
    }

    private static float[] floats(OrtSession.Result result, String name) {
        OnnxValue value = result.get(name).orElse(null);
        if (!(value instanceof OnnxTensor)) {
            throw new WindowScorer.ScoringException("model output " + name + " is missing or not a tensor");
        }
        FloatBuffer buffer = ((OnnxTensor) value).getFloatBuffer();
        if (buffer == null) {
            throw new WindowScorer.ScoringException("model output " + name + " is not float32");
        }
        float[] out = new float[buffer.remaining()];
        buffer.get(out);
        return out;
    }

    /**
     * The contract's graph: one float input [batch, samples]; the two outputs with ranks 1 and 2, and
     * optionally the two window outputs (both or neither) with ranks 2 and 3. Returns whether it has
     * the window outputs.
     */
    private static boolean checkGraph(OrtSession session, String source) throws OrtException {
        Map<String, NodeInfo> inputs = session.getInputInfo();
        if (inputs.size() != 1 || !inputs.containsKey(Contract.INPUT_NAME)) {
            throw new ModelInfo.InvalidModelException(
                    source + ": expected one input '" + Contract.INPUT_NAME + "', found " + inputs.keySet());
        }
        requireFloatRank(inputs.get(Contract.INPUT_NAME), 2, source);
        Map<String, NodeInfo> outputs = session.getOutputInfo();
        requireOutputs(outputs, new String[] {Contract.OUTPUT_CRY, Contract.OUTPUT_CAUSES}, source);
        String[] window = {Contract.OUTPUT_WINDOW_CRY, Contract.OUTPUT_WINDOW_CAUSES};
        boolean windowOutputs = outputs.containsKey(window[0]) || outputs.containsKey(window[1]);
        if (windowOutputs) {
            requireOutputs(outputs, window, source); // both or neither
        }
        return windowOutputs;
    }

    /** Outputs {@code names} present as float32 tensors of ranks {@code base + 1} and {@code base + 2}. */
    private static void requireOutputs(Map<String, NodeInfo> outputs, String[] names, String source) {
        int base = names[0].equals(Contract.OUTPUT_CRY) ? 0 : 1;
        for (int i = 0; i < names.length; i++) {
            NodeInfo node = outputs.get(names[i]);
            if (node == null) {
                throw new ModelInfo.InvalidModelException(
                        source + ": output '" + names[i] + "' is missing (outputs: " + outputs.keySet() + ")");
            }
            requireFloatRank(node, base + i + 1, source);
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
