/* libFuzzer target for stored records as a disk hands them back (storage/record.h):
 * record_check.h holds the properties, shared with the criterion test that replays
 * tests/fuzz/corpus/record under gcc. Build and run as tests/fuzz/proto_bin_fuzz.c says. */
#include <stddef.h>
#include <stdint.h>

#include "record_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record_check(data, size);
    return 0;
}
