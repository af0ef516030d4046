package org.infantcry.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import org.junit.Test;

/** The Java integrity check against a blob sealed by infantcry_sdk.integrity.seal (integrity.json). */
public class IntegrityTest {
    private final Map<String, Object> g = Golden.read(Golden.dir().resolve("integrity.json"));

    private byte[] bytes(String key) {
        return Base64.getDecoder().decode((String) g.get(key));
    }

    @Test
    public void acceptsAPythonSealedFile() {
        assertTrue(Integrity.verify(bytes("sealed_base64"), (String) g.get("sha256")));
    }

    @Test
    public void rejectsTamperingAndBadValues() {
        String digest = (String) g.get("sha256");
        assertFalse(Integrity.verify(bytes("tampered_base64"), digest));
        assertFalse(Integrity.verify(bytes("sealed_base64"), Integrity.PLACEHOLDER));
        assertFalse(Integrity.verify(bytes("sealed_base64"), digest.substring(1)));
        assertFalse(Integrity.verify(bytes("sealed_base64"), digest.replace(digest.charAt(0), 'x')));
        byte[] twice = (digest + digest).getBytes(StandardCharsets.US_ASCII);
        assertFalse(Integrity.verify(twice, digest)); // the value must occur exactly once
    }

    @Test
    public void hexAndSearchHelpers() {
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                Integrity.hex(Integrity.sha256(new byte[0])));
        byte[] hay = "abcabc".getBytes(StandardCharsets.US_ASCII);
        byte[] needle = "ca".getBytes(StandardCharsets.US_ASCII);
        assertEquals(2, Integrity.indexOf(hay, needle, 0));
        assertEquals(-1, Integrity.indexOf(hay, needle, 3));
    }
}
