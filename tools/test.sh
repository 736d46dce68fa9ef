#!/usr/bin/env bash
# Builds and runs the whole test suite: the Release build (warnings as errors) and the
# sanitizer build (ASan + UBSan, system allocator), each through ctest (unit, integration,
# fuzz-replay, arch), then the fault-injection suite against the Release build (as root:
# tests/faults/run.sh, real nodes in a sandbox of network namespaces), then the libFuzzer
# targets of the frame decoder, the HTTP codec and the peer protocol codec for a bounded
# time each.
# Usage: tools/test.sh            (from anywhere; build trees go to ./build-release,
#                                  ./build-sanitize and ./build-fuzz)
#        FUZZ_SECONDS=N tools/test.sh        to fuzz the frame decoder longer (default 60)
#        HTTP_FUZZ_SECONDS=N tools/test.sh   to fuzz the HTTP codec longer (default 30)
#        PEER_FUZZ_SECONDS=N tools/test.sh   to fuzz the peer protocol codec longer (default 20)
#        RECORD_FUZZ_SECONDS=N tools/test.sh to fuzz the stored-record decoder longer (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-60}
http_fuzz_seconds=${HTTP_FUZZ_SECONDS:-30}
peer_fuzz_seconds=${PEER_FUZZ_SECONDS:-20}
record_fuzz_seconds=${RECORD_FUZZ_SECONDS:-20}
status=0

run_build() {
    local dir=$1 type=$2
    echo "== $type build in $dir"
    # Test builds carry the storage fault hook (storage/engine.h) that the fault suite and the
    # engine's own test drive; the build of tools/run-local.sh does not.
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DRKV_WERROR=ON -DRKV_FAULT_HOOKS=ON >/dev/null
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

# The fault suite needs root (namespaces, a bridge, nft, tmpfs mounts); without it the run
# fails rather than pass with the suite silently left out.
echo "== fault-injection suite (Release build)"
if [ "$(id -u)" -ne 0 ]; then
    echo "faults: not run: tests/faults/run.sh needs root; run tools/test.sh as root"
    status=1
elif ! tests/faults/run.sh --build build-release; then
    status=1
fi

echo "== building the fuzz targets"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DRKV_FUZZ=ON \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build build-fuzz -j "$jobs" --target proto_bin_fuzz http_fuzz proto_peer_fuzz record_fuzz
fuzz_work=$(mktemp -d)
trap 'rm -rf "$fuzz_work"' EXIT

# run_fuzz TARGET SECONDS MAX_LEN WHAT [LIBFUZZER FLAGS...]: fuzzes tests/fuzz/corpus/TARGET
# (without growing the committed corpus: new inputs go to a scratch directory).
run_fuzz() {
    local target=$1 seconds=$2 max_len=$3 what=$4
    shift 4
    echo "== fuzzing $what for ${seconds}s"
    mkdir -p "$fuzz_work/$target"
    if ! "build-fuzz/tests/${target}_fuzz" -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=0 \
            "$@" "$fuzz_work/$target" "tests/fuzz/corpus/$target" >"build-fuzz/${target}_fuzz.log" 2>&1; then
        tail -n 40 "build-fuzz/${target}_fuzz.log"
        echo "fuzz: $what failed; the crashing input is in $(pwd)"
        status=1
    else
        grep -E "^Done|#[0-9]+ *DONE" "build-fuzz/${target}_fuzz.log" | tail -n 1 || true
        echo "fuzz: no crash in ${seconds}s"
    fi
}

run_fuzz proto_bin "$fuzz_seconds" 4096 "the frame decoder"
run_fuzz http "$http_fuzz_seconds" 16384 "the HTTP codec" -dict=tests/fuzz/http.dict
run_fuzz proto_peer "$peer_fuzz_seconds" 4096 "the peer protocol codec"
run_fuzz record "$record_fuzz_seconds" 4096 "stored records read back from disk"

exit $status
