package org.infantcry.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A tiny strict JSON reader (RFC 8259), so the core has no dependencies: the model's label list is
 * JSON, and the parity tests read golden files written by Python's {@code json} module.
 *
 * <p>Values map to {@link Map} (insertion order kept), {@link List}, {@link String}, {@link Long}
 * (numbers without fraction or exponent that fit), {@link Double} (other numbers, parsed with {@link
 * Double#parseDouble}, which rounds exactly as Python's {@code float()} does, so a double written by
 * Python's {@code repr} reads back bit for bit), {@link Boolean} and null.
 */
public final class Json {

    /** Malformed JSON, with the character offset where reading stopped. */
    public static final class ParseException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public ParseException(String message, int offset) {
            super(message + " at offset " + offset);
        }
    }

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    /** Parses one JSON value; anything but whitespace after it is an error. */
    public static Object parse(String text) {
        if (text == null) {
            throw new ParseException("null input", 0);
        }
        Json p = new Json(text);
        p.skipWs();
        Object v = p.value(0);
        p.skipWs();
        if (p.i != text.length()) {
            throw new ParseException("trailing characters", p.i);
        }
        return v;
    }

    /** Parses a JSON list of strings, such as the {@code infantcry.labels} metadata value. */
    public static List<String> parseStringList(String text) {
        Object v = parse(text);
        if (!(v instanceof List)) {
            throw new ParseException("expected a JSON list", 0);
        }
        List<String> out = new ArrayList<String>();
        for (Object o : (List<?>) v) {
            if (!(o instanceof String)) {
                throw new ParseException("expected a list of strings, found " + o, 0);
            }
            out.add((String) o);
        }
        return out;
    }

    private static final int MAX_DEPTH = 256;

    private Object value(int depth) {
        if (depth > MAX_DEPTH) {
            throw new ParseException("nesting too deep", i);
        }
        if (i >= s.length()) {
            throw new ParseException("unexpected end of input", i);
        }
        char c = s.charAt(i);
        switch (c) {
            case '{':
                return object(depth);
            case '[':
                return array(depth);
            case '"':
                return string();
            case 't':
                literal("true");
                return Boolean.TRUE;
            case 'f':
                literal("false");
                return Boolean.FALSE;
            case 'n':
                literal("null");
                return null;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw new ParseException("unexpected character '" + c + "'", i);
        }
    }

    private Map<String, Object> object(int depth) {
        Map<String, Object> out = new LinkedHashMap<String, Object>();
        i++; // {
        skipWs();
        if (peek() == '}') {
            i++;
            return out;
        }
        while (true) {
            skipWs();
            if (peek() != '"') {
                throw new ParseException("expected a string key", i);
            }
            String key = string();
            skipWs();
            expect(':');
            skipWs();
            out.put(key, value(depth + 1));
            skipWs();
            char c = peek();
            i++;
            if (c == '}') {
                return out;
            }
            if (c != ',') {
                throw new ParseException("expected ',' or '}'", i - 1);
            }
        }
    }

    private List<Object> array(int depth) {
        List<Object> out = new ArrayList<Object>();
        i++; // [
        skipWs();
        if (peek() == ']') {
            i++;
            return out;
        }
        while (true) {
            skipWs();
            out.add(value(depth + 1));
            skipWs();
            char c = peek();
            i++;
            if (c == ']') {
                return out;
            }
            if (c != ',') {
                throw new ParseException("expected ',' or ']'", i - 1);
            }
        }
    }

    private String string() {
        i++; // opening quote
        StringBuilder b = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw new ParseException("unterminated string", i);
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return b.toString();
            }
            if (c < 0x20) {
                throw new ParseException("control character in string", i - 1);
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw new ParseException("unterminated escape", i);
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"':
                    b.append('"');
                    break;
                case '\\':
                    b.append('\\');
                    break;
                case '/':
                    b.append('/');
                    break;
                case 'b':
                    b.append('\b');
                    break;
                case 'f':
                    b.append('\f');
                    break;
                case 'n':
                    b.append('\n');
                    break;
                case 'r':
                    b.append('\r');
                    break;
                case 't':
                    b.append('\t');
                    break;
                case 'u':
                    if (i + 4 > s.length()) {
                        throw new ParseException("short \\u escape", i);
                    }
                    int code = 0;
                    for (int k = 0; k < 4; k++) {
                        int d = Character.digit(s.charAt(i + k), 16);
                        if (d < 0) {
                            throw new ParseException("bad \\u escape", i + k);
                        }
                        code = code * 16 + d;
                    }
                    i += 4;
                    b.append((char) code); // surrogate pairs arrive as two escapes, as UTF-16
                    break;
                default:
                    throw new ParseException("bad escape '\\" + e + "'", i - 1);
            }
        }
    }

    private Object number() {
        int start = i;
        if (peek() == '-') {
            i++;
        }
        if (peek() == '0') {
            i++;
        } else if (isDigit(peek())) {
            while (isDigit(peek())) {
                i++;
            }
        } else {
            throw new ParseException("bad number", start);
        }
        boolean integral = true;
        if (peek() == '.') {
            integral = false;
            i++;
            if (!isDigit(peek())) {
                throw new ParseException("digit expected after '.'", i);
            }
            while (isDigit(peek())) {
                i++;
            }
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            i++;
            if (peek() == '+' || peek() == '-') {
                i++;
            }
            if (!isDigit(peek())) {
                throw new ParseException("digit expected in exponent", i);
            }
            while (isDigit(peek())) {
                i++;
            }
        }
        String text = s.substring(start, i);
        if (integral) {
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException tooBig) {
                return Double.parseDouble(text);
            }
        }
        return Double.parseDouble(text);
    }

    private void literal(String word) {
        if (!s.startsWith(word, i)) {
            throw new ParseException("expected '" + word + "'", i);
        }
        i += word.length();
    }

    private void expect(char c) {
        if (peek() != c) {
            throw new ParseException("expected '" + c + "'", i);
        }
        i++;
    }

    /** The current character, or NUL past the end (never valid JSON there, so errors follow). */
    private char peek() {
        return i < s.length() ? s.charAt(i) : '\0';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void skipWs() {
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                i++;
            } else {
                return;
            }
        }
    }
}
