// The plain-JVM core: no Android imports, no dependencies. CI builds and tests it without Gradle
// (core/run_tests.sh: javac + Debian's JUnit 4); this file lets Android Studio and `gradle
// :core:test` do the same. Sources stay within the Java 8 class library (run_tests.sh compiles
// them with --release 8) so they run on Android API 24 without desugaring surprises.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    systemProperty("infantcry.golden.dir", file("src/test/resources/golden").absolutePath)
    // RunTests is the command-line runner used by run_tests.sh, not a test class.
    exclude("**/RunTests*")
}
