/* Tests of the record codec (storage/record.h): exact layout, round trips at every limit,
 * every invariant rejected by the decoder with RKV_CORRUPT and asserted by the encoder, and
 * the expiry and purge rules at their millisecond boundaries. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "storage/record.h"

static struct record_hdr sample_hdr(void)
{
    return (struct record_hdr){
        .flags = 0,
        .origin = 0xA1B2C3D4u,
        .timestamp = 0x0102030405060708ull,
        .version = 0x1112131415161718ull,
        .expiry_ms = 0x2122232425262728ull,
    };
}

/* Builds header ‖ value in a fresh heap buffer (the caller frees it). */
static uint8_t *stored_value(const struct record_hdr *hdr, const uint8_t *value, uint32_t value_bytes)
{
    uint8_t *buf = malloc(REC_HDR_BYTES + (size_t)value_bytes + 1);
    cr_assert_not_null(buf);
    record_hdr_encode(buf, hdr, value_bytes);
    if (value_bytes > 0)
        memcpy(buf + REC_HDR_BYTES, value, value_bytes);
    return buf;
}

static void assert_hdr_eq(const struct record_hdr *a, const struct record_hdr *b)
{
    cr_assert_eq(a->flags, b->flags);
    cr_assert_eq(a->origin, b->origin);
    cr_assert_eq(a->timestamp, b->timestamp);
    cr_assert_eq(a->version, b->version);
    cr_assert_eq(a->expiry_ms, b->expiry_ms);
}

/* ---- stored key ---- */

Test(record, key_is_big_endian_token_followed_by_user_key)
{
    uint8_t out[REC_STORED_KEY_BYTES_MAX];
    size_t n = record_key_encode(out, 0x0102030405060708ull, (const uint8_t *)"abc", 3);
    const uint8_t want[] = { 1, 2, 3, 4, 5, 6, 7, 8, 'a', 'b', 'c' };
    cr_assert_eq(n, sizeof want);
    cr_assert_arr_eq(out, want, sizeof want);
}

Test(record, key_of_1_byte_encodes_to_9_bytes)
{
    uint8_t out[REC_STORED_KEY_BYTES_MAX];
    uint8_t k = 0;
    cr_assert_eq(record_key_encode(out, 7, &k, 1), 9u);
    cr_assert_eq(out[7], 7);
    cr_assert_eq(out[8], 0);
}

Test(record, key_of_256_bytes_encodes_to_the_stored_key_maximum)
{
    uint8_t key[RKV_KEY_BYTES_MAX];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)(255 - i);
    uint8_t out[REC_STORED_KEY_BYTES_MAX];
    cr_assert_eq(record_key_encode(out, 0, key, sizeof key), REC_STORED_KEY_BYTES_MAX);
    cr_assert_arr_eq(out + 8, key, sizeof key);
}

Test(record, key_of_0_bytes_aborts, .signal = SIGABRT)
{
    uint8_t out[REC_STORED_KEY_BYTES_MAX];
    uint8_t k = 0;
    record_key_encode(out, 0, &k, 0);
}

Test(record, key_of_257_bytes_aborts, .signal = SIGABRT)
{
    uint8_t key[RKV_KEY_BYTES_MAX + 1] = { 0 };
    uint8_t out[REC_STORED_KEY_BYTES_MAX + 1];
    record_key_encode(out, 0, key, sizeof key);
}

Test(record, stored_keys_sort_by_token_before_user_key)
{
    uint8_t a[REC_STORED_KEY_BYTES_MAX], b[REC_STORED_KEY_BYTES_MAX];
    /* Token 0x00ff.. with key "zzz" must sort before token 0x0100.. with key "a". */
    size_t na = record_key_encode(a, 0x00ffffffffffffffull, (const uint8_t *)"zzz", 3);
    size_t nb = record_key_encode(b, 0x0100000000000000ull, (const uint8_t *)"a", 1);
    cr_assert_lt(memcmp(a, b, na < nb ? na : nb), 0);
}

/* ---- stored value header ---- */

