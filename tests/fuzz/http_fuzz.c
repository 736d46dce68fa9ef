/* libFuzzer target for the HTTP codec (net/http.h). Each input is read as a stream of
 * requests: framed, parsed, answered; http_check.h holds the properties, shared with the
 * criterion test that replays tests/fuzz/corpus/http under gcc.
 * Build: cmake -DRKV_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link
 * (so that the codec in rkv_net is instrumented for coverage too). Run with a scratch folder
 * first, because libFuzzer adds the inputs it finds to the first folder it is given, and with
 * the dictionary of HTTP and JSON tokens beside this file:
 * http_fuzz SCRATCH_DIR tests/fuzz/corpus/http -dict=tests/fuzz/http.dict -max_len=16384
 * A crasher, once fixed, is copied into the corpus so that the replay test keeps it fixed. */
#include <stddef.h>
#include <stdint.h>

#include "http_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_check(data, size);
    return 0;
}
