package org.infantcry.core;

import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

/**
 * Runs the named JUnit 4 classes and ends with the plain summary line {@code N passed, N failed}
 * (CI reads it), exiting 1 on any failure.
 */
public final class RunTests {
    private RunTests() {}

    public static void main(String[] args) throws ClassNotFoundException {
        Class<?>[] classes = new Class<?>[args.length];
        for (int i = 0; i < args.length; i++) {
            classes[i] = Class.forName(args[i]);
        }
        Result result = new JUnitCore().run(classes);
        for (Failure f : result.getFailures()) {
            System.out.println("FAILED " + f.getTestHeader());
            System.out.println("  " + f.getException());
            // Our frames only: JUnit's own reflection frames say nothing about the failure.
            for (StackTraceElement el : f.getException().getStackTrace()) {
                if (el.getClassName().startsWith("org.infantcry.")) {
                    System.out.println("    at " + el);
                }
            }
        }
        int failed = result.getFailureCount();
        int assumed = result.getAssumptionFailureCount(); // counted as run by JUnit 4.13
        int passed = result.getRunCount() - failed - assumed;
        int skipped = result.getIgnoreCount() + assumed;
        System.out.println(
                "JVM core tests (" + classes.length + " classes, JUnit 4, "
                        + System.getProperty("java.version") + ")");
        System.out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
