package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
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
        assertEquals(0.7f, m.score(new float[500], 0, 1)[0].cause(1), 0f);
        assertFalse(m.hasWindowOutputs());
        assertEquals(WindowGrid.forCutWindows(500, 250, 100), m.grid()); // tail max(1, 100 - 250), no context
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

    /** Scoring window {@code skip} of a span of {@code samples} zeros must fail; returns the error. */
    private static WindowScorer.ScoringException scoringFails(LoadedModel m, int samples, int skip) {
        return assertThrows(WindowScorer.ScoringException.class, () -> m.score(new float[samples], skip, 1));
    }

    @Test
    public void aRuntimeFailureWhileScoringNamesTheFile() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.failOnRun = 2;
        WindowScorer.ScoringException e = scoringFails(load(), 500, 0);
        assertEquals("m.ort failed on a window of 500 samples", e.getMessage());
        assertEquals("runtime exploded", e.getCause().getMessage());
    }

    @Test
    public void cutWindowsAreScoredOneARunAPartialLastOneWithTheRestOfTheSpan() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        LoadedModel m = load();
        float[] span = new float[900]; // windows 0-500, 250-750 and 500-900 (partial)
        span[100] = 0.2f;
        span[600] = 0.4f;
        span[899] = 0.6f;
        WindowScorer.Score[] s = m.score(span, 1, 2);
        assertEquals(0.4f, s[0].cryProbability, 0f);
        assertEquals(0.6f, s[1].cryProbability, 0f);
        assertEquals(3, session.runs); // the smoke run, then one run per window
    }

    @Test
    public void windowOutputsGiveAMeasuredTailAndOneWindowOfContext() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.frameTail = 37;
        LoadedModel m = load();
        assertTrue(m.hasWindowOutputs());
        assertEquals(new WindowGrid(500, 250, 37, 500, 500), m.grid());
        session.spans.clear();
        float[] span = new float[1300]; // windows 0 .. 4, the last (1000-1300) partial
        span[760] = 0.9f;
        WindowScorer.Score[] s = m.score(span, 2, 2); // windows 2 (500-1000) and 3 (750-1250)
        assertEquals(List.of(1300), session.spans); // one run over the whole span
        assertEquals(0.9f, s[0].cryProbability, 0f);
        assertEquals(0.9f, s[1].cryProbability, 0f);
        assertEquals(0.7f, s[1].cause(1), 0f);
    }

    @Test
    public void aCausalModelsGridHasNoContextAfterItsWindows() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session = new FakeModel.Session(FakeModel.metadata(
                Contract.KEY_CONTEXT_BEFORE_SAMPLES, "600", Contract.KEY_CONTEXT_AFTER_SAMPLES, "0"));
        session.frameTail = 37;
        assertEquals(new WindowGrid(500, 250, 37, 750, 0), load().grid()); // 600 rounded up to whole hops
    }

    @Test
    public void windowOutputsThatDisagreeWithTheGridFailAtLoad() {
        files.put("m.ort", FakeModel.bytes());
        session.frameTail = 37;
        session.extraWindows = 1; // two windows for one window of audio
        assertLoadFails(ModelInfo.InvalidModelException.class, "give 2 windows for 100 samples");
        assertEquals(1, session.closes);
    }

    @Test
    public void tooFewWindowOutputsForTheGridAreAScoringError() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.frameTail = 37;
        WindowScorer.ScoringException e = scoringFails(load(), 520, 1); // 520 samples hold one window
        assertTrue(e.getMessage(), e.getMessage().contains("gave 1 windows for 520 samples"));
    }
}
