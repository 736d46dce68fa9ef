/* Replays the fuzz corpus of the peer protocol codec (tests/fuzz/corpus/proto_peer) through the same property
 * check as its libFuzzer target (tests/support/corpus.h). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>

#include "proto_peer_check.h"
#include "tests/support/corpus.h"

static void check(const uint8_t *data, size_t size) { proto_peer_check(data, size); }

Test(proto_peer_replay, every_corpus_file_keeps_the_properties)
{
    size_t files = test_corpus_replay(RKV_SOURCE_DIR "/tests/fuzz/corpus/proto_peer", check);
    cr_assert_geq(files, 12u, "the seed corpus has 12 files or more (found %zu)", files);
}

Test(proto_peer_replay, the_empty_input_keeps_the_properties)
{
    static const uint8_t none[1];
    proto_peer_check(none, 0);
}

Test(proto_peer_replay, a_broken_property_aborts, .signal = SIGABRT)
{
    PP_CHECK(1 + 1 == 3);
}
