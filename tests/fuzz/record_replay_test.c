/* Replays the fuzz corpus of the stored-record decoder (tests/fuzz/corpus/record) through the same property
 * check as its libFuzzer target (tests/support/corpus.h). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "record_check.h"
#include "tests/support/corpus.h"

static void check(const uint8_t *data, size_t size) { record_check(data, size); }

Test(record_replay, every_corpus_file_keeps_the_properties)
{
    size_t files = test_corpus_replay(RKV_SOURCE_DIR "/tests/fuzz/corpus/record", check);
    cr_assert_geq(files, 8u, "the seed corpus has 8 files or more (found %zu)", files);
}

Test(record_replay, the_empty_input_keeps_the_properties)
{
    static const uint8_t none[1];
    record_check(none, 0);
}

Test(record_replay, a_broken_property_aborts, .signal = SIGABRT)
{
    RC_CHECK(1 + 1 == 3);
}