Test(record, header_layout_matches_the_table)
{
    struct record_hdr h = sample_hdr();
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, 5);
    const uint8_t want[REC_HDR_BYTES] = {
        REC_FORMAT_V1, 0x00, 0x00, 0x00, 0xA1, 0xB2, 0xC3, 0xD4,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    };
    cr_assert_arr_eq(out, want, REC_HDR_BYTES);
}

Test(record, value_round_trips)
{
    struct record_hdr h = sample_hdr();
    uint8_t *buf = stored_value(&h, (const uint8_t *)"hello", 5);
    struct record_view v;
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES + 5, &v), RKV_OK);
    assert_hdr_eq(&v.hdr, &h);
    cr_assert_eq(v.value_bytes, 5u);
    cr_assert_eq(v.value, buf + REC_HDR_BYTES);
    cr_assert_arr_eq(v.value, "hello", 5);
    free(buf);
}

Test(record, value_of_0_bytes_round_trips)
{
    struct record_hdr h = sample_hdr();
    uint8_t *buf = stored_value(&h, NULL, 0);
    struct record_view v;
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
    assert_hdr_eq(&v.hdr, &h);
    cr_assert_eq(v.value_bytes, 0u);
    free(buf);
}

Test(record, value_of_1_mib_round_trips)
{
    struct record_hdr h = sample_hdr();
    uint8_t *value = malloc(RKV_VALUE_BYTES_MAX);
    cr_assert_not_null(value);
    for (uint32_t i = 0; i < RKV_VALUE_BYTES_MAX; i++)
        value[i] = (uint8_t)(i * 31u + 7u);
    uint8_t *buf = stored_value(&h, value, RKV_VALUE_BYTES_MAX);
    struct record_view v;
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES + RKV_VALUE_BYTES_MAX, &v), RKV_OK);
    cr_assert_eq(v.value_bytes, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(memcmp(v.value, value, RKV_VALUE_BYTES_MAX), 0);
    free(buf);
    free(value);
}

Test(record, tombstone_round_trips_with_its_died_time)
{
    struct record_hdr h = sample_hdr();
    h.flags = REC_F_TOMBSTONE;
    h.expiry_ms = 1700000000123ull; /* died_ms */
    uint8_t *buf = stored_value(&h, NULL, 0);
    struct record_view v;
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
    assert_hdr_eq(&v.hdr, &h);
    cr_assert_eq(load_be64(buf + 24), 1700000000123ull, "died_ms sits in the expiry_ms field");
    free(buf);
}

Test(record, tombstone_died_times_of_0_and_the_maximum_round_trip)
{
    const uint64_t died[] = { 0, 1, UINT64_MAX };
    for (size_t i = 0; i < sizeof died / sizeof died[0]; i++) {
        struct record_hdr h = sample_hdr();
        h.flags = REC_F_TOMBSTONE;
        h.expiry_ms = died[i];
        uint8_t buf[REC_HDR_BYTES];
        record_hdr_encode(buf, &h, 0);
        struct record_view v;
        cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_OK, "died_ms %llu", (unsigned long long)died[i]);
        assert_hdr_eq(&v.hdr, &h);
    }
}

Test(record, extreme_field_values_round_trip)
{
    struct record_hdr h = { .flags = 0, .origin = UINT32_MAX, .timestamp = UINT64_MAX,
                            .version = UINT64_MAX, .expiry_ms = UINT64_MAX };
    uint8_t *buf = stored_value(&h, NULL, 0);
    struct record_view v;
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
    assert_hdr_eq(&v.hdr, &h);
    h = (struct record_hdr){ .version = 1 };
    record_hdr_encode(buf, &h, 0);
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
    assert_hdr_eq(&v.hdr, &h);
    free(buf);
}

/* ---- decoder: every invariant is RKV_CORRUPT ---- */

Test(record, every_length_below_the_header_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    uint8_t buf[REC_HDR_BYTES];
    record_hdr_encode(buf, &h, 0);
    for (size_t len = 0; len < REC_HDR_BYTES; len++) {
        struct record_view v;
        cr_assert_eq(record_decode(buf, len, &v), RKV_CORRUPT, "length %zu", len);
    }
}

