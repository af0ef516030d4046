package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

public class JsonTest {

    @Test
    public void parsesEveryKindOfValue() {
        Object v = Json.parse(" {\"a\": [1, -2.5, 1e-7, true, false, null], \"b\": {}, \"c\": []} ");
        Map<?, ?> m = (Map<?, ?>) v;
        List<?> a = (List<?>) m.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2.5, (Double) a.get(1), 0.0);
        assertEquals(1e-7, (Double) a.get(2), 0.0);
        assertEquals(Boolean.TRUE, a.get(3));
        assertEquals(Boolean.FALSE, a.get(4));
        assertNull(a.get(5));
        assertEquals(0, ((Map<?, ?>) m.get("b")).size());
        assertEquals(0, ((List<?>) m.get("c")).size());
    }

    @Test
    public void doublesWrittenByPythonReprReadBackExactly() {
        // repr(0.1 + 0.2) and a float32 value widened to float64
        assertEquals(0.30000000000000004, (Double) Json.parse("0.30000000000000004"), 0.0);
        assertEquals((double) 0.7f, (Double) Json.parse(Double.toString((double) 0.7f)), 0.0);
        assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
        assertEquals(1e20, (Double) Json.parse("100000000000000000000"), 0.0);
    }

    @Test
    public void decodesEscapes() {
        assertEquals("a\"b\\c/\n\t\u00e9\ud83d\ude00",
                Json.parse("\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\""));
        assertEquals("bébé", Json.parse("\"bébé\""));
    }

    @Test
    public void stringListForLabels() {
        assertEquals(Arrays.asList("hungry", "belly_pain"),
                Json.parseStringList("[\"hungry\", \"belly_pain\"]"));
    }

    @Test
    public void rejectsMalformedInput() {
        String[] bad = {"", "[1,]", "{\"a\" 1}", "[1 2]", "\"open", "01", "1.", "-", "tru",
            "[1] x", "{\"a\":1,}", "\"\\x\"", "NaN", "[\"a\", 3]", "\"tab\there\""};
        for (String s : bad) {
            try {
                if (s.startsWith("[\"a\"")) {
                    Json.parseStringList(s);
                } else {
                    Json.parse(s);
                }
                fail("accepted " + s);
            } catch (Json.ParseException expected) {
                // ok
            }
        }
    }
}
