#!/usr/bin/env bash
# Compile and package check of the Android app module, offline (no Android SDK, no Gradle):
#
#   android_demo/app/compile_check.sh [APP_SRC [BUILD_DIR]]
#
#   APP_SRC    the app's source set (java/, res/, assets/, AndroidManifest.xml); default
#              android_demo/app/src/main
#   BUILD_DIR  where outputs go; default android_demo/app/build/compile_check (gitignored)
#
# 1. Resources and manifest: aapt2 compile + link against Debian's API 29 framework-res.apk, with the
#    package name, versions and SDK levels read from app/build.gradle.kts (what AGP's manifest merger
#    adds); this also writes R.java.
# 2. Java: every app source, R.java and the core module's sources in one javac run, -source/-target
#    8 against ../shared/android/android-api29-stubs.jar (the boot class path, as android.jar is) and
#    the ONNX Runtime Android classes jar, with -Xlint:all -Werror.
# 3. An unsigned APK skeleton (manifest, resources, the model asset; no classes.dex: there is no
#    d8 here), checked with `aapt dump badging`: package, minSdk, every declared permission, the
#    launcher activity, and the model asset present.
#
# Jars are read from $INFANTCRY_DATA_ROOT/android (default: <repo>/../shared/android). Missing
# Debian packages (android-sdk-build-tools, android-framework-res, a JDK) are installed with apt-get
# when running as root; otherwise the script names them and stops. Exit 0 on success; non-zero with a
# "compile_check.sh: ..." message on failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="$(cd "${1:-$here/src/main}" && pwd)"
build="${2:-$here/build/compile_check}"
data_root="${INFANTCRY_DATA_ROOT:-$repo/../shared}"
stubs="$data_root/android/android-api29-stubs.jar"
ort_jar="$data_root/android/onnxruntime-android-1.29.0-classes.jar"
framework_res="/usr/share/android-framework-res/framework-res.apk"
core_src="$repo/android_demo/core/src/main/java"
gradle_file="$here/build.gradle.kts"

die() { echo "compile_check.sh: $*" >&2; exit 1; }
step() { echo "compile_check.sh: $*"; }

# ------------------------------------------------------------------ tools
missing_packages() {
  local pkgs=()
  command -v javac >/dev/null || pkgs+=(openjdk-17-jdk-headless)
  { command -v aapt2 >/dev/null && command -v aapt >/dev/null; } || pkgs+=(android-sdk-build-tools)
  [ -f "$framework_res" ] || pkgs+=(android-framework-res)
  echo "${pkgs[@]}"
}

ensure_tools() {
  local pkgs
  pkgs="$(missing_packages)"
  [ -z "$pkgs" ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    step "installing Debian packages: $pkgs"
    mkdir -p "$build"
    # shellcheck disable=SC2086  # the package list is meant to split
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs; } \
      >"$build/apt.log" 2>&1 || { cat "$build/apt.log" >&2; die "apt-get install $pkgs failed (log above)"; }
    pkgs="$(missing_packages)"
    [ -z "$pkgs" ] || die "still missing after apt-get: $pkgs"
  else
    die "missing Debian packages: $pkgs (run as root: apt-get install -y $pkgs)"
  fi
}

ensure_inputs() {
  local f
  for f in "$stubs" "$ort_jar"; do
    [ -f "$f" ] || die "$f not found: put ../shared beside the repository or set INFANTCRY_DATA_ROOT (see its android/README.md)"
  done
  for f in "$src/AndroidManifest.xml" "$src/java" "$src/res" "$core_src" "$gradle_file"; do
    [ -e "$f" ] || die "$f not found (APP_SRC must hold java/, res/ and AndroidManifest.xml)"
  done
  ls "$src"/assets/student_int8.* >/dev/null 2>&1 \
    || die "no model in $src/assets (student_int8.ort or .onnx): run python -m export.golden --copy-model"
}

# ------------------------------------------------------------------ build.gradle.kts values
gradle_value() { # the value of `name = value` in build.gradle.kts, quotes removed
  local v
  v="$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*$/\1/p" "$gradle_file" | head -n 1)"
  [ -n "$v" ] || die "$gradle_file sets no $1"
  echo "$v"
}

# ------------------------------------------------------------------ 1. resources and manifest
# Manifest values that the API 29 resource table cannot link (the attribute value is newer than API
# 29). They are checked to be in the source manifest, then left out of the copy that is linked.
POST29_MANIFEST_VALUES=('android:foregroundServiceType="microphone"') # flag added in API 30