Test(record, decode_clears_the_view_when_corrupt)
{
    uint8_t buf[REC_HDR_BYTES] = { 0 };
    struct record_view v;
    memset(&v, 0xAB, sizeof v);
    cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT);
    cr_assert_null(v.value);
    cr_assert_eq(v.value_bytes, 0u);
    cr_assert_eq(v.hdr.version, 0u);
}

Test(record, format_other_than_v1_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    uint8_t buf[REC_HDR_BYTES];
    const uint8_t formats[] = { 0, 2, 0xff };
    for (size_t i = 0; i < sizeof formats; i++) {
        record_hdr_encode(buf, &h, 0);
        buf[0] = formats[i];
        struct record_view v;
        cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT, "format %u", formats[i]);
    }
}

Test(record, each_unknown_flag_bit_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    uint8_t buf[REC_HDR_BYTES];
    for (unsigned bit = 0; bit < 8; bit++) {
        uint8_t f = (uint8_t)(1u << bit);
        if (f & REC_F_KNOWN)
            continue;
        record_hdr_encode(buf, &h, 0);
        buf[1] = f;
        struct record_view v;
        cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT, "flag bit %u", bit);
    }
}

Test(record, each_nonzero_reserved_byte_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    uint8_t buf[REC_HDR_BYTES];
    for (size_t off = 2; off < 4; off++) {
        record_hdr_encode(buf, &h, 0);
        buf[off] = 1;
        struct record_view v;
        cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT, "reserved byte %zu", off);
    }
}

Test(record, version_0_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    uint8_t buf[REC_HDR_BYTES];
    record_hdr_encode(buf, &h, 0);
    memset(buf + 16, 0, 8);
    struct record_view v;
    cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT);
}

Test(record, tombstone_with_value_bytes_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    h.flags = REC_F_TOMBSTONE;
    h.expiry_ms = 0;
    uint8_t buf[REC_HDR_BYTES + 1];
    record_hdr_encode(buf, &h, 0);
    buf[REC_HDR_BYTES] = 'x';
    struct record_view v;
    cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT);
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
}

Test(record, tombstone_with_a_died_time_and_value_bytes_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    h.flags = REC_F_TOMBSTONE;
    h.expiry_ms = 5000;
    uint8_t buf[REC_HDR_BYTES + 1];
    record_hdr_encode(buf, &h, 0);
    buf[REC_HDR_BYTES] = 'x';
    struct record_view v;
    cr_assert_eq(record_decode(buf, sizeof buf, &v), RKV_CORRUPT);
    cr_assert_eq(record_decode(buf, REC_HDR_BYTES, &v), RKV_OK);
    cr_assert_eq(v.hdr.expiry_ms, 5000u);
}

Test(record, value_one_byte_over_1_mib_is_corrupt)
{
    struct record_hdr h = sample_hdr();
    size_t len = REC_HDR_BYTES + (size_t)RKV_VALUE_BYTES_MAX + 1;
    uint8_t *buf = calloc(1, len);
    cr_assert_not_null(buf);
    record_hdr_encode(buf, &h, 0);
    struct record_view v;
    cr_assert_eq(record_decode(buf, len, &v), RKV_CORRUPT);
    cr_assert_eq(record_decode(buf, len - 1, &v), RKV_OK);
    free(buf);
}

/* ---- encoder: every invariant is asserted ---- */

Test(record, encoding_a_tombstone_with_value_bytes_aborts, .signal = SIGABRT)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, 1);
}

Test(record, encoding_a_tombstone_with_a_died_time_does_not_abort)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1, .expiry_ms = 5 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, 0);
    cr_assert_eq(out[1], REC_F_TOMBSTONE);
    cr_assert_eq(out[REC_HDR_BYTES - 1], 5);
}

Test(record, encoding_version_0_aborts, .signal = SIGABRT)
{
    struct record_hdr h = { .version = 0 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, 0);
}

Test(record, encoding_an_unknown_flag_aborts, .signal = SIGABRT)
{
    struct record_hdr h = { .flags = 0x02, .version = 1 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, 0);
}

