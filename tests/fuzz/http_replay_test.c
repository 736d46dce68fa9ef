/* Replays the fuzz corpus of the HTTP codec (tests/fuzz/corpus/http) through the same property
 * check as its libFuzzer target (tests/support/corpus.h). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "http_check.h"
#include "tests/support/corpus.h"

static void check(const uint8_t *data, size_t size) { http_check(data, size); }

Test(http_replay, every_corpus_file_keeps_the_properties)
{
    size_t files = test_corpus_replay(RKV_SOURCE_DIR "/tests/fuzz/corpus/http", check);
    cr_assert_geq(files, 12u, "the seed corpus has 12 files or more (found %zu)", files);
}

Test(http_replay, the_empty_input_keeps_the_properties)
{
    static const uint8_t none[1];
    http_check(none, 0);
}

Test(http_replay, a_broken_property_aborts, .signal = SIGABRT)
{
    HC_CHECK(1 + 1 == 3);
}
