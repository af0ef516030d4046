package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.io.FileNotFoundException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** What OrtModelSession's loading decides, with a fake runtime: file choice, checks, clean-up. */
public class LoadedModelTest {
    private final Map<String, byte[]> files = new HashMap<>();
    private final List<String> opened = new ArrayList<>();
    private FakeModel.Session session = new FakeModel.Session(FakeModel.metadata());

    private final LoadedModel.Runtime runtime = (model, ortFormat, source) -> {
        opened.add(source + (ortFormat ? " ort" : " onnx"));
        return session;
    };

    private LoadedModel load() throws Exception {
        return LoadedModel.load(files::get, runtime, "m.ort", "m.onnx");
    }

    @Test
    public void prefersTheOrtFileAndSmokeRunsOnce() throws Exception {
        files.put("m.onnx", FakeModel.bytes());
        files.put("m.ort", FakeModel.bytes());
        LoadedModel m = load();
        assertEquals(List.of("m.ort ort"), opened);
        assertEquals("m.ort", m.source());
        assertEquals(1, session.runs); // the smoke run at min_samples
        assertEquals(0.7f, m.score(new float[500]).cause(1), 0f);
        m.close();
        assertEquals(1, session.closes);
    }

    @Test
    public void fallsBackToTheOnnxFile() throws Exception {
        files.put("m.onnx", FakeModel.bytes());
        assertEquals("m.onnx", load().source());
        assertEquals(List.of("m.onnx onnx"), opened);
    }

    /** {@link #load()} must throw {@code type} with {@code part} in its message. */
    private void assertLoadFails(Class<? extends Exception> type, String part) {
        Exception e = assertThrows(type, this::load);
        assertTrue(e.getMessage(), e.getMessage().contains(part));
    }

    @Test
    public void noFileNamesTheCommandToRun() {
        assertLoadFails(FileNotFoundException.class, "m.ort or m.onnx");
        assertLoadFails(FileNotFoundException.class, "--copy-model");
    }

    @Test
    public void tamperedBytesAreRefusedAndTheSessionClosed() {
        files.put("m.ort", FakeModel.tamperedBytes());
        assertLoadFails(ModelInfo.InvalidModelException.class, "tampered");
        assertEquals(1, session.closes);
        assertEquals(0, session.runs);
    }

    @Test
    public void badMetadataIsRefusedAndTheSessionClosed() {
        files.put("m.ort", FakeModel.bytes());
        session = new FakeModel.Session(FakeModel.metadata(Contract.KEY_CAUSE_STATUS, "maybe"));
        assertLoadFails(ModelInfo.InvalidModelException.class, Contract.KEY_CAUSE_STATUS);
        assertEquals(1, session.closes);
    }

    @Test
    public void outputsThatDisagreeWithTheLabelsFailAtLoad() {
        files.put("m.ort", FakeModel.bytes());
        session.causeCount = 3;
        assertLoadFails(WindowScorer.ScoringException.class, "1 cry and 3 cause values");
        assertEquals(1, session.closes);
    }

    @Test
    public void aRuntimeFailureWhileScoringNamesTheFile() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.failOnRun = 2;
        LoadedModel m = load();
        WindowScorer.ScoringException e =
                assertThrows(WindowScorer.ScoringException.class, () -> m.score(new float[500]));
        assertEquals("m.ort failed on a window of 500 samples", e.getMessage());
        assertEquals("runtime exploded", e.getCause().getMessage());
    }
}