Test(record, encoding_a_value_over_1_mib_aborts, .signal = SIGABRT)
{
    struct record_hdr h = { .version = 1 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, RKV_VALUE_BYTES_MAX + 1);
}

Test(record, encoding_a_value_of_exactly_1_mib_does_not_abort)
{
    struct record_hdr h = { .version = 1 };
    uint8_t out[REC_HDR_BYTES];
    record_hdr_encode(out, &h, RKV_VALUE_BYTES_MAX);
    cr_assert_eq(out[0], REC_FORMAT_V1);
}

/* ---- visibility ---- */

Test(record, tombstone_is_never_visible)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1 };
    cr_assert_not(record_visible(&h, 0));
    cr_assert_not(record_visible(&h, UINT64_MAX));
}

Test(record, expiry_0_is_visible_forever)
{
    struct record_hdr h = { .version = 1, .expiry_ms = 0 };
    cr_assert(record_visible(&h, 0));
    cr_assert(record_visible(&h, UINT64_MAX));
}

Test(record, record_is_visible_before_expiry_and_hidden_from_expiry_ms_on)
{
    struct record_hdr h = { .version = 1, .expiry_ms = 1000 };
    cr_assert(record_visible(&h, 0));
    cr_assert(record_visible(&h, 999));
    cr_assert_not(record_visible(&h, 1000));
    cr_assert_not(record_visible(&h, 1001));
}

/* ---- expiry and purge (the sweep's two decisions) ---- */

Test(record, live_record_expires_at_exactly_its_expiry_ms)
{
    struct record_hdr h = { .version = 1, .expiry_ms = 1000 };
    cr_assert_not(record_expired(&h, 0));
    cr_assert_not(record_expired(&h, 999));
    cr_assert(record_expired(&h, 1000));
    cr_assert(record_expired(&h, UINT64_MAX));
    /* Expired is exactly not visible, for a live record with an expiry. */
    for (uint64_t now = 998; now <= 1002; now++)
        cr_assert_neq(record_expired(&h, now), record_visible(&h, now), "now %llu", (unsigned long long)now);
}

Test(record, record_without_expiry_never_expires)
{
    struct record_hdr h = { .version = 1, .expiry_ms = 0 };
    cr_assert_not(record_expired(&h, 0));
    cr_assert_not(record_expired(&h, UINT64_MAX));
}

Test(record, tombstone_never_expires_again)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1, .expiry_ms = 1000 };
    cr_assert_not(record_expired(&h, 1000));
    cr_assert_not(record_expired(&h, UINT64_MAX));
}

Test(record, tombstone_is_purgeable_at_exactly_died_plus_grace)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1, .expiry_ms = 1000 };
    cr_assert_not(record_purgeable(&h, 1499, 500));
    cr_assert(record_purgeable(&h, 1500, 500));
    cr_assert(record_purgeable(&h, UINT64_MAX, 500));
    cr_assert_not(record_purgeable(&h, 999, 0));
    cr_assert(record_purgeable(&h, 1000, 0), "a grace of 0 purges from the moment of death");
}

Test(record, tombstone_that_died_at_0_is_purgeable_after_the_grace_from_0)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1, .expiry_ms = 0 };
    cr_assert_not(record_purgeable(&h, 9, 10));
    cr_assert(record_purgeable(&h, 10, 10));
}

Test(record, purge_time_past_the_end_of_time_is_never_reached)
{
    struct record_hdr h = { .flags = REC_F_TOMBSTONE, .version = 1, .expiry_ms = UINT64_MAX - 10 };
    cr_assert_not(record_purgeable(&h, UINT64_MAX, 11), "died + grace overflows: never, not at once");
    cr_assert(record_purgeable(&h, UINT64_MAX, 10));
    h.expiry_ms = UINT64_MAX;
    cr_assert(record_purgeable(&h, UINT64_MAX, 0));
    cr_assert_not(record_purgeable(&h, UINT64_MAX, 1));
}

