/* libFuzzer target for the peer protocol codec (net/proto_peer.h). Each input is read as a
 * stream of peer frames; proto_peer_check.h holds the properties, shared with the criterion
 * test that replays tests/fuzz/corpus/proto_peer under gcc.
 * Build: cmake -DRKV_FUZZ=ON -DCMAKE_C_COMPILER=clang, and add
 * -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link so that the codec in rkv_net is instrumented
 * for coverage too (the target's own flags reach only this file). Run with a scratch folder
 * first, because libFuzzer adds the inputs it finds to the first folder it is given:
 * proto_peer_fuzz SCRATCH_DIR tests/fuzz/corpus/proto_peer -max_total_time=60
 * A crasher, once fixed, is copied into the corpus so that the replay test keeps it fixed.
 * The seeds are the example frames of docs/protocol.md plus edge cases at every limit; the
 * examples, and the edge cases of FORWARD and HINT_LIST, are written by proto_peer_test with
 * RKV_PEER_CORPUS_OUT=DIR. */
#include <stddef.h>
#include <stdint.h>

#include "proto_peer_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_peer_check(data, size);
    return 0;
}
