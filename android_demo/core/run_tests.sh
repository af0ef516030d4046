#!/usr/bin/env bash
# Build and unit-test the Android demo's plain-JVM core with javac, java and Debian's JUnit 4.
#
#   android_demo/core/run_tests.sh          (from anywhere; exits non-zero on any failure)
#
# Main sources compile with --release 8: the core runs inside the Android app down to API 24, whose
# class library is Java 8's, so a Java 9+ API call (List.of, String.repeat, ...) must fail here
# rather than crash on an old phone. Tests compile with --release 17. Output goes to build/
# (gitignored). JUnit comes from Debian's junit4 package; when its jar is absent and we are root,
# it is installed with apt-get (CI runs as root with Debian's package mirror reachable).
# The last line is the summary "N passed, N failed".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="$here/build"
junit_jar="${JUNIT_JAR:-/usr/share/java/junit4.jar}"
hamcrest_jar="${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}"

die() { echo "run_tests.sh: $*" >&2; exit 1; }

command -v javac >/dev/null && command -v java >/dev/null \
  || die "javac/java not found: install a JDK 17 (Debian: apt-get install -y openjdk-17-jdk-headless)."

if [ ! -f "$junit_jar" ] || [ ! -f "$hamcrest_jar" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "run_tests.sh: JUnit 4 jar absent; installing Debian's junit4 package" >&2
    export DEBIAN_FRONTEND=noninteractive
    mkdir -p "$build"
    { apt-get update -qq && apt-get install -y -qq junit4; } >"$build/apt.log" 2>&1 \
      || { cat "$build/apt.log" >&2; die "installing junit4 with apt-get failed (log above)"; }
  fi
  [ -f "$junit_jar" ] && [ -f "$hamcrest_jar" ] \
    || die "JUnit 4 not found at $junit_jar (and $hamcrest_jar): apt-get install -y junit4, or set JUNIT_JAR and HAMCREST_JAR."
fi

rm -rf "$build/main" "$build/test"
mkdir -p "$build/main" "$build/test"

mapfile -t main_src < <(find "$here/src/main/java" -name '*.java' | sort)
mapfile -t test_src < <(find "$here/src/test/java" -name '*.java' | sort)

javac --release 8 -Xlint:all,-options -Werror -encoding UTF-8 -d "$build/main" "${main_src[@]}"
cp="$build/main:$junit_jar:$hamcrest_jar"
javac --release 17 -Xlint:all -encoding UTF-8 -cp "$cp" -d "$build/test" "${test_src[@]}"

# Every *Test class under src/test/java, as fully qualified names.
mapfile -t classes < <(cd "$here/src/test/java" && find . -name '*Test.java' | sed 's|^\./||; s|\.java$||; s|/|.|g' | sort)
[ "${#classes[@]}" -gt 0 ] || die "no test classes found"

exec java -ea -cp "$build/test:$cp" \
  -Dinfantcry.golden.dir="$here/src/test/resources/golden" \
  org.infantcry.core.RunTests "${classes[@]}"