Test(record, live_records_are_never_purgeable)
{
    struct record_hdr h = { .version = 1, .expiry_ms = 1000 };
    cr_assert_not(record_purgeable(&h, UINT64_MAX, 0));
    h.expiry_ms = 0;
    cr_assert_not(record_purgeable(&h, UINT64_MAX, 0));
}

/* ---- record_newer(): the last-write-wins order ---- */

Test(record, newer_by_timestamp_wins_whatever_the_origins)
{
    struct record_hdr a = { .timestamp = 101, .origin = 1, .version = 1 };
    struct record_hdr b = { .timestamp = 100, .origin = 0xffffffffu, .version = 9 };
    cr_assert(record_newer(&a, &b));
    cr_assert_not(record_newer(&b, &a));
}

Test(record, equal_timestamps_are_ordered_by_origin)
{
    struct record_hdr a = { .timestamp = 100, .origin = 7, .version = 1 };
    struct record_hdr b = { .timestamp = 100, .origin = 6, .version = 5 };
    cr_assert(record_newer(&a, &b));
    cr_assert_not(record_newer(&b, &a));
}

Test(record, the_same_timestamp_and_origin_is_not_newer_either_way)
{
    struct record_hdr a = { .timestamp = 100, .origin = 7, .version = 1 };
    struct record_hdr b = { .timestamp = 100, .origin = 7, .version = 2, .flags = REC_F_TOMBSTONE };
    cr_assert_not(record_newer(&a, &b));
    cr_assert_not(record_newer(&b, &a));
    cr_assert_not(record_newer(&a, &a));
}

Test(record, newer_ignores_version_flags_and_expiry)
{
    struct record_hdr live = { .timestamp = 200, .origin = 1, .version = 1, .expiry_ms = 5 };
    struct record_hdr tomb = { .timestamp = 199, .origin = 2, .version = 100, .flags = REC_F_TOMBSTONE };
    cr_assert(record_newer(&live, &tomb), "a lower version with a later timestamp wins");
    tomb.timestamp = 201;
    cr_assert(record_newer(&tomb, &live), "a tombstone is ordered like any other write");
}

Test(record, newer_holds_at_the_ends_of_the_ranges)
{
    struct record_hdr lo = { .timestamp = 0, .origin = 0, .version = 1 };
    struct record_hdr lo1 = { .timestamp = 0, .origin = 1, .version = 1 };
    struct record_hdr hi = { .timestamp = UINT64_MAX, .origin = 0xffffffffu, .version = 1 };
    struct record_hdr hi1 = { .timestamp = UINT64_MAX, .origin = 0xfffffffeu, .version = 1 };
    cr_assert(record_newer(&lo1, &lo));
    cr_assert(record_newer(&hi, &hi1));
    cr_assert(record_newer(&hi1, &lo1));
    cr_assert_not(record_newer(&lo, &hi));
}

Test(record, newer_is_a_strict_total_order_on_timestamp_and_origin)
{
    /* Every pair of a small grid: exactly one of a>b, b>a, or same (timestamp, origin). */
    const uint64_t ts[] = { 0, 1, 2, UINT64_MAX - 1u, UINT64_MAX };
    const uint32_t og[] = { 0, 1, 0x80000000u, 0xffffffffu };
    for (size_t i = 0; i < 20; i++) {
        for (size_t j = 0; j < 20; j++) {
            struct record_hdr a = { .timestamp = ts[i % 5], .origin = og[i / 5], .version = 1 };
            struct record_hdr b = { .timestamp = ts[j % 5], .origin = og[j / 5], .version = 1 };
            bool same = a.timestamp == b.timestamp && a.origin == b.origin;
            int n = (int)record_newer(&a, &b) + (int)record_newer(&b, &a) + (int)same;
            cr_assert_eq(n, 1, "pair %zu %zu", i, j);
            for (size_t k = 0; k < 20; k++) {
                struct record_hdr c = { .timestamp = ts[k % 5], .origin = og[k / 5], .version = 1 };
                if (record_newer(&a, &b) && record_newer(&b, &c))
                    cr_assert(record_newer(&a, &c), "transitive %zu %zu %zu", i, j, k);
            }
        }
    }
}
