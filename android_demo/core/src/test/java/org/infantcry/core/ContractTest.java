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
    public void streamDefaultsMatchPython() {
        Map<String, Object> d = Golden.map(c, "stream_defaults");
        assertEquals(Golden.num(d, "off_fraction"), EventRules.DEFAULT_OFF_FRACTION, 0.0);
        assertEquals(Golden.lng(d, "min_on_windows"), EventRules.DEFAULT_MIN_ON_WINDOWS);
        assertEquals(Golden.lng(d, "min_off_windows"), EventRules.DEFAULT_MIN_OFF_WINDOWS);
    }
}
