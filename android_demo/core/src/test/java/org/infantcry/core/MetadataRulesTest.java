package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.junit.runners.Parameterized;
import org.junit.runners.Parameterized.Parameters;

/**
 * The stream rules and cause status that {@link ModelInfo} reads from the optional metadata keys,
 * against metadata_rules.json (export.golden.stream_rules_from_metadata): every value bit for bit,
 * and the same values refused.
 */
@RunWith(Parameterized.class)
public class MetadataRulesTest {
    private static final Map<String, Object> FILE = Golden.read(Golden.dir().resolve("metadata_rules.json"));

    @Parameters(name = "{0}")
    public static Collection<Object[]> cases() {
        List<Object[]> out = new ArrayList<>();
        for (Map<String, Object> c : Golden.list(FILE, "cases")) {
            out.add(new Object[] {c.get("name"), c});
        }
        return out;
    }

    private final String name;
    private final Map<String, Object> c;

    public MetadataRulesTest(String name, Map<String, Object> c) {
        this.name = name;
        this.c = c;
    }

    /** The base metadata with this case's optional keys set. */
    static Map<String, String> metadata(Map<String, Object> base, Map<String, Object> keys) {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : base.entrySet()) {
            m.put(e.getKey(), (String) e.getValue());
        }
        for (Map.Entry<String, Object> e : keys.entrySet()) {
            m.put(e.getKey(), (String) e.getValue());
        }
        return m;
    }

    @Test
    public void sameRulesAndCauseStatusAsPython() {
        Map<String, String> meta = metadata(Golden.map(FILE, "base_metadata"), Golden.map(c, "keys"));
        Map<String, Object> want = Golden.map(c, "expected");
        if (want == null) {
            try {
                ModelInfo.fromMetadata(meta);
                fail(name + ": Python refuses this metadata, Java accepted it");
            } catch (ModelInfo.InvalidModelException expected) {
                return;
            }
        }
        ModelInfo info = ModelInfo.fromMetadata(meta);
        EventRules r = info.streamRules;
        assertEquals(name, Golden.num(want, "on_threshold"), r.onThreshold, 0.0);
        assertEquals(name, Golden.num(want, "off_threshold"), r.offThreshold, 0.0);
        assertEquals(name, Golden.lng(want, "min_on_windows"), r.minOnWindows);
        assertEquals(name, Golden.lng(want, "min_off_windows"), r.minOffWindows);
        assertEquals(name, Golden.num(want, "cause_min_confidence"), r.causeMinConfidence, 0.0);
        assertEquals(name, Golden.lng(want, "smoothing_windows"), info.streamSmoothingWindows);
        assertEquals(name, want.get("cause_status"), info.causeStatus);
        assertEquals(name, want.get("cause_status_reason"), info.causeStatusReason);
        assertEquals(name, Contract.CAUSE_SUPPORTED.equals(want.get("cause_status")), info.causeSupported());
    }
}