linked_manifest() {
  local out="$1" value
  cp "$src/AndroidManifest.xml" "$out"
  for value in "${POST29_MANIFEST_VALUES[@]}"; do
    grep -qF "$value" "$out" || die "AndroidManifest.xml lacks $value (required for a microphone service on API 30+)"
    sed -i "s|[[:space:]]*$value||" "$out"
  done
  sed -i "0,/<manifest /s|<manifest |<manifest package=\"$namespace\" android:versionCode=\"$version_code\" android:versionName=\"$version_name\" |" "$out"
}

link_resources() {
  step "aapt2: compiling resources and linking the manifest against $framework_res"
  linked_manifest "$build/AndroidManifest.xml"
  aapt2 compile --dir "$src/res" -o "$build/res.zip" \
    || die "aapt2 compile failed on $src/res (messages above)"
  aapt2 link -I "$framework_res" --manifest "$build/AndroidManifest.xml" \
    --min-sdk-version "$min_sdk" --target-sdk-version "$target_sdk" \
    --java "$build/gen" -A "$src/assets" -o "$apk" "$build/res.zip" \
    || die "aapt2 link failed (messages above): a manifest or resource error"
}

# ------------------------------------------------------------------ 2. Java
compile_java() {
  local sources=() log="$build/javac.log"
  mapfile -t sources < <(find "$src/java" "$core_src" "$build/gen" -name '*.java' | sort)
  step "javac: ${#sources[@]} sources (app, core, R.java) against the API 29 stubs and ONNX Runtime"
  if ! javac -source 8 -target 8 -bootclasspath "$stubs" -cp "$ort_jar" \
      -Xlint:all -Werror -encoding UTF-8 -d "$build/classes" "${sources[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    die "javac failed on the app sources ($(grep -c ': error:' "$log" || true) errors, $(grep -c ': warning:' "$log" || true) warnings as errors; messages above)"
  fi
}

# ------------------------------------------------------------------ 3. APK skeleton
check_apk() {
  local badging entries perm name cls
  badging="$(aapt dump badging "$apk")" || die "aapt dump badging could not read $apk"
  entries="$(aapt list "$apk")"
  grep -q "^package: name='$namespace'" <<<"$badging" || die "APK package is not $namespace:"$'\n'"$badging"
  grep -q "^sdkVersion:'$min_sdk'" <<<"$badging" || die "APK minSdk is not $min_sdk:"$'\n'"$badging"
  grep -q "^launchable-activity: name='$namespace.MainActivity'" <<<"$badging" \
    || die "APK has no launcher activity $namespace.MainActivity"
  for perm in $(sed -n 's/.*<uses-permission android:name="\([^"]*\)".*/\1/p' "$src/AndroidManifest.xml"); do
    grep -q "^uses-permission: name='$perm'" <<<"$badging" || die "APK lacks permission $perm"
  done
  grep -qE '^assets/student_int8\.(ort|onnx)$' <<<"$entries" || die "APK lacks the model asset assets/student_int8.*"
  # Every component the manifest names must be a compiled class.
  for name in $(sed -n 's/.*android:name="\.\([A-Za-z0-9_]*\)".*/\1/p' "$src/AndroidManifest.xml"); do
    cls="$build/classes/${namespace//.//}/$name.class"
    [ -f "$cls" ] || die "manifest component .$name has no compiled class ($cls)"
  done
  step "APK skeleton $apk: $(grep -c . <<<"$entries") entries"
  grep -E "^(package|sdkVersion|targetSdkVersion|uses-permission|launchable-activity):" <<<"$badging" | sed 's/^/  /'
}

main() {
  ensure_tools
  ensure_inputs
  namespace="$(gradle_value namespace)"
  min_sdk="$(gradle_value minSdk)"
  target_sdk="$(gradle_value targetSdk)"
  version_code="$(gradle_value versionCode)"
  version_name="$(gradle_value versionName)"
  apk="$build/app-skeleton-unsigned.apk"
  rm -rf "$build"
  mkdir -p "$build/gen" "$build/classes"
  link_resources
  compile_java
  check_apk
  step "OK: sources compile, resources link, APK skeleton checked (not dexed, signed or run: see android_demo/README.md)"
}

main
