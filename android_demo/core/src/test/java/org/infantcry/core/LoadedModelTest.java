package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

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

    @Test
    public void noFileNamesTheCommandToRun() throws Exception {
        try {
            load();
            fail("loaded nothing");
        } catch (FileNotFoundException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("m.ort or m.onnx")
                    && e.getMessage().contains("--copy-model"));
        }
    }

    @Test
    public void tamperedBytesAreRefusedAndTheSessionClosed() throws Exception {
        files.put("m.ort", FakeModel.tamperedBytes());
        try {
            load();
            fail("tampered file loaded");
        } catch (ModelInfo.InvalidModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("tampered"));
        }
        assertEquals(1, session.closes);
        assertEquals(0, session.runs);
    }

    @Test
    public void badMetadataIsRefusedAndTheSessionClosed() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session = new FakeModel.Session(FakeModel.metadata(Contract.KEY_CAUSE_STATUS, "maybe"));
        try {
            load();
            fail("bad cause_status loaded");
        } catch (ModelInfo.InvalidModelException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(Contract.KEY_CAUSE_STATUS));
        }
        assertEquals(1, session.closes);
    }

    @Test
    public void outputsThatDisagreeWithTheLabelsFailAtLoad() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.causeCount = 3;
        try {
            load();
            fail("3 causes for 2 labels loaded");
        } catch (WindowScorer.ScoringException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("1 cry and 3 cause values"));
        }
        assertEquals(1, session.closes);
    }

    @Test
    public void aRuntimeFailureWhileScoringNamesTheFile() throws Exception {
        files.put("m.ort", FakeModel.bytes());
        session.failOnRun = 2;
        LoadedModel m = load();
        try {
            m.score(new float[500]);
            fail("runtime error swallowed");
        } catch (WindowScorer.ScoringException e) {
            assertEquals("m.ort failed on a window of 500 samples", e.getMessage());
            assertEquals("runtime exploded", e.getCause().getMessage());
        }
    }
}
