package org.infantcry.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Reads the golden files written by {@code python -m export.golden}. */
final class Golden {
    private Golden() {}

    static Path dir() {
        String d = System.getProperty("infantcry.golden.dir", "src/test/resources/golden");
        return Paths.get(d);
    }

    static Map<String, Object> read(Path p) {
        try {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) Json.parse(Files.readString(p, StandardCharsets.UTF_8));
            return m;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + p, e);
        }
    }

    /** Reference files for the Java mirror, not replay cases (export.golden.REFERENCE_FILES). */
    static final List<String> REFERENCE_FILES = List.of("contract.json", "integrity.json", "metadata_rules.json");

    /** Every case file (all but the reference files), sorted by name. */
    static List<Path> caseFiles() {
        try (Stream<Path> s = Files.list(dir())) {
            return s.filter(p -> p.getFileName().toString().endsWith(".json"))
                    .filter(p -> !REFERENCE_FILES.contains(p.getFileName().toString()))
                    .sorted()
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new IllegalStateException("golden folder " + dir().toAbsolutePath()
                    + " is unreadable: run `python -m export.golden`", e);
        }
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Map<String, Object> m, String key) {
        return (List<Map<String, Object>>) m.get(key);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Map<String, Object> m, String key) {
        return (Map<String, Object>) m.get(key);
    }

    @SuppressWarnings("unchecked")
    static List<String> strings(Map<String, Object> m, String key) {
        return (List<String>) m.get(key);
    }

    static double num(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).doubleValue();
    }

    static long lng(Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Long)) {
            throw new IllegalStateException(key + " should be an integer, is " + v);
        }
        return (Long) v;
    }

    static double[] doubles(Object list) {
        List<?> l = (List<?>) list;
        double[] out = new double[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) l.get(i)).doubleValue();
        }
        return out;
    }

    static EventRules rules(Map<String, Object> g) {
        Map<String, Object> r = map(g, "rules");
        return new EventRules(
                num(r, "on_threshold"),
                num(r, "off_threshold"),
                (int) lng(r, "min_on_windows"),
                (int) lng(r, "min_off_windows"),
                num(r, "cause_min_confidence"));
    }

    /**
     * The grid the case was recorded with: a stream case's model gives its tail and context; a
     * synthetic case (no model) has the grid of cut windows of its window, hop and min_samples.
     */
    static WindowGrid grid(Map<String, Object> g) {
        int window = (int) lng(g, "window_samples");
        int hop = (int) lng(g, "hop_samples");
        Map<String, Object> model = map(g, "model");
        if (model == null) {
            return WindowGrid.forCutWindows(window, hop, (int) lng(g, "min_samples"));
        }
        return new WindowGrid(window, hop, (int) lng(model, "tail_samples"),
                (int) lng(model, "context_before_samples"), (int) lng(model, "context_after_samples"));
    }

    static List<String> windowsAsStrings(Map<String, Object> g) {
        List<String> out = new ArrayList<>();
        for (Map<String, Object> w : list(g, "windows")) {
            out.add(lng(w, "start_sample") + "-" + lng(w, "end_sample"));
        }
        return out;
    }
}
