#!/usr/bin/env bash
# Build (or refresh) an aarch64 Python 3.11 userland for running the SDK under QEMU user emulation.
#
# Why this shape: no chroot, no binfmt, no docker: Debian's qemu-user-static runs an arm64 python3.11
# taken straight from Debian's arm64 .debs (apt-get download + dpkg -x), with aarch64 wheels of the
# SDK's runtime dependencies unpacked into its dist-packages. onnxruntime is pinned to 1.26.0: newer
# aarch64 builds segfault on import under QEMU 7.2. The pure-Python SDK is NOT put in the root: the
# benchmark copies the working tree's copy at run time, so the root never goes stale.
#
# Idempotent: each step leaves a stamp; rerunning skips finished steps (--force redoes them).
# The root lives outside the repo: ${INFANTCRY_ARM_ROOT:-~/.cache/infantcry/arm64-root}.
# Usage: bash benchmarks/arm/build_root.sh [--force]
set -euo pipefail

ROOT="${INFANTCRY_ARM_ROOT:-$HOME/.cache/infantcry/arm64-root}"
WORK="${ROOT}.work"            # downloads and apt state, beside the root, never inside the repo
ORT_VERSION="${INFANTCRY_ARM_ORT_VERSION:-1.26.0}"
PY=python3.11
FORCE=0
[[ "${1:-}" == "--force" ]] && FORCE=1

# The arm64 packages a bare python3.11 (with ctypes, ssl, lzma, bz2, decimal) needs. Listed, not
# resolved recursively: the recursive closure drags in tzdata, debconf and perl for nothing.
DEBS=(
  python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
  libc6 libgcc-s1 libstdc++6 libexpat1 zlib1g libffi8 libssl3 libbz2-1.0 liblzma5
  libncursesw6 libtinfo6 libreadline8 libsqlite3-0 libuuid1 libnsl2 libtirpc3 libdb5.3
  libcrypt1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1
)
# aarch64 wheels: the SDK's four runtime dependencies and what they import.
WHEELS=("onnxruntime==${ORT_VERSION}" numpy soxr soundfile cffi pycparser typing_extensions)

BUILT=0                       # set when any step did work: only then is the build time recorded
log() { printf '[build_root %(%H:%M:%S)T] %s\n' -1 "$*"; }
stamp() { [[ $FORCE == 0 && -f "$ROOT/.stamp-$1" ]]; }
t0=$(date +%s)
mkdir -p "$ROOT" "$WORK"

# 1. qemu-user-static (from Debian; the only thing installed on the host).
if ! command -v qemu-aarch64-static >/dev/null; then
  log "installing qemu-user-static"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
fi
log "$(qemu-aarch64-static --version | head -1)"

# 2. arm64 .debs with a private apt state (lists, cache, empty dpkg status), so the host's apt and
#    dpkg configuration stay untouched (no dpkg --add-architecture).
if ! stamp debs; then
  log "downloading arm64 packages: ${DEBS[*]}"
  mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/debs"
  : > "$WORK/apt/status"
  APT=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
       -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache="$WORK/apt/cache"
       -o Dir::State::status="$WORK/apt/status" -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq)
  apt-get "${APT[@]}" update
  (cd "$WORK/debs" && apt-get "${APT[@]}" download "${DEBS[@]}")
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$ROOT"; done
  # Debian's python3.11 finds its stdlib under /usr/lib/python3.11 (QEMU's -L maps it into ROOT).
  ln -sf python3.11 "$ROOT/usr/bin/python3"
  touch "$ROOT/.stamp-debs"
  BUILT=1
fi

# 3. aarch64 wheels, unpacked into the root's dist-packages (where Debian's site.py looks). Pin numpy
#    to the host's version when the host has one, so x86 and ARM runs compare like with like.
SITE="$ROOT/usr/lib/python3/dist-packages"
HOST_NUMPY=$(python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
[[ -n "$HOST_NUMPY" ]] && WHEELS=("${WHEELS[@]/#numpy/numpy==$HOST_NUMPY}")
WANT="${WHEELS[*]}"
if ! stamp wheels || [[ "$(cat "$ROOT/.stamp-wheels")" != "$WANT" ]]; then
  log "downloading aarch64 wheels: $WANT"
  rm -rf "$WORK/wheels" && mkdir -p "$WORK/wheels" "$SITE"
  PLATS=()
  for v in 17 24 26 27 28 31 34 35 36; do PLATS+=(--platform "manylinux_2_${v}_aarch64"); done
  python3 -m pip download -q --only-binary=:all: --python-version 3.11 --implementation cp \
    --abi cp311 --abi abi3 --abi none "${PLATS[@]}" --platform manylinux2014_aarch64 \
    --no-deps -d "$WORK/wheels" "${WHEELS[@]}"
  python3 - "$WORK/wheels" "$SITE" <<'PYEOF'
import pathlib, sys, zipfile
src, dst = map(pathlib.Path, sys.argv[1:])
for whl in sorted(src.glob("*.whl")):
    with zipfile.ZipFile(whl) as z:
        z.extractall(dst)
        for info in z.infolist():          # zipfile drops the exec bit; shared objects need none,
            if info.external_attr >> 16 & 0o111:   # but keep it for any bundled helper binary
                (dst / info.filename).chmod(0o755)
    print("  unpacked", whl.name)
PYEOF
  echo "$WANT" > "$ROOT/.stamp-wheels"
  BUILT=1
fi

# 4. Smoke test: the emulated interpreter imports everything the SDK needs.
log "smoke test under qemu-aarch64-static"
qemu-aarch64-static -L "$ROOT" "$ROOT/usr/bin/$PY" -s -c '
import platform, numpy, onnxruntime, soxr, soundfile
print("machine", platform.machine(), "python", platform.python_version(), "numpy", numpy.__version__,
      "onnxruntime", onnxruntime.__version__, "soxr", soxr.__version__, "soundfile", soundfile.__version__,
      "libsndfile", soundfile.__libsndfile_version__)'
elapsed=$(( $(date +%s) - t0 ))
if [[ $BUILT == 1 || ! -f "$ROOT/.build_info.json" ]]; then
  printf '{"root": "%s", "onnxruntime": "%s", "build_seconds": %d, "built_at": "%s"}\n' \
    "$ROOT" "$ORT_VERSION" "$elapsed" "$(date -u +%FT%TZ)" > "$ROOT/.build_info.json"
fi
log "done in ${elapsed}s ($([[ $BUILT == 1 ]] && echo built || echo 'already built, verified')): $ROOT"
