#!/usr/bin/env bash
# Builds and runs the whole test suite: the Release build (warnings as errors) and the
# sanitizer build (ASan + UBSan, system allocator), each through ctest (unit, integration,
# fuzz-replay, arch), then the libFuzzer targets of the frame decoder, the HTTP codec and the
# peer protocol codec for a bounded time each.
# Usage: tools/test.sh            (from anywhere; build trees go to ./build-release,
#                                  ./build-sanitize and ./build-fuzz)
#        FUZZ_SECONDS=N tools/test.sh        to fuzz the frame decoder longer (default 60)
#        HTTP_FUZZ_SECONDS=N tools/test.sh   to fuzz the HTTP codec longer (default 30)
#        PEER_FUZZ_SECONDS=N tools/test.sh   to fuzz the peer protocol codec longer (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}
http_fuzz_seconds=${HTTP_FUZZ_SECONDS:-30}
peer_fuzz_seconds=${PEER_FUZZ_SECONDS:-20}
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
cmake --build build-fuzz -j "$jobs" --target proto_bin_fuzz http_fuzz proto_peer_fuzz
corpus_work=$(mktemp -d)
http_corpus_work=$(mktemp -d)
peer_corpus_work=$(mktemp -d)
trap 'rm -rf "$corpus_work" "$http_corpus_work" "$peer_corpus_work"' EXIT
if ! build-fuzz/tests/proto_bin_fuzz -max_total_time="$fuzz_seconds" -max_len=4096 -print_final_stats=0 \
        "$corpus_work" tests/fuzz/corpus/proto_bin >build-fuzz/fuzz.log 2>&1; then
    tail -n 40 build-fuzz/fuzz.log
    echo "fuzz: the frame decoder failed; the crashing input is in $(pwd)"
    status=1
else
    grep -E "^Done|#[0-9]+ *DONE" build-fuzz/fuzz.log | tail -n 1 || true
    echo "fuzz: no crash in ${fuzz_seconds}s"
fi

echo "== fuzzing the HTTP codec for ${http_fuzz_seconds}s"
if ! build-fuzz/tests/http_fuzz -max_total_time="$http_fuzz_seconds" -max_len=16384 -print_final_stats=0 \
        -dict=tests/fuzz/http.dict "$http_corpus_work" tests/fuzz/corpus/http >build-fuzz/http_fuzz.log 2>&1; then
    tail -n 40 build-fuzz/http_fuzz.log
    echo "fuzz: the HTTP codec failed; the crashing input is in $(pwd)"
    status=1
else
    grep -E "^Done|#[0-9]+ *DONE" build-fuzz/http_fuzz.log | tail -n 1 || true
    echo "fuzz: no crash in ${http_fuzz_seconds}s"
fi

echo "== fuzzing the peer protocol codec for ${peer_fuzz_seconds}s"
if ! build-fuzz/tests/proto_peer_fuzz -max_total_time="$peer_fuzz_seconds" -max_len=4096 -print_final_stats=0 \
        "$peer_corpus_work" tests/fuzz/corpus/proto_peer >build-fuzz/peer_fuzz.log 2>&1; then
    tail -n 40 build-fuzz/peer_fuzz.log
    echo "fuzz: the peer protocol codec failed; the crashing input is in $(pwd)"
    status=1
else
    grep -E "^Done|#[0-9]+ *DONE" build-fuzz/peer_fuzz.log | tail -n 1 || true
    echo "fuzz: no crash in ${peer_fuzz_seconds}s"
fi

exit $status
