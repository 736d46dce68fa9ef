/* The properties the stored-record fuzz target checks (shared by record_fuzz.c under
 * libFuzzer and record_replay_test.c under gcc): whatever bytes a disk hands back as a stored
 * value, record_decode() either refuses them with RKV_CORRUPT or returns a view that keeps
 * every invariant of storage/record.h, lies inside the input, and encodes back to the very
 * same header bytes; visibility and expiry agree. Bad input never aborts. */
#ifndef RKV_TESTS_FUZZ_RECORD_CHECK_H
#define RKV_TESTS_FUZZ_RECORD_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "storage/record.h"

#define RC_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "record property broken: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static inline void record_check(const uint8_t *data, size_t size)
{
    struct record_view v;
    enum rkv_err err = record_decode(size ? data : (const uint8_t *)"", size, &v);
    if (err != RKV_OK) {
        RC_CHECK(err == RKV_CORRUPT);
        return;
    }
    RC_CHECK(size >= REC_HDR_BYTES);
    RC_CHECK(v.hdr.version >= 1u);
    RC_CHECK((v.hdr.flags & ~REC_F_KNOWN) == 0);
    RC_CHECK(!(v.hdr.flags & REC_F_TOMBSTONE) || v.value_bytes == 0);
    RC_CHECK(v.value_bytes <= RKV_VALUE_BYTES_MAX);
    RC_CHECK(v.value == data + REC_HDR_BYTES);
    RC_CHECK((size_t)v.value_bytes == size - REC_HDR_BYTES);
    /* The header it decoded is the header it encodes. */
    uint8_t again[REC_HDR_BYTES];
    record_hdr_encode(again, &v.hdr, v.value_bytes);
    RC_CHECK(memcmp(again, data, REC_HDR_BYTES) == 0);
    /* Visibility and expiry agree with each other at a few instants. */
    const uint64_t instants[] = { 0u, v.hdr.expiry_ms, v.hdr.expiry_ms + 1u, UINT64_MAX / 2u };
    for (size_t i = 0; i < sizeof instants / sizeof instants[0]; i++) {
        uint64_t now = instants[i];
        if (record_expired(&v.hdr, now))
            RC_CHECK(!record_visible(&v.hdr, now));
        if (v.hdr.flags & REC_F_TOMBSTONE)
            RC_CHECK(!record_visible(&v.hdr, now) && !record_expired(&v.hdr, now));
    }
}

#endif
