#!/usr/bin/env bash
# Builds and runs the whole test suite: the Release build (warnings as errors) and the
# sanitizer build (ASan + UBSan, system allocator), each through ctest (unit, integration,
# fuzz-replay, arch), then the libFuzzer target of the frame decoder for a bounded time.
# Usage: tools/test.sh            (from anywhere; build trees go to ./build-release,
#                                  ./build-sanitize and ./build-fuzz)
#        FUZZ_SECONDS=N tools/test.sh   to fuzz longer (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}
status=0

run_build() {
    local dir=$1 type=$2
    echo "== $type build in $dir"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DRKV_WERROR=ON >/dev/null
    cmake --build "$dir" -j "$jobs"
    echo "== $type tests"
    # Tests run one at a time: several start real nodes that each want the machine's cores.
    if ! (cd "$dir" && ctest --output-on-failure --timeout 600); then
        status=1
    fi
}

run_build build-release Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_build build-sanitize Sanitize

echo "== fuzzing the frame decoder for ${fuzz_seconds}s"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRKV_FUZZ=ON \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build build-fuzz -j "$jobs" --target proto_bin_fuzz
corpus_work=$(mktemp -d)
trap 'rm -rf "$corpus_work"' EXIT
if ! build-fuzz/tests/proto_bin_fuzz -max_total_time="$fuzz_seconds" -max_len=4096 -print_final_stats=0 \
        "$corpus_work" tests/fuzz/corpus/proto_bin >build-fuzz/fuzz.log 2>&1; then
    tail -n 40 build-fuzz/fuzz.log
    echo "fuzz: the frame decoder failed; the crashing input is in $(pwd)"
    status=1
else
    grep -E "^Done|#[0-9]+ *DONE" build-fuzz/fuzz.log | tail -n 1 || true
    echo "fuzz: no crash in ${fuzz_seconds}s"
fi

exit $status
