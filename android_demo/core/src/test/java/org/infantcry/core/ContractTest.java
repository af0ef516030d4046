package org.infantcry.core;

import static org.junit.Assert.assertEquals;

import java.util.ArrayList;
import java.util.Map;
import org.junit.Test;

/** The Java mirror of infantcry_sdk/contract.py and the stream defaults, against contract.json. */
public class ContractTest {
    private final Map<String, Object> c = Golden.read(Golden.dir().resolve("contract.json"));

    @Test
    public void namesMatchPython() {
        assertEquals(c.get("schema_version"), Contract.SCHEMA_VERSION);
        assertEquals(c.get("input_name"), Contract.INPUT_NAME);
        assertEquals(c.get("output_cry"), Contract.OUTPUT_CRY);
        assertEquals(c.get("output_causes"), Contract.OUTPUT_CAUSES);
        assertEquals(c.get("output_window_cry"), Contract.OUTPUT_WINDOW_CRY);
        assertEquals(c.get("output_window_causes"), Contract.OUTPUT_WINDOW_CAUSES);
        assertEquals(Golden.strings(c, "required_keys"), new ArrayList<>(Contract.REQUIRED_KEYS));
    }

    @Test
    public void everyPythonKeyHasAJavaConstant() throws Exception {
        Map<String, Object> keys = Golden.map(c, "keys");
        for (Map.Entry<String, Object> k : keys.entrySet()) {
            Object value = Contract.class.getField(k.getKey()).get(null);
            assertEquals(k.getKey(), k.getValue(), value);
        }
    }

    @Test
    public void optionalKeyDefaultsMatchPython() throws Exception {
        Map<String, Object> d = Golden.map(c, "metadata_defaults");
        assertEquals(8, d.size()); // DEFAULT_* and CAUSE_* of contract.py
        for (Map.Entry<String, Object> k : d.entrySet()) {
            Object value = Contract.class.getField(k.getKey()).get(null);
            if (value instanceof Number) {
                assertEquals(k.getKey(), ((Number) k.getValue()).doubleValue(), ((Number) value).doubleValue(), 0.0);
            } else {
                assertEquals(k.getKey(), k.getValue(), value);
            }
        }
    }
}
